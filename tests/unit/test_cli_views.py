"""What the `crmsync` command shows for answers shaped as the operator routes' contract says
(ISSUE 12's route contract: `GET /records/{id}/why`, `GET /errors`, `GET /runs`,
`GET /fields/{object}`, `POST /records/{id}/sync`, `POST /config/plan`, `GET /resync`), through
its entry point with a fake sender: the tables at 80 columns, the requests it makes, and the
CSV export. The end-to-end tests against the stack (tests/functions/test_cli.py) cover the
routes the stack serves."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest
from crmsync_cli.__main__ import main
from crmsync_cli.output import NOT_SENT, Output
from rich.console import Console

NOW = datetime(2026, 12, 7, 11, 45, tzinfo=UTC)
STACK = "http://127.0.0.1:4510"


class Stack:
    """Answers each request with `answer(method, path, query, body)`; keeps the requests."""

    def __init__(self, answer: Callable[[str, str, dict[str, list[str]], Any], tuple[int, Any]]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []

    def __call__(self, request: AWSPreparedRequest) -> tuple[int, bytes]:
        parts = urlsplit(request.url)
        body = json.loads(request.body) if request.body else None
        asked = (request.method or "", parts.path, parse_qs(parts.query), body)
        self.requests.append(asked)
        status, answer = self.answer(*asked)
        return status, json.dumps(answer).encode()


def answering(body: Any, status: int = 200) -> Stack:
    return Stack(lambda *_: (status, body))


def crmsync(
    *argv: str, stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[int, str, str]:
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"url": STACK}))
    monkeypatch.setenv("CRMSYNC_LOCAL_STACK", str(stack_file))
    out, err = io.StringIO(), io.StringIO()
    output = Output(
        out=Console(file=out, width=80, highlight=False),
        err=Console(file=err, width=80, highlight=False),
        now=NOW,
    )
    code = main(["--local", *argv], send=stack, output=output, sleep=lambda _: None)
    printed = out.getvalue()
    assert all(len(line) <= 80 for line in printed.splitlines()), printed
    return code, printed, err.getvalue()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in the machine's zone: here, UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def lines(printed: str) -> list[str]:
    return [line.rstrip() for line in printed.splitlines()]


WHY: dict[str, Any] = {
    "prospect_id": "imported-0001",
    "salesforce": {"object": "Lead", "id": "00Q8d0000000005EAA"},
    "link": {
        "object": "Lead",
        "id": "00Q8d0000000005EAA",
        "status": "active",
        "origin": "salesforce",
        "synced_version": 4,
        "fields_kept": 9,
    },
    "link_history": [
        {
            "object": "Lead",
            "id": "00Q8d0000000005EAA",
            "from": "2026-12-07T11:02:00+00:00",
            "until": "2026-12-07T11:40:00+00:00",
            "event": "linked to Lead 00Q8d0000000005EAA: prospect imported-0001 has the same email",
            "run_id": "4f1c2d3e-aaaa-bbbb-cccc-000000000001",
        }
    ],
    "timeline": [
        {
            "at": "2026-12-07T11:02:00+00:00",
            "run_id": "4f1c2d3e-aaaa-bbbb-cccc-000000000001",
            "direction": "outbound",
            "event": "linked",
            "field": None,
            "rule": "email match",
        },
        {
            "at": "2026-12-07T11:02:00+00:00",
            "run_id": "4f1c2d3e-aaaa-bbbb-cccc-000000000001",
            "direction": "outbound",
            "event": "field synced",
            "field": "phone",
            "side": "marketing",
            "old": None,
            "new": "+1 555 0100",
            "rule": "most_recent: Salesforce changed",
        },
        {
            "at": "2026-12-07T11:20:00+00:00",
            "run_id": "9a8b7c6d-aaaa-bbbb-cccc-000000000002",
            "direction": "outbound",
            "event": "field synced",
            "field": "phone",
            "side": "marketing",
            "old": "+1 555 0100",
            "new": "+44 20 7946 0000",
            "rule": "most_recent: Salesforce changed",
        },
        {
            "at": "2026-12-07T11:40:00+00:00",
            "run_id": "1b2c3d4e-aaaa-bbbb-cccc-000000000003",
            "direction": "inbound",
            "event": "field synced",
            "field": "Title",
            "side": "salesforce",
            "old": "Countess",
            "new": "Director of Analytics",
            "rule": "prefer_marketing_unless_blank",
        },
        {
            "at": "2026-12-07T11:40:00+00:00",
            "run_id": "1b2c3d4e-aaaa-bbbb-cccc-000000000003",
            "direction": "inbound",
            "event": "field synced",
            "field": "Marketing_Score__c",
            "side": "salesforce",
            "old": None,
            "new": 40,
            "rule": "marketing",
        },
    ],
    "open_errors": [],
}

ERRORS: dict[str, Any] = {
    "errors": [
        {
            "key": "inbound#Lead#00Q8d0000000006EAA",
            "direction": "inbound",
            "object": "Lead",
            "record_id": "00Q8d0000000006EAA",
            "prospect_id": "b433629069c34a7b9129664d47b72f01",
            "operation": "update",
            "code": "INVALID_EMAIL_ADDRESS",
            "category": "validation",
            "message": "Email: invalid email address: not-an-email",
            "fields": ["Email"],
            "first_seen": "2026-12-07T11:40:00+00:00",
            "last_seen": "2026-12-07T11:42:00+00:00",
            "attempts": 2,
            "state": "open",
        },
        {
            "key": "inbound#Lead#auto-lead-002",
            "direction": "inbound",
            "object": "Lead",
            "record_id": None,
            "prospect_id": "auto-lead-002",
            "operation": "create",
            "code": "DUPLICATES_DETECTED",
            "category": "duplicate",
            "message": "Use one of these records?",
            "fields": [],
            "first_seen": "2026-12-07T11:41:00+00:00",
            "last_seen": "2026-12-07T11:41:00+00:00",
            "attempts": 1,
            "state": "open",
        },
    ],
    "next": None,
}

RUNS: dict[str, Any] = {
    "runs": [
        {
            "direction": "inbound",
            "run_id": "1b2c3d4e-aaaa-bbbb-cccc-000000000003",
            "outcome": "completed",
            "started_at": "2026-12-07T11:40:00+00:00",
            "finished_at": "2026-12-07T11:40:02+00:00",
            "duration_s": 1.7,
            "counts": {"read": 4, "updated": 3, "errors": 1},
            "api_calls": 3,
            "api_calls_by_kind": {
                "query": 1,
                "collections": 1,
                "bulk": 0,
                "limits": 1,
                "describe": 0,
                "login": 0,
            },
        },
        {
            "direction": "outbound",
            "run_id": "9a8b7c6d-aaaa-bbbb-cccc-000000000002",
            "outcome": "over_budget",
            "started_at": "2026-12-07T11:20:00+00:00",
            "finished_at": "2026-12-07T11:20:01+00:00",
            "duration_s": 0.4,
            "counts": {"read": 1, "updated": 1},
            "api_calls": 4,
            "api_calls_by_kind": {
                "query": 2,
                "collections": 0,
                "bulk": 0,
                "limits": 1,
                "describe": 0,
                "login": 1,
            },
        },
    ]
}

FIELDS: dict[str, Any] = {
    "object": "Lead",
    "fields": [
        {
            "name": "Email",
            "label": "Email",
            "type": "email",
            "length": 80,
            "createable": True,
            "updateable": True,
            "mapped": {"marketing_field": "email", "behaviour": "most_recent"},
        },
        {
            "name": "Marketing_Score__c",
            "label": "Marketing Score",
            "type": "double",
            "length": 0,
            "createable": True,
            "updateable": True,
            "mapped": {"marketing_field": "score", "behaviour": "marketing"},
        },
        {
            "name": "IsConverted",
            "label": "Converted",
            "type": "boolean",
            "length": 0,
            "createable": False,
            "updateable": False,
            "mapped": None,
        },
    ],
}

SYNC: dict[str, Any] = {
    "prospect_id": "imported-0001",
    "salesforce": {"object": "Lead", "id": "00Q8d0000000005EAA"},
    "direction": "both",
    "changes": [
        {
            "side": "salesforce",
            "field": "Title",
            "old": "Countess",
            "new": "Director of Analytics",
            "rule": "prefer_marketing_unless_blank",
        },
        {
            "side": "marketing",
            "field": "phone",
            "old": "+1 555 0100",
            "new": "+44 20 7946 0000",
            "rule": "most_recent",
        },
    ],
    "outbound": {"outcome": "updated", "reason": "Salesforce's Phone changed", "changes": [], "events": []},
    "inbound": {"outcome": "updated", "reason": "the prospect changed", "changes": [], "events": []},
    "api_calls": 3,
    "api_calls_at_most": 4,
}

PLAN: dict[str, Any] = {
    "valid": True,
    "problems": [],
    "records": [
        {
            "prospect_id": "imported-0001",
            "object": "Lead",
            "id": "00Q8d0000000005EAA",
            "changes": [
                {
                    "field": "Marketing_Grade__c",
                    "side": "salesforce",
                    "old": "A",
                    "new": None,
                    "rule": "marketing, sync_blanks",
                }
            ],
        },
        {
            "prospect_id": "p2",
            "object": "Contact",
            "id": "0038d000000000DAAQ",
            "changes": [],
            "note": "out of the new scope: the runs would leave it (and its prospect) as it is",
        },
    ],
    "summary": {"records": 2, "would_change": 1, "by_field": {"salesforce:Marketing_Grade__c": 1}},
    "api_calls": 6,
}


STATUS: dict[str, Any] = {
    "state": "over_budget",
    "healthy": False,
    "version": "0.1.0",
    "config_version": 3,
    "schedules": {
        "outbound": {"every": "2 minutes", "next_due_at": "2026-12-07T11:46:00+00:00"},
        "inbound": {
            "every": "2 minutes",
            "max_waiting_changes": 100,
            "next_due_at": "2026-12-07T11:46:30+00:00",
        },
    },
    "directions": {
        "outbound": {
            "last_completed_run": {
                "run_id": "r1",
                "finished_at": "2026-12-07T11:02:41+00:00",
                "counts": {"read": 120, "updated": 117, "created": 3},
            },
            "lag_seconds": 2579,
            "last_run": {
                "run_id": "r9",
                "outcome": "over_budget",
                "finished_at": "2026-12-07T11:44:00+00:00",
            },
            "failing": True,
            "failing_because": "the last 5 runs stopped over the API budget",
        },
        "inbound": {
            "last_completed_run": {
                "run_id": "r2",
                "finished_at": "2026-12-07T11:44:05+00:00",
                "counts": {"read": 4, "updated": 3},
            },
            "lag_seconds": 55,
            "last_run": {"run_id": "r2", "outcome": "completed", "finished_at": "2026-12-07T11:44:05+00:00"},
            "failing": False,
        },
    },
    "waiting": {
        "changed_prospects": 12,
        "parked_actions": 0,
        "actions_queue": 3,
        "actions_dlq": 1,
        "failed_captures": 0,
    },
    "api": {"used": 81234, "limit": 100000, "percent": 81.2, "budget_percent": 80},
    "open_errors": {"validation": 2, "duplicate": 1},
    "resync": {
        "state": "running",
        "object": "Lead",
        "read": 2000,
        "applied": 1800,
        "total": 5000,
        "started_at": "2026-12-07T11:30:00+00:00",
    },
    "salesforce": {"reachable": True},
}


def test_why_prints_the_timeline_by_run_each_change_with_its_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(WHY)

    code, printed, _ = crmsync(
        "why", "imported-0001", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 0
    assert stack.requests[0][:2] == ("GET", "/records/imported-0001/why")
    shown = lines(printed)
    assert shown[0] == "Prospect imported-0001  ↔  Lead 00Q8d0000000005EAA"
    assert shown[1] == "link: active · Lead 00Q8d0000000005EAA · origin salesforce"
    assert "Timeline (5 entries, oldest first)" in shown
    assert "run 4f1c2d3e… · outbound · 11:02:00" in shown
    assert "  11:02:00  outbound  linked  (email match)" in shown
    assert "  11:20:00  outbound  phone: '+1 555 0100' → '+44 20 7946 0000'  (most_recent:" in shown
    assert "  11:40:00  inbound   Marketing_Score__c: (blank) → 40  (marketing)" in shown
    assert shown[-5:-3] == [
        "  Lead 00Q8d0000000005EAA · 11:02 to 11:40 · linked to Lead 00Q8d0000000005EAA:",
        "  prospect imported-0001 has the same email",
    ]
    assert shown[-2:] == ["Open errors (0)", "  none"]


def test_why_of_an_unknown_id_shows_the_connectors_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering({"message": "no prospect or Salesforce record 00Q000000000000AAA is known"}, status=404)

    code, _, errors = crmsync(
        "why", "00Q000000000000AAA", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 1
    assert errors == "crmsync: refused (404): no prospect or Salesforce record 00Q000000000000AAA is known\n"


def test_errors_lists_each_entry_with_its_code_fields_times_and_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(ERRORS)

    code, printed, _ = crmsync(
        "errors",
        "--category",
        "validation",
        "--newer-than",
        "2d",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    method, path, query, _ = stack.requests[0]
    assert (method, path) == ("GET", "/errors")
    assert query == {"category": ["validation"], "newer_than": ["2026-12-05T11:45:00+00:00"]}
    shown = lines(printed)
    assert shown[:6] == [
        " 1  Lead 00Q8d0000000006EAA · inbound update",
        "    INVALID_EMAIL_ADDRESS (validation): Email: invalid email address:",
        "    not-an-email",
        "    prospect b433629069c34a7b9129664d47b72f01 · fields Email · first seen 11:40",
        "    · last seen 11:42 · 2 attempts",
        "    key inbound#Lead#00Q8d0000000006EAA",
    ]
    assert " 2  Lead (not created) · inbound create" in shown
    assert "2 entries: validation 1, duplicate 1" in shown


def test_an_age_that_is_not_one_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(ERRORS)

    code, _, errors = crmsync(
        "errors", "--older-than", "soon", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == NOT_SENT
    assert stack.requests == []
    assert "'soon' is not an age (30m, 6h, 2d, 1w) or a date" in errors


def test_errors_retry_a_category_and_dismiss_with_a_reason_send_what_the_routes_take(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(
        {"queued": [{"key": "inbound#Lead#00Q8d0000000006EAA", "how": "the prospect waits again"}]}
    )

    code, printed, _ = crmsync(
        "errors", "retry", "--category", "validation", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 0
    assert stack.requests[-1][::3] == ("POST", {"category": "validation"})
    assert stack.requests[-1][1] == "/errors/retry"
    assert lines(printed)[:2] == ["queued: 1", "  inbound#Lead#00Q8d0000000006EAA  the prospect waits again"]

    code, _, _ = crmsync(
        "errors",
        "dismiss",
        "k1",
        "k2",
        "--reason",
        "test data",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )
    assert code == 0
    assert stack.requests[-1][1:] == ("/errors/dismiss", {}, {"keys": ["k1", "k2"], "reason": "test data"})


def test_errors_retry_without_keys_or_a_category_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering({})

    code, _, errors = crmsync("errors", "retry", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path)

    assert code == NOT_SENT
    assert stack.requests == []
    assert "say which entries to retry" in errors


def test_errors_export_writes_every_page_to_csv_with_formulas_defused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = ERRORS["errors"]
    formula = {**second, "key": "k3", "message": '=HYPERLINK("http://evil.example")'}

    def pages(method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if "after" not in query:
            return 200, {"errors": [first], "next": "page-2"}
        return 200, {"errors": [second, formula], "next": None}

    stack = Stack(pages)
    monkeypatch.chdir(tmp_path)
    file = Path("errors.csv")

    code, printed, _ = crmsync(
        "errors", "export", str(file), stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 0
    assert [query.get("after") for _, _, query, _ in stack.requests] == [None, ["page-2"]]
    rows = list(csv.DictReader(file.open(encoding="utf-8")))
    assert [row["key"] for row in rows] == [first["key"], second["key"], "k3"]
    assert rows[0]["fields"] == "Email"
    assert rows[0]["code"] == "INVALID_EMAIL_ADDRESS"
    assert rows[2]["message"] == '\'=HYPERLINK("http://evil.example")'
    assert printed == "3 entries written to errors.csv\n"


def test_runs_show_outcome_counts_and_api_calls_by_kind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(RUNS)

    code, printed, _ = crmsync(
        "runs",
        "--direction",
        "inbound",
        "--limit",
        "5",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    assert stack.requests[0][2] == {"direction": ["inbound"], "limit": ["5"]}
    shown = lines(printed)
    assert shown[0].split() == [
        "started",
        "run",
        "outcome",
        "took",
        "API",
        "counts",
        "·",
        "API",
        "calls",
        "by",
        "kind",
    ]
    assert shown[1].split() == [
        "11:40:00",
        "inbound",
        "completed",
        "1.7",
        "s",
        "3",
        "read",
        "4,",
        "updated",
        "3,",
        "errors",
        "1",
    ]
    assert shown[2].split() == ["1b2c3d4e…", "query", "1,", "collections", "1,", "limits", "1"]
    assert shown[-1] == "2 runs, 7 Salesforce API calls: query 3, limits 2, collections 1, login 1"


def test_fields_show_type_permissions_and_mapping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stack = answering(FIELDS)

    code, printed, _ = crmsync("fields", "Lead", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path)

    assert code == 0
    assert stack.requests[0][1] == "/fields/Lead"
    assert lines(printed)[:4] == [
        "field               type       create  update  mapped to (behaviour)",
        "Email               email(80)  yes     yes     email (most_recent)",
        "Marketing_Score__c  double     yes     yes     score (marketing)",
        "IsConverted         boolean    -       -       -",
    ]
    assert lines(printed)[-1] == "Lead: 3 fields, 2 mapped"


def test_sync_shows_each_change_by_side_and_the_api_calls_spent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering(SYNC)

    code, printed, _ = crmsync(
        "sync",
        "imported-0001",
        "--direction",
        "inbound",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    assert stack.requests[0][::3] == ("POST", {"direction": "inbound"})
    shown = lines(printed)
    assert shown[0] == "Synced prospect imported-0001 ↔ Lead 00Q8d0000000005EAA (both)"
    assert "salesforce  Title: 'Countess' → 'Director of Analytics'" in shown
    assert "marketing   phone: '+1 555 0100' → '+44 20 7946 0000'  (most_recent)" in shown
    assert shown[-3:] == [
        "outbound: updated (Salesforce's Phone changed)",
        "inbound: updated (the prospect changed)",
        "Salesforce API calls: 3 (at most 4)",
    ]


def test_sync_when_salesforce_does_not_answer_shows_its_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering({"message": "Salesforce did not answer: 503 Service Unavailable"}, status=503)

    code, _, errors = crmsync(
        "sync", "imported-0001", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 1
    assert errors == "crmsync: refused (503): Salesforce did not answer: 503 Service Unavailable\n"


def test_config_plan_shows_what_would_change_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sample = Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json"
    stack = answering(PLAN)

    code, printed, _ = crmsync(
        "config",
        "plan",
        str(sample),
        "--sample",
        "2",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    method, path, _, body = stack.requests[0]
    assert (method, path, body["sample"]) == ("POST", "/config/plan", 2)
    assert body["document"] == json.loads(sample.read_text())
    shown = lines(printed)
    assert shown[0] == "Dry run over 2 linked records: 1 would change, 1 would not. Nothing was written."
    assert "Lead 00Q8d0000000005EAA · prospect imported-0001" in shown
    assert "  salesforce  Marketing_Grade__c: 'A' → (blank)  (marketing, sync_blanks)" in shown
    assert shown[shown.index("Contact 0038d000000000DAAQ · prospect p2") + 1] == (
        "  out of the new scope: the runs would leave it (and its prospect) as it is"
    )
    assert shown[-4:] == [
        "Records each field would change on",
        "  salesforce  Marketing_Grade__c  1",
        "",
        "Salesforce API calls spent on the dry run: 6",
    ]


def test_config_plan_the_connector_finds_invalid_shows_its_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sample = Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json"
    stack = answering(
        {"valid": False, "problems": ["mappings.Lead[9].salesforce_field: Lead has no field 'X__c'"]}
    )

    code, _, errors = crmsync(
        "config", "plan", str(sample), stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 1
    assert errors.splitlines() == [
        f"crmsync: {sample} was refused by the connector; nothing was written",
        "  - mappings.Lead[9].salesforce_field: Lead has no field 'X__c'",
    ]


def test_resync_wait_follows_the_progress_until_it_is_done(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    progress = iter(
        [
            {"state": "running", "object": "Lead", "read": 2000, "applied": 1500, "total": 5000},
            {"state": "completed", "object": "Lead", "read": 5000, "applied": 5000, "total": 5000},
        ]
    )

    def answer(method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "POST":
            return 202, {
                "resync": {"state": "queued", "object": "Lead", "read": 0, "applied": 0, "total": None}
            }
        return 200, {"resync": next(progress)}

    stack = Stack(answer)

    code, printed, _ = crmsync(
        "resync",
        "Lead",
        "--since",
        "2026-12-01",
        "--wait",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    assert stack.requests[0][::3] == ("POST", {"object": "Lead", "since": "2026-12-01"})
    assert [r[:2] for r in stack.requests[1:]] == [("GET", "/resync"), ("GET", "/resync")]
    assert "5000/5000" in printed
    assert lines(printed)[-1] == "Resync Lead: 5,000 of 5,000 read, 5,000 applied (completed)"


def test_status_shows_each_direction_what_waits_and_the_budget_and_exits_1_when_unhealthy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, printed, _ = crmsync("status", stack=answering(STATUS), monkeypatch=monkeypatch, tmp_path=tmp_path)

    assert code == 1
    assert lines(printed) == [
        "OVER BUDGET  NOT HEALTHY  ·  crmsync 0.1.0  ·  configuration v3",
        "Salesforce answers  ·  API calls today 81,234 of 100,000 (81.2%; budget 80%)",
        "",
        "          last completed sync               lag     last run",
        "outbound  11:02:41                          42 min  over_budget 11:44:00",
        "          read 120, updated 117, created 3",
        "inbound   11:44:05                          55 s    completed 11:44:05",
        "          read 4, updated 3",
        "! outbound is failing: the last 5 runs stopped over the API budget",
        "",
        "Waiting      changed prospects 12  ·  actions queue 3  ·  actions DLQ 1",
        "Open errors  validation 2  ·  duplicate 1   (crmsync errors)",
        "Resync       Lead: 2,000 of 5,000 read, 1,800 applied (running, started 15 min",
        "             ago)",
        "Schedules    outbound every 2 minutes, next 11:46:00",
        "             inbound every 2 minutes, next 11:46:30",
    ]


def test_a_paused_connector_is_healthy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    paused = {**STATUS, "state": "paused", "healthy": True}

    code, printed, _ = crmsync("status", stack=answering(paused), monkeypatch=monkeypatch, tmp_path=tmp_path)

    assert code == 0
    assert lines(printed)[0] == "PAUSED  healthy  ·  crmsync 0.1.0  ·  configuration v3"


def test_report_hands_the_routes_time_series_to_the_renderer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    drawn: list[tuple[Any, Path]] = []
    renderer = types.ModuleType("crmsync_cli.report")
    renderer.write_report = lambda data, path: drawn.append((data, path))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "crmsync_cli.report", renderer)
    series = {"runs": [], "errors_by_category": [], "top_failing_records": []}
    stack = answering(series)
    page = tmp_path / "health.html"

    code, printed, _ = crmsync(
        "report",
        "--html",
        str(page),
        "--since",
        "2026-12-01",
        stack=stack,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
    )

    assert code == 0
    assert stack.requests[0][:3] == ("GET", "/report", {"since": ["2026-12-01"]})
    assert drawn == [(series, page)]
    assert "(self-contained: open it in a browser)" in printed


def test_options_keep_their_value_before_or_after_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = answering({"queued": []})

    code, _, _ = crmsync(
        "errors", "--category", "validation", "retry", stack=stack, monkeypatch=monkeypatch, tmp_path=tmp_path
    )

    assert code == 0
    assert stack.requests[-1][::3] == ("POST", {"category": "validation"})
    # `--local` before the command: crmsync() puts it first.
    code, printed, _ = crmsync(
        "--json", "fields", "Lead", stack=answering(FIELDS), monkeypatch=monkeypatch, tmp_path=tmp_path
    )
    assert code == 0
    assert json.loads(printed) == FIELDS
