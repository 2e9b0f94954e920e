"""What the connector tells its users about every record: the audit trail of each prospect and
the sync error list (docs/guide/errors.md). Plain values; the state store keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from crmsync.domain.errors import Failure


class Direction(StrEnum):
    OUTBOUND = "outbound"
    """Salesforce → marketing."""
    INBOUND = "inbound"
    """Marketing → Salesforce."""


class AuditRecord(NamedTuple):
    """One thing that happened to a prospect: a field written (`field`, `old`, `new`, `rule`)
    or a lifecycle event (`event` alone: linked, created, converted, deleted, merged...).

    A named tuple rather than a frozen dataclass: a run makes one for every field it writes,
    and a tuple is built in less than half the time."""

    prospect_id: str
    at: datetime
    run_id: str
    direction: Direction
    crm_type: str
    crm_id: str
    event: str
    field: str | None = None
    side: str | None = None
    old: Any = None
    new: Any = None
    rule: str | None = None


class ErrorState(StrEnum):
    OPEN = "open"
    """Waits for the record to change again on either side, or for a retry on request."""
    RETRYING = "retrying"
    """Transient, or a retry an operator asked for: retried by the next run on its own."""
    DISMISSED = "dismissed"
    """An operator took it off the open list, with a reason; it is kept until the record syncs
    or fails again (then it is open again)."""


@dataclass(frozen=True)
class SyncError:
    """One entry of the sync error list; at most one per record and direction."""

    direction: Direction
    operation: str
    sobject: str
    record_id: str
    failure: Failure
    at: datetime
    prospect_id: str | None = None
    attempts: int = 1
    retries_exhausted: bool = False
    """A transient failure that outlasted the retry budget: it waits like a permanent one."""

    @property
    def key(self) -> str:
        return f"{self.direction}#{self.sobject}#{self.record_id}"

    @property
    def state(self) -> ErrorState:
        retrying = self.failure.retryable and not self.retries_exhausted
        return ErrorState.RETRYING if retrying else ErrorState.OPEN


@dataclass(frozen=True)
class Report:
    """What a run tells its users about the records it dealt with, as the core decided it: the
    audit entries to keep, the error list entries to add or update, and the entries of records
    that synced, (sObject, record id), to resolve. The run stores it as it is."""

    direction: Direction
    audit: Sequence[AuditRecord] = ()
    errors: Sequence[SyncError] = ()
    resolved: Sequence[tuple[str, str]] = ()

    def __bool__(self) -> bool:
        return bool(self.audit or self.errors or self.resolved)
