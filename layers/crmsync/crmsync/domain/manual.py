"""A manual sync of one record (docs/guide/operator-actions.md): which directions it syncs, the audit
entry that says who asked, and what its answer tells the operator of each direction's part.

The part of each direction is planned by the same core as the runs (`domain.outbound`,
`domain.inbound`, `domain.actions`) and reported the same way (`Report`); what the operator is
answered is read from those reports, so it says what the audit trail and the error list say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.audit import AuditRecord, Direction, Report, SyncError
from crmsync.domain.lifecycle import CrmRef


class ManualDirection(StrEnum):
    OUTBOUND = "outbound"
    """Salesforce → marketing: the record read by Id and planned as an outbound run plans it."""
    INBOUND = "inbound"
    """Marketing → Salesforce: the prospect planned and sent as an inbound run sends it."""
    BOTH = "both"
    """Outbound, then inbound: the prospect first takes Salesforce's newer values, then sends its
    own, each field decided by its behaviour and the conflict rule."""

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The directions synced, in the order they are."""
        if self is ManualDirection.OUTBOUND:
            return (Direction.OUTBOUND,)
        if self is ManualDirection.INBOUND:
            return (Direction.INBOUND,)
        return (Direction.OUTBOUND, Direction.INBOUND)


def manual_sync_audit(
    prospect_id: str, crm: CrmRef | None, direction: Direction, *, caller: str, at: datetime, run_id: str
) -> AuditRecord:
    """The audit entry that opens a direction's part of a manual sync: who asked for it. The
    entries of what it changed follow it, with the same run id."""
    towards = "Salesforce → marketing" if direction is Direction.OUTBOUND else "marketing → Salesforce"
    return AuditRecord(
        prospect_id=prospect_id,
        at=at,
        run_id=run_id,
        direction=direction,
        crm_type=crm.object.value if crm else "",
        crm_id=crm.id if crm else "",
        event=f"manual sync by {caller} ({towards})",
    )


@dataclass(frozen=True)
class FieldChange:
    """One field written by a manual sync, on one side, and the rule that decided it."""

    prospect_id: str
    field: str
    side: str
    old: Any
    new: Any
    rule: str | None

    def as_answer(self) -> dict[str, Any]:
        return {
            "prospect_id": self.prospect_id,
            "field": self.field,
            "side": self.side,
            "old": self.old,
            "new": self.new,
            "rule": self.rule,
        }


FIELD_EVENTS = ("field synced", "pending change dropped: Salesforce's value stands")
"""The audit events that record a field (the others are lifecycle events)."""


@dataclass(frozen=True)
class DirectionResult:
    """What one direction's part of a manual sync did: its outcome (the count a run would add
    it to), why, the fields it wrote (old → new, with the rule), the lifecycle events, and the
    error list entries it made."""

    direction: Direction
    outcome: str
    reason: str = ""
    changes: tuple[FieldChange, ...] = ()
    events: tuple[str, ...] = ()
    errors: tuple[SyncError, ...] = ()

    def as_answer(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "changes": [change.as_answer() for change in self.changes],
            "events": list(self.events),
            "errors": [error_answer(error) for error in self.errors],
        }


def direction_result(
    direction: Direction, outcome: str, reason: str, reports: Sequence[Report]
) -> DirectionResult:
    """The result of a direction's part from what its steps reported (the manual sync's own
    audit entry left out: the answer says who asked already)."""
    changes: list[FieldChange] = []
    events: list[str] = []
    errors: list[SyncError] = []
    for report in reports:
        for record in report.audit:
            if record.event.startswith("manual sync by "):
                continue
            if record.field is not None and record.event in FIELD_EVENTS:
                changes.append(
                    FieldChange(
                        record.prospect_id,
                        record.field,
                        str(record.side),
                        record.old,
                        record.new,
                        record.rule,
                    )
                )
            else:
                events.append(record.event)
        errors += report.errors
    return DirectionResult(direction, outcome, reason, tuple(changes), tuple(events), tuple(errors))


def error_answer(error: SyncError) -> dict[str, Any]:
    """An error list entry as an answer shows it."""
    failure = error.failure
    return {
        "key": error.key,
        "direction": error.direction.value,
        "object": error.sobject,
        "record_id": error.record_id,
        "prospect_id": error.prospect_id,
        "operation": error.operation,
        "code": failure.code,
        "category": failure.category.value,
        "message": failure.message,
        "fields": list(failure.fields),
        "state": error.state.value,
        "attempts": error.attempts,
    }
