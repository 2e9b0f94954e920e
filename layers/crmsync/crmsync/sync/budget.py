"""The API budget (docs/guide/limits.md): the share of the org's daily API limit the connector may spend,
judged one way by every run (outbound, inbound, automation actions, activities)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from crmsync.domain.records import ApiUsage
from crmsync.ports import Clock, CrmGateway, RunOutcome
from crmsync.sync.run import RunStopped

STALE_READING = timedelta(minutes=1)
"""A reading past the budget older than this is read again before a run waits on it."""


@dataclass(frozen=True)
class ApiBudget:
    percent: float
    clock: Clock

    def spent(self, crm: CrmGateway, *, ask_when_unknown: bool = True) -> ApiUsage | None:
        """The usage that puts the connector past its budget, or None while it may spend.

        The usage Salesforce reported on its last response decides; with none yet, one `limits`
        call asks (unless `ask_when_unknown` is off: then nothing known is nothing spent). A
        reading past the budget and older than a minute is read again with one `limits` call
        first: a warm container's last answer may be hours old while the org's usage, counted
        over a rolling 24 hours, has fallen since, and it must not keep the connector waiting
        until Lambda recycles the container. At most one such call a minute while it stays past.
        """
        usage = crm.api_usage
        if usage is None:
            if not ask_when_unknown:
                return None
            usage = crm.check_connection()
        elif self._past(usage) and self._stale(usage):
            usage = crm.check_connection()
        return usage if self._past(usage) else None

    def check(self, crm: CrmGateway, *, ask_when_unknown: bool = True) -> None:
        """Stop the run (`over_budget`) when `spent`."""
        if self.spent(crm, ask_when_unknown=ask_when_unknown) is not None:
            raise RunStopped(RunOutcome.OVER_BUDGET)

    def _past(self, usage: ApiUsage) -> bool:
        return bool(usage.limit) and usage.percent >= self.percent

    def _stale(self, usage: ApiUsage) -> bool:
        return usage.read_at is None or self.clock.now() - usage.read_at > STALE_READING
