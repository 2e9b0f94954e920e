"""`Watermarks` on the state table: where each read got to.

Access pattern (table keys `pk`, `sk`):
- watermark: `pk="watermark"`, `sk=<key>` → `stamp` (ISO-8601 in UTC, microseconds kept),
  `last_id`. One consistent `GetItem` to read, one `PutItem` to move it. The keys are the
  runs': `outbound#<sObject>` (Salesforce's `(SystemModstamp, Id)`), and the cursors of
  reconciliation and of the activities' link check.
"""

from __future__ import annotations

from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.domain.records import Watermark

PARTITION = "watermark"


class DynamoWatermarks:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def watermark(self, key: str) -> Watermark | None:
        item = self._table.get({"pk": PARTITION, "sk": key})
        if item is None:
            return None
        return Watermark(stamp=parse_iso(item["stamp"]), last_id=item.get("last_id", ""))

    def save_watermark(self, key: str, watermark: Watermark) -> None:
        self._table.put(
            {"pk": PARTITION, "sk": key, "stamp": iso(watermark.stamp), "last_id": watermark.last_id}
        )
