"""`RunLog` on the state table: the runs that went ahead, and when each schedule last started one.

Access patterns (table keys `pk`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- run: `pk="run#<direction>"`, `sk="<ISO started_at>#<run id>"` → the `RunSummary`
  (`direction`, `run_id`, `started_at`, `finished_at`, `outcome`, `counts`, `api_calls`),
  `expires_at` = start + 90 days. The last run is a query newest first, limit 1.
- scheduled start: `pk="schedule"`, `sk=<run name>` → `started_at`: when the last scheduled run
  that went ahead started; the configuration's interval counts from it. No TTL.
Instants are ISO-8601 in UTC with microseconds, so the runs' sort keys sort in time order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crmsync.aws.dynamo_table import DynamoTable, key_equals
from crmsync.aws.dynamo_values import epoch_seconds, iso, parse_iso
from crmsync.domain.audit import Direction
from crmsync.ports import RunOutcome, RunSummary

RUN_RETENTION = timedelta(days=90)
SCHEDULE_PARTITION = "schedule"


class DynamoRunLog:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def save_run(self, summary: RunSummary) -> None:
        self._table.put(
            {
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
        )

    def last_run(self, direction: Direction) -> RunSummary | None:
        newest = self._table.query(key_equals("pk", f"run#{direction}"), newest_first=True, limit=1)
        if not newest:
            return None
        item = newest[0]
        return RunSummary(
            direction=Direction(item["direction"]),
            run_id=item["run_id"],
            started_at=parse_iso(item["started_at"]),
            finished_at=parse_iso(item["finished_at"]),
            outcome=RunOutcome(item["outcome"]),
            counts={name: int(count) for name, count in item.get("counts", {}).items()},
            api_calls=int(item.get("api_calls", 0)),
        )

    def last_scheduled_start(self, name: str) -> datetime | None:
        item = self._table.get({"pk": SCHEDULE_PARTITION, "sk": name})
        return None if item is None else parse_iso(item["started_at"])

    def save_scheduled_start(self, name: str, at: datetime) -> None:
        self._table.put({"pk": SCHEDULE_PARTITION, "sk": name, "started_at": iso(at)})
