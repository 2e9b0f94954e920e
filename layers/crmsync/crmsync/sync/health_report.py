"""`GET /report`: the connector's sync health over a period, as the time series the HTML report
(`crmsync report --html`) draws: lag and throughput per direction, the org's API usage against
the budget, new errors by category, the runs' outcomes, and the records that fail most.

Everything comes from the run log (each run's summary: counts, errors by category, the API usage
Salesforce last reported to it) and the error list: no Salesforce call. The series are summed or
maximised into at most `MAX_BUCKETS` buckets (a 90-day period: 90), so the answer stays small whatever the period (a
run every 5 minutes for 90 days is 26,000 runs a direction); the runs themselves are listed
newest first, up to `RUNS_LISTED`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync.domain.audit import Direction, SyncError
from crmsync.ports import ErrorList, RunLog, RunSummary
from crmsync.sync.run_report import records_synced

DEFAULT_PERIOD = timedelta(days=7)
LONGEST_PERIOD = timedelta(days=90)
"""As long as the run log keeps a run (`RUN_RETENTION`): before that there is nothing to show."""
MAX_BUCKETS = 72
BUCKET_SIZES = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(days=1),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RUNS_LISTED = 50
TOP_FAILING = 10


class InvalidPeriod(ValueError):
    """The period asked for cannot be reported; the message says why."""


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: str | None, until: str | None, now: datetime) -> Period:
        """The period from the route's query (ISO dates or date-times, UTC unless they say
        otherwise): by default the 7 days up to now."""
        end = _moment("until", until) if until else now
        start = _moment("since", since) if since else end - DEFAULT_PERIOD
        if start >= end:
            raise InvalidPeriod(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
        if end - start > LONGEST_PERIOD:
            raise InvalidPeriod(
                f"the period is {(end - start).days} days; at most {LONGEST_PERIOD.days} are kept and reported"
            )
        return cls(start, end)

    @property
    def bucket(self) -> timedelta:
        """The shortest bucket that cuts the period into at most `MAX_BUCKETS`."""
        length = self.until - self.since
        return next((size for size in BUCKET_SIZES if length / size <= MAX_BUCKETS), BUCKET_SIZES[-1])

    def buckets(self) -> list[datetime]:
        """The buckets' starts: multiples of the bucket size (UTC), from the one `since` is in."""
        size = self.bucket
        first = self.since - (self.since - EPOCH) % size
        starts = []
        while first < self.until:
            starts.append(first)
            first += size
        return starts


def health_report(
    run_log: RunLog,
    error_list: ErrorList,
    period: Period,
    *,
    budget_percent: int,
    now: datetime,
) -> dict[str, Any]:
    """The report's data: two run-log queries (one a direction), one read of the error list, and
    one `GetItem` a direction for the lag at the start of the period."""
    starts = period.buckets()
    size = period.bucket
    runs = {direction: run_log.runs_between(direction, period.since, period.until) for direction in Direction}

    def bucket_of(moment: datetime) -> int:
        return min(len(starts) - 1, max(0, int((moment - starts[0]) / size)))

    def series(values: list[float | None]) -> list[dict[str, Any]]:
        return [
            {"at": start.isoformat(), "value": value} for start, value in zip(starts, values, strict=True)
        ]

    lag: dict[str, list[dict[str, Any]]] = {}
    throughput: dict[str, list[dict[str, Any]]] = {}
    outcomes: dict[str, list[dict[str, Any]]] = {}
    errors = [Counter[str]() for _ in starts]
    usage: list[float | None] = [None for _ in starts]
    for direction, direction_runs in runs.items():
        worst_lag: list[float | None] = [None for _ in starts]
        synced: list[float | None] = [0 for _ in starts]
        ended = [Counter[str]() for _ in starts]
        for run, seconds in _lags(run_log, direction, direction_runs, period):
            at = bucket_of(run.finished_at)
            if seconds is not None:
                worst_lag[at] = max(worst_lag[at] or 0, seconds)
            synced[at] = (synced[at] or 0) + records_synced(run)
            ended[at][run.outcome.value] += 1
            errors[at].update(run.errors)
            if run.api_usage is not None and run.api_usage.limit:
                usage[at] = max(usage[at] or 0, run.api_usage.percent)
        lag[direction.value] = series(worst_lag)
        throughput[direction.value] = series(synced)
        outcomes[direction.value] = [
            {"at": start.isoformat(), "counts": dict(counts)}
            for start, counts in zip(starts, ended, strict=True)
        ]
    open_errors = error_list.open_errors()
    every_run = sorted((run for each in runs.values() for run in each), key=lambda run: run.started_at)
    return {
        "since": period.since.isoformat(),
        "until": period.until.isoformat(),
        "generated_at": now.isoformat(),
        "bucket_seconds": int(size.total_seconds()),
        "budget_percent": budget_percent,
        "lag_seconds": lag,
        "records_synced": throughput,
        "run_outcomes": outcomes,
        "api_usage_percent": series(usage),
        "errors_by_category": [
            {"at": start.isoformat(), "counts": dict(counts)}
            for start, counts in zip(starts, errors, strict=True)
        ],
        "totals": {
            direction.value: {
                "runs": len(runs[direction]),
                "records_synced": sum(records_synced(run) for run in runs[direction]),
                "errors": sum(sum(run.errors.values()) for run in runs[direction]),
                "api_calls": sum(run.api_calls for run in runs[direction]),
            }
            for direction in Direction
        },
        "runs": [_run(run) for run in reversed(every_run[-RUNS_LISTED:])],
        "open_errors": dict(Counter(error.failure.category.value for error in open_errors)),
        "top_failing_records": [_failing(error) for error in _most_attempted(open_errors)],
    }


def _lags(
    run_log: RunLog, direction: Direction, runs: list[RunSummary], period: Period
) -> list[tuple[RunSummary, float | None]]:
    """Each run with the lag it left: 0 after a run that left its direction in step, else the
    time since the last one that did. Before the period's first such run, the lag counts from
    the last one before the period, when the log still has it (else it is not known)."""
    last = run_log.last_completed_run(direction)
    if last is not None and last.finished_at > period.since:
        # One came within the period: the one before it is older than the log's pointer.
        last = None
    lags: list[tuple[RunSummary, float | None]] = []
    for run in runs:
        if run.outcome.in_step:
            last = run
        seconds = None if last is None else max(0.0, (run.finished_at - last.finished_at).total_seconds())
        lags.append((run, seconds))
    return lags


def _run(run: RunSummary) -> dict[str, Any]:
    return {
        "direction": run.direction.value,
        "run_id": run.run_id,
        "outcome": run.outcome.value,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "duration_s": round((run.finished_at - run.started_at).total_seconds(), 1),
        "records_synced": records_synced(run),
        "errors": dict(run.errors),
        "api_calls": run.api_calls,
    }


def _most_attempted(errors: list[SyncError]) -> list[SyncError]:
    return sorted(errors, key=lambda error: (-error.attempts, error.at))[:TOP_FAILING]


def _failing(error: SyncError) -> dict[str, Any]:
    return {
        "key": error.key,
        "direction": error.direction.value,
        "object": error.sobject,
        "record_id": error.record_id,
        "prospect_id": error.prospect_id,
        "category": error.failure.category.value,
        "code": error.failure.code,
        "message": error.failure.message,
        "attempts": error.attempts,
        "last_seen": error.at.isoformat(),
    }


def _moment(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"{name}: {text[:40]!r} is not an ISO 8601 date or date-time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
