"""`GET /status`: is the connector in step, and if not, why (docs/guide/operating.md).

The state is one of:
- `paused`: an operator paused it (healthy, unless Salesforce does not answer or a direction
  is failing: a pause is what an operator asked for, a fault is not);
- `failing`: a direction is failing (below), or Salesforce does not answer the status's own call;
- `over_budget`: the org's API usage is at or past `ApiBudgetPercent` (the status's own reading,
  or, when Salesforce did not answer it, the last run of a direction ended `over_budget`);
- `running`: none of the above.
Healthy means `running`, or `paused` with no problem.

A direction is failing when its last `FAILING_RUNS` runs all failed (`RunOutcome.failed`: the
run raised, or Salesforce was unavailable), or when its errors are rising: at least
`RISING_ERRORS` entries of the error list, not dismissed, were first seen within
`RISING_WINDOW`.

Lag counts from the end of the direction's last run that left it in step (`RunOutcome.in_step`:
completed, or nothing waited), not from its last run: runs that end over budget, paused, cut
short or failed leave it growing.

What it costs, whatever the number of records: DynamoDB, the connector item, the configuration
and two schedule items; per direction its last completed run (one `GetItem`) and its last runs
(one `Query`); the error list (one `Query` per direction and megabyte of entries); the prospects
waiting and the parked actions (a `COUNT` query each, a call per megabyte counted); SQS, one
`GetQueueAttributes` per queue; Salesforce, one `limits` call (and a login in a cold container).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmsync import __version__
from crmsync.domain.audit import Direction, ErrorState
from crmsync.domain.errors import ConfigurationError, CrmError
from crmsync.domain.records import ApiUsage
from crmsync.ports import (
    CrmGateway,
    ErrorList,
    ListedError,
    ParkedActions,
    PendingChanges,
    QueueDepths,
    RunLog,
    RunOutcome,
    RunSummary,
    StateStore,
)

if TYPE_CHECKING:
    from crmsync.config import Configuration

FAILING_RUNS = 3
"""A direction whose last this many runs all failed is failing."""
RISING_ERRORS = 10
RISING_WINDOW = timedelta(hours=1)
"""A direction with `RISING_ERRORS` new error list entries within this window is failing."""
COUNTED_UP_TO = 100_000
"""Waiting prospects and parked actions are counted up to this (a `COUNT` query reads a megabyte
a call: a few calls at most)."""


@dataclass(frozen=True)
class ConnectorStatus:
    """The status report; a Salesforce that does not answer is reported, not raised."""

    state: StateStore
    crm: Callable[[], CrmGateway]
    run_log: RunLog
    error_list: ErrorList
    pending_changes: PendingChanges
    parked_actions: ParkedActions
    queues: QueueDepths
    api_budget_percent: float
    configuration: Callable[[], Configuration] | None = None
    resync: Callable[[], Any] | None = None
    """The last resync asked for (a `ResyncJob`, or None), whose progress the status shows."""

    def report(self, now: datetime) -> dict[str, Any]:
        connector = self.state.connector_state()
        salesforce, usage = self._salesforce()
        errors = [
            entry for entry in self.error_list.listed_errors() if entry.state is not ErrorState.DISMISSED
        ]
        directions = {
            direction.value: self._direction(
                direction, now, [e for e in errors if e.error.direction is direction]
            )
            for direction in Direction
        }
        problems = [
            f"{direction}: {report['failing_because']}"
            for direction, report in directions.items()
            if report["failing"]
        ]
        if not salesforce["reachable"]:
            problems.append(f"Salesforce does not answer: {salesforce['error']['message']}")
        over_budget = self._over_budget(usage, directions)
        if connector.paused:
            state = "paused"
        elif problems:
            state = "failing"
        elif over_budget:
            state = "over_budget"
        else:
            state = "running"
        report: dict[str, Any] = {
            "state": state,
            "healthy": state == "running" or (state == "paused" and not problems),
            "problems": problems,
            "version": __version__,
            "config_version": connector.config_version,
            "directions": directions,
            "waiting": self._waiting(),
            "api": {
                "used": None if usage is None else usage.used,
                "limit": None if usage is None else usage.limit,
                "percent": None if usage is None else usage.percent,
                "budget_percent": self.api_budget_percent,
            },
            "open_errors": dict(sorted(Counter(e.error.failure.category.value for e in errors).items())),
            "resync": self._resync(),
            "salesforce": salesforce,
        }
        if self.configuration is not None:
            report["schedules"] = _schedules(self.configuration, self.run_log)
        return report

    def _direction(
        self, direction: Direction, now: datetime, errors: Sequence[ListedError]
    ) -> dict[str, Any]:
        completed = self.run_log.last_completed_run(direction)
        recent = self.run_log.recent_runs(direction, FAILING_RUNS)
        failing_because = _failing_because(recent, errors, now)
        return {
            "last_completed_run": None if completed is None else run_report(completed),
            "lag_seconds": None
            if completed is None
            else max(round((now - completed.finished_at).total_seconds()), 0),
            "last_run": run_report(recent[0]) if recent else None,
            "failing": failing_because is not None,
            "failing_because": failing_because,
        }

    def _salesforce(self) -> tuple[dict[str, Any], ApiUsage | None]:
        try:
            usage = self.crm().check_connection()
        except CrmError as exc:
            failure = exc.failure
            error = {"code": failure.code, "category": failure.category.value, "message": failure.message}
            return {"reachable": False, "error": error}, None
        except ConfigurationError as exc:
            error = {"code": "CONFIGURATION", "category": "configuration", "message": str(exc)}
            return {"reachable": False, "error": error}, None
        api_usage = {"used": usage.used, "limit": usage.limit, "percent": usage.percent}
        return {"reachable": True, "api_usage": api_usage}, usage

    def _over_budget(self, usage: ApiUsage | None, directions: Mapping[str, Any]) -> bool:
        if usage is not None:
            return bool(usage.limit) and usage.percent >= self.api_budget_percent
        return any(
            report["last_run"] is not None and report["last_run"]["outcome"] == RunOutcome.OVER_BUDGET
            for report in directions.values()
        )

    def _resync(self) -> dict[str, Any] | None:
        job = self.resync() if self.resync is not None else None
        return None if job is None else dict(job.as_answer())

    def _waiting(self) -> dict[str, int | None]:
        return {
            "changed_prospects": self.pending_changes.count(COUNTED_UP_TO),
            "parked_actions": self.parked_actions.count(COUNTED_UP_TO),
            **self.queues.depths(),
        }


def run_report(summary: RunSummary) -> dict[str, Any]:
    """A run as the status and `GET /runs` show it."""
    return {
        "direction": summary.direction.value,
        "run_id": summary.run_id,
        "outcome": summary.outcome.value,
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
        "duration_s": round(summary.duration_s, 3),
        "counts": dict(summary.counts),
        "api_calls": summary.api_calls,
        "api_calls_by_kind": dict(summary.api_calls_by_kind),
    }


def _failing_because(
    recent: Sequence[RunSummary], errors: Sequence[ListedError], now: datetime
) -> str | None:
    if len(recent) >= FAILING_RUNS and all(run.outcome.failed for run in recent):
        outcomes = ", ".join(sorted({run.outcome.value for run in recent}))
        return f"its last {FAILING_RUNS} runs failed ({outcomes})"
    new = sum(1 for entry in errors if now - entry.first_seen <= RISING_WINDOW)
    if new >= RISING_ERRORS:
        return f"errors are rising: {new} new entries on the error list within {_duration(RISING_WINDOW)}"
    return None


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


def _schedules(configuration: Callable[[], Configuration], run_log: RunLog) -> dict[str, Any]:
    """The configuration's schedules (the one way to set them), each with the start of its last
    scheduled run and when the next is due (None: at the next tick, within a minute)."""
    try:
        config = configuration()
    except ConfigurationError as exc:
        return {"error": {"code": "CONFIGURATION", "category": "configuration", "message": str(exc)}}

    def schedule(name: str, every: str, interval: timedelta) -> dict[str, Any]:
        last = run_log.last_scheduled_start(name)
        return {
            "every": every,
            "last_started_at": None if last is None else last.isoformat(),
            "next_due_at": None if last is None else (last + interval).isoformat(),
        }

    inbound = config.inbound
    return {
        Direction.OUTBOUND.value: schedule(
            Direction.OUTBOUND.value, config.outbound.schedule.text, config.outbound.schedule.interval
        ),
        Direction.INBOUND.value: {
            **schedule(Direction.INBOUND.value, _minutes(inbound.every_minutes), inbound.interval),
            "max_waiting_changes": inbound.max_waiting_changes,
        },
    }


def _minutes(count: int) -> str:
    return f"{count} minute{'' if count == 1 else 's'}"
