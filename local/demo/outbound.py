"""Outbound sync (Salesforce → marketing) through `functions.outbound_sync.app.handler` with the
scheduler's sample event: a run while the connector is still paused (it moves no record), then,
resumed, a catch-up run; then Leads edited, converted, merged, deleted, moved out of scope and
created in and out of scope, and a run; a record restored from the recycle bin, and a run; an
idle run. The report gives each run's outcome, counts, Salesforce API calls and seconds, and
why a few prospects changed, from their audit trail."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crmsync import bootstrap
from crmsync.domain.audit import AuditRecord

from local.demo.org import Org, change_org, demo_configuration, seed_org
from local.demo.report import print_counter_meanings
from local.runtime.invoke import LambdaContext, invoke, sample_event
from local.runtime.schedules import let_schedules_pass
from local.salesforce_emulator import Emulator, ManualClock

LAMBDA_TIMEOUT_MS = 300_000  # OutboundSyncFunction's Timeout in template.yaml


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
        self.event = sample_event("outbound_sync", "scheduled")

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
        print_counter_meanings(run.counts for run in self.runs)


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
