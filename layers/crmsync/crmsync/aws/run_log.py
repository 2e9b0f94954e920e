"""`RunLog` on the state table: the runs that went ahead, and when each schedule last started one.

Access patterns (table keys `pk`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- run: `pk="run#<direction>"`, `sk="<ISO started_at>#<run id>"` → the `RunSummary`
  (`direction`, `run_id`, `started_at`, `finished_at`, `outcome`, `counts`, `api_calls`,
  `api_calls_by_kind`; its `errors` by category, and `api_used`/`api_limit` when the run heard
  from Salesforce), `expires_at` = start + 90 days. The last runs are a query newest first
  (limit 1 for the last, `GET /runs` a few); the runs of a period (the health report) one
  query on the sort key's range.
- last run that left a direction in step: `pk="run_in_step"`, `sk=<direction>` → the same
  attributes, no TTL; written beside the run's item in one `BatchWriteItem` when the run
  completed or found nothing to do, so the lag since it is one `GetItem` however many runs
  went over budget or failed since.
- scheduled start: `pk="schedule"`, `sk=<run name>` → `started_at`: when the last scheduled run
  that went ahead started; the configuration's interval counts from it. No TTL.
Instants are ISO-8601 in UTC with microseconds, so the runs' sort keys sort in time order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, Expression, key_equals
from crmsync.aws.dynamo_values import epoch_seconds, iso, parse_iso
from crmsync.domain.audit import Direction
from crmsync.domain.records import ApiUsage
from crmsync.ports import RunOutcome, RunSummary

RUN_RETENTION = timedelta(days=90)
SCHEDULE_PARTITION = "schedule"
IN_STEP_PARTITION = "run_in_step"


class DynamoRunLog:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def save_run(self, summary: RunSummary) -> None:
        item: dict[str, Any] = {
            "pk": f"run#{summary.direction}",
            "sk": f"{iso(summary.started_at)}#{summary.run_id}",
            "direction": summary.direction.value,
            "run_id": summary.run_id,
            "started_at": iso(summary.started_at),
            "finished_at": iso(summary.finished_at),
            "outcome": summary.outcome.value,
            "counts": dict(summary.counts),
            "api_calls": summary.api_calls,
            "api_calls_by_kind": dict(summary.api_calls_by_kind),
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
        self._table.write_many(
            puts=[item, {**in_step, "pk": IN_STEP_PARTITION, "sk": summary.direction.value}]
        )

    def last_run(self, direction: Direction) -> RunSummary | None:
        newest = self.recent_runs(direction, 1)
        return newest[0] if newest else None

    def recent_runs(self, direction: Direction, limit: int) -> list[RunSummary]:
        newest = self._table.query(key_equals("pk", f"run#{direction}"), newest_first=True, limit=limit)
        return [_run_summary(item) for item in newest]

    def last_completed_run(self, direction: Direction) -> RunSummary | None:
        item = self._table.get({"pk": IN_STEP_PARTITION, "sk": direction.value}, consistent=False)
        return None if item is None else _run_summary(item)

    def runs_between(self, direction: Direction, since: datetime, until: datetime) -> list[RunSummary]:
        # A sort key is its run's start instant, "#" and the run id: it sorts after the bare
        # instant, so BETWEEN takes the runs that started at `since` and leaves those that
        # started at `until` out.
        period = Expression(
            "#pk = :pk AND #sk BETWEEN :since AND :until",
            {"#pk": "pk", "#sk": "sk"},
            {":pk": f"run#{direction}", ":since": iso(since), ":until": iso(until)},
        )
        return [_run_summary(item) for item in self._table.query(period)]

    def last_scheduled_start(self, name: str) -> datetime | None:
        item = self._table.get({"pk": SCHEDULE_PARTITION, "sk": name})
        return None if item is None else parse_iso(item["started_at"])

    def save_scheduled_start(self, name: str, at: datetime) -> None:
        self._table.put({"pk": SCHEDULE_PARTITION, "sk": name, "started_at": iso(at)})


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
        api_calls_by_kind={kind: int(count) for kind, count in item.get("api_calls_by_kind", {}).items()},
        errors={category: int(count) for category, count in item.get("errors", {}).items()},
        api_usage=None if used is None or limit is None else ApiUsage(int(used), int(limit)),
    )
