"""The values of outbound's decisions: the rules they follow, the record they are about, the plan
for one record, and what the run tells users once plans are carried out."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.audit import AuditRecord, Direction, Report, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.fields import ConflictWinner, FieldMapping
from crmsync.domain.lifecycle import CrmRef, LinkChange, StoredLink, Tags, lead_converted_into
from crmsync.domain.matching import MatchingMode, ProspectCandidate
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import AuditEntry
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import SalesforceRecord


class RecordOutcome(StrEnum):
    """What became of one record: the count it adds to in the run summary."""

    CREATED = "created"
    LINKED = "linked"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONVERTED = "converted"
    DELETED = "deleted"
    MERGED = "merged"
    RESTORED = "restored"
    OUT_OF_SCOPE = "out_of_scope"
    REPORTED = "reported"
    OPPORTUNITY_ATTACHED = "opportunity_attached"


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
    values: SalesforceRecord
    in_scope: bool
    link: StoredLink | None
    prospect: Prospect | None
    """The prospect of `link` (None when unlinked, or when the link's prospect is missing)."""
    candidates: Sequence[ProspectCandidate] = ()
    """Unlinked records: prospects found by email (`email` mode) or carrying the CRM ID."""
    candidate_prospects: Mapping[str, Prospect] = field(default_factory=dict)
    target_link: StoredLink | None = None
    """Conversion and merge: the link of the record this one now lives on as (`link_target`)."""
    converted_into_person_account: bool = False
    """A converted Lead: whether its `ConvertedAccountId` is a person account."""

    @property
    def id(self) -> str:
        return self.values.id

    @property
    def deleted(self) -> bool:
        return self.values.deleted

    @property
    def converted(self) -> bool:
        return self.object is CrmObject.LEAD and self.values.converted

    @property
    def modified_at(self) -> datetime | None:
        return self.values.modified_at

    @property
    def email(self) -> str | None:
        value = self.object.email_of(self.values)
        return value if isinstance(value, str) else None

    def converted_to(self) -> CrmRef | None:
        return lead_converted_into(
            self.values.converted_contact_id,
            self.values.converted_account_id,
            account_is_person_account=self.converted_into_person_account,
        )

    def merged_into(self) -> CrmRef | None:
        master = self.values.master_record_id
        return CrmRef(self.object, master) if master else None


@dataclass(frozen=True)
class RecordPlan:
    """What to do for one record, in the order the run carries it out: first the link (so a
    prospect is never created without its record claimed), then the prospect, then the
    snapshot (only once the prospect holds what it records)."""

    outcome: RecordOutcome
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
    blank Salesforce field is to be filled from it (docs/guide/fields.md), and only the inbound
    run writes to Salesforce."""
    concerns: str | None = None
    """The prospect the plan's events are about when it changes nothing of it."""

    @property
    def prospect_id(self) -> str | None:
        for change in (self.link_change, self.snapshot_change):
            if change is not None:
                return change.after.prospect_id
        return self.prospect_change.after.id if self.prospect_change else self.concerns


def outbound_report(
    sobject: str,
    plans: Sequence[RecordPlan],
    *,
    at: datetime,
    run_id: str,
    open_errors: Collection[tuple[str, str]],
) -> Report:
    """What users see of plans carried out: an audit entry per event and per field written on
    the prospect, an error list entry per record reported (it needs a person's eye), and the
    open entries of the others resolved, since they synced."""
    audit: list[AuditRecord] = []
    errors: list[SyncError] = []
    resolved: list[tuple[str, str]] = []
    for plan in plans:
        prospect_id = plan.prospect_id
        if plan.reported:
            errors.append(
                SyncError(
                    direction=Direction.OUTBOUND,
                    operation="link",
                    sobject=sobject,
                    record_id=plan.crm.id,
                    failure=Failure("NOT_SYNCED", plan.reason, category=ErrorCategory.VALIDATION),
                    at=at,
                    prospect_id=prospect_id,
                )
            )
        elif (sobject, plan.crm.id) in open_errors:
            resolved.append((sobject, plan.crm.id))
        if prospect_id is None:
            continue
        # Built whole, not by `replace` on a common record: a run audits every field it
        # writes, and `replace` costs several times a plain construction.
        about: dict[str, Any] = {
            "prospect_id": prospect_id,
            "at": at,
            "run_id": run_id,
            "direction": Direction.OUTBOUND,
            "crm_type": plan.crm.object.value,
            "crm_id": plan.crm.id,
        }
        # A lifecycle event's rule is the lifecycle rule that applied (docs/guide/lifecycle.md).
        rule = f"lifecycle: {plan.outcome}"
        audit += [AuditRecord(**about, event=event, rule=rule) for event in plan.events]
        audit += [
            AuditRecord(
                **about,
                event="field synced",
                field=entry.field,
                side=entry.side.value,
                old=entry.old,
                new=entry.new,
                rule=entry.reason.value,
            )
            for entry in plan.field_audit
        ]
    return Report(Direction.OUTBOUND, audit, errors, resolved)
