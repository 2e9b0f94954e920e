"""Marketing activities to Salesforce Tasks (docs/guide/activities.md): one run, called by the inbound run.

A run holds the `activities` lease and does nothing while the connector is paused (activities
wait and go on resume). It first looks again at a share of the activities waiting for a link
(`LINK_CHECKS_PER_RUN`, from where the previous run stopped, round and round) and sends those
whose prospect is linked now; then it sends every activity waiting, oldest first, in batches.
For a batch it reads the prospects' links and the clicks already sent in batched calls (and,
for Person Accounts, their person contact ids in one query), asks `domain.activities` what
becomes of each activity, writes the Tasks, and keeps each outcome on its activity.

Tasks are written in Collections calls of 200, each settled before the next is sent; a batch
that reaches the gateway's bulk threshold goes as one Bulk API 2.0 job. A Task Salesforce
refuses for good is kept as failed and listed in the error list; one refused for now (a locked
row, the API limit) waits for the next run. Salesforce unreachable stops the run with nothing
lost. A create is never replayed blind (ARCHITECTURE.md, "Retries"): a call whose answer was
lost after Salesforce took it leaves its activities waiting, and the next run sends them again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crmsync.config import ActivitySettings
from crmsync.domain.activities import (
    TASK_OBJECT,
    Activity,
    ActivityDecision,
    ActivityState,
    Decision,
    Settled,
    decide_activities,
    person_accounts_to_resolve,
    settle_sent,
    settle_unsent,
)
from crmsync.domain.audit import Direction
from crmsync.domain.errors import CrmError
from crmsync.domain.lifecycle import LinkStatus
from crmsync.domain.records import Batching, Watermark, WriteOperation
from crmsync.ports import (
    ActivityStore,
    AuditTrail,
    Clock,
    CrmGateway,
    ErrorList,
    Leases,
    LinkStore,
    RunOutcome,
    StateStore,
    Watermarks,
)
from crmsync.sync.budget import ApiBudget
from crmsync.sync.cursor import TimeShareCursor
from crmsync.sync.leases import lease_held
from crmsync.sync.run import ReportStore, RunContext, RunStopped

LEASE = "activities"
STOP_MARGIN_MS = 15_000
"""As outbound's: a batch (a few batched DynamoDB calls and its Collections calls) takes a
few seconds at most; the rest is headroom."""
BATCH_SIZE = 2000
LINK_CHECKS_PER_RUN = 2000
"""Activities waiting for a link looked at per run. Most prospects of a marketing database are
never linked, so their activities are not all read again at every run; a prospect linked now
gets its activities sent within (activities waiting for a link / 2,000) runs."""
LINK_CHECK_CURSOR = "activities#waiting_for_link"


@dataclass(frozen=True)
class ActivityRun:
    """What one run did: `outcome` is completed, paused, busy, cut_short, over_budget or
    salesforce_unavailable; `counts` says how many activities were sent, skipped, failed,
    left waiting for a link, or left for the next run (retry_later)."""

    outcome: RunOutcome
    counts: Mapping[str, int] = field(default_factory=dict)


class ActivitySync:
    """`crm` builds the Salesforce gateway on first use: a run with nothing to write (paused,
    nothing waiting, every prospect unlinked) never logs in."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        activities: ActivityStore,
        leases: Leases,
        watermarks: Watermarks,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        connector: StateStore,
        settings: ActivitySettings,
        clock: Clock,
        batching: Batching | None = None,
        api_budget_percent: float = 50.0,
        audit_retention_days: int = 30,
        stop_margin_ms: int = STOP_MARGIN_MS,
        batch_size: int = BATCH_SIZE,
        link_checks_per_run: int = LINK_CHECKS_PER_RUN,
    ) -> None:
        self._crm = crm
        self._links = links
        self._activities = activities
        self._leases = leases
        self._watermarks = watermarks
        self._reports = ReportStore(audit_trail, error_list, audit_retention_days)
        self._connector = connector
        self._settings = settings
        self._clock = clock
        self._batching = batching or Batching()
        self._budget = ApiBudget(api_budget_percent, clock)
        self._stop_margin = stop_margin_ms
        self._batch_size = batch_size
        self._link_checks = link_checks_per_run

    def run(self, remaining_ms: Callable[[], int], run_id: str) -> ActivityRun:
        if self._connector.connector_state().paused:
            return ActivityRun(RunOutcome.PAUSED)
        now = self._clock.now()
        with lease_held(self._leases, LEASE, run_id, now, remaining_ms()) as taken:
            if not taken:
                return ActivityRun(RunOutcome.BUSY)
            run = ActivitiesRun(
                crm=self._crm,
                links=self._links,
                activities=self._activities,
                cursor=TimeShareCursor(self._watermarks, LINK_CHECK_CURSOR, now),
                reports=self._reports,
                settings=self._settings,
                clock=self._clock,
                batching=self._batching,
                budget=self._budget,
                context=RunContext(run_id, now, remaining_ms, self._stop_margin),
                batch_size=self._batch_size,
                link_checks=self._link_checks,
            )
            outcome = run.execute()
        return ActivityRun(outcome, {name: count for name, count in run.counts.items() if count})


class ActivitiesRun:
    """One run: the activities waiting for a link it looks at, then those waiting, in batches
    that each go `read → decide → write → settle`."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        activities: ActivityStore,
        cursor: TimeShareCursor,
        reports: ReportStore,
        settings: ActivitySettings,
        clock: Clock,
        batching: Batching,
        budget: ApiBudget,
        context: RunContext,
        batch_size: int,
        link_checks: int,
    ) -> None:
        self.counts: Counter[str] = Counter()
        self._crm = crm
        self._links = links
        self._activities = activities
        self._cursor = cursor
        self._reports = reports
        self._settings = settings
        self._clock = clock
        self._batching = batching
        self._budget = budget
        self._context = context
        self._batch_size = batch_size
        self._link_checks = link_checks
        self._tasks_listed: set[str] | None = None

    def execute(self) -> RunOutcome:
        try:
            self._check_prospects_waiting_for_a_link()
            self._send_waiting()
        except RunStopped as stop:
            return stop.outcome
        except CrmError as error:
            if error.retryable:
                return RunOutcome.SALESFORCE_UNAVAILABLE
            raise
        return RunOutcome.COMPLETED

    # ------------------------------------------------------------------ the two queues

    def _check_prospects_waiting_for_a_link(self) -> None:
        self._context.check_deadline()
        page = self._activities.waiting(ActivityState.WAITING_FOR_LINK, self._cursor.after, self._link_checks)
        linked = self._links.by_prospect_ids({a.prospect_id for a in page.activities})
        ready = [
            activity
            for activity in page.activities
            if (stored := linked.get(activity.prospect_id)) is not None
            and stored.link.status is LinkStatus.ACTIVE
        ]
        for start in range(0, len(ready), self._batch_size):
            self._context.check_deadline()
            self._send(ready[start : start + self._batch_size], waited_for_link=True)
        # Round and round: the next run looks at the next share, then from the start again.
        self._cursor.moved_to(page.next_after)

    def _send_waiting(self) -> None:
        # Activities left waiting by this run (a locked row) are behind `after`: each is tried
        # once a run, and the run ends.
        after: Watermark | None = None
        while True:
            self._context.check_deadline()
            page = self._activities.waiting(ActivityState.WAITING, after, self._batch_size)
            if page.activities:
                self._send(page.activities)
            if page.next_after is None:
                return
            after = page.next_after

    # ------------------------------------------------------------------ one batch

    def _send(self, batch: Sequence[Activity], *, waited_for_link: bool = False) -> None:
        links = self._links.by_prospect_ids({a.prospect_id for a in batch})
        person_accounts = person_accounts_to_resolve(links.values())
        person_contacts = self._person_contacts(person_accounts) if person_accounts else {}
        clicks = {click for a in batch if (click := a.click) is not None and a.prospect_id in links}
        sent_clicks = self._activities.sent_clicks(clicks) if clicks else set()
        decisions = decide_activities(batch, self._settings.types, links, person_contacts, sent_clicks)
        self._keep(settle_unsent(decisions, self._clock.now(), self._context.run_id))

        to_send = [d for d in decisions if d.decision is Decision.SEND]
        # Each Collections call is settled before the next is sent, so a failure part way loses
        # no Task already created; a batch large enough for Bulk API 2.0 goes as one job.
        batching = self._batching
        size = len(to_send) if len(to_send) >= batching.bulk_threshold else batching.collection_size
        for start in range(0, len(to_send), size):
            self._context.check_deadline()
            # A run that has not called Salesforce yet spends no call to ask.
            self._budget.check(self._crm(), ask_when_unknown=False)
            self._write(to_send[start : start + size], waited_for_link)

    def _person_contacts(self, account_ids: Iterable[str]) -> dict[str, str]:
        records = self._crm().find("Account", ("Id", "PersonContactId"), "Id", sorted(account_ids))
        return {r.id: str(r["PersonContactId"]) for r in records if r.get("PersonContactId")}

    def _write(self, decisions: Sequence[ActivityDecision], waited_for_link: bool) -> None:
        results = self._crm().write(
            TASK_OBJECT, WriteOperation.CREATE, [d.task or {} for d in decisions], batching=self._batching
        )
        self._keep(
            settle_sent(
                decisions,
                results,
                waited_for_link=waited_for_link,
                at=self._clock.now(),
                run_id=self._context.run_id,
                listed=self._listed_tasks(),
            )
        )

    def _listed_tasks(self) -> set[str]:
        """The activities whose Task is on the error list (read once, when the run first
        sends): a retried one that is sent clears its entry."""
        if self._tasks_listed is None:
            listed = self._reports.error_list.open_errors(Direction.INBOUND)
            self._tasks_listed = {error.record_id for error in listed if error.sobject == TASK_OBJECT}
        return self._tasks_listed

    def _keep(self, settled: Settled) -> None:
        if settled.outcomes:
            self._activities.settle(settled.outcomes)
        self._reports.keep(settled.report)
        self.counts.update(settled.counts)
