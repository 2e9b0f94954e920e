"""Inbound sync, marketing → Salesforce (docs/guide/: fields, scope, schedules, errors,
change-capture): change capture and one run.

Change capture (`InboundSync.capture`) notes the prospects the marketing side changed as
waiting (`PendingChanges`), lists the change records it could not read, and says whether
enough wait to start a run before the schedule. The scheduled invocation first catches up on
the changes change capture missed (`catch_up_missed_changes`, `sync/missed_changes.py`).

A run holds the `inbound` lease (one run at a time) and, unless the connector is paused or over
its API budget, takes the waiting prospects page by page in prospect id order
(`cursor.waiting_pages`): each page is planned, the plans with writes are gathered up to one
Bulk API job, then sent and settled (`send.py`). Near its deadline the run stops gathering and
sends what it gathered while there is time to settle it; whatever is not sent keeps waiting.

A link saved by a run records the prospect version it dealt with (`synced_version`): with the
snapshot of what was sent, or alone for a prospect whose failure is listed, so reconciliation
does not send it again until the marketing side changes it again (docs/guide/errors.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import chain

from crmsync.config import Configuration, OwnerDirection
from crmsync.domain.audit import Direction
from crmsync.domain.inbound import InboundRules
from crmsync.domain.objects import PEOPLE
from crmsync.domain.owner import owner_map
from crmsync.domain.records import ApiUsage
from crmsync.ports import (
    ActionQueue,
    AuditTrail,
    CapturedChanges,
    Clock,
    CrmGateway,
    ErrorList,
    FailedCaptures,
    Leases,
    LinkStore,
    PendingChanges,
    ProspectStore,
    RunLog,
    RunOutcome,
    RunSummary,
    SalesforceUser,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.budget import ApiBudget
from crmsync.sync.cursor import waiting_pages
from crmsync.sync.inbound.send import InboundSender, Planned
from crmsync.sync.leases import is_due, run_under_lease
from crmsync.sync.missed_changes import RECONCILIATION_ITEMS_PER_RUN, CatchUp, MissedChanges, refusal_errors
from crmsync.sync.run import ReportStore, RunContext, RunStopped

LEASE = "inbound"
STOP_MARGIN_MS = 15_000
"""Below this much time left before the Lambda deadline, nothing more is sent: what was gathered
and not sent waits for the next run."""
SEND_RESERVE_MS = 60_000
"""Gathering stops this long before the stop margin: the time kept to send what was gathered
(up to one Bulk API 2.0 job) and to settle it."""
PAGE_SIZE = 1_000
"""Waiting prospects planned together (their stores are read in batched calls)."""
MAX_BATCH = 10_000
"""Planned writes gathered before they are sent: one Bulk API 2.0 job at most this large."""


@dataclass(frozen=True)
class InboundStores:
    """What an inbound run keeps and reads besides Salesforce."""

    links: LinkStore
    prospects: ProspectStore
    pending: PendingChanges
    actions: ActionQueue
    watermarks: Watermarks
    connector: StateStore
    reports: ReportStore


def inbound_rules(config: Configuration, users: Iterable[SalesforceUser] | None) -> InboundRules:
    """The configuration's rules for planning a prospect, with the two-way owner map the
    Salesforce users make (none without `users`, or while Salesforce alone decides owners)."""
    rules = InboundRules(
        conflict_winner=config.conflict_winner,
        create_unlinked=config.inbound.create_unlinked,
        mappings={crm: config.mappings.get(crm, ()) for crm in PEOPLE if config.objects.syncs(crm)},
    )
    if users is not None and config.owner.direction is OwnerDirection.TWO_WAY:
        owners = owner_map(((u.id, u.email, u.active) for u in users), config.owner.user_map)
        rules = replace(rules, owners=owners)
    return rules


class InboundSync:
    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        prospects: ProspectStore,
        pending: PendingChanges,
        actions: ActionQueue,
        leases: Leases,
        watermarks: Watermarks,
        user_directory: UserDirectory,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        run_log: RunLog,
        connector: StateStore,
        configuration: Configuration,
        clock: Clock,
        api_budget_percent: float = 50.0,
        audit_retention_days: int = 30,
        stop_margin_ms: int = STOP_MARGIN_MS,
        page_size: int | None = None,
        max_batch: int = MAX_BATCH,
        failed_captures: FailedCaptures | None = None,
        reconciliation_items_per_run: int | None = None,
    ) -> None:
        self._crm = crm
        self._stores = InboundStores(
            links=links,
            prospects=prospects,
            pending=pending,
            actions=actions,
            watermarks=watermarks,
            connector=connector,
            reports=ReportStore(audit_trail, error_list, audit_retention_days),
        )
        self._leases = leases
        self._run_log = run_log
        self._user_directory = user_directory
        self._config = configuration
        self._clock = clock
        self._budget = ApiBudget(api_budget_percent, clock)
        self._stop_margin = stop_margin_ms
        self._page_size = page_size or PAGE_SIZE
        self._max_batch = max_batch
        self._missed = MissedChanges(
            pending=pending,
            watermarks=watermarks,
            error_list=error_list,
            links=links,
            prospects=prospects,
            failed_captures=failed_captures,
            clock=clock,
            items_per_run=(
                RECONCILIATION_ITEMS_PER_RUN
                if reconciliation_items_per_run is None
                else reconciliation_items_per_run
            ),
        )

    def capture(self, captured: CapturedChanges) -> bool:
        """Note the changes as waiting and list the refused records; True when enough wait to
        run now rather than on schedule."""
        pending = self._stores.pending
        if captured.changes:
            pending.add(captured.changes)
        if captured.refused:
            self._stores.reports.error_list.record_errors(refusal_errors(captured.refused, self._clock.now()))
        threshold = self._config.inbound.max_waiting_changes
        return pending.count(threshold) >= threshold

    def due(self) -> bool:
        """Whether the scheduled invocation is due: `inbound.every_minutes` have passed since the
        last scheduled run that went ahead started. Early runs (`capture`) do not count: the
        scheduled invocation also catches up on missed changes, carries out parked actions and
        sends activities."""
        return is_due(self._run_log, LEASE, self._config.inbound.interval, self._clock.now())

    def catch_up_missed_changes(self) -> CatchUp:
        """Note as waiting the changes change capture missed: the batches it gave up on, and one
        share of the prospects reconciled with their links (`sync/missed_changes.py`). No
        Salesforce call; the run that follows sends what it found."""
        return self._missed.catch_up(lambda: self.rules(with_owners=True))

    def rules(self, *, with_owners: bool) -> InboundRules:
        """The configuration's rules for planning a prospect; the two-way owner map (a read of
        the users) only `with_owners`."""
        users = self._user_directory.users().values() if with_owners else None
        return inbound_rules(self._config, users)

    def run(self, remaining_ms: Callable[[], int], run_id: str, *, scheduled: bool = False) -> RunSummary:
        """Send what waits. A `scheduled` run is also "not_due" until `inbound.every_minutes`
        have passed (`due`); an early run, started by `capture`, is not held to the schedule."""
        return run_under_lease(
            Direction.INBOUND,
            LEASE,
            run_id,
            remaining_ms=remaining_ms,
            leases=self._leases,
            run_log=self._run_log,
            clock=self._clock,
            start=lambda: InboundRun(
                crm=self._crm,
                stores=self._stores,
                configuration=self._config,
                rules=self.rules,
                budget=self._budget,
                context=RunContext(run_id, self._clock.now(), remaining_ms, self._stop_margin),
                page_size=self._page_size,
                max_batch=self._max_batch,
            ),
            every=self._config.inbound.interval if scheduled else None,
        )


class InboundRun:
    """One run: its counts, and the Salesforce calls it made once it first needed Salesforce."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        stores: InboundStores,
        configuration: Configuration,
        rules: Callable[..., InboundRules],
        budget: ApiBudget,
        context: RunContext,
        page_size: int,
        max_batch: int,
    ) -> None:
        self.counts: Counter[str] = Counter()
        self._crm = crm
        self._stores = stores
        self._config = configuration
        self._rules = rules
        self._budget = budget
        self._context = context
        self._page_size = page_size
        self._max_batch = max_batch
        self._calls_at_start: int | None = None
        """The gateway's call count when this run first needed Salesforce (None: it never did)."""
        self._kinds_at_start: Counter[str] = Counter()
        self._errors_at_start = stores.reports.errors_kept.copy()

    def api_calls(self) -> int:
        return 0 if self._calls_at_start is None else self._crm().api_calls - self._calls_at_start

    def api_calls_by_kind(self) -> dict[str, int]:
        if self._calls_at_start is None:
            return {}
        return dict(Counter(self._crm().api_calls_by_kind) - self._kinds_at_start)

    def errors(self) -> dict[str, int]:
        return self._stores.reports.errors_since(self._errors_at_start)

    def api_usage(self) -> ApiUsage | None:
        return None if self._calls_at_start is None else self._crm().api_usage

    def execute(self) -> RunOutcome:
        stores = self._stores
        if stores.connector.connector_state().paused:
            return RunOutcome.PAUSED
        pages = waiting_pages(stores.pending, self._page_size)
        first = next(pages, None)
        if first is None:
            return RunOutcome.IDLE
        # The owner map waits until something is to be planned: an idle run reads no users.
        rules = self._rules(with_owners=self._config.owner.direction is OwnerDirection.TWO_WAY)
        sender = InboundSender(
            crm=self._crm,
            links=stores.links,
            prospects=stores.prospects,
            pending=stores.pending,
            actions=stores.actions,
            watermarks=stores.watermarks,
            reports=stores.reports,
            configuration=self._config,
            rules=rules,
            context=self._context,
            counts=self.counts,
            check_budget=self._check_budget,
        )
        batch: list[Planned] = []
        try:
            self._check_budget()
            for page in chain([first], pages):
                batch += sender.plan(page)
                if sum(1 for p in batch if p.plan.salesforce_writes) >= self._max_batch:
                    sender.send(batch)
                    batch = []
                self._context.check_deadline(reserve_ms=SEND_RESERVE_MS)
            sender.send(batch)
        except RunStopped as stop:
            # Past the budget nothing more is spent; near the deadline what was gathered still
            # goes while there is time to settle it. Whatever is not sent keeps waiting.
            outcome = stop.outcome
            if outcome is RunOutcome.CUT_SHORT and self._context.time_left():
                try:
                    sender.send(batch)
                except RunStopped as again:
                    outcome = again.outcome
            return outcome
        return RunOutcome.COMPLETED

    def _check_budget(self) -> None:
        """Against the usage Salesforce reported last: before the run's first call that may be
        a warm container's earlier answer, so it is checked again once the run has read."""
        crm = self._crm()
        if self._calls_at_start is None:
            self._calls_at_start = crm.api_calls
            self._kinds_at_start = Counter(crm.api_calls_by_kind)
        self._budget.check(crm)
