"""A configuration's dry run over linked records (docs/guide/operator-actions.md): which fields a new
configuration would write on which side of each record, and the rule that would decide each.

The rules are the runs' own (`plan.plan_field_sync`, with the link's snapshot of the last sync),
so the dry run says what the next runs would do under the new configuration: a field it newly
maps has no snapshot yet and syncs as a first sync does (the blank side filled from the other,
or the behaviour's side kept), and a changed behaviour or conflict rule decides fields already
synced. Scope is checked as the outbound run checks it: a record the new scope leaves out is
shown with nothing to change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmsync.domain.fields import ConflictWinner, FieldMapping
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import SideState, Snapshot, plan_field_sync
from crmsync.domain.records import SalesforceRecord
from crmsync.domain.scope import OutboundScope, in_scope


@dataclass(frozen=True)
class PlannedChange:
    """One field a configuration would write, on one side, and the rule that decides it."""

    field: str
    side: str
    old: Any
    new: Any
    rule: str

    def as_answer(self) -> dict[str, Any]:
        return {"field": self.field, "side": self.side, "old": self.old, "new": self.new, "rule": self.rule}


@dataclass(frozen=True)
class RecordDryRun:
    """What a configuration would do to one linked record."""

    prospect_id: str
    object: CrmObject
    id: str
    changes: tuple[PlannedChange, ...] = ()
    note: str = ""
    """Why nothing is planned, when nothing can be (out of scope, record gone, no prospect)."""

    def as_answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "prospect_id": self.prospect_id,
            "object": self.object.value,
            "id": self.id,
            "changes": [change.as_answer() for change in self.changes],
        }
        if self.note:
            answer["note"] = self.note
        return answer


def dry_run_record(
    prospect_id: str,
    crm: CrmObject,
    record: SalesforceRecord,
    prospect_fields: Mapping[str, Any],
    prospect_modified_at: datetime | None,
    *,
    mappings: Sequence[FieldMapping],
    conflict_winner: ConflictWinner,
    snapshot: Snapshot | None,
    scope: OutboundScope | None,
) -> RecordDryRun:
    """The writes the configuration (its `mappings`, `conflict_winner` and `scope` for `crm`)
    would plan for one linked record, from its current values on both sides."""
    record_id = record.id
    if scope is not None and not in_scope(scope, record):
        return RecordDryRun(
            prospect_id,
            crm,
            record_id,
            note="out of the new scope: the runs would leave it (and its prospect) as it is",
        )
    plan = plan_field_sync(
        mappings,
        conflict_winner,
        snapshot,
        SideState(record, record.modified_at),
        SideState(prospect_fields, prospect_modified_at),
    )
    changes = tuple(
        PlannedChange(entry.field, str(entry.side), entry.old, entry.new, entry.reason.value)
        for entry in plan.audit
    )
    return RecordDryRun(prospect_id, crm, record_id, changes)


def dry_run_summary(records: Sequence[RecordDryRun]) -> dict[str, Any]:
    """How many records were planned, how many would change, and by field (`side:field` → how
    many records would have it written)."""
    by_field: Counter[str] = Counter()
    for record in records:
        for written in {f"{change.side}:{change.field}" for change in record.changes}:
            by_field[written] += 1
    return {
        "records": len(records),
        "would_change": sum(1 for record in records if record.changes),
        "by_field": dict(sorted(by_field.items())),
    }
