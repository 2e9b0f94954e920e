"""`AuditTrail` on the state table: what happened to each prospect, kept for the retention.

Access pattern (table keys `pk`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- audit item: `pk="audit#<prospect id>"`, `sk="<ISO at>#<run id>#<sequence, 6 digits>"`, one
  item per prospect, record and run → `direction`, `crm_type`, `crm_id`, `entries` (JSON text:
  a list of the run's events and field writes for that record, each `[event, field, side, old,
  new, rule]` with the trailing empty ones left out), `expires_at` = `at` + the retention. The
  sort key keeps a prospect's items in the order they happened, and in the order a run appended
  them (the sequence counts per run, across its calls: a run lives in one container). One query
  per prospect reads its trail.

Written with `BatchWriteItem`, 25 items a call: one write unit per KB of an item, where a
transaction costs two. Each item's key is fixed before the first attempt, so the items
DynamoDB leaves unprocessed are sent again as they were and land once.

Items written before this layout also hold `prospect_id`, `at` and `run_id` (now read from the
key) and their entries as objects (`{"event": ..., "field": ..., ...}`); both read the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, key_equals
from crmsync.aws.dynamo_values import epoch_seconds, iso, parse_iso
from crmsync.domain.audit import AuditRecord, Direction

PREFIX = "audit#"
_SEQUENCE_DIGITS = 6
# ASCII (the default): a value holding half a surrogate pair still makes a valid item.
_ENTRIES_JSON = json.JSONEncoder(separators=(",", ":"), default=str)
_ENTRY_FIELDS = ("event", "field", "side", "old", "new", "rule")
_REMEMBERED_RUNS = 16


class DynamoAuditTrail:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table
        # Audit items of one run often share their instant, so a sequence per run tells them
        # apart and keeps them in order across the run's calls.
        self._sequence: dict[str, int] = {}

    def append_audit(self, records: Sequence[AuditRecord], retention_days: int) -> None:
        """One item per prospect, record and run: what a run did to a prospect (its events and
        every field it wrote) is read together, and costs one write, not one per field."""
        retention = timedelta(days=retention_days)
        groups: dict[tuple[str, str, datetime, str, str], list[AuditRecord]] = {}
        for record in records:
            key = (record.prospect_id, record.run_id, record.at, record.crm_type, record.crm_id)
            groups.setdefault(key, []).append(record)
        self._table.write_many(
            puts=[
                {
                    "pk": PREFIX + prospect_id,
                    "sk": f"{iso(at)}#{run_id}#{self._next_sequence(run_id):0{_SEQUENCE_DIGITS}d}",
                    "direction": group[0].direction.value,
                    "crm_type": crm_type,
                    "crm_id": crm_id,
                    # JSON text: read whole, never queried into, and far cheaper to write than
                    # a typed list of maps.
                    "entries": _ENTRIES_JSON.encode([_entry(record) for record in group]),
                    "expires_at": epoch_seconds(at + retention),
                }
                for (prospect_id, run_id, at, crm_type, crm_id), group in groups.items()
            ]
        )

    def audit_trail(self, prospect_id: str) -> list[AuditRecord]:
        trail: list[AuditRecord] = []
        for item in self._table.query(key_equals("pk", PREFIX + prospect_id)):
            at, run_id = _at_and_run(item)
            about = {
                "prospect_id": prospect_id,
                "at": parse_iso(at),
                "run_id": run_id,
                "direction": Direction(item["direction"]),
                "crm_type": item["crm_type"],
                "crm_id": item["crm_id"],
            }
            for entry in json.loads(item["entries"]):
                values = dict(zip(_ENTRY_FIELDS, entry, strict=False)) if isinstance(entry, list) else entry
                trail.append(
                    AuditRecord(
                        **about,
                        event=values["event"],
                        field=values.get("field"),
                        side=values.get("side"),
                        old=values.get("old"),
                        new=values.get("new"),
                        rule=values.get("rule"),
                    )
                )
        return trail

    def _next_sequence(self, run_id: str) -> int:
        if run_id not in self._sequence and len(self._sequence) >= _REMEMBERED_RUNS:
            del self._sequence[next(iter(self._sequence))]  # the oldest run is over
        sequence = self._sequence.get(run_id, 0)
        self._sequence[run_id] = sequence + 1
        return sequence


def _entry(record: AuditRecord) -> list[Any]:
    entry = [record.event, record.field, record.side, record.old, record.new, record.rule]
    while len(entry) > 1 and entry[-1] is None:
        entry.pop()
    return entry


def _at_and_run(item: dict[str, Any]) -> tuple[str, str]:
    """The instant and run of an item: from its sort key (`<ISO at>#<run id>#<sequence>`)."""
    if "at" in item and "run_id" in item:
        return item["at"], item["run_id"]
    at, _, rest = item["sk"].partition("#")
    return at, rest.rpartition("#")[0]
