"""What the runs keep between them, the connector's state and its configuration, in memory, with
the state table's contracts (crmsync/aws/leases.py, watermarks.py, retry_list.py,
user_directory.py, audit_trail.py, error_list.py, run_log.py, connector_state.py,
config_store.py).

`FakeSyncState` is one object for `Leases`, `Watermarks`, `RetryList`, `UserDirectory`,
`AuditTrail`, `ErrorList` and `RunLog`, over one memory as the adapters share one table; a use
case is handed only the protocols it takes."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crmsync.config import ConfigurationTooLarge, StaleConfigurationVersion
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.errors import ConfigurationError
from crmsync.domain.records import ApiUsage, Watermark
from crmsync.ports import ConnectorState, ListedError, RunSummary, SalesforceUser

from tests.fakes.stored import instant, iso, json_text

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit, which the configuration's items must fit in."""


@dataclass(frozen=True)
class _Lease:
    holder: str
    until: int
    """Epoch seconds, rounded up, as the table keeps them."""


class FakeSyncState:
    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        self._watermarks: dict[str, Watermark] = {}
        self._retry: dict[Direction, set[tuple[str, str]]] = {d: set() for d in Direction}
        self._users: dict[str, SalesforceUser] = {}
        self._audit: dict[str, list[tuple[str, AuditRecord]]] = {}
        """Prospect id → (sort key, record): the table keeps a prospect's trail in time order."""
        self._audit_sequence: dict[str, int] = {}
        self._errors: dict[Direction, dict[tuple[str, str], SyncError]] = {d: {} for d in Direction}
        self._listed: dict[str, ListedError] = {}
        """Entry key → what operators see of it besides the failure: first seen, state, notes."""
        self._runs: dict[Direction, dict[str, RunSummary]] = {d: {} for d in Direction}
        self._in_step: dict[Direction, RunSummary] = {}
        self._scheduled_starts: dict[str, datetime] = {}

    # ------------------------------------------------------------------ Leases

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        held = self._leases.get(name)
        if held is not None and held.until >= int(now.timestamp()) and held.holder != holder:
            return False
        self._leases[name] = _Lease(holder, math.ceil(until.timestamp()))
        return True

    def release_lease(self, name: str, holder: str) -> None:
        held = self._leases.get(name)
        if held is not None and held.holder == holder:
            del self._leases[name]

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease `name` (expired or not); for tests."""
        held = self._leases.get(name)
        return held.holder if held else None

    # ------------------------------------------------------------------ Watermarks

    def watermark(self, key: str) -> Watermark | None:
        return self._watermarks.get(key)

    def save_watermark(self, key: str, watermark: Watermark) -> None:
        self._watermarks[key] = Watermark(instant(watermark.stamp), watermark.last_id)

    # ------------------------------------------------------------------ RetryList

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        waiting: dict[str, list[str]] = {}
        # The table's sort key is "<sObject>#<record id>".
        for sobject, record_id in sorted(self._retry[direction], key=lambda k: f"{k[0]}#{k[1]}"):
            waiting.setdefault(sobject, []).append(record_id)
        return waiting

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self._retry[direction].update((sobject, record_id) for record_id in record_ids)

    def clear_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self._retry[direction].difference_update((sobject, record_id) for record_id in record_ids)

    # ------------------------------------------------------------------ UserDirectory

    def save_users(self, users: Sequence[SalesforceUser]) -> None:
        self._users.update((user.id, user) for user in users)

    def users(self) -> dict[str, SalesforceUser]:
        return {user_id: self._users[user_id] for user_id in sorted(self._users)}

    # ------------------------------------------------------------------ AuditTrail

    def append_audit(self, records: Sequence[AuditRecord], retention_days: int) -> None:
        groups: dict[tuple[str, str, datetime, str, str], list[AuditRecord]] = {}
        for record in records:
            key = (record.prospect_id, record.run_id, record.at, record.crm_type, record.crm_id)
            groups.setdefault(key, []).append(record)
        for (prospect_id, run_id, at, _crm_type, _crm_id), group in groups.items():
            sequence = self._audit_sequence.get(run_id, 0)
            self._audit_sequence[run_id] = sequence + 1
            sort_key = f"{iso(at)}#{run_id}#{sequence:06d}"
            # One item per group, its entries kept as JSON text.
            entries = json_text(
                [
                    {
                        "event": r.event,
                        "field": r.field,
                        "side": r.side,
                        "old": r.old,
                        "new": r.new,
                        "rule": r.rule,
                    }
                    for r in group
                ]
            )
            self._audit.setdefault(prospect_id, []).extend(
                (
                    sort_key,
                    record._replace(at=instant(at), direction=Direction(record.direction), **entry),
                )
                for record, entry in zip(group, entries, strict=True)
            )
            self._audit[prospect_id].sort(key=lambda keyed: keyed[0])

    def audit_trail(self, prospect_id: str) -> list[AuditRecord]:
        return [record for _, record in self._audit.get(prospect_id, [])]

    # ------------------------------------------------------------------ ErrorList

    def record_errors(self, errors: Sequence[SyncError]) -> None:
        for error in errors:
            key = (error.sobject, error.record_id)
            earlier = self._errors[error.direction].get(key)
            self._errors[error.direction][key] = replace(
                error,
                failure=replace(error.failure, fields=tuple(error.failure.fields)),
                at=instant(error.at),
                attempts=(earlier.attempts if earlier else 0) + 1,
                # What the table keeps is the state; "exhausted" is read back from it.
                retries_exhausted=error.failure.retryable and error.retries_exhausted,
            )
            kept = self._errors[error.direction][key]
            listed = self._listed.get(kept.key)
            # A new failure keeps when the record first failed and drops what operators noted.
            self._listed[kept.key] = ListedError(
                error=kept,
                first_seen=listed.first_seen if listed is not None else kept.at,
                state=kept.state,
            )

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        for key in keys:
            gone = self._errors[direction].pop(key, None)
            if gone is not None:
                self._listed.pop(gone.key, None)

    def listed_errors(self, direction: Direction | None = None) -> list[ListedError]:
        return [replace(self._listed[error.key], error=error) for error in self.open_errors(direction)]

    def dismiss_errors(self, keys: Collection[str], reason: str, by: str, at: datetime) -> list[str]:
        notes = {"dismissed_reason": reason, "dismissed_by": by, "dismissed_at": instant(at)}
        return self._note(keys, ErrorState.DISMISSED, notes)

    def note_retry_requested(self, keys: Collection[str], by: str, at: datetime) -> list[str]:
        return self._note(
            keys, ErrorState.RETRYING, {"retry_requested_by": by, "retry_requested_at": instant(at)}
        )

    def _note(self, keys: Collection[str], state: ErrorState, notes: Mapping[str, Any]) -> list[str]:
        found = sorted(set(keys) & set(self._listed))
        for key in found:
            self._listed[key] = replace(self._listed[key], state=state, **notes)
        return found

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]:
        directions = [direction] if direction is not None else list(Direction)
        return [
            entries[key]
            for each in directions
            for entries in [self._errors[each]]
            for key in sorted(entries, key=lambda k: f"{k[0]}#{k[1]}")
        ]

    # ------------------------------------------------------------------ RunLog

    def save_run(self, summary: RunSummary) -> None:
        at = instant(summary.started_at)
        kept = replace(
            summary,
            started_at=at,
            finished_at=instant(summary.finished_at),
            counts={name: int(count) for name, count in summary.counts.items()},
            api_calls_by_kind={kind: int(count) for kind, count in summary.api_calls_by_kind.items()},
            errors={category: int(count) for category, count in summary.errors.items()},
            api_usage=None
            if summary.api_usage is None
            else ApiUsage(summary.api_usage.used, summary.api_usage.limit),
        )
        self._runs[summary.direction][f"{iso(at)}#{summary.run_id}"] = kept
        if summary.outcome.in_step:
            # The table's item of the last run saved that left its direction in step: the last
            # saved, not the last started.
            self._in_step[summary.direction] = kept

    def last_run(self, direction: Direction) -> RunSummary | None:
        runs = self._runs[direction]
        return runs[max(runs)] if runs else None

    def last_completed_run(self, direction: Direction) -> RunSummary | None:
        return self._in_step.get(direction)

    def recent_runs(self, direction: Direction, limit: int) -> list[RunSummary]:
        return list(reversed(self.runs(direction)))[:limit]

    def runs_between(self, direction: Direction, since: datetime, until: datetime) -> list[RunSummary]:
        low, high = iso(instant(since)), iso(instant(until))
        runs = self._runs[direction]
        return [runs[key] for key in sorted(runs) if low <= key <= high]

    def last_scheduled_start(self, name: str) -> datetime | None:
        return self._scheduled_starts.get(name)

    def save_scheduled_start(self, name: str, at: datetime) -> None:
        self._scheduled_starts[name] = instant(at)

    # ------------------------------------------------------------------ what a test reads

    def runs(self, direction: Direction) -> list[RunSummary]:
        """Every run summary kept, oldest first."""
        return [self._runs[direction][key] for key in sorted(self._runs[direction])]


class FakeStateStore:
    """The connector's state: paused until it is first resumed, as a new deployment is."""

    def __init__(self, *, paused: bool = True) -> None:
        self._paused: bool | None = None if paused else False
        self.config_version: int | None = None

    def connector_state(self) -> ConnectorState:
        return ConnectorState(paused=self._paused is not False, config_version=self.config_version)

    def set_paused(self, paused: bool) -> None:
        self._paused = paused


class FakeConfigStore:
    """The configuration in force and every version loaded; a save sets the connector's
    `config_version` in the same step, and a version never goes down."""

    def __init__(self, connector: FakeStateStore) -> None:
        self._connector = connector
        self._versions: dict[int, str] = {}
        self._current: int | None = None

    def current(self) -> Mapping[str, Any] | None:
        if self._current is None:
            return None
        document: dict[str, Any] = json.loads(self._versions[self._current])
        return document

    def check_fits(self, document: Mapping[str, Any]) -> None:
        self._text(document)

    def save(self, document: Mapping[str, Any]) -> int:
        version = _version_of(document)
        text = self._text(document)
        if self._current is not None and self._current >= version:
            raise StaleConfigurationVersion(offered=version, current=self._current)
        self._versions[version] = text
        self._current = version
        self._connector.config_version = version
        return version

    def history(self) -> list[int]:
        """The versions ever loaded, in order."""
        return sorted(self._versions)

    @staticmethod
    def _text(document: Mapping[str, Any]) -> str:
        text = json.dumps(dict(document), ensure_ascii=False)
        # The item holds the document and a few short attributes (key, version, saved_at).
        overhead = 100
        if len(text.encode()) + overhead > MAX_ITEM_BYTES:
            raise ConfigurationTooLarge(size=len(text.encode()), limit=MAX_ITEM_BYTES - overhead)
        return text


def _version_of(document: Mapping[str, Any]) -> int:
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigurationError(f"version: must be a whole number from 1, not {version!r}")
    return version
