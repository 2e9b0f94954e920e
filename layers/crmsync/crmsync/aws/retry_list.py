"""`RetryList` on the state table: records a run could not apply and the next reads again.

Access pattern (table keys `pk`, `sk`):
- record to retry: `pk="retry#<direction>"`, `sk="<sObject>#<record id>"` → `sobject`,
  `record_id`. One consistent query per direction reads them all; marked and cleared with
  `BatchWriteItem` (puts and deletes of whole keys: the same record marked twice is one item).
"""

from __future__ import annotations

from collections.abc import Collection

from crmsync.aws.dynamo_table import DynamoTable, key_equals
from crmsync.domain.audit import Direction


class DynamoRetryList:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        waiting: dict[str, list[str]] = {}
        for item in self._table.query(key_equals("pk", _partition(direction)), consistent=True):
            waiting.setdefault(item["sobject"], []).append(item["record_id"])
        return waiting

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self._table.write_many(
            puts=[
                {
                    "pk": _partition(direction),
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
                {"pk": _partition(direction), "sk": f"{sobject}#{record_id}"}
                for record_id in sorted(set(record_ids))
            ]
        )


def _partition(direction: Direction) -> str:
    return f"retry#{direction}"
