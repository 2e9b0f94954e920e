"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from crmsync.domain.audit import AuditRecord, Direction, SyncError
from crmsync.domain.errors import Failure
from crmsync.domain.lifecycle import LinkChange, StoredLink
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import (
    ApiUsage,
    ChangePage,
    ObjectDescription,
    Watermark,
    WriteOperation,
    WriteResult,
)


class CrmGateway(Protocol):
    def read_changes(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        until: datetime,
        *,
        include_deleted: bool = True,
    ) -> Iterator[ChangePage]: ...

    def find(
        self, sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object]
    ) -> list[dict[str, Any]]: ...

    def write(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> list[WriteResult]: ...

    def describe(self, sobject: str) -> ObjectDescription: ...

    def check_connection(self) -> ApiUsage: ...

    @property
    def api_usage(self) -> ApiUsage | None:
        """The usage Salesforce reported on its last response (None before any call)."""
        ...


@dataclass(frozen=True)
class ConnectorState:
    paused: bool
    config_version: int | None = None


class StateStore(Protocol):
    def connector_state(self) -> ConnectorState: ...

    def set_paused(self, paused: bool) -> None: ...


class LinkStore(Protocol):
    """Links, 1:1 by construction: a prospect and a CRM record each belong to one link at most."""

    def by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, StoredLink]:
        """The links of these records (CRM id → link), read consistently."""
        ...

    def by_prospect_ids(self, prospect_ids: Collection[str]) -> dict[str, StoredLink]: ...

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        """Carry the changes out; returns those refused because a record or prospect is already
        claimed by another link, or the link changed since it was read. Never partly applies one."""
        ...


class ProspectStore(Protocol):
    """The marketing platform's prospects (the built-in store is a table of this stack)."""

    def get_many(self, prospect_ids: Collection[str]) -> dict[str, Prospect]: ...

    def find_by_emails(self, email_keys: Collection[str]) -> dict[str, list[Prospect]]:
        """Prospects by normalized email (`normalize_email`); emails with none are left out."""
        ...

    def find_by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, list[Prospect]]:
        """Prospects carrying these CRM IDs (`Prospect.crm_id`)."""
        ...

    def save(self, changes: Sequence[ProspectChange]) -> list[ProspectChange]:
        """Carry the changes out; returns those refused because the prospect changed since it
        was read (or, for a new one, its id exists)."""
        ...


@dataclass(frozen=True)
class SalesforceUser:
    id: str
    email: str | None
    name: str = ""
    active: bool = True


@dataclass(frozen=True)
class RunSummary:
    """What one run did, for the status and the demo's report."""

    direction: Direction
    run_id: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    counts: Mapping[str, int] = field(default_factory=dict)
    api_calls: int = 0


class SyncStateStore(Protocol):
    """Run bookkeeping in the state table: leases, watermarks, the records to retry, the user
    map, run summaries, the audit trail and the error list."""

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take the lease `name` if it is free or expired; False if another holder has it."""
        ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def watermark(self, key: str) -> Watermark | None: ...

    def save_watermark(self, key: str, watermark: Watermark) -> None: ...

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        """sObject → ids of records a run could not apply and the next must read again."""
        ...

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None: ...

    def clear_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None: ...

    def save_users(self, users: Sequence[SalesforceUser]) -> None: ...

    def users(self) -> dict[str, SalesforceUser]:
        """Salesforce user id → user, as last synced."""
        ...

    def append_audit(self, records: Sequence[AuditRecord], retention_days: int) -> None: ...

    def audit_trail(self, prospect_id: str) -> list[AuditRecord]:
        """Oldest first."""
        ...

    def record_errors(self, errors: Sequence[SyncError]) -> None:
        """Add or update entries of the error list (one per record and direction)."""
        ...

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        """Remove the entries of these (sObject, record id) pairs, if any: they synced."""
        ...

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]: ...

    def save_run(self, summary: RunSummary) -> None: ...

    def last_run(self, direction: Direction) -> RunSummary | None: ...


class ConfigStore(Protocol):
    def current(self) -> Mapping[str, Any] | None:
        """The configuration document in force, or None before one was loaded."""
        ...

    def save(self, document: Mapping[str, Any]) -> int:
        """Store a new configuration document; returns its version."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class ActionQueue(Protocol):
    """Where accepted automation actions wait to be carried out (the stack's actions queue)."""

    def send(self, message: Mapping[str, Any]) -> None:
        """Put one message (a JSON object) on the queue; raises `QueueError` when it cannot."""
        ...


class QueueError(Exception):
    """A message could not be put on a queue, after the client's own retries: throttled,
    unreachable, or refused (no such queue, not allowed). `retryable` says whether sending it
    again later may work."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure

    @property
    def retryable(self) -> bool:
        return self.failure.retryable
