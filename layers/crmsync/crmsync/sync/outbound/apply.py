"""Outbound's apply and record steps: the plans of a chunk carried out in three batched steps,
and what the core reports of them kept.

Links first (a new link claims its record before any prospect exists, so two runs can never
both create one), then prospects, then the snapshots of the links whose prospect write landed.
A record whose step is refused because a link or prospect changed under the run stops there:
the cursor holds it for the next run. The others count, are reported (`outbound_report`), and
those whose prospect the inbound run must send are noted as waiting for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from crmsync.domain.audit import Direction
from crmsync.domain.lifecycle import LinkChange, LinkStatus
from crmsync.domain.outbound import RecordPlan, outbound_report
from crmsync.domain.prospect import ProspectChange
from crmsync.ports import LinkStore, PendingChange, PendingChanges, ProspectStore
from crmsync.sync.cursor import ChangeCursor
from crmsync.sync.run import ReportStore, RunContext

Change = TypeVar("Change", LinkChange, ProspectChange)


class PlanApplier:
    """Carries out the plans of one run's chunks, and keeps what the run knows of the error
    list meanwhile."""

    def __init__(
        self,
        *,
        links: LinkStore,
        prospects: ProspectStore,
        pending: PendingChanges | None,
        cursor: ChangeCursor,
        reports: ReportStore,
        context: RunContext,
        counts: Counter[str],
    ) -> None:
        self._links = links
        self._prospects = prospects
        self._pending = pending
        self._cursor = cursor
        self._reports = reports
        self._context = context
        self._counts = counts
        error_list = reports.error_list
        self._open_errors = {(e.sobject, e.record_id) for e in error_list.open_errors(Direction.OUTBOUND)}
        """(sObject, record id) of the error list's outbound entries, to resolve when they sync."""
        self._failed_inbound: set[tuple[str, str]] = set()
        """(sObject, record id) whose last inbound write failed: a change of the record in
        Salesforce sends the prospect's pending values again (docs/guide/errors.md)."""
        self.last_plans: Sequence[RecordPlan] = ()
        """The plans of the last `carry_out` (a manual sync answers with its record's)."""
        if pending is not None:
            self._failed_inbound = {
                (e.sobject, e.record_id) for e in error_list.open_errors(Direction.INBOUND) if e.prospect_id
            }

    def carry_out(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        self.last_plans = plans
        retry: set[str] = set()
        linked = _save_step(plans, lambda p: p.link_change, self._links.save, retry)
        written = _save_step(linked, lambda p: p.prospect_change, self._prospects.save, retry)
        _save_step(written, lambda p: p.snapshot_change, self._links.save, retry)
        if retry:
            self._cursor.hold(sobject, sorted(retry))
            self._counts["retried"] += len(retry)
        finished = [p for p in plans if p.crm.id not in retry]
        for plan in finished:
            self._counts[plan.outcome.value] += 1
        self._record(sobject, finished)
        self._note_inbound_passes(finished)
        self._send_failed_inbound_again(sobject, finished)

    def _record(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        report = outbound_report(
            sobject, plans, at=self._context.now, run_id=self._context.run_id, open_errors=self._open_errors
        )
        self._reports.keep(report)
        self._open_errors.update((e.sobject, e.record_id) for e in report.errors)
        self._open_errors.difference_update(report.resolved)

    def _note_inbound_passes(self, plans: Sequence[RecordPlan]) -> None:
        """The prospects whose values Salesforce must take wait for the next inbound run, as a
        marketing change would: nothing on the marketing side may ever change to send them."""
        waiting = [PendingChange(plan.inbound_pass, 0) for plan in plans if plan.inbound_pass is not None]
        if waiting and self._pending is not None:
            self._pending.add(waiting)
            self._counts["inbound_needed"] += len(waiting)

    def _send_failed_inbound_again(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        failed = {plan.crm.id for plan in plans if (sobject, plan.crm.id) in self._failed_inbound}
        if not failed or self._pending is None:
            return
        # A record read "already in step" plans no change, so its prospect comes from its link.
        links = self._links.by_crm_ids(failed)
        again = [
            PendingChange(stored.link.prospect_id, 0)
            for stored in links.values()
            # A replaced record is history: its prospect's values now go to another record.
            if stored.link.status is not LinkStatus.REPLACED
        ]
        if again:
            self._pending.add(again)
            self._counts["inbound_retried"] += len(again)
        self._failed_inbound.difference_update((sobject, crm_id) for crm_id in failed)


def _save_step(
    plans: Sequence[RecordPlan],
    change_of: Callable[[RecordPlan], Change | None],
    save: Callable[[list[Change]], list[Change]],
    retry: set[str],
) -> list[RecordPlan]:
    """Save one kind of change for all `plans`; the plans whose change was refused go to
    `retry` and stop here, the others go on to the next step."""
    changes = [change for plan in plans if (change := change_of(plan)) is not None]
    refused = {id(change) for change in save(changes)} if changes else set()
    going_on = []
    for plan in plans:
        change = change_of(plan)
        if change is not None and id(change) in refused:
            retry.add(plan.crm.id)
        else:
            going_on.append(plan)
    return going_on
