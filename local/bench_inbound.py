"""`make bench`, inbound half (issue 4): marketing changes to Salesforce through
`functions.inbound_sync.app.handler`. Prints; asserts nothing.

- 1,000 changed prospects, set up as in production: Leads linked by an outbound run, scored by
  the marketing side through the prospect store, captured from the prospects table's real
  stream by the handler's stream trigger (its CPU per change is measured too), then sent by
  the scheduled run: Salesforce API calls (Collections writes, reads, other), records per
  second, CPU per record;
- 10,000 changed prospects (Bulk API 2.0 from the 2,000 threshold): the same figures;
- 50,000 changed prospects (the memory target's figure), given the time they take on moto
  (see `LARGE_RUN_SECONDS`): peak memory, calls, CPU per record, and the share of the run that
  is this process's CPU.

The 10,000 and 50,000 are set up in bulk, because linking them with outbound runs and sending
their edits through the stream would take longer on moto than the whole bench: the bench reads
the new Leads as outbound does, writes each linked prospect (already scored, as a marketing
save leaves it) and its link (with the snapshot outbound would have saved) in `BatchWriteItem`
calls in the stores' item formats, notes them as waiting through `PendingChanges.add`, and
moves outbound's Lead watermark past them. Bypassed: outbound's transactional saves (so no
prospect index items and no link claims, which an inbound run never reads), the marketing
save, the stream and change capture.

Only the scheduled (and capture) invocations are measured, each in a process of its own that
plays InboundSyncFunction's warm container: its CPU time is the connector's alone, and its
peak resident memory is what Lambda's Max Memory Used reports. Set-up runs in the
bench process; the emulator and moto run in processes of their own (`local.bench`).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local.bench import (
    LAMBDA_TIMEOUT_MS,
    ROOT,
    _Connector,
    _connector_with_doubles_apart,
    _Invocation,
    _outbound_run,
    _process_cpu_seconds,
)

COLLECTIONS_RECORDS = 1_000
BULK_RECORDS = 10_000
LARGE_RUN_RECORDS = 50_000
LARGE_RUN_SECONDS = 900
"""On moto (~150 records/s, moto's own pace) 50,000 take about 330 s to send, past
InboundSyncFunction's 300 s timeout, where the run would stop and the next send the rest (a
test shows it). The bench gives the run the time moto needs, so the figures are those of one
run over all 50,000; the CPU share shows what DynamoDB's pace would leave of the 330 s."""
INTAKE_RUNS = 5
SCORE = 64
FUNCTION_NAME = "crmsync-bench-InboundSyncFunction"

# As tests/functions/test_inbound_sync.py: score and grade are the marketing side's to write.
# Changes wait for the schedule however many there are, so one scheduled run takes the batch.
CONFIGURATION: dict[str, Any] = {
    "version": 2,
    "mappings": {
        "Lead": [
            {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
            {"marketing_field": "first_name", "salesforce_field": "FirstName", "behaviour": "most_recent"},
            {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
            {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
            {"marketing_field": "score", "salesforce_field": "Marketing_Score__c", "behaviour": "marketing"},
            {"marketing_field": "grade", "salesforce_field": "Marketing_Grade__c", "behaviour": "marketing"},
        ],
    },
    "inbound": {"max_waiting_changes": 1_000_000},
}


# ------------------------------------------------------------------ the function's container


def _peak_resident_mb() -> float:
    """This process's peak resident set (VmHWM, Linux). Not ru_maxrss: a spawned process's
    starts from the resident set its parent had when it forked."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def _serve_container(commands: Connection) -> None:
    """InboundSyncFunction's container: handles the events it is sent, one invocation each, and
    answers with the reports, wall and CPU seconds, and the process's peak memory so far."""
    import warnings

    from functions.inbound_sync import app

    # Powertools warns of every invocation that publishes no metric (a stream batch's).
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    commands.send(_peak_resident_mb())
    while (request := commands.recv()) is not None:
        events, timeout_ms = request
        reports = []
        cpu, started = time.process_time(), time.perf_counter()
        # Powertools prints its cold-start metric (EMF) even with metrics disabled.
        with contextlib.redirect_stdout(io.StringIO()):
            for event in events:
                invocation = _Invocation(timeout_ms=timeout_ms, function_name=FUNCTION_NAME)
                reports.append(app.handler(event, invocation))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        commands.send((reports, seconds, cpu, _peak_resident_mb()))


@dataclass
class _Handled:
    reports: list[dict[str, Any]]
    seconds: float
    cpu_seconds: float
    peak_memory_mb: float
    calls: list[tuple[str, str]]
    emulator_cpu_seconds: float
    moto_cpu_seconds: float

    @property
    def report(self) -> dict[str, Any]:
        (report,) = self.reports
        return report

    @property
    def sent(self) -> int:
        return sum(self.report["counts"].get(count, 0) for count in ("updated", "unchanged", "failed"))


class _Container:
    def __init__(self, connector: _Connector, commands: Connection, imported_peak_mb: float) -> None:
        self._connector = connector
        self._commands = commands
        self.imported_peak_mb = imported_peak_mb

    def handle(self, events: list[dict[str, Any]], timeout_ms: int = LAMBDA_TIMEOUT_MS) -> _Handled:
        self._connector.org.reset_counters()
        emulator_cpu = _process_cpu_seconds(self._connector.emulator_pid)
        moto_cpu = _process_cpu_seconds(self._connector.moto_pid)
        self._commands.send((events, timeout_ms))
        reports, seconds, cpu_seconds, peak_memory_mb = self._commands.recv()
        return _Handled(
            reports=reports,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            peak_memory_mb=peak_memory_mb,
            calls=self._connector.org.call_log(),
            emulator_cpu_seconds=_process_cpu_seconds(self._connector.emulator_pid) - emulator_cpu,
            moto_cpu_seconds=_process_cpu_seconds(self._connector.moto_pid) - moto_cpu,
        )

    def scheduled_run(self, timeout_ms: int = LAMBDA_TIMEOUT_MS) -> _Handled:
        from local.schedules import let_schedules_pass

        event = json.loads((ROOT / "events" / "inbound_sync" / "scheduled.json").read_text())
        let_schedules_pass("inbound")  # back to back, not the schedule's minutes apart
        return self.handle([event], timeout_ms)


@contextmanager
def _inbound_container(connector: _Connector) -> Iterator[_Container]:
    """Started inside the connector's environment (the spawned process inherits it)."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    process = spawn.Process(target=_serve_container, args=(theirs,), name="inbound-container", daemon=True)
    process.start()
    try:
        yield _Container(connector, ours, imported_peak_mb=ours.recv())
    finally:
        ours.send(None)
        process.join(30)


# ------------------------------------------------------------------ set-up


def _new_leads(connector: _Connector, count: int, tag: str) -> list[dict[str, Any]]:
    """`count` new Leads of `tag`, read back (with the fields the configuration maps) as
    outbound reads them: changed since its Lead watermark, which then moves past them."""
    from crmsync import bootstrap
    from crmsync.domain.objects import CrmObject

    connector.org.insert_leads(count, tag)
    watermarks = bootstrap.watermarks()
    mapped = [m.salesforce_field for m in bootstrap.configuration().mappings[CrmObject.LEAD]]
    until = datetime.now(UTC).replace(microsecond=0)
    leads: list[dict[str, Any]] = []
    last_page = None
    for page in bootstrap.salesforce_gateway().read_changes(
        "Lead",
        ["Id", "SystemModstamp", *mapped],
        watermarks.watermark("outbound#Lead"),
        until,
        include_deleted=False,
    ):
        leads += [lead for lead in page.records if str(lead["LastName"]).startswith(f"{tag} ")]
        last_page = page
    if last_page is not None and last_page.watermark is not None:
        watermarks.save_watermark("outbound#Lead", last_page.watermark)
    return leads


def _changed_prospects_in_bulk(connector: _Connector, count: int, tag: str) -> float:
    """Linked prospects, each scored by the marketing side, waiting for the inbound run (see
    the module's docstring for what this bypasses). Returns the seconds it took."""
    import boto3
    from crmsync import bootstrap
    from crmsync.aws.dynamo_table import DynamoTable
    from crmsync.aws.dynamo_values import iso
    from crmsync.aws.links import LINK_PREFIX, _link_values
    from crmsync.aws.prospects import MARKETING_WRITER, _item
    from crmsync.aws.tables import LINKS_KEY, PROSPECTS_KEY
    from crmsync.domain.lifecycle import CrmRef, Link
    from crmsync.domain.objects import CrmObject
    from crmsync.domain.plan import FieldSnapshot
    from crmsync.domain.prospect import Prospect
    from crmsync.ports import PendingChange

    started = time.perf_counter()
    settings = bootstrap.settings()
    mappings = bootstrap.configuration().mappings[CrmObject.LEAD]
    now = datetime.now(UTC)
    prospect_items: list[dict[str, Any]] = []
    link_items: list[dict[str, Any]] = []
    for lead in _new_leads(connector, count, tag):
        fields = {m.marketing_field: lead.get(m.salesforce_field) for m in mappings}
        prospect = Prospect(
            id=uuid.uuid4().hex,
            fields={**{k: v for k, v in fields.items() if v is not None}, "score": SCORE},
            crm_id=lead["Id"],
            modified_at=now,
        )
        # Version 1 was outbound's creation, version 2 the marketing side's score.
        prospect_items.append(_item(prospect, version=2, writer=MARKETING_WRITER))
        link = Link(prospect.id, CrmRef(CrmObject.LEAD, lead["Id"]))
        snapshot = {
            m.key: FieldSnapshot(fields[m.marketing_field], fields[m.marketing_field]) for m in mappings
        }
        link_items.append(
            {
                "pk": LINK_PREFIX + prospect.id,
                "prospect_id": prospect.id,
                **_link_values(link, snapshot),
                "version": 1,
                "linked_at": iso(now),
                "updated_at": iso(now),
            }
        )
    client = boto3.client("dynamodb")
    DynamoTable(client, settings.prospects_table, PROSPECTS_KEY).write_many(prospect_items)
    DynamoTable(client, settings.links_table, LINKS_KEY).write_many(link_items)
    bootstrap.pending_changes().add([PendingChange(item["prospect_id"], 2) for item in prospect_items])
    return time.perf_counter() - started


@dataclass
class _StreamSource:
    """What `ProspectStream` reads of a `LocalStack`: the stack lives in moto's process here."""

    region: str
    stream_arn: str

    def attribute(self, logical_id: str, name: str) -> str:
        return self.stream_arn


def _changed_prospects_captured(
    connector: _Connector, container: _Container, count: int, tag: str
) -> _Handled:
    """`count` new Leads linked by an outbound run, then scored by the marketing side through
    the prospect store; the stream's records are delivered to the function as Lambda's event
    source mapping would. Returns the capture invocations."""
    import boto3
    from crmsync import bootstrap
    from crmsync.aws.dynamo_table import DynamoTable
    from crmsync.aws.prospects import DynamoProspectStore
    from crmsync.aws.tables import PROSPECTS_KEY
    from crmsync.domain.prospect import ProspectChange

    from local.prospect_stream import ProspectStream

    connector.org.insert_leads(count, tag)
    linked = _outbound_run(connector)
    assert linked.counts.get("created") == count, linked.counts
    lead_ids = [
        str(lead["Id"])
        for page in bootstrap.salesforce_gateway().read_changes(
            "Lead", ["Id", "LastName"], None, datetime.now(UTC), include_deleted=False
        )
        for lead in page.records
        if str(lead["LastName"]).startswith(f"{tag} ")
    ]
    client = boto3.client("dynamodb")
    table = bootstrap.settings().prospects_table
    stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    stream = ProspectStream(_StreamSource(client.meta.region_name, stream_arn))  # type: ignore[arg-type]
    marketing = DynamoProspectStore(DynamoTable(client, table, PROSPECTS_KEY))
    prospect_ids = [
        stored.link.prospect_id for stored in bootstrap.link_store().by_crm_ids(lead_ids).values()
    ]
    now = datetime.now(UTC)
    scored = [
        ProspectChange(
            replace(prospect, fields={**prospect.fields, "score": SCORE}, modified_at=now), before=prospect
        )
        for prospect in marketing.get_many(prospect_ids).values()
    ]
    assert marketing.save(scored) == []
    return container.handle(stream.events())


# ------------------------------------------------------------------ figures


def _calls_by_kind(calls: list[tuple[str, str]]) -> str:
    """Salesforce's requests as issue 4 counts them, then each kind's requests by endpoint."""
    kinds: dict[str, Counter[str]] = {}
    for method, path in calls:
        resource = path.split("/services/data/", 1)[-1].split("/", 1)[-1].split("?", 1)[0].rstrip("/")
        endpoint = "/".join(
            "{id}" if len(part) in (15, 18) and part.isalnum() else part for part in resource.split("/")
        )
        if resource == "composite/sobjects":
            kind = "Collections writes"
        elif resource.startswith(("query", "queryAll")):
            kind = "reads"
        elif resource.startswith("jobs/ingest"):
            kind = "Bulk API 2.0"
        else:
            kind = "other"
        kinds.setdefault(kind, Counter())[f"{method} {endpoint}"] += 1
    return (
        "; ".join(
            f"{kind} {sum(endpoints.values())} [{', '.join(f'{e} {n}' for e, n in endpoints.items())}]"
            for kind, endpoints in kinds.items()
        )
        or "none"
    )


def _print_run(label: str, run: _Handled) -> None:
    report = run.report
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items() if v)
    print(f"  {label}: {report['outcome']} in {run.seconds:.1f} s; {counts or 'nothing'}")
    print(f"    Salesforce API calls: {len(run.calls)} = {_calls_by_kind(run.calls)}")
    if run.sent:
        print(
            f"    {run.sent / run.seconds:,.0f} records/s; CPU of the function's process {run.cpu_seconds:.2f} s"
            f" = {run.cpu_seconds / run.sent * 1000:.2f} ms per record (s per 1,000 records)"
            f" (for scale, the doubles: emulator {run.emulator_cpu_seconds:.1f} s, moto {run.moto_cpu_seconds:.1f} s)"
        )


def _print_capture(capture: _Handled) -> None:
    noted = sum(report["noted"] for report in capture.reports)
    print(
        f"    change capture: {len(capture.reports)} stream invocations noted {noted:,} changes in {capture.seconds:.1f} s;"
        f" CPU {capture.cpu_seconds:.2f} s = {capture.cpu_seconds / max(noted, 1) * 1000:.2f} ms per change;"
        f" Salesforce API calls: {len(capture.calls)}"
    )


_INTAKE_ANSWER = """
import json, sys, time
started = time.perf_counter()
from functions.http_api import app
imported = time.perf_counter()
class Context:
    function_name = "crmsync-bench-HttpApiFunction"; memory_limit_in_mb = 512; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:crmsync-bench-HttpApiFunction"
response = app.handler(json.loads(sys.argv[1]), Context())
answered = time.perf_counter()
print(json.dumps({"status": response["statusCode"], "import": imported - started, "answer": answered - started,
                  "simple_salesforce": "simple_salesforce" in sys.modules}))
"""


def intake_route() -> None:
    """POST /actions in fresh interpreters (a cold HttpApiFunction), against moto."""
    import os

    from crmsync import bootstrap
    from crmsync.domain.prospect import Prospect, ProspectChange

    event = json.loads((ROOT / "events" / "http_api" / "post_action.json").read_text())
    prospect_id = json.loads(event["body"])["prospect_id"]
    bootstrap.prospect_store().save(
        [ProspectChange(Prospect(prospect_id, {"email": "intake@bench.example"}))]
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'crmsync'}:{ROOT}"}
    answers = []
    for _ in range(INTAKE_RUNS + 1):  # the first warms the bytecode cache, as a deployed package has it
        output = subprocess.run(
            [sys.executable, "-c", _INTAKE_ANSWER, json.dumps(event)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        answers.append(json.loads(output.stdout.strip().splitlines()[-1]))
    answers = answers[1:]
    print(
        f"  automation intake route (POST /actions) in a fresh interpreter, median of {INTAKE_RUNS}:"
        f" import {statistics.median(a['import'] for a in answers) * 1000:.0f} ms,"
        f" answered {sorted({a['status'] for a in answers})} after {statistics.median(a['answer'] for a in answers) * 1000:.0f} ms;"
        f" simple_salesforce imported: {'yes' if any(a['simple_salesforce'] for a in answers) else 'no'}"
    )


def inbound_runs() -> None:
    print(
        "inbound sync through functions/inbound_sync/app.handler, in a process of its own (InboundSyncFunction's"
        " warm container; emulator and moto in processes of their own):"
    )
    with _connector_with_doubles_apart() as connector:
        from crmsync import bootstrap

        bootstrap.load_configuration(CONFIGURATION)
        with _inbound_container(connector) as container:
            # Nothing waits yet: the run touches no Salesforce, and builds the AWS clients a warm
            # container has.
            _print_run("first (idle) run, nothing waiting", container.scheduled_run())
            # The first run with something to send logs in to Salesforce and imports
            # simple-salesforce, once per container: measured apart from the runs after it.
            _changed_prospects_captured(connector, container, 1, "login")
            _print_run("first run with a change (Salesforce login, lazy imports)", container.scheduled_run())
            capture = _changed_prospects_captured(connector, container, COLLECTIONS_RECORDS, "collections")
            collections = container.scheduled_run()
            _print_run(
                f"run over {COLLECTIONS_RECORDS:,} changed prospects (linked by outbound, captured from the stream)",
                collections,
            )
            _print_capture(capture)

            seconds = _changed_prospects_in_bulk(connector, BULK_RECORDS, "bulk")
            print(f"  {BULK_RECORDS:,} changed prospects set up in bulk in {seconds:.0f} s")
            bulk = container.scheduled_run()
            _print_run(f"run over {BULK_RECORDS:,} changed prospects", bulk)

            seconds = _changed_prospects_in_bulk(connector, LARGE_RUN_RECORDS, "large")
            print(f"  {LARGE_RUN_RECORDS:,} changed prospects set up in bulk in {seconds:.0f} s")
            large = container.scheduled_run(timeout_ms=LARGE_RUN_SECONDS * 1000)
            _print_run(
                f"run over {LARGE_RUN_RECORDS:,} changed prospects, {LARGE_RUN_SECONDS} s allowed (moto's pace)",
                large,
            )
            print(
                f"    {large.seconds:.0f} s on moto, of which this process's CPU {large.cpu_seconds:.0f} s"
                f" (InboundSyncFunction's timeout is {LAMBDA_TIMEOUT_MS // 1000} s)"
            )
        print(
            f"  peak memory of the function's process (VmHWM, its peak resident set): handler imported {container.imported_peak_mb:.0f} MB;"
            f" after the {COLLECTIONS_RECORDS:,} run {collections.peak_memory_mb:.0f} MB, the {BULK_RECORDS:,} run"
            f" {bulk.peak_memory_mb:.0f} MB, the {LARGE_RUN_RECORDS:,} run {large.peak_memory_mb:.0f} MB"
        )
        intake_route()


if __name__ == "__main__":
    inbound_runs()
