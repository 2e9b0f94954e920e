"""One run at a time, when it is due.

Every run takes its lease in the state table, works, gives it back on every way out. A lease
lasts until the invocation's own deadline (plus a few seconds of clock skew), so one left by an
invocation Lambda killed expires by itself as soon as that invocation could no longer be running.

The configuration sets the schedules (`outbound.schedule`, `inbound.every_minutes`); the
deployment only ticks every scheduled function once a minute (`TICK`). A tick goes ahead when
the interval has passed since the start of the last scheduled run that went ahead (took its
lease), and otherwise answers "not_due" having read only that start: no lease, no Salesforce
call, no run summary. A configuration loaded meanwhile therefore takes effect at the next tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Protocol

from crmsync.domain.audit import Direction
from crmsync.domain.records import ApiUsage
from crmsync.ports import Clock, Leases, RunLog, RunOutcome, RunSummary

CLOCK_SKEW = timedelta(seconds=5)
"""How far past its holder's deadline a lease lasts. Lambda ends an invocation at its deadline
(a run stops its own work `STOP_MARGIN_MS` before it), so past the deadline the holder is
certainly gone; what is left to cover is the difference between the clocks that compute the
deadline and judge the expiry (the holder's and the next invocation's, kept by NTP within
milliseconds). A longer grace only kept a direction blocked after a killed run: it was a
minute, which with the functions' 300 s timeout made about 6 minutes."""
TICK = timedelta(minutes=1)
"""How often the deployment invokes each scheduled function (template.yaml, rate(1 minute))."""
EARLY_BY = TICK / 2
"""A tick may go ahead this much before the interval is up: ticks arrive a few seconds either
side of the minute, and one that came a second early must not wait a whole tick more (a
2-minute schedule would run every 3). Half a tick keeps every interval a whole number of ticks."""


@contextmanager
def lease_held(leases: Leases, name: str, holder: str, now: datetime, remaining_ms: int) -> Iterator[bool]:
    """Whether the lease `name` was taken for `holder` until its deadline (`now` +
    `remaining_ms`); given back on the way out if it was, however the way out goes."""
    try:
        taken = leases.acquire_lease(
            name, holder, now, now + timedelta(milliseconds=remaining_ms) + CLOCK_SKEW
        )
    except BaseException:
        # The lease may have been written before the error came (an answer lost on the way
        # back, after the store's own retries): give back what may be ours.
        with suppress(Exception):
            leases.release_lease(name, holder)
        raise
    try:
        yield taken
    finally:
        if taken:
            leases.release_lease(name, holder)


def run_summary(
    direction: Direction,
    run_id: str,
    *,
    started: datetime,
    finished: datetime,
    outcome: RunOutcome,
    counts: Mapping[str, int],
    api_calls: int,
    api_calls_by_kind: Mapping[str, int] | None = None,
    errors: Mapping[str, int] | None = None,
    api_usage: ApiUsage | None = None,
) -> RunSummary:
    return RunSummary(
        direction=direction,
        run_id=run_id,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        counts=dict(counts),
        api_calls=max(api_calls, 0),
        api_calls_by_kind={kind: count for kind, count in (api_calls_by_kind or {}).items() if count > 0},
        errors=dict(errors or {}),
        api_usage=api_usage,
    )


class Run(Protocol):
    """One run's working state, as `run_under_lease` drives it."""

    @property
    def counts(self) -> Mapping[str, int]: ...

    def execute(self) -> RunOutcome:
        """Do the work; how it ended."""
        ...

    def api_calls(self) -> int: ...

    def api_calls_by_kind(self) -> Mapping[str, int]:
        """`api_calls` by kind (`CrmGateway.api_calls_by_kind`)."""
        ...

    def errors(self) -> Mapping[str, int]:
        """The error list entries the run kept, by category."""
        ...

    def api_usage(self) -> ApiUsage | None:
        """The org's API usage as Salesforce last reported it (None: the run never asked it)."""
        ...


def is_due(run_log: RunLog, name: str, every: timedelta, now: datetime) -> bool:
    """Whether the scheduled run `name` is due at `now`: never run, or `every` (less
    `EARLY_BY`) has passed since the last one that went ahead started."""
    last = run_log.last_scheduled_start(name)
    return last is None or now >= last + every - EARLY_BY


def run_under_lease(
    direction: Direction,
    lease: str,
    run_id: str,
    *,
    remaining_ms: Callable[[], int],
    leases: Leases,
    run_log: RunLog,
    clock: Clock,
    start: Callable[[], Run],
    every: timedelta | None = None,
) -> RunSummary:
    """Run once if the lease is free ("busy" otherwise), and keep the run's summary. With
    `every`, a scheduled run: "not_due" until `every` has passed since the last one went ahead
    (`is_due`), and its start is kept once it has the lease."""
    started = clock.now()
    if every is not None and not is_due(run_log, lease, every, started):
        return _skipped(direction, run_id, started, clock, RunOutcome.NOT_DUE)
    with lease_held(leases, lease, run_id, started, remaining_ms()) as taken:
        if not taken:
            return _skipped(direction, run_id, started, clock, RunOutcome.BUSY)
        if every is not None:
            run_log.save_scheduled_start(lease, started)
        run: Run | None = None
        try:
            run = start()
            outcome = run.execute()
        except Exception:
            # The invocation fails (Lambda reports it); the run is kept as `failed` so that the
            # status sees a direction failing, and its lag keeps growing.
            _keep_failed_run(direction, run_id, started, clock=clock, run_log=run_log, run=run)
            raise
    summary = run_summary(
        direction,
        run_id,
        started=started,
        finished=clock.now(),
        outcome=outcome,
        counts=run.counts,
        api_calls=run.api_calls(),
        api_calls_by_kind=run.api_calls_by_kind(),
        errors=run.errors(),
        api_usage=run.api_usage(),
    )
    run_log.save_run(summary)
    return summary


def _keep_failed_run(
    direction: Direction, run_id: str, started: datetime, *, clock: Clock, run_log: RunLog, run: Run | None
) -> None:
    summary = run_summary(
        direction,
        run_id,
        started=started,
        finished=clock.now(),
        outcome=RunOutcome.FAILED,
        counts=run.counts if run is not None else {},
        api_calls=run.api_calls() if run is not None else 0,
        api_calls_by_kind=run.api_calls_by_kind() if run is not None else None,
    )
    # Never in the way of the failure itself: a store that failed the run may fail this too.
    with suppress(Exception):
        run_log.save_run(summary)


def _skipped(
    direction: Direction, run_id: str, started: datetime, clock: Clock, outcome: RunOutcome
) -> RunSummary:
    """A run that did nothing; its summary is not kept, so the status keeps the last real one."""
    return run_summary(
        direction, run_id, started=started, finished=clock.now(), outcome=outcome, counts={}, api_calls=0
    )
