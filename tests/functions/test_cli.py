"""The `crmsync` command through its entry point against a local stack: the stack's HTTP API
served on localhost (`local.runtime.http_api`, as `make local` serves it) over moto and the
Salesforce emulator, found through its `stack.json` as `--local` finds it. Each test reads what
an operator reads: the tables, `--json`, the exit status and the problems on stderr."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.records import ApiUsage
from crmsync.ports import RunOutcome, RunSummary
from crmsync_cli.__main__ import main
from crmsync_cli.output import NOT_SENT, REFUSED, Output
from rich.console import Console

from local.aws_stack import LocalStack
from local.runtime import http_api
from local.runtime.aws import free_port
from local.runtime.connector import LocalConnector
from local.runtime.functions import LocalFunctions
from local.runtime.http_api import serve_http_api
from local.runtime.local_stack import seed
from local.runtime.schedules import let_schedules_pass
from local.salesforce_emulator import Emulator

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json"


@dataclass
class Answered:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def crmsync(*argv: str) -> Answered:
    out, err = io.StringIO(), io.StringIO()
    output = Output(
        out=Console(file=out, width=80, highlight=False), err=Console(file=err, width=80, highlight=False)
    )
    code = main(list(argv), output=output, sleep=lambda _: None)
    answered = Answered(code, out.getvalue(), err.getvalue())
    if not is_json(answered.out):  # tables and text are laid out for 80 columns
        assert all(len(line) <= 80 for line in answered.lines), answered.out
    return answered


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.fixture
def local_stack(connector: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stack's HTTP API on localhost, and the stack file `--local` reads its address from."""
    with serve_http_api() as url:
        stack_file = tmp_path / "stack.json"
        stack_file.write_text(json.dumps({"url": url, "pid": 0}))
        monkeypatch.setenv("CRMSYNC_LOCAL_STACK", str(stack_file))
        yield url


def test_status_of_a_newly_deployed_connector_reads_paused_and_healthy(local_stack: str) -> None:
    answered = crmsync("--local", "status")

    assert answered.code == 0
    assert answered.lines[0].startswith("PAUSED  healthy  ·  crmsync ")
    assert answered.lines[0].endswith("no configuration loaded")
    assert answered.lines[1] == "Salesforce answers  ·  API calls today 1 of 100,000 (0.0%; budget 50%)"


def test_status_json_is_the_routes_answer_for_scripts(local_stack: str) -> None:
    answered = crmsync("--local", "status", "--json")

    assert answered.code == 0
    body = json.loads(answered.out)
    assert (body["state"], body["healthy"]) == ("paused", True)
    assert body["salesforce"]["reachable"] is True


def test_status_exits_1_when_salesforce_does_not_answer(local_stack: str, emulator: Emulator) -> None:
    emulator.faults.server_errors(count=10, status=503)

    answered = crmsync("--local", "status")

    assert answered.code == 1
    assert "NOT HEALTHY" in answered.lines[0]
    assert answered.lines[1].startswith("Salesforce does not answer: ")
    assert "(transient)" in answered.lines[1]


def test_pause_and_resume_say_what_they_did_and_status_follows(local_stack: str) -> None:
    resumed = crmsync("--local", "resume")
    assert resumed.code == 0
    assert resumed.out.startswith("The connector is now running: the next runs catch up")
    assert crmsync("--local", "status").lines[0].startswith("RUNNING  healthy")

    paused = crmsync("--local", "pause")
    assert paused.code == 0
    assert paused.out.startswith("The connector is now paused: automatic sync stops")
    assert crmsync("--local", "status").lines[0].startswith("PAUSED  healthy")


def test_config_push_loads_a_checked_file_and_show_prints_it_back(local_stack: str, tmp_path: Path) -> None:
    document = json.loads(SAMPLE.read_text()) | {"version": 7}
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps(document))

    pushed = crmsync("--local", "config", "push", str(file))

    assert pushed.code == 0
    assert pushed.out == "Configuration version 7 loaded; it takes effect at the next runs.\n"
    shown = crmsync("--local", "config", "show")
    assert json.loads(shown.out) == document
    assert shown.err == "configuration version 7 is in force\n"
    assert "configuration v7" in crmsync("--local", "status").lines[0]


def test_config_push_the_connector_refuses_shows_its_problems_and_loads_nothing(
    local_stack: str, tmp_path: Path
) -> None:
    # A file that reads well offline, but maps a field the org does not have.
    document = json.loads(SAMPLE.read_text()) | {"version": 2}
    document["mappings"]["Lead"].append(
        {"marketing_field": "department", "salesforce_field": "No_Such_Field__c", "behaviour": "marketing"}
    )
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps(document))

    answered = crmsync("--local", "config", "push", str(file))

    assert answered.code == REFUSED
    errors = answered.err.splitlines()
    assert errors[0].startswith("crmsync: refused (400): ")
    assert any("No_Such_Field__c" in line for line in errors[1:])
    assert bootstrap.config_store().current() is None


def test_config_validate_reads_a_file_offline_and_names_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("sample.json").write_text(SAMPLE.read_text())
    valid = crmsync("config", "validate", "sample.json")
    assert valid.code == 0
    assert valid.lines[0] == "✓ sample.json is a valid configuration, version 1"

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": 2, "matching": "fuzzy", "mappings": {"Lead": [{}]}}))
    refused = crmsync("config", "validate", str(broken), "--json")
    assert refused.code == REFUSED
    body = json.loads(refused.out)
    assert body["valid"] is False
    assert body["problems"][0].startswith("matching: unknown matching mode 'fuzzy'")
    assert "mappings.Lead[0].marketing_field: is required" in body["problems"]


def test_report_writes_the_periods_health_as_one_page_and_a_period_it_cannot_report_is_refused(
    local_stack: str, tmp_path: Path
) -> None:
    # GIVEN a day where outbound synced 7 records, then waited over the API budget
    day = datetime(2026, 11, 21, tzinfo=UTC)
    for hours, outcome, counts, used in (
        (1, RunOutcome.COMPLETED, {"created": 3, "updated": 4}, 20_000),
        (2, RunOutcome.OVER_BUDGET, {}, 61_000),
    ):
        finished = day + timedelta(hours=hours)
        bootstrap.run_log().save_run(
            RunSummary(
                Direction.OUTBOUND,
                f"run-{hours}",
                finished - timedelta(seconds=30),
                finished,
                outcome,
                counts,
                4,
                api_usage=ApiUsage(used, 100_000),
            )
        )
    page = tmp_path / "health.html"

    # WHEN the operator asks for that day's report
    answered = crmsync(
        "--local", "report", "--html", str(page), "--since", "2026-11-21", "--until", "2026-11-22"
    )

    # THEN the page is written, with its four charts and the day's figures
    assert answered.code == 0, answered.err
    assert str(page) in "".join(answered.lines), "the page named (wrapped at 80 columns)"
    html = page.read_text(encoding="utf-8")
    assert html.count("<figure>") == 4
    assert "7 records synced" in html and "2 runs" in html
    assert "over budget" in html

    # AND a period the route cannot report is refused with its reason, and nothing is written
    refused = tmp_path / "refused.html"
    answered = crmsync(
        "--local", "report", "--html", str(refused), "--since", "2026-11-22", "--until", "2026-11-21"
    )
    assert answered.code == REFUSED
    assert "must be before until" in answered.err
    assert not refused.exists()


def test_a_route_the_stack_does_not_have_says_so(
    connector: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stack deployed before resync existed: its template has no /resync routes
    every_route = http_api.template_routes()
    monkeypatch.setattr(
        http_api, "template_routes", lambda: [route for route in every_route if route.path != "/resync"]
    )
    with serve_http_api() as url:
        stack_file = tmp_path / "stack.json"
        stack_file.write_text(json.dumps({"url": url, "pid": 0}))
        monkeypatch.setenv("CRMSYNC_LOCAL_STACK", str(stack_file))

        answered = crmsync("--local", "resync", "Lead")

    assert answered.code == REFUSED
    assert answered.err.startswith(f"crmsync: the connector at {url} does not have this route")


def test_nothing_answering_at_the_local_address_says_to_start_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"url": f"http://127.0.0.1:{free_port()}"}))
    monkeypatch.setenv("CRMSYNC_LOCAL_STACK", str(stack_file))

    answered = crmsync("--local", "status")

    assert answered.code == NOT_SENT
    assert "is the local stack running? Start it with `make local`" in answered.err


def test_no_local_stack_file_says_to_start_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMSYNC_LOCAL_STACK", raising=False)
    monkeypatch.chdir(tmp_path)

    answered = crmsync("--local", "status")

    assert answered.code == NOT_SENT
    assert "no local stack found" in answered.err
    assert "make local" in answered.err


def test_the_local_stacks_seeding_leaves_what_the_readme_shows(
    local_stack: str, stack: LocalStack, emulator: Emulator
) -> None:
    # GIVEN the seeding `make local` runs, on this test's stack
    functions = LocalFunctions(LocalConnector(emulator, stack, moto_url=None, salesforce_url=""))
    seeded = seed(functions, emulator)

    # THEN records are linked, a Lead was made for an action, and two errors are open
    links = bootstrap.link_store().by_prospect_ids(["imported-0001", "auto-lead-001"])
    assert links["imported-0001"].link.crm.id == seeded.leads[0]
    created = emulator.get(links["auto-lead-001"].link.crm.id) or {}
    assert created["Email"] == "robin@startup.example"
    assert seeded.open_errors == {"validation": 1, "duplicate": 1}
    # AND the operator sees them
    answered = crmsync("--local", "status")
    assert answered.code == 0
    assert answered.lines[0].startswith("RUNNING  healthy")
    assert "Open errors  duplicate 1  ·  validation 1   (crmsync errors)" in answered.lines


def test_an_operator_walks_the_seeded_stack_with_every_command(
    local_stack: str, stack: LocalStack, emulator: Emulator, tmp_path: Path
) -> None:
    # GIVEN the stack `make local` leaves: records synced both ways, two open errors
    functions = LocalFunctions(LocalConnector(emulator, stack, moto_url=None, salesforce_url=""))
    seeded = seed(functions, emulator)
    refused_key = f"inbound#Lead#{seeded.leads[1]}"

    # errors: each entry with Salesforce's code and message, its key, and the count by category
    listed = crmsync("--local", "errors")
    assert listed.code == 0
    assert "INVALID_EMAIL_ADDRESS (validation): Email: invalid email address:" in listed.out
    assert f"key {refused_key}" in [line.strip() for line in listed.lines]
    assert "2 entries: validation 1, duplicate 1" in [line.strip() for line in listed.lines]
    exported = tmp_path / "errors.csv"
    assert crmsync("--local", "errors", "export", str(exported)).code == 0
    assert len(exported.read_text().splitlines()) == 3  # a header and the two entries

    # retry of a record that still fails: queued, and after the next run open again, 2 attempts
    retried = crmsync("--local", "errors", "retry", refused_key)
    assert retried.code == 0, retried.err
    functions.capture()
    let_schedules_pass("inbound")
    functions.inbound_tick()
    again = json.loads(crmsync("--local", "errors", "--category", "validation", "--json").out)
    assert [(entry["key"], entry["attempts"]) for entry in again["errors"]] == [(refused_key, 2)]

    # dismiss needs a reason, and then the entry leaves the open list
    with pytest.raises(SystemExit) as usage:
        crmsync("--local", "errors", "dismiss", refused_key)
    assert usage.value.code == 2
    dismissed = crmsync("--local", "errors", "dismiss", refused_key, "--reason", "bad address, asked sales")
    assert dismissed.code == 0, dismissed.err
    assert "1 entries: duplicate 1" in crmsync("--local", "errors").out.replace("1 entry:", "1 entries:")

    # why: the record's timeline with the rule of each change, its link history; an unknown id
    why = crmsync("--local", "why", seeded.edited_both_ways)
    assert why.code == 0
    assert f"Prospect {seeded.edited_both_ways}  ↔  Lead {seeded.leads[0]}" in why.lines
    assert any("phone: '+1 555 0100' → '+44 20 7946 0000'  (most_recent:" in line for line in why.lines)
    assert "Link history" in why.lines
    unknown = crmsync("--local", "why", "00Q000000000000")
    assert unknown.code == REFUSED
    assert (
        "'00Q000000000000' is neither a prospect nor a Salesforce record the connector knows" in unknown.err
    )

    # sync: one record, now, with the API calls it spent against its bound
    synced = crmsync("--local", "sync", seeded.edited_both_ways)
    assert synced.code == 0
    assert "Salesforce API calls: 1 (at most 4)" in synced.lines

    # runs: each run with its API calls by kind
    runs = crmsync("--local", "runs")
    assert runs.code == 0
    assert any(line.startswith("4 runs, ") or " runs, " in line for line in runs.lines)
    assert "query" in runs.out

    # fields: the org's fields and how each is mapped
    fields = crmsync("--local", "fields", "Lead")
    assert fields.code == 0
    assert any(line.startswith("Marketing_Score__c") and "score (marketing)" in line for line in fields.lines)

    # config plan: a dry run that writes nothing; an invalid document names its problems
    planned = crmsync("--local", "config", "plan", str(SAMPLE), "--sample", "3")
    assert planned.code == 0
    assert planned.lines[0].startswith("Dry run over 3 linked records:")
    assert planned.lines[0].endswith("Nothing was written.")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"version": 2, "objects": {"leads": "yes"}}))
    refused_plan = crmsync("--local", "config", "plan", str(invalid))
    assert refused_plan.code != 0
    assert "objects" in refused_plan.out + refused_plan.err

    # resync: the whole object read again, its progress followed to the end
    def a_tick_passes(_: float) -> None:  # while the command waits, the schedule advances it
        let_schedules_pass("outbound")
        functions.outbound_tick()

    out = io.StringIO()
    output = Output(out=Console(file=out, width=80), err=Console(file=out, width=80))
    assert main(["--local", "resync", "Lead", "--wait"], output=output, sleep=a_tick_passes) == 0
    assert (
        out.getvalue().splitlines()[-1].startswith("Resync Lead: 8 of 8 read, 0 applied (done")
    )  # all in step
