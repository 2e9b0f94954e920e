"""`make demo`: the connector end to end on this machine — no AWS account, no Salesforce org.

Everything runs through the real handlers and adapters:
1. the HTTP entry point's `GET /status` (with its sample event), a login by JWT bearer, a
   5,000-Lead write through sObject Collections and Bulk API 2.0, and incremental reads back;
2. outbound sync (Salesforce → marketing) through `functions.outbound_sync.app.handler` with
   the scheduler's sample event: an org of a few thousand Leads and Contacts and a marketing
   platform that already knows a few hundred of those people; a run while the connector is
   still paused (it moves no record), then, resumed, a catch-up run; then Leads edited,
   converted, merged, deleted, moved out of scope and created in and out of scope, and a run;
   a record restored from the recycle bin, and a run; an idle run. The report gives each
   run's outcome, counts, Salesforce API calls and seconds, and why a few prospects changed,
   from their audit trail;
3. inbound sync (marketing → Salesforce), automation actions and marketing activities, and an
   echo check: see local/demo_inbound.py.

The org's clock runs an hour behind the machine's (as in the tests): the connector reads up
to the last whole second that is over, and a record the org stamps in the past is in such a
second at once, so no step has to wait for the clock. The org's clock moves on before every
change that must read as made after an earlier read, as real time would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from crmsync import bootstrap
from crmsync.domain.audit import AuditRecord
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import WriteOperation
from crmsync.salesforce.gateway import SalesforceGateway

from local.demo_inbound import inbound_demo
from local.demo_lambda import LambdaContext, invoke
from local.runtime import local_runtime
from local.salesforce_emulator import Emulator, ManualClock
from local.schedules import let_schedules_pass

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
ORG_CLOCK_BEHIND = timedelta(hours=1)
LAMBDA_TIMEOUT_MS = 300_000  # OutboundSyncFunction's Timeout in template.yaml
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's

LEADS = 5000
# The sample configuration's Lead scope takes Web Leads (and Webinar, Trade Show): 3 in 8 of
# the Leads written below; the others stay in Salesforce only.
LEAD_SOURCES = ("Web", "Purchased List", "Partner Referral", "Web", "Other", "Phone Inquiry", "Web", "Other")
CONTACTS = 1000
ACCOUNTS = 100
KNOWN_PROSPECTS = 200  # people the marketing platform has before the first run (email matches)


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

    event = json.loads((ROOT / "events" / "http_api" / "status.json").read_text())
    response = invoke(app.handler, event, LambdaContext(timeout_ms=HTTP_TIMEOUT_MS))
    body: dict[str, Any] = json.loads(response["body"])
    if response["statusCode"] != 200:
        raise SystemExit(f"GET /status answered {response['statusCode']}: {body}")
    return body


# ------------------------------------------------------------------ outbound sync


@dataclass
class Run:
    label: str
    outcome: str
    counts: Mapping[str, int]
    api_calls: int
    seconds: float
    run_id: str


class OutboundRuns:
    """Scheduled invocations of the outbound function, as EventBridge Scheduler makes them."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.runs: list[Run] = []
        self.event = json.loads((ROOT / "events" / "outbound_sync" / "scheduled.json").read_text())

    def invoke(self, label: str) -> Run:
        from functions.outbound_sync import app

        context = LambdaContext(
            function_name="crmsync-demo-OutboundSyncFunction", timeout_ms=LAMBDA_TIMEOUT_MS
        )
        calls_before = self.emulator.api_calls
        started = time.perf_counter()
        let_schedules_pass("outbound")  # the demo's runs come back to back, not minutes apart
        report = invoke(app.handler, self.event, context)
        run = Run(
            label,
            report["outcome"],
            report["counts"],
            self.emulator.api_calls - calls_before,
            time.perf_counter() - started,
            report["run_id"],
        )
        self.runs.append(run)
        print(f"  ✓ outbound {label}: {run.outcome}, {run.counts.get('read', 0)} records read")
        return run

    def number_of(self, run_id: str) -> str:
        for number, run in enumerate(self.runs):
            if run.run_id == run_id:
                return f"run {number}"
        return "run ?"

    def print(self) -> None:
        print()
        print(f"{'outbound run':<38} {'outcome':<10} {'API calls':>9} {'seconds':>8}  counts")
        print("-" * 100)
        for number, run in enumerate(self.runs):
            counts = ", ".join(f"{name} {value}" for name, value in run.counts.items() if value)
            label = f"{number}. {run.label}"
            print(f"{label:<38} {run.outcome:<10} {run.api_calls:>9} {run.seconds:>8.2f}  {counts or '-'}")
        print("-" * 100)


def demo_configuration() -> dict[str, Any]:
    """config/crmsync.sample.json, for Leads and Contacts only, with every Contact in scope, and
    page visits not sent as Tasks (so the demo shows an activity type that is not configured).

    Its Lead scope stays: LeadSource in (Web, Webinar, Trade Show) and Country not Antarctica.
    Its mappings send score and grade (behaviour marketing) to Marketing_Score__c and
    Marketing_Grade__c, and never send lead_status (behaviour salesforce)."""
    document: dict[str, Any] = json.loads((ROOT / "config" / "crmsync.sample.json").read_text())
    document["objects"].update({"account_fields": False, "opportunities": False})
    document["mappings"].pop("Account")
    document["outbound"]["scope"]["Contact"] = "all"
    document["activities"]["types"] = ["form_submission", "email_open", "email_click"]
    return document


@dataclass
class Org:
    """The Salesforce side's people, by what the demo does to them."""

    leads: list[str]
    contacts: list[str]
    known: list[str]
    """Leads whose email a prospect already had before the first run."""


def seed_org(emulator: Emulator, clock: ManualClock) -> Org:
    """Contacts on a few Accounts (the Leads exist already: the Collections and Bulk writes),
    and prospects the marketing platform had before the connector ran."""
    leads = emulator.records("Lead")
    accounts = [emulator.insert("Account", {"Name": f"Account {n}"}) for n in range(ACCOUNTS)]
    contacts = []
    for number in range(CONTACTS):
        if number and number % 100 == 0:
            clock.advance(seconds=1)
        contacts.append(
            emulator.insert(
                "Contact",
                {
                    "FirstName": f"Sam{number}",
                    "LastName": f"Customer {number}",
                    "Email": f"sam{number}@example.org",
                    "AccountId": accounts[number % ACCOUNTS],
                },
            )
        )
    in_scope = [lead for lead in leads if lead["LeadSource"] == "Web"]
    known = in_scope[:KNOWN_PROSPECTS]
    imported = datetime.now(UTC) - timedelta(days=3)
    prospects = [
        Prospect(
            id=f"imported-{number:04d}",
            fields={
                "email": str(lead["Email"]).upper(),  # as typed into a form: matching ignores case
                "first_name": lead["FirstName"],
                "job_title": "Head of Marketing",
                "phone": f"+1 555 {number:04d}",
            },
            modified_at=imported,
        )
        for number, lead in enumerate(known)
    ]
    refused = bootstrap.prospect_store().save([ProspectChange(p) for p in prospects])
    if refused:
        raise SystemExit(f"{len(refused)} imported prospects were refused by the prospect store")
    return Org(
        leads=[lead["Id"] for lead in in_scope],
        contacts=contacts,
        known=[lead["Id"] for lead in known],
    )


@dataclass
class Changes:
    edited: list[str]
    converted: list[tuple[str, str]]
    merged: list[tuple[str, str]]
    deleted: list[str]
    out_of_scope: list[str]
    new_in_scope: list[str]
    new_out_of_scope: list[str]
    contacts_edited: list[str]

    def describe(self) -> str:
        return (
            f"{len(self.edited)} Leads' Phone edited (most_recent), {len(self.converted)} Leads converted, "
            f"{len(self.merged)} Leads merged (the last into a new duplicate), {len(self.deleted)} Leads deleted, "
            f"{len(self.out_of_scope)} Leads moved to Antarctica (out of scope), "
            f"{len(self.new_in_scope)} new Leads in scope and {len(self.new_out_of_scope)} out of it, "
            f"{len(self.contacts_edited)} Contacts' Title set"
        )


def change_org(emulator: Emulator, clock: ManualClock, org: Org) -> Changes:
    """What salespeople and admins do in Salesforce between two runs."""
    clock.advance(minutes=2)
    leads = org.leads[KNOWN_PROSPECTS:]  # Leads that got a prospect of their own in run 1
    edited = [org.known[0], *leads[0:39]]
    for number, lead_id in enumerate(edited):
        emulator.update("Lead", lead_id, {"Phone": f"+1 555 9{number:03d}"})
    clock.advance(seconds=1)
    converted = [(lead_id, emulator.convert_lead(lead_id)[1]) for lead_id in leads[100:120]]
    clock.advance(seconds=1)
    merged = [(leads[200 + 2 * n], leads[201 + 2 * n]) for n in range(2)]
    # A duplicate a salesperson typed in since run 1, kept as the master: it has no prospect yet.
    duplicated = emulator.get(leads[210])
    assert duplicated is not None
    duplicate = emulator.insert(
        "Lead",
        {key: duplicated[key] for key in ("FirstName", "LastName", "Company", "Email", "LeadSource")},
    )
    merged.append((duplicate, leads[210]))
    for master, loser in merged:
        emulator.merge(master, [loser])
    clock.advance(seconds=1)
    deleted = leads[300:310]
    for lead_id in deleted:
        emulator.delete(lead_id)
    out_of_scope = leads[400:403]
    for lead_id in out_of_scope:
        emulator.update("Lead", lead_id, {"Country": "Antarctica"})
    clock.advance(seconds=1)
    new_in_scope = [
        emulator.insert(
            "Lead",
            {
                "LastName": f"Newcomer {n}",
                "Company": "Fresh Co",
                "Email": f"new{n}@example.net",
                "LeadSource": "Web",
            },
        )
        for n in range(5)
    ]
    new_out_of_scope = [
        emulator.insert(
            "Lead",
            {
                "LastName": f"Bought {n}",
                "Company": "List Co",
                "Email": f"bought{n}@example.net",
                "LeadSource": "Purchased List",
            },
        )
        for n in range(5)
    ]
    contacts_edited = org.contacts[:10]
    for contact_id in contacts_edited:
        emulator.update("Contact", contact_id, {"Title": "VP Sales"})
    clock.advance(seconds=1)
    return Changes(
        edited, converted, merged, deleted, out_of_scope, new_in_scope, new_out_of_scope, contacts_edited
    )


def prospect_of(crm_id: str) -> str | None:
    stored = bootstrap.link_store().by_crm_ids([crm_id]).get(crm_id)
    return stored.link.prospect_id if stored else None


def trail_line(entry: AuditRecord, runs: OutboundRuns) -> str:
    run = runs.number_of(entry.run_id)
    if entry.field is None:
        return f"      {run}  {entry.event}"
    return f"      {run}  {entry.field}: {entry.old!r} -> {entry.new!r}  ({entry.rule})"


def current_state(prospect_id: str) -> str:
    prospect = bootstrap.prospect_store().get_many([prospect_id]).get(prospect_id)
    stored = bootstrap.link_store().by_prospect_ids([prospect_id]).get(prospect_id)
    link = (
        f"{stored.link.status} link to {stored.link.crm.object} {stored.link.crm.id}" if stored else "no link"
    )
    if prospect is None:
        return f"{link}; no prospect"
    active = "active" if prospect.active else "inactive"
    return f"{link}; prospect {active}, tags: {', '.join(sorted(prospect.tags)) or '-'}"


def print_why(cases: Sequence[tuple[str, str]], runs: OutboundRuns) -> None:
    """The audit trail of a few prospects: why each one looks the way it does. From the third
    prospect on, the fields a prospect was created with in run 1 are named, not repeated."""
    print()
    print("why: the audit trail of a few prospects (event, or field: old -> new (rule))")
    audit = bootstrap.audit_trail()
    catch_up = runs.runs[1].run_id
    for number, (title, prospect_id) in enumerate(cases):
        print(f"  {title}  [prospect {prospect_id}]")
        trail = audit.audit_trail(prospect_id)
        if not trail:
            print("      (no audit entries)")
        folded = [e.field for e in trail if number >= 2 and e.run_id == catch_up and e.field]
        for entry in trail:
            if entry.field in folded and entry.run_id == catch_up:
                if entry.field == folded[0]:
                    print(
                        f"      {runs.number_of(catch_up)}  fields set from Salesforce: {', '.join(folded)}"
                    )
                continue
            print(trail_line(entry, runs))
        print(f"      now: {current_state(prospect_id)}")


def outbound_demo(emulator: Emulator, clock: ManualClock) -> tuple[OutboundRuns, Org]:
    runs = OutboundRuns(emulator)
    version = bootstrap.load_configuration(demo_configuration()).version
    print(f"  ✓ configuration v{version} loaded (sample: Lead scope LeadSource in Web/Webinar/Trade Show)")
    org = seed_org(emulator, clock)
    clock.advance(seconds=1)
    print(
        f"  ✓ org: {len(emulator.records('Lead'))} Leads ({len(org.leads)} in scope), "
        f"{len(org.contacts)} Contacts; marketing: {len(org.known)} prospects imported with Leads' emails"
    )
    runs.invoke("paused (as deployed)")
    bootstrap.resume()
    print("  ✓ connector resumed")
    runs.invoke("resumed: catch-up")
    changes = change_org(emulator, clock, org)
    print(f"  ✓ in Salesforce: {changes.describe()}")
    # The prospects to explain, found through their links before run 2 moves any of them.
    converted_lead, contact = changes.converted[0]
    master, loser = changes.merged[0]
    restored = changes.deleted[0]
    cases = [
        (f"Lead {org.known[0]}: linked by email in run 1; its Phone then edited in Salesforce", org.known[0]),
        (f"Lead {converted_lead}: converted to Contact {contact}", converted_lead),
        (f"Lead {loser}: merged into Lead {master}, which had a prospect", loser),
        (
            f"Lead {changes.merged[-1][1]}: merged into a new duplicate {changes.merged[-1][0]}",
            changes.merged[-1][1],
        ),
        (f"Lead {restored}: deleted, then restored", restored),
        (f"Lead {changes.out_of_scope[0]}: moved out of scope", changes.out_of_scope[0]),
    ]
    cases_with_prospects = [(title, prospect_of(crm_id)) for title, crm_id in cases]
    runs.invoke("after the changes")
    emulator.undelete(restored)
    clock.advance(seconds=1)
    print(f"  ✓ in Salesforce: Lead {restored} restored from the recycle bin")
    runs.invoke("after the restore")
    runs.invoke("idle")
    runs.print()
    print("(seconds are on moto, a DynamoDB double: it writes an item in about half a millisecond and")
    print(" reads the whole table for every Query, so they grow with the tables, unlike DynamoDB's)")

    found = [(title, pid) for title, pid in cases_with_prospects if pid is not None]
    for title, pid in cases_with_prospects:
        if pid is None:
            print(f"  ! {title}: had no prospect after run 1")
    print_why(found, runs)
    errors = bootstrap.error_list().open_errors()
    if errors:
        print()
        print(f"sync error list: {len(errors)} open")
        for error in errors[:5]:
            print(f"  {error.sobject} {error.record_id}: {error.failure.describe()}")
    return runs, org


def main() -> None:
    started = time.perf_counter()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - ORG_CLOCK_BEHIND)
    emulator = Emulator(clock=clock)
    print("crmsync demo: moto (server mode) + the Salesforce emulator (HTTPS on localhost)")
    with local_runtime(emulator) as runtime:
        print(f"  AWS (moto):        {runtime.moto_url}  tables and queues made from template.yaml")
        print(f"  Salesforce (emu):  {runtime.salesforce_url}  (its clock an hour behind: see local/demo.py)")
        report = Report(emulator)

        status = report.measure(
            "GET /status (JWT login + /limits)",
            call_status_route,
            lambda s: 0,
            lambda s: (
                f"connector {s['connector']}, v{s['version']}, Salesforce reachable={s['salesforce']['reachable']}"
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

        print()
        print("outbound sync (Salesforce → marketing) through functions/outbound_sync/app.handler")
        runs, org = outbound_demo(emulator, clock)
        inbound_demo(runtime, clock, org, runs)
    print()
    print(f"demo finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
