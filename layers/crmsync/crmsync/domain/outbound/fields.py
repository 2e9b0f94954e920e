"""The field part of outbound's plan for one linked record: what the prospect takes from
Salesforce, and the snapshot to keep.

Writes to Salesforce that a plan asks for (a `marketing` field, a blank Salesforce field a
prospect can fill) are not made here: they belong to the inbound run. Those pairs' snapshot
takes Salesforce's value as read but keeps the prospect's value of the last sync: the inbound
run, which plans from the snapshot, then sees what Salesforce lacks, and a pending prospect
change still reads as a change. When a blank Salesforce field is to be filled from the
prospect, the plan also names the prospect as needing an inbound pass
(`RecordPlan.inbound_pass`): nothing on the marketing side may ever change to send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crmsync.domain.fields import Side, is_blank
from crmsync.domain.lifecycle import LinkChange
from crmsync.domain.outbound.plans import OutboundRules, PersonRecord, RecordOutcome, RecordPlan
from crmsync.domain.owner import OWNER_MAPPING, in_marketing_terms
from crmsync.domain.plan import AuditEntry, FieldSnapshot, SideState, Snapshot, plan_field_sync
from crmsync.domain.prospect import Prospect, ProspectChange


@dataclass(frozen=True)
class OutboundFieldPlan:
    prospect_writes: Mapping[str, Any]
    snapshot: Snapshot
    marketing_audit: tuple[AuditEntry, ...]
    owner: str | None = None
    """The assigned user to write (two-way owner sync); None leaves it as it is."""
    needs_inbound: bool = False
    """A blank Salesforce field is to be filled from the prospect: a write for the inbound run."""


def field_plan(
    record: PersonRecord, rules: OutboundRules, snapshot: Snapshot | None, prospect: Prospect
) -> OutboundFieldPlan:
    mappings = tuple(rules.mappings.get(record.object, ()))
    record_values: Mapping[str, Any] = record.values
    prospect_values: Mapping[str, Any] = prospect.fields
    if rules.owner_two_way and (owned := in_marketing_terms(record.values, rules.owner_emails)) is not None:
        mappings += (OWNER_MAPPING,)
        record_values = owned
        prospect_values = {**prospect.fields, OWNER_MAPPING.marketing_field: prospect.assigned_user}
    plan = plan_field_sync(
        mappings,
        rules.conflict_winner,
        snapshot,
        SideState(record_values, record.modified_at),
        SideState(prospect_values, prospect.modified_at),
    )
    deferred = {m.key: m for m in mappings if m.salesforce_field in plan.salesforce_writes}
    kept: dict[str, FieldSnapshot] = {}
    for key, value in plan.snapshot.items():
        mapping = deferred.get(key)
        if mapping is None:
            kept[key] = value
        elif snapshot is not None and key in snapshot:
            # Salesforce's value as read: the inbound run plans from the snapshot, and must see
            # that Salesforce lacks the prospect's value (a blank it fills, a `marketing` field
            # edited there). The prospect's value stays as last synced, so its own pending
            # change still reads as one. A pair never synced stays out: the inbound run reads
            # the record before it writes such a pair.
            kept[key] = FieldSnapshot(
                salesforce=record_values.get(mapping.salesforce_field), marketing=snapshot[key].marketing
            )
    return OutboundFieldPlan(
        prospect_writes={k: v for k, v in plan.prospect_writes.items() if k != OWNER_MAPPING.marketing_field},
        owner=plan.prospect_writes.get(OWNER_MAPPING.marketing_field),
        snapshot=kept,
        marketing_audit=tuple(entry for entry in plan.audit if entry.side is Side.MARKETING),
        # Only blanks to fill: a Salesforce value that merely differs waits for the prospect's next
        # change. A record Salesforce keeps in another form than the prospect's (a date-time, a
        # checkbox held as text) would otherwise be written, read back and written again at
        # every run, spending API calls for ever; a filled blank reads back filled.
        needs_inbound=any(
            entry.side is Side.SALESFORCE and is_blank(entry.old) and not is_blank(entry.new)
            for entry in plan.audit
        ),
    )


def sync_fields(
    record: PersonRecord, rules: OutboundRules, now: datetime, outcome: RecordOutcome
) -> RecordPlan:
    stored = record.link
    assert stored is not None
    crm = stored.link.crm
    prospect = record.prospect
    if prospect is None:
        # The link outlived its prospect (a run stopped between the two writes): create it.
        prospect = Prospect(id=stored.link.prospect_id, crm_id=record.id, modified_at=now)
        fields_plan = field_plan(record, rules, None, prospect)
        created = replace(
            prospect,
            fields=dict(fields_plan.prospect_writes),
            tags=frozenset({rules.tags.created_from(record.object)}),
            assigned_user=owner(record, rules),
        )
        return RecordPlan(
            RecordOutcome.CREATED,
            crm,
            "the link had no prospect",
            prospect_change=ProspectChange(created),
            snapshot_change=LinkChange(stored.link, fields_plan.snapshot, before=stored),
            events=(f"prospect created from {record.object} {record.id}",),
            field_audit=fields_plan.marketing_audit,
        )
    fields_plan = field_plan(record, rules, stored.snapshot, prospect)
    if rules.owner_two_way:
        assigned = fields_plan.owner or prospect.assigned_user
    else:
        assigned = owner(record, rules) or prospect.assigned_user
    changed_fields = {**prospect.fields, **fields_plan.prospect_writes}
    after = replace(prospect, fields=changed_fields, assigned_user=assigned)
    prospect_change = ProspectChange(after, before=prospect) if after != prospect else None
    snapshot_change = None
    if dict(fields_plan.snapshot) != dict(stored.snapshot):
        snapshot_change = LinkChange(stored.link, fields_plan.snapshot, before=stored)
    events: tuple[str, ...] = ()
    if assigned != prospect.assigned_user:
        events = (f"assigned user {prospect.assigned_user} -> {assigned} (Salesforce owner)",)
    inbound_pass = prospect.id if fields_plan.needs_inbound else None
    if prospect_change is None and snapshot_change is None:
        why = (
            "already in step"
            if inbound_pass is None
            else "a blank Salesforce field waits for the inbound run"
        )
        return RecordPlan(RecordOutcome.UNCHANGED, crm, why, inbound_pass=inbound_pass)
    return RecordPlan(
        outcome,
        crm,
        "fields synced",
        prospect_change=prospect_change,
        snapshot_change=snapshot_change,
        events=events,
        field_audit=fields_plan.marketing_audit,
        inbound_pass=inbound_pass,
    )


def owner(record: PersonRecord, rules: OutboundRules) -> str | None:
    """The marketing user of the record's owner; None leaves the prospect's assignment alone."""
    if not rules.sync_owner:
        return None
    owner_id = record.values.get("OwnerId")
    return rules.owner_emails.get(str(owner_id)) if owner_id else None
