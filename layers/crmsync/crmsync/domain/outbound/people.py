"""What outbound sync does with changed Salesforce person records (Lead, Contact, Person
Account): the whole decision, as plain values, for the run to carry out (ARCHITECTURE rule 1).

The run reads a chunk of records and what the stores know of them (`PeopleChunk`: the links of
the records and of those they point to, the prospects, the candidates of unlinked records);
`plan_people` makes one `RecordPlan` per record. It combines the lifecycle rules (new record,
conversion, delete, undelete, merge, scope), matching, and the field sync plan
(`domain.outbound.fields`). What the run must read for a chunk is said here too
(`in_planning_order`, `ids_to_look_up`, `converted_accounts`, `match_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime

from crmsync.domain.lifecycle import (
    CrmRef,
    LifecycleAction,
    LifecycleDecision,
    Link,
    LinkChange,
    LinkStatus,
    StoredLink,
    decide_deletion,
    decide_lead_conversion,
    decide_scope_change,
    decide_undelete,
    decide_unlinked_record,
    lead_converted_into,
)
from crmsync.domain.matching import CrmCandidate, MatchingMode, ProspectCandidate, normalize_email
from crmsync.domain.objects import CrmObject
from crmsync.domain.outbound.fields import field_plan, owner, sync_fields
from crmsync.domain.outbound.plans import (
    OutboundRules,
    PersonRecord,
    RecordOutcome,
    RecordPlan,
)
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import SalesforceRecord
from crmsync.domain.scope import OutboundScope, in_scope

_POINTERS = ("master_record_id", "converted_contact_id", "converted_account_id")


@dataclass(frozen=True)
class PeopleChunk:
    """A chunk of changed records of one object, with what the stores and Salesforce know."""

    object: CrmObject
    records: Sequence[SalesforceRecord]
    scope: OutboundScope | None
    links: Mapping[str, StoredLink]
    """CRM id → link: the records' own, and those of the records they point to (`ids_to_look_up`)."""
    prospects: Mapping[str, Prospect]
    """Prospect id → prospect, of those links."""
    candidates: Mapping[str, Sequence[Prospect]]
    """Match key (`match_key`) → the prospects found by it, for the unlinked records."""
    linked_candidates: Collection[str]
    """The ids of the candidates that have a link already."""
    person_accounts: AbstractSet[str] = frozenset()
    """Which of `converted_accounts` are person accounts."""


def in_planning_order(records: Sequence[SalesforceRecord]) -> list[list[SalesforceRecord]]:
    """The chunk in the batches it is planned and carried out in: deletions, merges and
    conversions move links, so the other records (a merge's survivor, say) are planned once
    those moves are stored, and see them."""
    moving: list[SalesforceRecord] = []
    staying: list[SalesforceRecord] = []
    for record in records:
        (moving if record.deleted or record.converted else staying).append(record)
    return [batch for batch in (moving, staying) if batch]


def ids_to_look_up(records: Sequence[SalesforceRecord]) -> set[str]:
    """The records whose links a chunk's plans need: its own, and those its records point to."""
    ids = {record.id for record in records}
    for record in records:
        ids.update(pointed for name in _POINTERS if (pointed := getattr(record, name)))
    return ids


def converted_accounts(records: Sequence[SalesforceRecord], links: Mapping[str, StoredLink]) -> list[str]:
    """The accounts linked Leads were converted into: whether each is a person account decides
    where their links go, and a Lead does not say."""
    return sorted(
        {
            record.converted_account_id
            for record in records
            if record.id in links and record.converted and record.converted_account_id
        }
    )


def match_key(crm: CrmObject, record: SalesforceRecord, matching: MatchingMode) -> str | None:
    """What an unlinked record is matched to prospects by: its CRM ID, or its email."""
    if matching is MatchingMode.CRM_ID:
        return record.id
    return normalize_email(crm.email_of(record))


def unlinked_keys(
    crm: CrmObject,
    records: Sequence[SalesforceRecord],
    links: Mapping[str, StoredLink],
    matching: MatchingMode,
) -> set[str]:
    """The match keys to find candidate prospects by: those of the records without a link (a
    deleted one never gets a prospect)."""
    return {
        key
        for record in records
        if record.id not in links and not record.deleted and (key := match_key(crm, record, matching))
    }


def link_target(
    record: SalesforceRecord, links: Mapping[str, StoredLink], person_accounts: AbstractSet[str]
) -> StoredLink | None:
    """The link of the record a deleted or converted one now lives on as: a merge's survivor
    (`MasterRecordId`), a converted Lead's person account or contact (`lead_converted_into`).
    None for any other record, and when that record has no link."""
    if record.deleted:
        target = record.master_record_id
    elif record.converted:
        account = record.converted_account_id
        converted = lead_converted_into(
            record.converted_contact_id, account, account_is_person_account=account in person_accounts
        )
        target = converted.id if converted else None
    else:
        return None
    return links.get(target) if target else None


def plan_people(
    chunk: PeopleChunk, rules: OutboundRules, now: datetime, new_prospect_id: Callable[[], str]
) -> list[RecordPlan]:
    """One plan per record of the chunk, in its order."""
    crm = chunk.object
    plans: list[RecordPlan] = []
    for values in chunk.records:
        stored = chunk.links.get(values.id)
        found = chunk.candidates.get(match_key(crm, values, rules.matching) or "", ())
        person = PersonRecord(
            object=crm,
            values=values,
            in_scope=chunk.scope is not None and in_scope(chunk.scope, values),
            link=stored,
            prospect=chunk.prospects.get(stored.link.prospect_id) if stored else None,
            candidates=[
                ProspectCandidate(
                    id=p.id, email=p.email, crm_id=p.crm_id, linked=p.id in chunk.linked_candidates
                )
                for p in found
            ],
            candidate_prospects={p.id: p for p in found},
            target_link=link_target(values, chunk.links, chunk.person_accounts),
            converted_into_person_account=values.converted_account_id in chunk.person_accounts,
        )
        plans.append(plan_person_record(person, rules, now, new_prospect_id))
    return plans


def plan_person_record(
    record: PersonRecord, rules: OutboundRules, now: datetime, new_prospect_id: Callable[[], str]
) -> RecordPlan:
    crm = CrmRef(record.object, record.id)
    stored = record.link
    if stored is not None and stored.link.status is LinkStatus.REPLACED:
        return _plan_replaced(record, stored)
    if record.deleted:
        if stored is None or stored.link.status in (LinkStatus.CRM_DELETED, LinkStatus.MERGED):
            return RecordPlan(RecordOutcome.UNCHANGED, crm, "deleted record without an active link")
        master = record.merged_into()
        decision = decide_deletion(
            stored.link, master, _prospect_of_target(record.target_link, stored), rules.tags
        )
        outcome = RecordOutcome.MERGED if master is not None else RecordOutcome.DELETED
        return _carry_out_lifecycle(record, decision, outcome)
    if record.converted:
        converted_to = record.converted_to()
        if stored is None or converted_to is None:
            return RecordPlan(RecordOutcome.UNCHANGED, crm, "a converted Lead is never synced")
        decision = decide_lead_conversion(
            stored.link, converted_to, _prospect_of_target(record.target_link, stored), rules.tags
        )
        return _carry_out_lifecycle(record, decision, RecordOutcome.CONVERTED)
    if stored is None:
        return _plan_unlinked(record, rules, now, new_prospect_id)
    if stored.link.status is LinkStatus.MERGED:
        return RecordPlan(RecordOutcome.UNCHANGED, crm, "the link was closed by a merge")
    if stored.link.status is LinkStatus.CRM_DELETED:
        restored = decide_undelete(stored.link)
        return _then_sync_fields(record, rules, now, restored, RecordOutcome.RESTORED)
    decision = decide_scope_change(stored.link, record.in_scope)
    outcome = (
        RecordOutcome.OUT_OF_SCOPE
        if decision.link_status is LinkStatus.OUT_OF_SCOPE
        else RecordOutcome.UPDATED
    )
    return _then_sync_fields(record, rules, now, decision, outcome)


def _plan_replaced(record: PersonRecord, stored: StoredLink) -> RecordPlan:
    """A record whose prospect was linked to another one after it was deleted
    (docs/guide/actions.md), now back in Salesforce (restored from the recycle bin) and
    changing: it stays the prospect's history. Linking it again would give the prospect two
    records, and a prospect of its own would duplicate the person; a person must choose, so it
    is reported."""
    crm = CrmRef(record.object, record.id)
    if record.deleted:
        return RecordPlan(RecordOutcome.UNCHANGED, crm, "deleted record without an active link")
    prospect_id = stored.link.prospect_id
    reason = (
        f"{record.object} {record.id} was deleted in Salesforce, and prospect {prospect_id} has been "
        "linked to another record since: it is not synced again; merge the two records in "
        "Salesforce to keep one"
    )
    return RecordPlan(
        RecordOutcome.REPORTED, crm, reason, events=(reason,), reported=True, concerns=prospect_id
    )


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
    record: PersonRecord, decision: LifecycleDecision, outcome: RecordOutcome
) -> RecordPlan:
    stored = record.link
    assert stored is not None
    crm = CrmRef(record.object, record.id)
    if decision.action is LifecycleAction.NOTHING:
        return RecordPlan(RecordOutcome.UNCHANGED, crm, decision.reason)
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
        RecordOutcome.REPORTED if decision.reported else outcome,
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
        return RecordPlan(RecordOutcome.UNCHANGED, crm, decision.reason)
    if decision.action is LifecycleAction.REPORT:
        return RecordPlan(RecordOutcome.REPORTED, crm, decision.reason, reported=True)
    if decision.action is LifecycleAction.CREATE_PROSPECT:
        prospect_id = new_prospect_id()
        empty = Prospect(id=prospect_id, modified_at=now)
        fields_plan = field_plan(record, rules, None, empty)
        prospect = Prospect(
            id=prospect_id,
            fields=dict(fields_plan.prospect_writes),
            tags=frozenset(decision.add_tags),
            crm_id=record.id,
            assigned_user=owner(record, rules),
            modified_at=now,
        )
        link = Link(prospect_id, crm, LinkStatus.ACTIVE)
        # The link is saved with the final snapshot: if creating the prospect then fails,
        # the next run finds a link without its prospect and creates it afresh.
        return RecordPlan(
            RecordOutcome.CREATED,
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
        return RecordPlan(
            RecordOutcome.LINKED, crm, decision.reason, link_change=link_change, events=(decision.reason,)
        )
    plan = sync_fields(
        replace(record, link=StoredLink(link, {}, version=1), prospect=linked),
        rules,
        now,
        RecordOutcome.LINKED,
    )
    return replace(
        plan,
        outcome=RecordOutcome.LINKED,
        link_change=link_change,
        events=(f"linked to {record.object} {record.id}: {decision.reason}", *plan.events),
    )


def _then_sync_fields(
    record: PersonRecord,
    rules: OutboundRules,
    now: datetime,
    decision: LifecycleDecision,
    outcome: RecordOutcome,
) -> RecordPlan:
    stored = record.link
    assert stored is not None
    if decision.action is LifecycleAction.NOTHING:
        if stored.link.status is not LinkStatus.ACTIVE:
            return RecordPlan(
                RecordOutcome.UNCHANGED, decision.crm or stored.link.crm, "out of the outbound scope"
            )
        return sync_fields(record, rules, now, outcome)
    lifecycle = _carry_out_lifecycle(record, decision, outcome)
    if decision.link_status is not LinkStatus.ACTIVE or lifecycle.link_change is None:
        return lifecycle
    moved = StoredLink(lifecycle.link_change.after, stored.snapshot, stored.version + 1)
    fields = sync_fields(replace(record, link=moved), rules, now, outcome)
    return replace(
        fields,
        outcome=lifecycle.outcome,
        link_change=lifecycle.link_change,
        events=(*lifecycle.events, *fields.events),
    )
