"""`ErrorList` on the state table: the records that failed to sync, until they sync.

Access pattern (table keys `pk`, `sk`):
- error: `pk="error#<direction>"`, `sk="<sObject>#<record id>"` → `direction`, `sobject`,
  `record_id`, `operation`, `code`, `message`, `fields`, `category`, `state`, `prospect_id`
  (absent when the latest failure names none), `attempts` (counted up at every report),
  `first_at`, `last_at`, and what operators did: `dismissed_reason`, `dismissed_by`,
  `dismissed_at`, `retry_requested_by`, `retry_requested_at`. At most one entry per record and
  direction: a report is one `UpdateItem` that overwrites the failure, keeps `first_at`, and
  removes what operators noted (it was about an earlier failure; a dismissed entry is open
  again). Listed with one query per direction; no TTL (an open error never vanishes on its
  own).

Operators' lists (by category, object, age: `sync/error_actions.py`) read a direction's
partition, one query a megabyte of entries, and filter it in memory: a category cannot be in
the key, since a record's entry keeps its key while its failure changes, and the list is small
next to the records (a failing record has one entry however often it fails). Dismissing or
asking a retry is one conditional `UpdateItem` per entry (`attribute_exists(pk)`: a key not
listed is answered as not found).

Resolving reads before it deletes: the keys asked are read consistently with `BatchGetItem`
(keys only, one read unit each) and only the entries found are deleted (`BatchWriteItem`). A
delete costs a write unit even when there is nothing to delete, and most records a run resolves
have no entry: an automation action resolves both kinds of record it may have failed as.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from crmsync.aws.dynamo_table import ConditionFailed, DynamoTable, Expression, assignments, key_equals
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.domain.audit import Direction, ErrorState, SyncError
from crmsync.domain.errors import RETRYABLE_CATEGORIES, ErrorCategory, Failure
from crmsync.ports import ListedError

OPERATOR_NOTES = (
    "dismissed_reason",
    "dismissed_by",
    "dismissed_at",
    "retry_requested_by",
    "retry_requested_at",
)
"""What operators noted on an entry; a new failure of the record removes it."""


class DynamoErrorList:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

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
            # The entry describes the latest failure: no prospect of an earlier one lingers, and
            # a dismissal or retry request was about an earlier one.
            removed = [*OPERATOR_NOTES, *(["prospect_id"] if error.prospect_id is None else [])]
            update += " REMOVE " + ", ".join(f"#{name}" for name in removed)
            names.update({f"#{name}": name for name in removed})
            self._table.update(
                _key(error.direction, error.sobject, error.record_id),
                Expression(update, names, {**(assigned.values or {}), ":at": iso(error.at), ":one": 1}),
            )

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        asked = [_key(direction, sobject, record_id) for sobject, record_id in sorted(set(keys))]
        if not asked:
            return
        listed = self._table.get_many(asked, attributes=("pk", "sk"))
        if listed:
            self._table.write_many(deletes=[{"pk": item["pk"], "sk": item["sk"]} for item in listed])

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]:
        return [_sync_error(item) for item in self._items(direction)]

    def listed_errors(self, direction: Direction | None = None) -> list[ListedError]:
        return [
            ListedError(
                error=_sync_error(item),
                first_seen=parse_iso(item.get("first_at", item["last_at"])),
                state=ErrorState(item.get("state", ErrorState.OPEN)),
                dismissed_reason=item.get("dismissed_reason"),
                dismissed_by=item.get("dismissed_by"),
                dismissed_at=_instant(item.get("dismissed_at")),
                retry_requested_by=item.get("retry_requested_by"),
                retry_requested_at=_instant(item.get("retry_requested_at")),
            )
            for item in self._items(direction)
        ]

    def dismiss_errors(self, keys: Collection[str], reason: str, by: str, at: datetime) -> list[str]:
        noted = {"dismissed_reason": reason, "dismissed_by": by, "dismissed_at": iso(at)}
        return self._note(keys, {"state": ErrorState.DISMISSED.value, **noted})

    def note_retry_requested(self, keys: Collection[str], by: str, at: datetime) -> list[str]:
        noted = {"retry_requested_by": by, "retry_requested_at": iso(at)}
        return self._note(keys, {"state": ErrorState.RETRYING.value, **noted})

    def _note(self, keys: Collection[str], values: Mapping[str, Any]) -> list[str]:
        found: list[str] = []
        assigned = assignments(dict(values))
        for key in sorted(set(keys)):
            item_key = _item_key(key)
            if item_key is None:
                continue
            with suppress(ConditionFailed):
                self._table.update(
                    item_key,
                    Expression(f"SET {assigned.text}", assigned.names, assigned.values),
                    Expression("attribute_exists(pk)"),
                )
                found.append(key)
        return found

    def _items(self, direction: Direction | None) -> list[dict[str, Any]]:
        directions = [direction] if direction is not None else list(Direction)
        return [item for each in directions for item in self._table.query(key_equals("pk", f"error#{each}"))]


def _sync_error(item: Mapping[str, Any]) -> SyncError:
    return SyncError(
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


def _item_key(key: str) -> dict[str, str] | None:
    """The item key of an entry's `SyncError.key` (None: no key of the error list)."""
    direction, _, rest = key.partition("#")
    if direction not in {each.value for each in Direction} or "#" not in rest:
        return None
    return {"pk": f"error#{direction}", "sk": rest}


def _instant(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def _key(direction: Direction, sobject: str, record_id: str) -> dict[str, str]:
    return {"pk": f"error#{direction}", "sk": f"{sobject}#{record_id}"}
