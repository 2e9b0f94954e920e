"""`GET /runs`: the recent runs of each direction, an API inspector (docs/guide/operating.md).

Each run with its outcome, counts, duration, and its Salesforce API calls by kind (`query`,
`query_more`, `collections`, `bulk_ingest`, `bulk_query`, `limits`, `describe`, `rest`, and
`login`): which calls the API budget went on. The run log keeps every run that went ahead
(ticks that were not due, or found another run going, are not kept) for `RUN_RETENTION`; a
query per direction reads the latest, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.domain.audit import Direction
from crmsync.ports import RunLog
from crmsync.sync.error_actions import InvalidRequest
from crmsync.sync.status import run_report

DEFAULT_RUNS = 20
MAX_RUNS = 200


def recent_runs(run_log: RunLog, query: Mapping[str, Any]) -> dict[str, Any]:
    """The latest runs (`limit` per direction; both directions unless `direction`), newest
    first; raises `InvalidRequest` naming every problem of `query`."""
    problems: list[str] = []
    directions = list(Direction)
    asked = query.get("direction") or None
    if asked is not None:
        try:
            directions = [Direction(asked)]
        except ValueError:
            problems.append(f"direction: {asked!r} is not one of {', '.join(d.value for d in Direction)}")
    raw = query.get("limit") or str(DEFAULT_RUNS)
    if not str(raw).isdigit() or not 1 <= int(raw) <= MAX_RUNS:
        problems.append(f"limit: {raw!r} is not a whole number from 1 to {MAX_RUNS}")
    if problems:
        raise InvalidRequest(problems)
    runs = [run for direction in directions for run in run_log.recent_runs(direction, int(raw))]
    runs.sort(key=lambda run: run.started_at, reverse=True)
    return {"runs": [run_report(run) for run in runs]}
