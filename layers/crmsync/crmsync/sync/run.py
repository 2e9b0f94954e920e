"""What every run is given and does the same way.

A run goes `read → plan (domain) → apply → record`: it reads what the stores and Salesforce
know, asks the core for plans, carries them out, and stores what the core reported (audit
entries, error list entries, the entries resolved). `RunContext` is what a run is given (who it
is, when it started, how long it has); `RunStopped` ends it early with its outcome;
`ReportStore` is the record step, the same for every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crmsync.domain.audit import Report
from crmsync.ports import AuditTrail, ErrorList, RunOutcome


class RunStopped(Exception):
    """A run stops here, before its end (its deadline near, its API budget spent); what it
    settled is kept."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


@dataclass(frozen=True)
class RunContext:
    """One run: its id (the invocation's request id), when it started, and its deadline."""

    run_id: str
    now: datetime
    remaining_ms: Callable[[], int]
    stop_margin_ms: int
    """Below this much time left, the run takes up nothing new."""

    def time_left(self, reserve_ms: int = 0) -> bool:
        """Whether the stop margin, and `reserve_ms` more, are still ahead."""
        return self.remaining_ms() >= self.stop_margin_ms + reserve_ms

    def check_deadline(self, reserve_ms: int = 0) -> None:
        """Stop the run (`cut_short`) unless `time_left(reserve_ms)`."""
        if not self.time_left(reserve_ms):
            raise RunStopped(RunOutcome.CUT_SHORT)


@dataclass(frozen=True)
class ReportStore:
    """The record step: keeps what the core reported, as it reported it."""

    audit_trail: AuditTrail
    error_list: ErrorList
    retention_days: int
    errors_kept: Counter[str] = field(default_factory=Counter, compare=False)
    """Error list entries kept so far, by category: a run's are what it adds (`errors_since`)."""

    def keep(self, report: Report) -> None:
        if report.audit:
            self.audit_trail.append_audit(report.audit, self.retention_days)
        if report.errors:
            self.error_list.record_errors(report.errors)
            self.errors_kept.update(error.failure.category.value for error in report.errors)
        if report.resolved:
            self.error_list.resolve_errors(report.direction, report.resolved)

    def errors_since(self, kept: Counter[str]) -> dict[str, int]:
        """The entries kept by category since `errors_kept` was `kept` (a copy taken then)."""
        return dict(self.errors_kept - kept)
