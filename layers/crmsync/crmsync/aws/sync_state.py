"""The runs' bookkeeping on the state table (`Leases`, `Watermarks`, `RetryList`, `UserDirectory`,
`AuditTrail`, `ErrorList` and `RunLog`, one adapter for them all): what the runs keep between them.

Access patterns (table keys `pk`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- lease: `pk="lease"`, `sk=<name>` → `holder`, `lease_until` (epoch seconds),
  `expires_at` = `lease_until` + 1 day. Taken with one conditional put that succeeds only when
  no lease is there, it has expired (`lease_until < now`) or the holder already has it (a
  renewal); released with a delete that happens only if the holder still has it.
- watermark: `pk="watermark"`, `sk=<key>` → `stamp` (ISO-8601, microseconds kept), `last_id`.
- records to retry: `pk="retry#<direction>"`, `sk="<sObject>#<record id>"` → `sobject`,
  `record_id`; one query per direction reads them all.
- Salesforce users: `pk="users"`, `sk=<user id>` → `email`, `name`, `active`.
- audit trail: `pk="audit#<prospect id>"`, `sk="<ISO at>#<run id>#<sequence, 6 digits>"`, one item
  per prospect, record and run, its `entries` a JSON list of events and field writes → every
  `AuditRecord` field, `expires_at` = `at` + the retention. The sort key keeps a prospect's
  entries in the order they happened, and in the order a run appended them. Written 100 items
  to a `TransactWriteItems` call (fewer calls; two write units an item).
- error list: `pk="error#<direction>"`, `sk="<sObject>#<record id>"` → `code`, `message`,
  `fields`, `category`, `operation`, `prospect_id`, `attempts` (counted up at every report),
  `first_at`, `last_at`, `state`. At most one entry per record and direction.
- runs: `pk="run#<direction>"`, `sk="<ISO started_at>#<run id>"` → the `RunSummary` (its
  `errors` by category, and `api_used`/`api_limit` when the run heard from Salesforce),
  `expires_at` = start + 90 days. The last run is a query newest first, limit 1; the runs of a
  period (the health report) one query on the sort key's range.
- last run that left a direction in step: `pk="run_in_step"`, `sk=<direction>` → the same
  attributes, no TTL; written beside the run's item in one `BatchWriteItem` when the run
  completed or found nothing to do, so the lag since it is one `GetItem` however many runs
  went over budget since.
- scheduled starts: `pk="schedule"`, `sk=<run name>` → `started_at`: when the last scheduled run
  that went ahead started; the configuration's interval counts from it. No TTL.

Reads that decide what a run does (lease, watermark, records to retry, users) are consistent.
Instants are ISO-8601 in UTC with microseconds, so sort keys built on them sort in time order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from crmsync.aws.dynamo_table import (
    DYNAMO_RETRY,
    ConditionFailed,
    DynamoTable,
    Expression,
    TransactionUnit,
    assignments,
    epoch_seconds,
    iso,
    parse_iso,
)
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.errors import RETRYABLE_CATEGORIES, ErrorCategory, Failure
from crmsync.domain.records import ApiUsage, Watermark
from crmsync.domain.retry import RetryPolicy
from crmsync.ports import RunOutcome, RunSummary, SalesforceUser

EXPIRED_LEASE_KEPT = timedelta(days=1)
"""How long an expired lease item stays before DynamoDB's TTL removes it (kept for operators)."""
RUN_RETENTION = timedelta(days=90)
RUN_IN_STEP = "run_in_step"
_SEQUENCE_DIGITS = 6
_ENTRIES_JSON = json.JSONEncoder(separators=(",", ":"), default=str)
_REMEMBERED_RUNS = 16


class DynamoSyncState:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        retry: RetryPolicy = DYNAMO_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = DynamoTable(client, table_name, ("pk", "sk"), retry=retry, sleep=sleep)
        # Audit entries of one run often share their instant, so a sequence per run tells them
        # apart and keeps them in order across the run's calls (a run lives in one container).
        self._audit_sequence: dict[str, int] = {}

    # ------------------------------------------------------------------ leases

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        lease_until = epoch_seconds(until)
        try:
            self._table.put(
                {
                    "pk": "lease",
                    "sk": name,
                    "holder": holder,
                    "lease_until": lease_until,
                    "expires_at": lease_until + int(EXPIRED_LEASE_KEPT.total_seconds()),
                },
                Expression(
                    "attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
                    values={":now": int(now.timestamp()), ":holder": holder},
                ),
            )
        except ConditionFailed:
            return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        # A lease that expired and was taken by another run is theirs to release: not an error.
        with suppress(ConditionFailed):
            self._table.delete(
                {"pk": "lease", "sk": name}, Expression("holder = :holder", values={":holder": holder})
            )

    # ------------------------------------------------------------------ watermarks

    def watermark(self, key: str) -> Watermark | None:
        item = self._table.get({"pk": "watermark", "sk": key})
        if item is None:
            return None
        return Watermark(stamp=parse_iso(item["stamp"]), last_id=item.get("last_id", ""))

    def save_watermark(self, key: str, watermark: Watermark) -> None:
        self._table.put(
            {"pk": "watermark", "sk": key, "stamp": iso(watermark.stamp), "last_id": watermark.last_id}
        )

    # ------------------------------------------------------------------ records to retry

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        waiting: dict[str, list[str]] = {}
        for item in self._table.query(_partition(f"retry#{direction}"), consistent=True):
            waiting.setdefault(item["sobject"], []).append(item["record_id"])
        return waiting

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self._table.write_many(
            puts=[
                {
                    "pk": f"retry#{direction}",
                    "sk": f"{sobject}#{record_id}",
                    "sobject": sobject,
                    "record_id": record_id,
                }
                for record_id in sorted(set(record_ids))
            ]
        )

    def clear_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self._table.write_many(
            deletes=[
                {"pk": f"retry#{direction}", "sk": f"{sobject}#{record_id}"}
                for record_id in sorted(set(record_ids))
            ]
        )

    # ------------------------------------------------------------------ users

    def save_users(self, users: Sequence[SalesforceUser]) -> None:
        latest = {user.id: user for user in users}  # one write per user, the last one given
        self._table.write_many(
            puts=[
                {"pk": "users", "sk": user.id, "email": user.email, "name": user.name, "active": user.active}
                for user in latest.values()
            ]
        )

    def users(self) -> dict[str, SalesforceUser]:
        return {
            item["sk"]: SalesforceUser(
                id=item["sk"],
                email=item.get("email"),
                name=item.get("name", ""),
                active=bool(item.get("active", True)),
            )
            for item in self._table.query(_partition("users"), consistent=True)
        }

    # ------------------------------------------------------------------ audit trail

    def append_audit(self, records: Sequence[AuditRecord], retention_days: int) -> None:
        """One item per prospect, record and run: what a run did to a prospect (its events and
        every field it wrote) is read together, and costs one write, not one per field."""
        retention = timedelta(days=retention_days)
        groups: dict[tuple[str, str, datetime, str, str], list[AuditRecord]] = {}
        for record in records:
            key = (record.prospect_id, record.run_id, record.at, record.crm_type, record.crm_id)
            groups.setdefault(key, []).append(record)
        items = [
            {
                "pk": f"audit#{prospect_id}",
                "sk": f"{iso(at)}#{run_id}#{self._next_sequence(run_id):0{_SEQUENCE_DIGITS}d}",
                "prospect_id": prospect_id,
                "at": iso(at),
                "run_id": run_id,
                "direction": group[0].direction.value,
                "crm_type": crm_type,
                "crm_id": crm_id,
                # JSON text: read whole, never queried into, and far cheaper to write than a
                # typed list of maps.
                "entries": _ENTRIES_JSON.encode(
                    [
                        {
                            "event": record.event,
                            "field": record.field,
                            "side": record.side,
                            "old": record.old,
                            "new": record.new,
                            "rule": record.rule,
                        }
                        for record in group
                    ]
                ),
                "expires_at": epoch_seconds(at + retention),
            }
            for (prospect_id, run_id, at, crm_type, crm_id), group in groups.items()
        ]
        # A hundred items a transaction rather than 25 a `BatchWriteItem`: a run writes an
        # audit item per record, and botocore's own cost of a call outweighs its items'. The
        # price is two write units per item instead of one.
        self._table.transact([TransactionUnit(item["sk"], [self._table.put_write(item)]) for item in items])

    def audit_trail(self, prospect_id: str) -> list[AuditRecord]:
        return [
            AuditRecord(
                prospect_id=item["prospect_id"],
                at=parse_iso(item["at"]),
                run_id=item["run_id"],
                direction=Direction(item["direction"]),
                crm_type=item["crm_type"],
                crm_id=item["crm_id"],
                event=entry["event"],
                field=entry.get("field"),
                side=entry.get("side"),
                old=entry.get("old"),
                new=entry.get("new"),
                rule=entry.get("rule"),
            )
            for item in self._table.query(_partition(f"audit#{prospect_id}"))
            for entry in json.loads(item["entries"])
        ]

    def _next_sequence(self, run_id: str) -> int:
        if run_id not in self._audit_sequence and len(self._audit_sequence) >= _REMEMBERED_RUNS:
            del self._audit_sequence[next(iter(self._audit_sequence))]  # the oldest run is over
        sequence = self._audit_sequence.get(run_id, 0)
        self._audit_sequence[run_id] = sequence + 1
        return sequence

    # ------------------------------------------------------------------ error list

    def record_errors(self, errors: Sequence[SyncError]) -> None:
        for error in errors:
            failure = error.failure
            assigned = assignments(
                {
                    "direction": error.direction.value,
                    "sobject": error.sobject,
                    "record_id": error.record_id,
                    "operation": error.operation,
                    "code": failure.code,
                    "message": failure.message,
                    "fields": list(failure.fields),
                    "category": failure.category.value,
                    "state": error.state.value,
                    "last_at": iso(error.at),
                    **({"prospect_id": error.prospect_id} if error.prospect_id is not None else {}),
                }
            )
            update = f"SET {assigned.text}, #first_at = if_not_exists(#first_at, :at) ADD #attempts :one"
            names = {**(assigned.names or {}), "#first_at": "first_at", "#attempts": "attempts"}
            if error.prospect_id is None:
                # The entry describes the latest failure: no prospect of an earlier one lingers.
                update += " REMOVE #prospect_id"
                names["#prospect_id"] = "prospect_id"
            self._table.update(
                {"pk": f"error#{error.direction}", "sk": f"{error.sobject}#{error.record_id}"},
                Expression(update, names, {**(assigned.values or {}), ":at": iso(error.at), ":one": 1}),
            )

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        self._table.write_many(
            deletes=[
                {"pk": f"error#{direction}", "sk": f"{sobject}#{record_id}"}
                for sobject, record_id in sorted(set(keys))
            ]
        )

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]:
        directions = [direction] if direction is not None else list(Direction)
        return [
            SyncError(
                direction=Direction(item["direction"]),
                operation=item["operation"],
                sobject=item["sobject"],
                record_id=item["record_id"],
                failure=Failure(
                    code=item["code"],
                    message=item["message"],
                    fields=tuple(item.get("fields", ())),
                    category=ErrorCategory(item["category"]),
                ),
                at=parse_iso(item["last_at"]),
                prospect_id=item.get("prospect_id"),
                attempts=int(item["attempts"]),
                retries_exhausted=item.get("state") == ErrorState.OPEN
                and ErrorCategory(item["category"]) in RETRYABLE_CATEGORIES,
            )
            for each in directions
            for item in self._table.query(_partition(f"error#{each}"))
        ]

    # ------------------------------------------------------------------ runs

    def save_run(self, summary: RunSummary) -> None:
        item = {
            "pk": f"run#{summary.direction}",
            "sk": f"{iso(summary.started_at)}#{summary.run_id}",
            "direction": summary.direction.value,
            "run_id": summary.run_id,
            "started_at": iso(summary.started_at),
            "finished_at": iso(summary.finished_at),
            "outcome": summary.outcome.value,
            "counts": dict(summary.counts),
            "api_calls": summary.api_calls,
            "expires_at": epoch_seconds(summary.started_at + RUN_RETENTION),
        }
        if summary.errors:
            item["errors"] = dict(summary.errors)
        if summary.api_usage is not None:
            item["api_used"] = summary.api_usage.used
            item["api_limit"] = summary.api_usage.limit
        if not summary.outcome.in_step:
            self._table.put(item)
            return
        in_step = {key: value for key, value in item.items() if key != "expires_at"}
        self._table.write_many(puts=[item, {**in_step, "pk": RUN_IN_STEP, "sk": summary.direction.value}])

    def last_run(self, direction: Direction) -> RunSummary | None:
        newest = self._table.query(_partition(f"run#{direction}"), newest_first=True, limit=1)
        return _run_summary(newest[0]) if newest else None

    def last_completed_run(self, direction: Direction) -> RunSummary | None:
        item = self._table.get({"pk": RUN_IN_STEP, "sk": direction.value}, consistent=False)
        return None if item is None else _run_summary(item)

    def runs_between(self, direction: Direction, since: datetime, until: datetime) -> list[RunSummary]:
        # A sort key is its run's start instant, "#" and the run id: it sorts after the bare
        # instant, so BETWEEN takes the runs that started at `since` and leaves those that
        # started at `until` out.
        period = Expression(
            "pk = :pk AND sk BETWEEN :since AND :until",
            values={":pk": f"run#{direction}", ":since": iso(since), ":until": iso(until)},
        )
        return [_run_summary(item) for item in self._table.query(period)]

    # ------------------------------------------------------------------ scheduled starts

    def last_scheduled_start(self, name: str) -> datetime | None:
        item = self._table.get({"pk": "schedule", "sk": name})
        return None if item is None else parse_iso(item["started_at"])

    def save_scheduled_start(self, name: str, at: datetime) -> None:
        self._table.put({"pk": "schedule", "sk": name, "started_at": iso(at)})


def _run_summary(item: Mapping[str, Any]) -> RunSummary:
    used, limit = item.get("api_used"), item.get("api_limit")
    return RunSummary(
        direction=Direction(item["direction"]),
        run_id=item["run_id"],
        started_at=parse_iso(item["started_at"]),
        finished_at=parse_iso(item["finished_at"]),
        outcome=RunOutcome(item["outcome"]),
        counts={name: int(count) for name, count in item.get("counts", {}).items()},
        api_calls=int(item.get("api_calls", 0)),
        errors={category: int(count) for category, count in item.get("errors", {}).items()},
        api_usage=None if used is None or limit is None else ApiUsage(int(used), int(limit)),
    )


def _partition(pk: str) -> Expression:
    return Expression("pk = :pk", values={":pk": pk})
