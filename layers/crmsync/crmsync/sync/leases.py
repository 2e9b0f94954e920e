"""One run at a time: every scheduled run takes its lease in the state table, works, gives it
back. A lease lasts the invocation's remaining time plus a grace, so one left by a crashed run
expires by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from crmsync.domain.audit import Direction
from crmsync.ports import Clock, RunSummary, SyncStateStore

LEASE_GRACE = timedelta(minutes=1)


@contextmanager
def lease_held(
    state: SyncStateStore, name: str, holder: str, now: datetime, remaining_ms: int
) -> Iterator[bool]:
    """Whether the lease `name` was taken for `holder`; given back on the way out if it was."""
    taken = state.acquire_lease(name, holder, now, now + timedelta(milliseconds=remaining_ms) + LEASE_GRACE)
    try:
        yield taken
    finally:
        if taken:
            state.release_lease(name, holder)


def run_summary(
    direction: Direction,
    run_id: str,
    *,
    started: datetime,
    finished: datetime,
    outcome: str,
    counts: Mapping[str, int],
    api_calls: int,
) -> RunSummary:
    return RunSummary(
        direction=direction,
        run_id=run_id,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        counts=dict(counts),
        api_calls=max(api_calls, 0),
    )


class Run(Protocol):
    """One run's working state, as `run_under_lease` drives it."""

    @property
    def counts(self) -> Mapping[str, int]: ...

    def execute(self) -> str:
        """Do the work; the outcome (completed, paused, cut_short...)."""
        ...

    def api_calls(self) -> int: ...


def run_under_lease(
    direction: Direction,
    lease: str,
    run_id: str,
    *,
    remaining_ms: Callable[[], int],
    state: SyncStateStore,
    clock: Clock,
    start: Callable[[], Run],
) -> RunSummary:
    """Run once if the lease is free ("busy" otherwise), and keep the run's summary."""
    started = clock.now()
    with lease_held(state, lease, run_id, started, remaining_ms()) as taken:
        if not taken:
            return run_summary(
                direction,
                run_id,
                started=started,
                finished=clock.now(),
                outcome="busy",
                counts={},
                api_calls=0,
            )
        run = start()
        outcome = run.execute()
    summary = run_summary(
        direction,
        run_id,
        started=started,
        finished=clock.now(),
        outcome=outcome,
        counts=run.counts,
        api_calls=run.api_calls(),
    )
    state.save_run(summary)
    return summary
