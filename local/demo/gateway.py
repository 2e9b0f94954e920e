"""The demo's first part: `GET /status` through the HTTP entry point (with its sample event), a
login by JWT bearer, a 5,000-Lead write through sObject Collections and Bulk API 2.0, and
incremental reads back, each step with its records, Salesforce API calls and seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from crmsync import bootstrap
from crmsync.domain.records import WriteOperation
from crmsync.salesforce.gateway import SalesforceGateway

from local.runtime.invoke import LambdaContext, invoke, sample_event
from local.salesforce_emulator import Emulator, ManualClock

T = TypeVar("T")
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's Timeout in template.yaml


LEADS = 5000


LEAD_SOURCES = ("Web", "Purchased List", "Partner Referral", "Web", "Other", "Phone Inquiry", "Web", "Other")


@dataclass
class Step:
    what: str
    records: int
    api_calls: int
    seconds: float
    note: str = ""


class Report:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.steps: list[Step] = []

    def measure(
        self, what: str, action: Callable[[], T], records: Callable[[T], int], note: Callable[[T], str]
    ) -> T:
        calls_before = self.emulator.api_calls
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
        self.steps.append(
            Step(what, records(result), self.emulator.api_calls - calls_before, elapsed, note(result))
        )
        print(f"  ✓ {what}")
        return result

    def print(self, total_seconds: float) -> None:
        print()
        print(f"{'step':<44} {'records':>8} {'API calls':>10} {'seconds':>8}  note")
        print("-" * 100)
        for s in self.steps:
            print(f"{s.what:<44} {s.records:>8} {s.api_calls:>10} {s.seconds:>8.2f}  {s.note}")
        print("-" * 100)
        total_records = sum(s.records for s in self.steps)
        total_calls = sum(s.api_calls for s in self.steps)
        print(f"{'total':<44} {total_records:>8} {total_calls:>10} {total_seconds:>8.2f}")


def call_status_route() -> dict[str, Any]:
    from functions.http_api import app

    event = sample_event("http_api", "status")
    response = invoke(app.handler, event, LambdaContext(timeout_ms=HTTP_TIMEOUT_MS))
    body: dict[str, Any] = json.loads(response["body"])
    if response["statusCode"] != 200:
        raise SystemExit(f"GET /status answered {response['statusCode']}: {body}")
    return body


def gateway_demo(emulator: Emulator, clock: ManualClock, started: float) -> None:
    """The steps and their table; `started` is when the demo started (the table's total)."""
    report = Report(emulator)
    status = report.measure(
        "GET /status (JWT login + /limits)",
        call_status_route,
        lambda s: 0,
        lambda s: (
            f"connector {s['state']}, v{s['version']}, Salesforce reachable={s['salesforce']['reachable']}"
        ),
    )
    if not status["salesforce"]["reachable"]:
        raise SystemExit(f"Salesforce did not answer: {status['salesforce']}")

    gateway = bootstrap.salesforce_gateway()
    assert isinstance(gateway, SalesforceGateway)
    leads = [
        {
            "FirstName": f"Pat{n}",
            "LastName": f"Prospect {n}",
            "Company": f"Company {n % 250}",
            "Email": f"pat{n}@example.com",
            "LeadSource": LEAD_SOURCES[n % len(LEAD_SOURCES)],
        }
        for n in range(LEADS)
    ]
    leads[42]["Email"] = "not-an-email"

    def outcome(results: list[Any]) -> str:
        failed = [r for r in results if not r.success]
        first = f"; e.g. {failed[0].failure.describe()}" if failed else ""
        return f"{len(results) - len(failed)} created, {len(failed)} failed{first}"

    report.measure(
        "create 1,000 Leads (sObject Collections)",
        lambda: gateway.write("Lead", WriteOperation.CREATE, leads[:1000]),
        len,
        outcome,
    )
    clock.advance(seconds=1)
    report.measure(
        "create 4,000 Leads (Bulk API 2.0)",
        lambda: gateway.write("Lead", WriteOperation.CREATE, leads[1000:]),
        len,
        outcome,
    )
    clock.advance(seconds=1)

    def read_all(since: Any) -> tuple[int, Any, int]:
        count, pages, watermark = 0, 0, since
        for page in gateway.read_changes("Lead", ["Email", "LastName"], since, datetime.now(UTC)):
            count, pages, watermark = count + len(page.records), pages + 1, page.watermark
        return count, watermark, pages

    _, watermark, _ = report.measure(
        "incremental read of Leads (first run)",
        lambda: read_all(None),
        lambda r: r[0],
        lambda r: f"{r[2]} pages of up to 2,000",
    )
    changed = [lead["Id"] for lead in emulator.records("Lead")[:25]]
    clock.advance(seconds=1)
    for lead_id in changed:
        emulator.update("Lead", lead_id, {"Title": "Changed by a salesperson"})
    clock.advance(seconds=1)
    _, watermark, _ = report.measure(
        "incremental read after 25 edits",
        lambda: read_all(watermark),
        lambda r: r[0],
        lambda r: "the edited records, nothing else",
    )
    report.measure(
        "idle incremental read",
        lambda: read_all(watermark),
        lambda r: r[0],
        lambda r: "nothing changed since the last read",
    )
    report.print(time.perf_counter() - started)
