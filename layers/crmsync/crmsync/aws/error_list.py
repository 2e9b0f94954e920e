"""`ErrorList` on the state table: the records that failed to sync, until they sync.

Access pattern (table keys `pk`, `sk`):
- error: `pk="error#<direction>"`, `sk="<sObject>#<record id>"` → `direction`, `sobject`,
  `record_id`, `operation`, `code`, `message`, `fields`, `category`, `state`, `prospect_id`
  (absent when the latest failure names none), `attempts` (counted up at every report),
  `first_at`, `last_at`. At most one entry per record and direction: a report is one
  `UpdateItem` that overwrites the failure and keeps `first_at`. Listed with one query per
  direction; no TTL (an open error never vanishes on its own).

Resolving reads before it deletes: the keys asked are read consistently with `BatchGetItem`
(keys only, one read unit each) and only the entries found are deleted (`BatchWriteItem`). A
delete costs a write unit even when there is nothing to delete, and most records a run resolves
have no entry: an automation action resolves both kinds of record it may have failed as.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from crmsync.aws.dynamo_table import DynamoTable, Expression, assignments, key_equals
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.domain.audit import Direction, ErrorState, SyncError
from crmsync.domain.errors import RETRYABLE_CATEGORIES, ErrorCategory, Failure


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
            if error.prospect_id is None:
                # The entry describes the latest failure: no prospect of an earlier one lingers.
                update += " REMOVE #prospect_id"
                names["#prospect_id"] = "prospect_id"
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
            for item in self._table.query(key_equals("pk", f"error#{each}"))
        ]


def _key(direction: Direction, sobject: str, record_id: str) -> dict[str, str]:
    return {"pk": f"error#{direction}", "sk": f"{sobject}#{record_id}"}
