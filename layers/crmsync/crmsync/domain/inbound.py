"""What inbound sync sends to Salesforce for one changed prospect (docs/guide/fields.md,
scope.md): the whole decision, as plain values, for the run to carry out (ARCHITECTURE rule 1).

The Salesforce side of the three-way merge is the link's snapshot: it holds the value each
mapped field had in Salesforce when the record was last synced. Outbound sync reads every
record changed since then, so unless Salesforce changed the record after outbound's last read,
the snapshot *is* Salesforce's current value and no read is needed. The run reads the records
changed after outbound's watermark and passes their values here: then the behaviour table sees
Salesforce's change too, and where Salesforce wins (the default conflict rule) the prospect's
pending change is dropped and audited, never sent over Salesforce's newer value.

Where Salesforce's value wins (a `salesforce` field the marketing side edited, a conflict
Salesforce won) and that value is known, the plan puts it back on the prospect. A pair whose
Salesforce value is not known keeps its old snapshot: the outbound run brings it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.audit import AuditRecord, Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.fields import ConflictWinner, FieldMapping, Side
from crmsync.domain.lifecycle import LinkChange, LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.owner import OWNER_MAPPING, in_marketing_terms, salesforce_user_of
from crmsync.domain.plan import AuditEntry, FieldSnapshot, SideState, Snapshot, plan_field_sync
from crmsync.domain.prospect import Prospect, ProspectChange

RETRY_BUDGET = 5
"""Runs a record with a transient failure is tried in before it waits like a permanent one."""


class InboundOutcome(StrEnum):
    """The count a prospect adds to in the run summary."""

    UPDATE = "updated"
    UNCHANGED = "unchanged"
    UNLINKED = "unlinked"
    TO_CREATE = "queued_for_creation"
    """Unlinked, and `inbound.create_unlinked` sends it to Salesforce (as a create_lead action)."""
    LINK_INACTIVE = "link_inactive"
    PROSPECT_GONE = "prospect_missing"


class CreateUnlinked(StrEnum):
    """Whether a changed prospect with no link reaches Salesforce by itself (docs/guide/scope.md)."""

    NEVER = "never"
    ASSIGNED_ONLY = "assigned_only"
    ALWAYS = "always"


@dataclass(frozen=True)
class InboundRules:
    """The parts of the configuration one prospect's decision needs."""

    conflict_winner: ConflictWinner
    mappings: Mapping[CrmObject, Sequence[FieldMapping]]
    create_unlinked: CreateUnlinked = CreateUnlinked.NEVER
    owners: Mapping[str, str] | None = None
    """Two-way owner sync: Salesforce user id → marketing user (`domain.owner`); None when
    Salesforce alone decides the owner."""


@dataclass(frozen=True)
class InboundPlan:
    """For one prospect: the fields to write on its record and the snapshot to store once they
    are written. `dropped` are the prospect's pending changes Salesforce's newer value beat."""

    outcome: InboundOutcome
    prospect_id: str
    reason: str
    link: StoredLink | None = None
    salesforce_writes: Mapping[str, Any] = field(default_factory=dict)
    snapshot: Snapshot = field(default_factory=dict)
    pushed: tuple[AuditEntry, ...] = ()
    dropped: tuple[AuditEntry, ...] = ()
    unmapped_owner: str | None = None
    """The assigned user that was not sent because no active Salesforce user maps to it."""
    prospect: Prospect | None = None
    restores: Mapping[str, Any] = field(default_factory=dict)
    """Prospect fields put back to Salesforce's value (a `salesforce` field the marketing side
    edited, a conflict Salesforce won): saved before the snapshot that records them."""

    @property
    def prospect_change(self) -> ProspectChange | None:
        if self.prospect is None or not self.restores:
            return None
        after = replace(self.prospect, fields={**self.prospect.fields, **self.restores})
        return ProspectChange(after, before=self.prospect)

    @property
    def snapshot_change(self) -> LinkChange | None:
        """The link's new snapshot, to save after Salesforce took the writes (or at once when
        there were none but the snapshot still moved, e.g. a dropped change)."""
        if self.link is None or dict(self.snapshot) == dict(self.link.snapshot):
            return None
        synced = self.prospect.version if self.prospect is not None else None
        return LinkChange(self.link.link, self.snapshot, before=self.link, synced_version=synced)

    @property
    def listed_change(self) -> LinkChange | None:
        """The link once its failure is listed: it records the prospect version dealt with, so
        reconciliation does not send it again until the marketing side changes it again."""
        if self.link is None or self.prospect is None:
            return None
        return LinkChange(
            self.link.link, self.link.snapshot, before=self.link, synced_version=self.prospect.version
        )

    def failed(self, failure: Failure, at: datetime, earlier: SyncError | None) -> SyncError:
        """The error list entry of Salesforce refusing the writes (`earlier`: the record's
        entry already listed, whose attempts this one counts on from)."""
        assert self.link is not None
        crm = self.link.link.crm
        attempts = (earlier.attempts if earlier else 0) + 1
        return SyncError(
            direction=Direction.INBOUND,
            operation="update",
            sobject=crm.object.sobject,
            record_id=crm.id,
            failure=failure,
            at=at,
            prospect_id=self.prospect_id,
            attempts=attempts,
            retries_exhausted=failure.retryable and attempts >= RETRY_BUDGET,
        )

    def audit(self, at: datetime, run_id: str) -> list[AuditRecord]:
        """The audit entries of the plan carried out: each field sent, each pending change
        Salesforce's newer value beat, an owner left unsent."""
        if self.link is None or not (self.pushed or self.dropped or self.unmapped_owner):
            return []
        crm = self.link.link.crm
        base = AuditRecord(
            prospect_id=self.prospect_id,
            at=at,
            run_id=run_id,
            direction=Direction.INBOUND,
            crm_type=crm.object.value,
            crm_id=crm.id,
            event="field synced",
        )

        def entry(event: str, audited: AuditEntry) -> AuditRecord:
            return base._replace(
                event=event,
                field=audited.field,
                side=audited.side.value,
                old=audited.old,
                new=audited.new,
                rule=audited.reason.value,
            )

        records = [entry("field synced", e) for e in self.pushed] + [
            entry("pending change dropped: Salesforce's value stands", e) for e in self.dropped
        ]
        if self.unmapped_owner is not None:
            records.append(
                base._replace(
                    event=f"owner not sent: no active Salesforce user maps to {self.unmapped_owner}"
                )
            )
        return records

    @property
    def has_work(self) -> bool:
        """Whether a run would change anything for this prospect: a write to Salesforce, a
        value put back on the prospect, or a new snapshot. A plan without work settles as it is."""
        return (
            bool(self.salesforce_writes)
            or self.prospect_change is not None
            or self.snapshot_change is not None
        )


def salesforce_values_from_snapshot(mappings: Sequence[FieldMapping], snapshot: Snapshot) -> dict[str, Any]:
    """The record's mapped values as of its last sync (see the module documentation)."""
    return {m.salesforce_field: snapshot[m.key].salesforce for m in mappings if m.key in snapshot}


def writes_unknown_values(plan: InboundPlan, rules: InboundRules) -> bool:
    """Whether the plan writes a field whose Salesforce value the snapshot does not hold (a
    link made by an email match, a newly mapped field): "not in the snapshot" is not "blank",
    so the record's current values must be read and the prospect planned again with them."""
    if plan.link is None or not plan.salesforce_writes:
        return False
    mappings = rules.mappings.get(plan.link.link.crm.object, ())
    return any(
        m.key not in plan.link.snapshot for m in mappings if m.salesforce_field in plan.salesforce_writes
    )


def plan_prospect_change(
    prospect: Prospect | None,
    prospect_id: str,
    link: StoredLink | None,
    rules: InboundRules,
    *,
    salesforce_now: Mapping[str, Any] | None = None,
    salesforce_modified_at: datetime | None = None,
) -> InboundPlan:
    """What to send for a prospect that changed on the marketing side.

    `salesforce_now` are the record's current values when Salesforce changed it after
    outbound's last read; None means the snapshot is current."""
    if prospect is None:
        return InboundPlan(InboundOutcome.PROSPECT_GONE, prospect_id, "the prospect no longer exists")
    if link is None:
        return _plan_unlinked(prospect, rules.create_unlinked)
    if link.link.status is not LinkStatus.ACTIVE:
        return InboundPlan(
            InboundOutcome.LINK_INACTIVE,
            prospect_id,
            f"the link is {link.link.status.value}: nothing is sent",
            link=link,
        )
    mappings = tuple(rules.mappings.get(link.link.crm.object, ()))
    snapshot = link.snapshot
    current: Mapping[str, Any] = (
        salesforce_now if salesforce_now is not None else salesforce_values_from_snapshot(mappings, snapshot)
    )
    prospect_values: Mapping[str, Any] = prospect.fields
    if rules.owners is not None:
        owned = (
            in_marketing_terms(salesforce_now, rules.owners)
            if salesforce_now is not None
            else salesforce_values_from_snapshot((*mappings, OWNER_MAPPING), snapshot)
        )
        # Only while the record's owner is known in marketing terms: an unmapped one is left alone.
        if owned is not None and OWNER_MAPPING.salesforce_field in owned:
            mappings += (OWNER_MAPPING,)
            current = owned
            prospect_values = {**prospect.fields, OWNER_MAPPING.marketing_field: prospect.assigned_user}
    plan = plan_field_sync(
        mappings,
        rules.conflict_winner,
        snapshot,
        SideState(current, salesforce_modified_at),
        SideState(prospect_values, prospect.modified_at),
    )
    salesforce_writes = dict(plan.salesforce_writes)
    unmapped_owner = None
    if OWNER_MAPPING.salesforce_field in salesforce_writes:
        assigned = salesforce_writes[OWNER_MAPPING.salesforce_field]
        owner_id = salesforce_user_of(assigned, rules.owners or {})
        if owner_id is None:
            del salesforce_writes[OWNER_MAPPING.salesforce_field]
            unmapped_owner = str(assigned)
        else:
            salesforce_writes[OWNER_MAPPING.salesforce_field] = owner_id
    # Where Salesforce's value wins and is known (in the snapshot, or just read), the prospect
    # gets it back now; a pair whose Salesforce value is not known keeps its old snapshot, and
    # so does the owner: the outbound run brings those and settles them.
    restores = {
        m.marketing_field: plan.prospect_writes[m.marketing_field]
        for m in mappings
        if m is not OWNER_MAPPING
        and m.marketing_field in plan.prospect_writes
        and (salesforce_now is not None or m.key in snapshot)
    }
    deferred = {
        m.key
        for m in mappings
        if m.marketing_field in plan.prospect_writes and m.marketing_field not in restores
    }
    if unmapped_owner is not None:
        deferred.add(OWNER_MAPPING.key)
    new_snapshot: dict[str, FieldSnapshot] = {}
    for key, values in plan.snapshot.items():
        if key not in deferred:
            new_snapshot[key] = values
        elif key in snapshot:
            new_snapshot[key] = snapshot[key]
    pushed = tuple(e for e in plan.audit if e.side is Side.SALESFORCE and e.field in salesforce_writes)
    dropped = tuple(
        entry
        for entry in plan.audit
        if entry.side is Side.MARKETING and _changed_since_sync(entry, snapshot, mappings)
    )
    if not salesforce_writes:
        return InboundPlan(
            InboundOutcome.UNCHANGED,
            prospect_id,
            "already in step with Salesforce" if not dropped else "Salesforce's newer values stand",
            link=link,
            snapshot=new_snapshot,
            dropped=dropped,
            unmapped_owner=unmapped_owner,
            prospect=prospect,
            restores=restores,
        )
    return InboundPlan(
        InboundOutcome.UPDATE,
        prospect_id,
        "fields sent to Salesforce",
        link=link,
        salesforce_writes=salesforce_writes,
        snapshot=new_snapshot,
        pushed=pushed,
        dropped=dropped,
        unmapped_owner=unmapped_owner,
        prospect=prospect,
        restores=restores,
    )


def _plan_unlinked(prospect: Prospect, create: CreateUnlinked) -> InboundPlan:
    if create is CreateUnlinked.ALWAYS or (
        create is CreateUnlinked.ASSIGNED_ONLY and prospect.assigned_user is not None
    ):
        # The action carries it out like any automation's: linked to a record with its email
        # in `email` mode, created otherwise, exactly once; no email is reported there.
        return InboundPlan(
            InboundOutcome.TO_CREATE,
            prospect.id,
            f"not linked, and inbound.create_unlinked is {create.value}: sent to Salesforce as a Lead",
        )
    why = "it has no assigned user" if create is CreateUnlinked.ASSIGNED_ONLY else "create_unlinked is never"
    return InboundPlan(
        InboundOutcome.UNLINKED,
        prospect.id,
        f"not linked, and {why}: it reaches Salesforce through an automation action",
    )


def _changed_since_sync(entry: AuditEntry, snapshot: Snapshot, mappings: Sequence[FieldMapping]) -> bool:
    """Whether the prospect's value Salesforce overwrites was a change still waiting to be sent
    (not just a blank being filled)."""
    mapping = next((m for m in mappings if m.marketing_field == entry.field), None)
    if mapping is None or mapping.key not in snapshot:
        return False
    return bool(entry.old != snapshot[mapping.key].marketing)


CAPTURE_OBJECT = "Prospect"
"""The error list's object for a stream record change capture refused (record id: the prospect)."""
FAILED_BATCH_OBJECT = "StreamBatch"
"""The error list's object for a malformed on-failure message (record id: the message id)."""
CAPTURE_OPERATION = "capture"


def capture_refused(prospect_id: str | None, reference: str, problem: str, at: datetime) -> SyncError:
    """The error list entry of a change record change capture could not read: it was not noted
    (docs/guide/change-capture.md). Resolved once a run has planned the prospect."""
    return SyncError(
        direction=Direction.INBOUND,
        operation=CAPTURE_OPERATION,
        sobject=CAPTURE_OBJECT,
        record_id=prospect_id or f"stream record ({reference})",
        failure=Failure(
            "MALFORMED_STREAM_RECORD",
            f"a prospect change on the stream ({reference}) was not noted: {problem}",
            category=ErrorCategory.VALIDATION,
        ),
        at=at,
        prospect_id=prospect_id,
    )


def failed_batch_unread(message_id: str, problem: str, at: datetime) -> SyncError:
    """The error list entry of an on-failure message of the prospects stream that names no batch
    to read back: it is deleted, and reconciliation finds the changes it stood for."""
    return SyncError(
        direction=Direction.INBOUND,
        operation=CAPTURE_OPERATION,
        sobject=FAILED_BATCH_OBJECT,
        record_id=message_id,
        failure=Failure(
            "MALFORMED_FAILED_BATCH",
            f"an on-failure message of the prospects stream was deleted unread: {problem}; "
            "reconciliation finds the changes it may have stood for",
            category=ErrorCategory.VALIDATION,
        ),
        at=at,
    )
