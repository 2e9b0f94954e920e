"""Local runs (tests, `make demo`, `make bench`) invoke a scheduled function's ticks back to back,
not the configuration's minutes apart: before a tick that must run, they let its schedule pass."""

from __future__ import annotations

from datetime import timedelta

from crmsync import bootstrap

LONG_AGO = timedelta(days=2)
"""Longer than the longest schedule ("daily")."""


def let_schedules_pass(*names: str) -> None:
    """Make the next tick of the scheduled runs `names` ("outbound", "inbound"; both by default)
    due, as if their last run had started long ago."""
    run_log = bootstrap.run_log()
    started = bootstrap.clock().now() - LONG_AGO
    for name in names or ("outbound", "inbound"):
        run_log.save_scheduled_start(name, started)
