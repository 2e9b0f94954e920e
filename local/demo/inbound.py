"""Inbound sync (marketing → Salesforce): InboundSyncFunction invoked as its two triggers invoke
it, the marketing platform's writes to the prospect store, and the demo's first inbound step:
marketing edits a few hundred linked prospects (scores, grades, a title, an email Salesforce
refuses, a field Salesforce owns); the prospects table's stream is delivered to the function,
whose 100th waiting change starts a run at once, then the scheduled invocation sends the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.prospect import Prospect, ProspectChange

from local.aws_stack import LocalStack
from local.demo.org import Org
from local.demo.report import Invocation, audit_lines, collections_writes, describe_error, print_invocations
from local.runtime.invoke import LambdaContext, invoke, sample_event
from local.runtime.schedules import let_schedules_pass
from local.runtime.stream import ProspectStream, marketing_store
from local.salesforce_emulator import Emulator, ManualClock

INBOUND_TIMEOUT_MS = 300_000  # InboundSyncFunction's Timeout in template.yaml


SCORED_LEADS = 250


GRADED_CONTACTS = 30


class InboundFunction:
    """InboundSyncFunction, invoked as its two triggers invoke it: the prospects table's stream
    (batches of 100, as the event source mapping delivers them) and the inbound schedule."""

    def __init__(self, stack: LocalStack, emulator: Emulator, moto_url: str) -> None:
        self.emulator = emulator
        # Reads from now on (LATEST): the outbound half's thousands of writes are behind it.
        self.stream = ProspectStream.of(stack, endpoint_url=moto_url)
        self.scheduled_event = sample_event("inbound_sync", "scheduled")
        self.invocations: list[Invocation] = []
        self.labels: dict[str, str] = {}
        """Run id (the invocation's request id) → its label, for the audit trail."""

    def capture(self, label: str) -> tuple[int, list[Invocation]]:
        """Deliver what the stream holds; the number of stream records and the invocations."""
        events = self.stream.events()
        done = [
            self._invoke(f"{label}: stream batch {number}", event)[0]
            for number, event in enumerate(events, start=1)
        ]
        return sum(len(event["Records"]) for event in events), done

    def scheduled(self, label: str) -> tuple[Invocation, dict[str, Any]]:
        let_schedules_pass("inbound")  # the demo's runs come back to back, not minutes apart
        return self._invoke(f"{label}: scheduled", self.scheduled_event)

    def _invoke(self, label: str, event: dict[str, Any]) -> tuple[Invocation, dict[str, Any]]:
        from functions.inbound_sync import app

        context = LambdaContext(
            function_name="crmsync-demo-InboundSyncFunction", timeout_ms=INBOUND_TIMEOUT_MS
        )
        self.labels[context.aws_request_id] = label
        calls_before = len(self.emulator.call_log)
        started = time.perf_counter()
        report = invoke(app.handler, event, context)
        calls = self.emulator.call_log[calls_before:]
        invocation = Invocation(
            label,
            report.get("noted"),
            report["outcome"],
            report.get("counts", {}),
            len(calls),
            collections_writes(calls),
            time.perf_counter() - started,
        )
        self.invocations.append(invocation)
        return invocation, report


class Marketing:
    """The marketing platform's writes to the prospect store: not marked as the connector's,
    so change capture sees them."""

    def __init__(self) -> None:
        self.store = marketing_store()

    def edit(self, prospect_ids: Sequence[str], change: Callable[[int, Prospect], Mapping[str, Any]]) -> None:
        """Change each prospect's fields (one new version each): `change(n, prospect)` gives the
        fields the nth prospect gets."""
        prospects = self.store.get_many(prospect_ids)
        now = datetime.now(UTC)
        changes = [
            ProspectChange(
                replace(p, fields={**p.fields, **change(n, p)}, modified_at=now),
                before=p,
            )
            for n, p in enumerate(prospects[pid] for pid in prospect_ids)
        ]
        refused = self.store.save(changes)
        if refused:
            raise SystemExit(f"{len(refused)} marketing edits were refused by the prospect store")

    def add(self, prospects: Sequence[Prospect]) -> None:
        refused = self.store.save([ProspectChange(p) for p in prospects])
        if refused:
            raise SystemExit(f"{len(refused)} new prospects were refused by the prospect store")


def prospects_of(crm_ids: Sequence[str]) -> list[str]:
    links = bootstrap.link_store().by_crm_ids(crm_ids)
    return [links[crm_id].link.prospect_id for crm_id in crm_ids if crm_id in links]


@dataclass
class Edits:
    scored: list[str]
    """Prospects of Leads: score and grade."""
    graded: list[str]
    """Prospects of Contacts: grade."""
    titled: str
    invalid_email: str
    status: str
    """Its lead_status edited, a field Salesforce owns (behaviour salesforce)."""


def edit_prospects(marketing: Marketing, org: Org) -> Edits:
    # Leads the outbound half did not touch after linking them (its changes stop well before).
    scored = prospects_of(org.leads[700 : 700 + SCORED_LEADS])
    graded = prospects_of(org.contacts[100 : 100 + GRADED_CONTACTS])
    (status,) = prospects_of([org.leads[700 + SCORED_LEADS]])
    titled, invalid_email = scored[0], scored[1]
    also = {
        titled: {"job_title": "Director of Demand Generation"},
        invalid_email: {"email": "not-an-email"},
    }
    marketing.edit(scored, lambda n, p: {"score": 10 + n % 90, "grade": "ABCD"[n % 4], **also.get(p.id, {})})
    marketing.edit(graded, lambda n, p: {"grade": "A"})
    marketing.edit([status], lambda n, p: {"lead_status": "Closed - Converted"})
    return Edits(scored, graded, titled, invalid_email, status)


def marketing_edits_demo(
    inbound: InboundFunction, marketing: Marketing, org: Org, clock: ManualClock
) -> Edits:
    print()
    print("inbound sync (marketing → Salesforce) through functions/inbound_sync/app.handler")
    clock.advance(minutes=1)
    edits = edit_prospects(marketing, org)
    print(
        f"  ✓ marketing: {len(edits.scored)} Leads' prospects scored and graded, {len(edits.graded)} Contacts' "
        "prospects graded; of the scored, one's job title set and one's email made 'not-an-email'; "
        "one more prospect's lead_status (Salesforce-owned) set"
    )
    records, batches = inbound.capture("edits")
    started_early = [b.label.split(": ")[-1] for b in batches if b.outcome != "waiting"]
    print(
        f"  ✓ prospects stream: {records} records in {len(batches)} batches, "
        f"{sum(b.noted or 0 for b in batches)} changes noted; with 100 waiting, a run started at once "
        f"({', '.join(started_early) or 'never'}); the schedule sends the rest"
    )
    inbound.scheduled("edits")
    print_invocations("inbound invocation", inbound.invocations)
    print("(Collections: sObject Collections write calls, 200 records each at most)")

    print()
    print("why: the inbound audit trail and the error list (field: old -> new (rule))")
    emulator = inbound.emulator
    titled_lead = crm_id_of(edits.titled)
    print(f"  scored, and job title set  [prospect {edits.titled}, Lead {titled_lead}]")
    for line in audit_lines(edits.titled, inbound.labels, Direction.INBOUND):
        print(line)
    status_lead = crm_id_of(edits.status)
    record = emulator.get(status_lead) or {}
    prospect = bootstrap.prospect_store().get_many([edits.status])[edits.status]
    print(
        f"  lead_status set to 'Closed - Converted' by marketing  [prospect {edits.status}, Lead {status_lead}]"
    )
    for line in audit_lines(edits.status, inbound.labels, Direction.INBOUND):
        print(line)
    print(
        f"      now: Lead Status {record.get('Status')!r}, prospect lead_status {prospect.fields.get('lead_status')!r}: "
        "behaviour salesforce, nothing sent (counted unchanged); outbound brings Salesforce's value "
        "back once it reads the Lead again"
    )
    invalid_lead = crm_id_of(edits.invalid_email)
    print(f"  email made invalid  [prospect {edits.invalid_email}, Lead {invalid_lead}]")
    errors = bootstrap.error_list().open_errors(Direction.INBOUND)
    for error in errors:
        print(f"      error list: {describe_error(error)}")
    record = emulator.get(invalid_lead) or {}
    print(
        f"      Lead still has Email {record.get('Email')!r}, Marketing_Score__c "
        f"{record.get('Marketing_Score__c')!r}: nothing of a refused record is written; it is sent "
        "again when the prospect changes"
    )
    return edits


def crm_id_of(prospect_id: str) -> str:
    stored = bootstrap.link_store().by_prospect_ids([prospect_id])[prospect_id]
    return stored.link.crm.id
