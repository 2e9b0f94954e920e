"""The field sync plan of one link: what to write on each side, the new snapshot, and why
(docs/guide/fields.md).

`plan_field_sync` is the whole decision for one prospect and its CRM record. It is used by
both directions: the outbound run calls it with the Salesforce record it just read and the
prospect as stored, the inbound run the other way round, and both get the same answer.

The snapshot keeps, per mapped pair, the value each side held right after the last sync. It is
the base of the three-way merge of `most_recent` fields: a side whose value differs from its
snapshot value has changed since the last sync. Keeping both sides (not one agreed value) means
a write that failed on one side is seen as such at the next run instead of as a change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.fields import (
    Behaviour,
    ConflictWinner,
    FieldMapping,
    Side,
    is_blank,
    same_value,
)


@dataclass(frozen=True)
class FieldSnapshot:
    """The values of one mapped pair right after the last sync, one per side."""

    salesforce: Any
    marketing: Any


Snapshot = Mapping[str, FieldSnapshot]
"""Per `FieldMapping.key`. Missing (a new link, a newly mapped pair) means "never synced"."""


@dataclass(frozen=True)
class SideState:
    """One side's current values (field name → value) and when that record last changed.

    A mapped field missing from `values` counts as blank, so callers must read every mapped field.
    `modified_at` must be timezone-aware; it only matters to `conflict_winner: latest_timestamp`.
    """

    values: Mapping[str, Any]
    modified_at: datetime | None = None


class Reason(StrEnum):
    """Which rule of the behaviour table decided a write; the audit trail shows these words."""

    SALESFORCE_ALWAYS = "salesforce: Salesforce's value is always used"
    SALESFORCE_BLANK_SYNCED = "salesforce with sync_blanks: Salesforce's blank is copied"
    MARKETING_ALWAYS = "marketing: the prospect's value is always used"
    MARKETING_BLANK_SYNCED = "marketing with sync_blanks: the prospect's blank is copied"
    SALESFORCE_NOT_BLANK = "prefer_salesforce_unless_blank: Salesforce's value is not blank"
    SALESFORCE_BLANK_FILLED = "prefer_salesforce_unless_blank: Salesforce is blank, filled from the prospect"
    MARKETING_NOT_BLANK = "prefer_marketing_unless_blank: the prospect's value is not blank"
    MARKETING_BLANK_FILLED = "prefer_marketing_unless_blank: the prospect is blank, filled from Salesforce"
    CHANGED_IN_SALESFORCE = "most_recent: only Salesforce changed since the last sync"
    CHANGED_IN_MARKETING = "most_recent: only the prospect changed since the last sync"
    BLANK_FILLED = "most_recent: not synced yet, the blank side is filled from the other"
    CONFLICT_SALESFORCE = "most_recent conflict: conflict_winner is salesforce"
    CONFLICT_MARKETING = "most_recent conflict: conflict_winner is marketing"
    CONFLICT_SALESFORCE_LATER = (
        "most_recent conflict, latest_timestamp: Salesforce changed last (or at the same time)"
    )
    CONFLICT_MARKETING_LATER = "most_recent conflict, latest_timestamp: the prospect changed last"


@dataclass(frozen=True)
class AuditEntry:
    """One field written on one side. When the prospect's value is overwritten in a conflict,
    `old` is the pending marketing change that was dropped (docs/guide/fields.md, the conflict
    rule)."""

    field: str
    side: Side
    old: Any
    new: Any
    behaviour: Behaviour
    reason: Reason


@dataclass(frozen=True)
class FieldSyncPlan:
    salesforce_writes: Mapping[str, Any]
    prospect_writes: Mapping[str, Any]
    snapshot: Mapping[str, FieldSnapshot]
    audit: tuple[AuditEntry, ...]

    @property
    def has_writes(self) -> bool:
        return bool(self.salesforce_writes or self.prospect_writes)


@dataclass(frozen=True)
class _Copy:
    """The value of `source` is copied to the other side (written only if it differs there)."""

    source: Side
    reason: Reason


# Every decision the behaviour table can make, made once: a run decides per mapped pair per record.
_FILL_SALESFORCE_BLANK = _Copy(Side.MARKETING, Reason.BLANK_FILLED)
_CHANGED_IN_MARKETING = _Copy(Side.MARKETING, Reason.CHANGED_IN_MARKETING)
_CONFLICT_MARKETING = _Copy(Side.MARKETING, Reason.CONFLICT_MARKETING)
_CONFLICT_MARKETING_LATER = _Copy(Side.MARKETING, Reason.CONFLICT_MARKETING_LATER)
_MARKETING_ALWAYS = _Copy(Side.MARKETING, Reason.MARKETING_ALWAYS)
_MARKETING_BLANK_SYNCED = _Copy(Side.MARKETING, Reason.MARKETING_BLANK_SYNCED)
_MARKETING_NOT_BLANK = _Copy(Side.MARKETING, Reason.MARKETING_NOT_BLANK)
_SALESFORCE_BLANK_FILLED_FROM_MARKETING = _Copy(Side.MARKETING, Reason.SALESFORCE_BLANK_FILLED)
_FILL_MARKETING_BLANK = _Copy(Side.SALESFORCE, Reason.BLANK_FILLED)
_CHANGED_IN_SALESFORCE = _Copy(Side.SALESFORCE, Reason.CHANGED_IN_SALESFORCE)
_CONFLICT_SALESFORCE = _Copy(Side.SALESFORCE, Reason.CONFLICT_SALESFORCE)
_CONFLICT_SALESFORCE_LATER = _Copy(Side.SALESFORCE, Reason.CONFLICT_SALESFORCE_LATER)
_MARKETING_BLANK_FILLED_FROM_SALESFORCE = _Copy(Side.SALESFORCE, Reason.MARKETING_BLANK_FILLED)
_SALESFORCE_ALWAYS = _Copy(Side.SALESFORCE, Reason.SALESFORCE_ALWAYS)
_SALESFORCE_BLANK_SYNCED = _Copy(Side.SALESFORCE, Reason.SALESFORCE_BLANK_SYNCED)
_SALESFORCE_NOT_BLANK = _Copy(Side.SALESFORCE, Reason.SALESFORCE_NOT_BLANK)


@dataclass(slots=True)
class _Field:
    """Everything the behaviour table needs to decide one mapped pair. Made for every mapped
    pair of every record a run plans, never kept: not frozen, as a frozen dataclass's
    construction costs several times a plain one's."""

    mapping: FieldMapping
    base: FieldSnapshot | None
    salesforce: Any
    marketing: Any
    salesforce_modified_at: datetime | None
    marketing_modified_at: datetime | None
    conflict_winner: ConflictWinner

    def same(self, left: Any, right: Any) -> bool:
        return same_value(left, right, email=self.mapping.holds_email)


def _salesforce(f: _Field) -> _Copy | None:
    if not is_blank(f.salesforce):
        return _SALESFORCE_ALWAYS
    return _SALESFORCE_BLANK_SYNCED if f.mapping.sync_blanks else None


def _marketing(f: _Field) -> _Copy | None:
    if not is_blank(f.marketing):
        return _MARKETING_ALWAYS
    return _MARKETING_BLANK_SYNCED if f.mapping.sync_blanks else None


def _prefer_salesforce_unless_blank(f: _Field) -> _Copy | None:
    if not is_blank(f.salesforce):
        return _SALESFORCE_NOT_BLANK
    if not is_blank(f.marketing):
        return _SALESFORCE_BLANK_FILLED_FROM_MARKETING
    return None


def _prefer_marketing_unless_blank(f: _Field) -> _Copy | None:
    if not is_blank(f.marketing):
        return _MARKETING_NOT_BLANK
    if not is_blank(f.salesforce):
        return _MARKETING_BLANK_FILLED_FROM_SALESFORCE
    return None


def _most_recent(f: _Field) -> _Copy | None:
    if f.same(f.salesforce, f.marketing):
        return None
    salesforce_changed = f.base is not None and not f.same(f.salesforce, f.base.salesforce)
    marketing_changed = f.base is not None and not f.same(f.marketing, f.base.marketing)
    if salesforce_changed and not marketing_changed:
        return _CHANGED_IN_SALESFORCE
    if marketing_changed and not salesforce_changed:
        return _CHANGED_IN_MARKETING
    if not salesforce_changed and not marketing_changed:
        # Never synced (or left apart by an earlier failed write): nothing to merge against.
        # A first sync must not erase data, so a blank side is filled before any rule decides.
        if is_blank(f.salesforce):
            return _FILL_SALESFORCE_BLANK
        if is_blank(f.marketing):
            return _FILL_MARKETING_BLANK
    return _conflict(f)


def _conflict(f: _Field) -> _Copy:
    if f.conflict_winner is ConflictWinner.SALESFORCE:
        return _CONFLICT_SALESFORCE
    if f.conflict_winner is ConflictWinner.MARKETING:
        return _CONFLICT_MARKETING
    # A tie or an unknown time goes to Salesforce, the default master.
    if (
        f.marketing_modified_at is not None
        and f.salesforce_modified_at is not None
        and f.marketing_modified_at > f.salesforce_modified_at
    ):
        return _CONFLICT_MARKETING_LATER
    return _CONFLICT_SALESFORCE_LATER


_BEHAVIOUR_TABLE: Mapping[Behaviour, Callable[[_Field], _Copy | None]] = {
    Behaviour.SALESFORCE: _salesforce,
    Behaviour.MARKETING: _marketing,
    Behaviour.PREFER_SALESFORCE_UNLESS_BLANK: _prefer_salesforce_unless_blank,
    Behaviour.PREFER_MARKETING_UNLESS_BLANK: _prefer_marketing_unless_blank,
    Behaviour.MOST_RECENT: _most_recent,
}


def plan_field_sync(
    mappings: Sequence[FieldMapping],
    conflict_winner: ConflictWinner,
    snapshot: Snapshot | None,
    salesforce: SideState,
    prospect: SideState,
) -> FieldSyncPlan:
    """What to write on each side so that every mapped field follows its behaviour.

    Only fields whose value differs from the other side's current value are written, so a
    record already in step plans no write at all. Unmapped pairs leave the snapshot.
    """
    salesforce_writes: dict[str, Any] = {}
    prospect_writes: dict[str, Any] = {}
    new_snapshot: dict[str, FieldSnapshot] = {}
    audit: list[AuditEntry] = []
    for mapping in mappings:
        if mapping.behaviour is Behaviour.NONE:
            continue  # nothing moves, and nothing needs remembering
        field = _Field(
            mapping=mapping,
            base=(snapshot or {}).get(mapping.key),
            salesforce=salesforce.values.get(mapping.salesforce_field),
            marketing=prospect.values.get(mapping.marketing_field),
            salesforce_modified_at=salesforce.modified_at,
            marketing_modified_at=prospect.modified_at,
            conflict_winner=conflict_winner,
        )
        salesforce_after, marketing_after = field.salesforce, field.marketing
        copy = _BEHAVIOUR_TABLE[mapping.behaviour](field)
        if copy is not None and not field.same(field.salesforce, field.marketing):
            if copy.source is Side.SALESFORCE:
                marketing_after = _as_written(field.salesforce)
                prospect_writes[mapping.marketing_field] = marketing_after
                audit.append(
                    AuditEntry(
                        mapping.marketing_field,
                        Side.MARKETING,
                        field.marketing,
                        marketing_after,
                        mapping.behaviour,
                        copy.reason,
                    )
                )
            else:
                salesforce_after = _as_written(field.marketing)
                salesforce_writes[mapping.salesforce_field] = salesforce_after
                audit.append(
                    AuditEntry(
                        mapping.salesforce_field,
                        Side.SALESFORCE,
                        field.salesforce,
                        salesforce_after,
                        mapping.behaviour,
                        copy.reason,
                    )
                )
        new_snapshot[mapping.key] = FieldSnapshot(salesforce=salesforce_after, marketing=marketing_after)
    return FieldSyncPlan(
        salesforce_writes=salesforce_writes,
        prospect_writes=prospect_writes,
        snapshot=new_snapshot,
        audit=tuple(audit),
    )


def _as_written(value: Any) -> Any:
    """A blank is written as None: Salesforce clears a field only when sent null."""
    return None if is_blank(value) else value
