"""What outbound sync does with one changed Salesforce person record (Lead, Contact, Person
Account): the whole decision, as plain values, for the run to carry out (ARCHITECTURE rule 1).

`plan_person_record` combines the lifecycle rules (new record, conversion, delete, undelete,
merge, scope), matching and the field sync plan. Writes to Salesforce that a plan asks for
(a `marketing` field, a blank Salesforce field a prospect can fill) are not made here: they
belong to the inbound run. Those pairs' snapshot takes Salesforce's value as read but keeps the
prospect's value of the last sync: the inbound run, which plans from the snapshot, then sees
what Salesforce lacks, and a pending prospect change still reads as a change. When a blank
Salesforce field is to be filled from the prospect, the plan also names the prospect as needing
an inbound pass (`RecordPlan.inbound_pass`): nothing on the marketing side may ever change to
send it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from crmsync.domain.fields import ConflictWinner, FieldMapping, Side, is_blank
from crmsync.domain.lifecycle import (
    CrmRef,
    LifecycleAction,
    LifecycleDecision,
    Link,
    LinkChange,
    LinkStatus,
    StoredLink,
    Tags,
    decide_deletion,
    decide_lead_conversion,
    decide_scope_change,
    decide_undelete,
    decide_unlinked_record,
    lead_converted_into,
)
from crmsync.domain.matching import CrmCandidate, MatchingMode, ProspectCandidate
from crmsync.domain.objects import CrmObject
from crmsync.domain.owner import OWNER_MAPPING, in_marketing_terms
from crmsync.domain.plan import AuditEntry, FieldSnapshot, SideState, Snapshot, plan_field_sync
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.scope import as_checkbox, as_datetime


@dataclass(frozen=True)
class OutboundRules:
    """The parts of the configuration one record's decision needs."""

    matching: MatchingMode
    conflict_winner: ConflictWinner
    tags: Tags
    mappings: Mapping[CrmObject, Sequence[FieldMapping]]
    owner_emails: Mapping[str, str] = field(default_factory=dict)
    """Salesforce user id → the marketing user a record's owner maps to."""
    sync_owner: bool = True
    owner_two_way: bool = False
    """The owner is a `most_recent` pair of the snapshot (`domain.owner`), not Salesforce's alone."""


@dataclass(frozen=True)
class PersonRecord:
    """One changed record with what the stores know about it."""

    object: CrmObject
    values: Mapping[str, Any]
    in_scope: bool
    link: StoredLink | None
    prospect: Prospect | None
    """The prospect of `link` (None when unlinked, or when the link's prospect is missing)."""
    candidates: Sequence[ProspectCandidate] = ()
    """Unlinked records: prospects found by email (`email` mode) or carrying the CRM ID."""
    candidate_prospects: Mapping[str, Prospect] = field(default_factory=dict)
    target_link: StoredLink | None = None
    """Conversion and merge: the link of the record this one now lives on as."""
    converted_into_person_account: bool = False
    """A converted Lead: whether its `ConvertedAccountId` is a person account."""

    @property
    def id(self) -> str:
        return str(self.values["Id"])

    @property
    def deleted(self) -> bool:
        return as_checkbox(self.values.get("IsDeleted"))

    @property
    def converted(self) -> bool:
        return self.object is CrmObject.LEAD and as_checkbox(self.values.get("IsConverted"))

    @property
    def modified_at(self) -> datetime | None:
        return as_datetime(self.values.get("LastModifiedDate") or self.values.get("SystemModstamp"))

    @property
    def email(self) -> str | None:
        value = self.object.email_of(self.values)
        return value if isinstance(value, str) else None

    def converted_to(self) -> CrmRef | None:
        return lead_converted_into(
            _id(self.values.get("ConvertedContactId")),
            _id(self.values.get("ConvertedAccountId")),
            account_is_person_account=self.converted_into_person_account,
        )

    def merged_into(self) -> CrmRef | None:
        master = self.values.get("MasterRecordId")
        return CrmRef(self.object, str(master)) if master else None


@dataclass(frozen=True)
class RecordPlan:
    """What to do for one record, in the order the run carries it out: first the link (so a
    prospect is never created without its record claimed), then the prospect, then the
    snapshot (only once the prospect holds what it records)."""

    outcome: str
    """The count this record adds to: created, linked, updated, unchanged, converted, ..."""
    crm: CrmRef
    reason: str = ""
    link_change: LinkChange | None = None
    prospect_change: ProspectChange | None = None
    snapshot_change: LinkChange | None = None
    events: tuple[str, ...] = ()
    field_audit: tuple[AuditEntry, ...] = ()
    reported: bool = False
    inbound_pass: str | None = None
    """The prospect whose values the next inbound run must send though it did not change: a
    blank Salesforce field is to be filled from it (docs/guide/fields.md), and only the inbound run writes
    to Salesforce."""
    concerns: str | None = None
    """The prospect the plan's events are about when it changes nothing of it."""

    @property
    def prospect_id(self) -> str | None:
        for change in (self.link_change, self.snapshot_change):
            if change is not None:
                return change.after.prospect_id
        return self.prospect_change.after.id if self.prospect_change else self.concerns


def plan_person_record(
    record: PersonRecord, rules: OutboundRules, now: datetime, new_prospect_id: Callable[[], str]
) -> RecordPlan:
    crm = CrmRef(record.object, record.id)
    stored = record.link
    if stored is not None and stored.link.status is LinkStatus.REPLACED:
        return _plan_replaced(record, stored)
    if record.deleted:
        if stored is None or stored.link.status in (LinkStatus.CRM_DELETED, LinkStatus.MERGED):
            return RecordPlan("unchanged", crm, "deleted record without an active link")
        master = record.merged_into()
        decision = decide_deletion(
            stored.link, master, _prospect_of_target(record.target_link, stored), rules.tags
        )
        outcome = "merged" if master is not None else "deleted"
        return _carry_out_lifecycle(record, decision, outcome, now)
    if record.converted:
        converted_to = record.converted_to()
        if stored is None or converted_to is None:
            return RecordPlan("unchanged", crm, "a converted Lead is never synced")
        decision = decide_lead_conversion(
            stored.link, converted_to, _prospect_of_target(record.target_link, stored), rules.tags
        )
        return _carry_out_lifecycle(record, decision, "converted", now)
    if stored is None:
        return _plan_unlinked(record, rules, now, new_prospect_id)
    if stored.link.status is LinkStatus.MERGED:
        return RecordPlan("unchanged", crm, "the link was closed by a merge")
    if stored.link.status is LinkStatus.CRM_DELETED:
        restored = decide_undelete(stored.link)
        return _then_sync_fields(record, rules, now, restored, "restored")
    decision = decide_scope_change(stored.link, record.in_scope)
    outcome = "out_of_scope" if decision.link_status is LinkStatus.OUT_OF_SCOPE else "updated"
    return _then_sync_fields(record, rules, now, decision, outcome)


def _plan_replaced(record: PersonRecord, stored: StoredLink) -> RecordPlan:
    """A record whose prospect was linked to another one after it was deleted (docs/guide/actions.md), now
    back in Salesforce (restored from the recycle bin) and changing: it stays the prospect's
    history. Linking it again would give the prospect two records, and a prospect of its own
    would duplicate the person; a person must choose, so it is reported."""
    crm = CrmRef(record.object, record.id)
    if record.deleted:
        return RecordPlan("unchanged", crm, "deleted record without an active link")
    prospect_id = stored.link.prospect_id
    reason = (
        f"{record.object} {record.id} was deleted in Salesforce, and prospect {prospect_id} has been "
        "linked to another record since: it is not synced again; merge the two records in "
        "Salesforce to keep one"
    )
    return RecordPlan("reported", crm, reason, events=(reason,), reported=True, concerns=prospect_id)


def _prospect_of_target(target: StoredLink | None, stored: StoredLink) -> str | None:
    """The prospect of the record a link moves to (conversion, merge). A record this very
    prospect was linked to before a deletion replaced it is its own again (Salesforce merged the
    new record into the restored old one, say): the link moves back there."""
    if target is None:
        return None
    if target.link.status is LinkStatus.REPLACED and target.link.prospect_id == stored.link.prospect_id:
        return None
    return target.link.prospect_id


def _carry_out_lifecycle(
    record: PersonRecord, decision: LifecycleDecision, outcome: str, now: datetime
) -> RecordPlan:
    stored = record.link
    assert stored is not None
    crm = CrmRef(record.object, record.id)
    if decision.action is LifecycleAction.NOTHING:
        return RecordPlan("unchanged", crm, decision.reason)
    after = replace(
        stored.link, crm=decision.crm or stored.link.crm, status=decision.link_status or stored.link.status
    )
    link_change = LinkChange(after=after, snapshot=stored.snapshot, before=stored)
    prospect_change = None
    prospect = record.prospect
    if prospect is not None and (decision.add_tags or decision.remove_tags or decision.deactivate_prospect):
        tags = (prospect.tags - decision.remove_tags) | decision.add_tags
        active = prospect.active and not decision.deactivate_prospect
        if tags != prospect.tags or active != prospect.active:
            prospect_change = ProspectChange(replace(prospect, tags=tags, active=active), before=prospect)
    return RecordPlan(
        "reported" if decision.reported else outcome,
        crm,
        decision.reason,
        link_change=link_change,
        prospect_change=prospect_change,
        events=(decision.reason,),
        reported=decision.reported,
    )


def _plan_unlinked(
    record: PersonRecord, rules: OutboundRules, now: datetime, new_prospect_id: Callable[[], str]
) -> RecordPlan:
    crm = CrmRef(record.object, record.id)
    candidate = CrmCandidate(
        id=record.id,
        object=record.object,
        email=record.email,
        modified_at=record.modified_at or now,
        converted=record.converted,
    )
    decision = decide_unlinked_record(
        candidate, record.in_scope, rules.matching, record.candidates, rules.tags
    )
    if decision.action is LifecycleAction.NOTHING:
        return RecordPlan("unchanged", crm, decision.reason)
    if decision.action is LifecycleAction.REPORT:
        return RecordPlan("reported", crm, decision.reason, reported=True)
    if decision.action is LifecycleAction.CREATE_PROSPECT:
        prospect_id = new_prospect_id()
        empty = Prospect(id=prospect_id, modified_at=now)
        fields_plan = _field_plan(record, rules, None, empty)
        prospect = Prospect(
            id=prospect_id,
            fields=dict(fields_plan.prospect_writes),
            tags=frozenset(decision.add_tags),
            crm_id=record.id,
            assigned_user=_owner(record, rules),
            modified_at=now,
        )
        link = Link(prospect_id, crm, LinkStatus.ACTIVE)
        # The link is saved with the final snapshot: if creating the prospect then fails,
        # the next run finds a link without its prospect and creates it afresh.
        return RecordPlan(
            "created",
            crm,
            decision.reason,
            link_change=LinkChange(after=link, snapshot=fields_plan.snapshot),
            prospect_change=ProspectChange(prospect),
            events=(f"prospect created from {record.object} {record.id}: {decision.reason}",),
            field_audit=fields_plan.marketing_audit,
        )
    assert decision.prospect_id is not None
    linked = record.candidate_prospects.get(decision.prospect_id)
    link = Link(decision.prospect_id, crm, LinkStatus.ACTIVE)
    # Linking sends none of the prospect's values: its marketing changes so far count as dealt
    # with, as before links recorded a synced version (only later changes go inbound).
    link_change = LinkChange(after=link, snapshot={}, synced_version=linked.version if linked else None)
    if linked is None:
        return RecordPlan("linked", crm, decision.reason, link_change=link_change, events=(decision.reason,))
    plan = _sync_fields(
        replace(record, link=StoredLink(link, {}, version=1), prospect=linked), rules, now, "linked"
    )
    return replace(
        plan,
        outcome="linked",
        link_change=link_change,
        events=(f"linked to {record.object} {record.id}: {decision.reason}", *plan.events),
    )


def _then_sync_fields(
    record: PersonRecord, rules: OutboundRules, now: datetime, decision: LifecycleDecision, outcome: str
) -> RecordPlan:
    stored = record.link
    assert stored is not None
    if decision.action is LifecycleAction.NOTHING:
        if stored.link.status is not LinkStatus.ACTIVE:
            return RecordPlan("unchanged", decision.crm or stored.link.crm, "out of the outbound scope")
        return _sync_fields(record, rules, now, outcome)
    lifecycle = _carry_out_lifecycle(record, decision, outcome, now)
    if decision.link_status is not LinkStatus.ACTIVE or lifecycle.link_change is None:
        return lifecycle
    moved = StoredLink(lifecycle.link_change.after, stored.snapshot, stored.version + 1)
    fields = _sync_fields(replace(record, link=moved), rules, now, outcome)
    return replace(
        fields,
        outcome=lifecycle.outcome,
        link_change=lifecycle.link_change,
        events=(*lifecycle.events, *fields.events),
    )


@dataclass(frozen=True)
class _OutboundFieldPlan:
    prospect_writes: Mapping[str, Any]
    snapshot: Snapshot
    marketing_audit: tuple[AuditEntry, ...]
    owner: str | None = None
    """The assigned user to write (two-way owner sync); None leaves it as it is."""
    needs_inbound: bool = False
    """A blank Salesforce field is to be filled from the prospect: a write for the inbound run."""


def _field_plan(
    record: PersonRecord, rules: OutboundRules, snapshot: Snapshot | None, prospect: Prospect
) -> _OutboundFieldPlan:
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
    return _OutboundFieldPlan(
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


def _sync_fields(record: PersonRecord, rules: OutboundRules, now: datetime, outcome: str) -> RecordPlan:
    stored = record.link
    assert stored is not None
    crm = stored.link.crm
    prospect = record.prospect
    if prospect is None:
        # The link outlived its prospect (a run stopped between the two writes): create it.
        prospect = Prospect(id=stored.link.prospect_id, crm_id=record.id, modified_at=now)
        fields_plan = _field_plan(record, rules, None, prospect)
        created = replace(
            prospect,
            fields=dict(fields_plan.prospect_writes),
            tags=frozenset({rules.tags.created_from(record.object)}),
            assigned_user=_owner(record, rules),
        )
        return RecordPlan(
            "created",
            crm,
            "the link had no prospect",
            prospect_change=ProspectChange(created),
            snapshot_change=LinkChange(stored.link, fields_plan.snapshot, before=stored),
            events=(f"prospect created from {record.object} {record.id}",),
            field_audit=fields_plan.marketing_audit,
        )
    fields_plan = _field_plan(record, rules, stored.snapshot, prospect)
    if rules.owner_two_way:
        owner = fields_plan.owner or prospect.assigned_user
    else:
        owner = _owner(record, rules) or prospect.assigned_user
    changed_fields = {**prospect.fields, **fields_plan.prospect_writes}
    after = replace(prospect, fields=changed_fields, assigned_user=owner)
    prospect_change = ProspectChange(after, before=prospect) if after != prospect else None
    snapshot_change = None
    if dict(fields_plan.snapshot) != dict(stored.snapshot):
        snapshot_change = LinkChange(stored.link, fields_plan.snapshot, before=stored)
    events: tuple[str, ...] = ()
    if owner != prospect.assigned_user:
        events = (f"assigned user {prospect.assigned_user} -> {owner} (Salesforce owner)",)
    inbound_pass = prospect.id if fields_plan.needs_inbound else None
    if prospect_change is None and snapshot_change is None:
        why = (
            "already in step"
            if inbound_pass is None
            else "a blank Salesforce field waits for the inbound run"
        )
        return RecordPlan("unchanged", crm, why, inbound_pass=inbound_pass)
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


def _id(value: Any) -> str | None:
    return str(value) if value else None


def _owner(record: PersonRecord, rules: OutboundRules) -> str | None:
    """The marketing user of the record's owner; None leaves the prospect's assignment alone."""
    if not rules.sync_owner:
        return None
    owner_id = record.values.get("OwnerId")
    return rules.owner_emails.get(str(owner_id)) if owner_id else None
