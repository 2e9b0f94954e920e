"""One run at a time: every scheduled run takes its lease in the state table, works, gives it
back. A lease lasts the invocation's remaining time plus a grace, so one left by a crashed run
expires by itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from crmsync.domain.audit import Direction
from crmsync.ports import RunSummary, SyncStateStore

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
