"""`PendingChanges` on the state table: the prospects waiting for the next inbound run.

Access pattern: `pk="inbound#pending"`, `sk=<prospect id>` → `version` (the prospect version
change capture saw last), `noted_at` (ISO-8601). One item per waiting prospect however often
it changed. Written by change capture with `BatchWriteItem` (a later version overwrites an
earlier one: the stream delivers an item's changes in order), read by the inbound run with a
consistent query in prospect id order, and removed once sent with a conditional delete
(`version <= :sent`) in transactions of up to 100: a change noted while the run was sending
the earlier one keeps its item, so it is never lost.

Changes found late (a failed stream batch read back, reconciliation) may be older than what
change capture noted since: they are put only where no item, or an older one, waits
(`attribute_not_exists(version) OR version < :version`), in transactions of up to 100, so an
earlier version never replaces a later one a run is about to compare with. Most of them wait
already (reconciliation meets every prospect changed since the last run): those are read first
(`BatchGetItem`, consistent) and left out, as reads cost less than refused conditional writes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, Expression, TransactionUnit
from crmsync.aws.dynamo_values import iso, utc_now
from crmsync.ports import PendingChange

PENDING_PARTITION = "inbound#pending"


class DynamoPendingChanges:
    def __init__(self, table: DynamoTable, *, now: Callable[[], datetime] = utc_now) -> None:
        self._table = table
        self._now = now

    def add(self, changes: Sequence[PendingChange]) -> None:
        noted_at = iso(self._now())
        self._table.write_many(
            {
                "pk": PENDING_PARTITION,
                "sk": change.prospect_id,
                "version": change.version,
                "noted_at": noted_at,
            }
            for change in _latest(changes)
        )

    def versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        items = self._table.get_many(
            ({"pk": PENDING_PARTITION, "sk": prospect_id} for prospect_id in prospect_ids),
            attributes=("sk", "version"),
        )
        return {item["sk"]: int(item.get("version", 0)) for item in items}

    def add_unless_newer(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        latest = _latest(changes)
        waiting = self.versions([change.prospect_id for change in latest])
        noted_at = iso(self._now())
        units = [
            TransactionUnit(
                change,
                [
                    self._table.put_write(
                        {
                            "pk": PENDING_PARTITION,
                            "sk": change.prospect_id,
                            "version": change.version,
                            "noted_at": noted_at,
                        },
                        Expression(
                            "attribute_not_exists(version) OR version < :version",
                            values={":version": change.version},
                        ),
                    )
                ],
            )
            for change in latest
            if waiting.get(change.prospect_id, -1) < change.version
        ]
        # Refused units are those the same or a later version waits for since the read.
        refused = {id(change) for change in self._table.transact(units)}
        return [unit.change for unit in units if id(unit.change) not in refused]

    def count(self, at_most: int) -> int:
        return self._table.count(
            Expression("pk = :pk", values={":pk": PENDING_PARTITION}), at_most=at_most, consistent=True
        )

    def waiting(self, limit: int, after: str | None = None) -> list[PendingChange]:
        return [PendingChange(item["sk"], int(item.get("version", 0))) for item in self._query(limit, after)]

    def done(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        units = [
            TransactionUnit(
                change,
                [
                    self._table.delete_write(
                        {"pk": PENDING_PARTITION, "sk": change.prospect_id},
                        Expression(
                            "attribute_not_exists(version) OR version <= :sent",
                            values={":sent": change.version},
                        ),
                    )
                ],
            )
            for change in {c.prospect_id: c for c in changes}.values()
        ]
        return self._table.transact(units) if units else []

    def _query(self, limit: int, after: str | None) -> list[dict[str, Any]]:
        if after is None:
            condition = Expression("pk = :pk", values={":pk": PENDING_PARTITION})
        else:
            condition = Expression(
                "pk = :pk AND sk > :after", values={":pk": PENDING_PARTITION, ":after": after}
            )
        return self._table.query(condition, consistent=True, limit=limit)


def _latest(changes: Sequence[PendingChange]) -> list[PendingChange]:
    """One change per prospect, its latest version."""
    latest: dict[str, int] = {}
    for change in changes:
        latest[change.prospect_id] = max(change.version, latest.get(change.prospect_id, change.version))
    return [PendingChange(prospect_id, version) for prospect_id, version in latest.items()]
