"""Inbound sync, marketing → Salesforce (docs/guide/: fields, scope, schedules,
errors, change-capture): change capture and one run.

Change capture (`InboundSync.capture`) notes the prospects the marketing side changed as
waiting (`PendingChanges`), lists the change records it could not read, and says whether
enough wait to start a run before the schedule. The scheduled invocation first catches up on
the changes change capture missed (`catch_up_missed_changes`, `sync/missed_changes.py`).

A run holds the `inbound` lease (one run at a time) and, unless the connector is paused or over
its API budget, takes the waiting prospects page by page in prospect id order. For each page it
reads the prospects and their links in a few batched calls and asks the core for one plan per
prospect (`domain.inbound`). Plans with writes are gathered and sent together, per object,
through the gateway's one write path (Collections by 200, Bulk API 2.0 from the threshold on),
so 1,000 changed prospects cost 5 Collections calls. Before sending, the records Salesforce
changed after outbound's last read are read once per object (usually none): for them the
core decides with Salesforce's current values, so a pending marketing change never overwrites
a newer Salesforce value it conflicts with.

Each prospect stops waiting once its outcome is settled: written (and its link's snapshot
saved), nothing to send, or a permanent failure (in the error list, sent again when the
prospect changes again). A transient failure keeps it waiting for the next run until the retry
budget is spent. A prospect that changed again while the run sent it keeps waiting too.

A link saved by a run records the prospect version it dealt with (`synced_version`): with the
snapshot of what was sent, or alone for a prospect whose failure is listed, so reconciliation
does not send it again until the marketing side changes it again (docs/guide/errors.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from crmsync.config import Configuration, OwnerDirection
from crmsync.domain.actions import ActionKind
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.errors import Failure, QueueError
from crmsync.domain.inbound import (
    InboundOutcome,
    InboundPlan,
    InboundRules,
    plan_prospect_change,
    writes_unknown_values,
)
from crmsync.domain.lifecycle import LinkChange, StoredLink
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.owner import OWNER_MAPPING, owner_map
from crmsync.domain.plan import AuditEntry
from crmsync.domain.prospect import ProspectChange
from crmsync.domain.records import CrmRecord, WriteOperation, WriteResult
from crmsync.domain.scope import as_datetime
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
    PendingChange,
    PendingChanges,
    ProspectStore,
    RunLog,
    RunOutcome,
    RunSummary,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.actions_intake import AcceptedAction, ActionRequest, action_id
from crmsync.sync.budget import ApiBudget
from crmsync.sync.leases import RunStopped, is_due, run_under_lease
from crmsync.sync.missed_changes import (
    CAPTURE_OBJECT,
    RECONCILIATION_ITEMS_PER_RUN,
    CatchUp,
    MissedChanges,
    refusal_errors,
)

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
CREATE_UNLINKED_KEY = "inbound.create_unlinked"
"""The idempotency key of the actions inbound queues for unlinked prospects: each prospect's
action id is the same every time, so repeated changes before it is linked make one record."""
RETRY_BUDGET = 5
"""Runs a record with a transient failure is tried in before it waits like a permanent one."""


class _Stop(RunStopped):
    """The run must stop before its deadline or its API budget; what was sent is kept."""


@dataclass(frozen=True)
class _Planned:
    pending: PendingChange
    plan: InboundPlan

    @property
    def link(self) -> StoredLink:
        assert self.plan.link is not None
        return self.plan.link


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
        self._crm_factory = crm
        self._links = links
        self._prospects = prospects
        self._pending = pending
        self._actions = actions
        self._leases = leases
        self._watermarks = watermarks
        self._user_directory = user_directory
        self._audit_trail = audit_trail
        self._error_list = error_list
        self._run_log = run_log
        self._connector = connector
        self._config = configuration
        self._clock = clock
        self._budget = ApiBudget(api_budget_percent, clock)
        self._retention = audit_retention_days
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

    @property
    def _crm(self) -> CrmGateway:
        """Built on first use: capture, and a run with nothing to send, never reach Salesforce."""
        return self._crm_factory()

    def capture(self, captured: CapturedChanges) -> bool:
        """Note the changes as waiting and list the refused records; True when enough wait to
        run now rather than on schedule."""
        if captured.changes:
            self._pending.add(captured.changes)
        if captured.refused:
            self._error_list.record_errors(refusal_errors(captured.refused, self._clock.now()))
        threshold = self._config.inbound.max_waiting_changes
        return self._pending.count(threshold) >= threshold

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
        config = self._config
        rules = InboundRules(
            conflict_winner=config.conflict_winner,
            create_unlinked=config.inbound.create_unlinked,
            mappings={crm: config.mappings.get(crm, ()) for crm in PEOPLE if config.objects.syncs(crm)},
        )
        if with_owners and config.owner.direction is OwnerDirection.TWO_WAY:
            users = self._user_directory.users().values()
            owners = owner_map(((u.id, u.email, u.active) for u in users), config.owner.user_map)
            rules = replace(rules, owners=owners)
        return rules

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
            start=lambda: _Run(self, run_id, remaining_ms),
            every=self._config.inbound.interval if scheduled else None,
        )


class _Run:
    def __init__(self, sync: InboundSync, run_id: str, remaining_ms: Callable[[], int]) -> None:
        self.s = sync
        self.run_id = run_id
        self.remaining_ms = remaining_ms
        self.now = sync._clock.now()
        self.counts: Counter[str] = Counter()
        # The owner map waits until something is to be planned: an idle run reads no users.
        self.rules = sync.rules(with_owners=False)
        self.open_errors: dict[tuple[str, str], SyncError] = {}
        self.calls_at_start: int | None = None
        """The gateway's call count when this run first needed Salesforce (None: it never did)."""
        self.fresh: dict[str, dict[str, CrmRecord]] = {}
        """sObject → the records Salesforce changed after outbound's last read, by id."""

    def execute(self) -> RunOutcome:
        if self.s._connector.connector_state().paused:
            return RunOutcome.PAUSED
        first = self.s._pending.waiting(self.s._page_size)
        if not first:
            return RunOutcome.IDLE
        if self.s._config.owner.direction is OwnerDirection.TWO_WAY:
            self.rules = self.s.rules(with_owners=True)
        self.open_errors = {
            (e.sobject, e.record_id): e for e in self.s._error_list.open_errors(Direction.INBOUND)
        }
        batch: list[_Planned] = []
        try:
            self._check_budget()
            page = first
            while page:
                batch += self._plan(page)
                if sum(1 for p in batch if p.plan.salesforce_writes) >= self.s._max_batch:
                    self._send(batch)
                    batch = []
                self._check_deadline()
                page = self.s._pending.waiting(self.s._page_size, after=page[-1].prospect_id)
            self._send(batch)
        except _Stop as stop:
            # Past the budget nothing more is spent; near the deadline what was gathered still
            # goes while there is time to settle it. Whatever is not sent keeps waiting.
            outcome = stop.outcome
            if outcome is RunOutcome.CUT_SHORT and self.remaining_ms() >= self.s._stop_margin:
                try:
                    self._send(batch)
                except _Stop as again:
                    outcome = again.outcome
            return outcome
        return RunOutcome.COMPLETED

    def _check_deadline(self) -> None:
        if self.remaining_ms() < self.s._stop_margin + SEND_RESERVE_MS:
            raise _Stop(RunOutcome.CUT_SHORT)

    def api_calls(self) -> int:
        return 0 if self.calls_at_start is None else self.s._crm.api_calls - self.calls_at_start

    def _check_budget(self) -> None:
        """Against the usage Salesforce reported last: before the run's first call that may be
        a warm container's earlier answer, so it is checked again once the run has read."""
        if self.calls_at_start is None:
            self.calls_at_start = self.s._crm.api_calls
        if self.s._budget.spent(self.s._crm) is not None:
            raise _Stop(RunOutcome.OVER_BUDGET)

    # ------------------------------------------------------------------ planning

    def _plan(self, page: Sequence[PendingChange]) -> list[_Planned]:
        ids = [change.prospect_id for change in page]
        links = self.s._links.by_prospect_ids(ids)
        prospects = self.s._prospects.get_many(ids)
        return [
            _Planned(
                change,
                plan_prospect_change(
                    prospects.get(change.prospect_id),
                    change.prospect_id,
                    links.get(change.prospect_id),
                    self.rules,
                ),
            )
            for change in page
        ]

    def _with_salesforce_changes(self, batch: Sequence[_Planned]) -> list[_Planned]:
        """Plan again the prospects whose record Salesforce changed after outbound read it, and
        those whose snapshot does not hold a value the plan would overwrite."""
        objects = {p.link.link.crm.object for p in batch if p.plan.salesforce_writes}
        for crm in objects:
            self._read_salesforce_changes(crm)
        changed: dict[str, CrmRecord] = {}
        unknown: dict[CrmObject, dict[str, str]] = {}
        for planned in batch:
            link = planned.plan.link
            if link is not None and planned.plan.salesforce_writes:
                record = self.fresh[link.link.crm.object.sobject].get(link.link.crm.id)
                if record is not None:
                    changed[planned.pending.prospect_id] = record
                elif writes_unknown_values(planned.plan, self.rules):
                    unknown.setdefault(link.link.crm.object, {})[link.link.crm.id] = (
                        planned.pending.prospect_id
                    )
        for crm, prospect_of in unknown.items():
            for record in self.s._crm.find(crm.sobject, self._fields_read(crm), "Id", sorted(prospect_of)):
                changed[prospect_of[str(record["Id"])]] = record
        if not changed:
            return list(batch)
        # Read again: the prospect may have changed since its page was planned.
        prospects = self.s._prospects.get_many(changed)
        replanned: list[_Planned] = []
        for planned in batch:
            record = changed.get(planned.pending.prospect_id)
            if record is None:
                replanned.append(planned)
                continue
            plan = plan_prospect_change(
                prospects.get(planned.pending.prospect_id),
                planned.pending.prospect_id,
                planned.plan.link,
                self.rules,
                salesforce_now=record,
                salesforce_modified_at=as_datetime(
                    record.get("LastModifiedDate") or record.get("SystemModstamp")
                ),
            )
            replanned.append(replace(planned, plan=plan))
        return replanned

    def _fields_read(self, crm: CrmObject) -> tuple[str, ...]:
        fields = ["Id", "SystemModstamp", "LastModifiedDate"]
        fields += [m.salesforce_field for m in self.rules.mappings.get(crm, ())]
        if self.rules.owners is not None:
            fields.append(OWNER_MAPPING.salesforce_field)
        return tuple(dict.fromkeys(fields))

    def _read_salesforce_changes(self, crm: CrmObject) -> None:
        sobject = crm.sobject
        if sobject in self.fresh:
            return
        since = self.s._watermarks.watermark(f"outbound#{sobject}")
        self.fresh[sobject] = {}
        if since is None:
            # Outbound never read this object: every link's snapshot was written by this
            # connector's own writes, so it is Salesforce's current value.
            return
        until = self.now.replace(microsecond=0) + timedelta(seconds=1)
        for page in self.s._crm.read_changes(
            sobject,
            self._fields_read(crm),
            since,
            until,
            include_deleted=False,
            page_size=self.s._config.batching.read_page_size,
        ):
            self.fresh[sobject].update({str(r["Id"]): r for r in page.records})

    # ------------------------------------------------------------------ sending

    def _send(self, batch: Sequence[_Planned]) -> None:
        if not batch:
            return
        batch = self._with_salesforce_changes(batch)
        self._check_budget()
        by_sobject: dict[str, list[_Planned]] = {}
        for planned in batch:
            if planned.plan.salesforce_writes:
                by_sobject.setdefault(planned.link.link.crm.object.sobject, []).append(planned)
        results: dict[str, WriteResult] = {}
        sent: list[_Planned] = [p for p in batch if not p.plan.salesforce_writes]
        try:
            for sobject, to_write in by_sobject.items():
                written = self.s._crm.write(
                    sobject,
                    WriteOperation.UPDATE,
                    [{"Id": p.link.link.crm.id, **p.plan.salesforce_writes} for p in to_write],
                    batching=self.s._config.batching,
                )
                for item, result in zip(to_write, written, strict=True):
                    results[item.pending.prospect_id] = result
                sent += to_write
        finally:
            # When Salesforce fails a whole request, what it took before is still settled.
            self._settle(sent, results)

    def _settle(self, batch: Sequence[_Planned], results: Mapping[str, WriteResult]) -> None:
        """Save the snapshots of what Salesforce took, list the failures, stop waiting for the
        prospects whose outcome is settled."""
        snapshots: list[LinkChange] = []
        listed: list[LinkChange] = []
        settled: list[PendingChange] = []
        errors: list[SyncError] = []
        synced: list[tuple[str, str]] = []
        audit: list[AuditRecord] = []
        waiting_by_change: dict[int, PendingChange] = {}
        restores: list[ProspectChange] = []
        plan_of_restore: dict[int, _Planned] = {}
        for planned in batch:
            plan = planned.plan
            result = results.get(plan.prospect_id)
            failed = result is not None and result.failure is not None
            if not failed and (CAPTURE_OBJECT, plan.prospect_id) in self.open_errors:
                # A change record change capture refused: the prospect has been planned since.
                synced.append((CAPTURE_OBJECT, plan.prospect_id))
            if plan.outcome is InboundOutcome.TO_CREATE:
                if self._queue_creation(plan.prospect_id):
                    settled.append(planned.pending)
                continue
            if result is not None and result.failure is not None:
                error = self._error(planned, result.failure)
                errors.append(error)
                self.counts["failed"] += 1
                if error.state is ErrorState.OPEN:
                    settled.append(planned.pending)
                    if plan.prospect is not None:
                        # Listed, it waits for its next change: reconciliation must not send it.
                        link = planned.link
                        listed.append(
                            LinkChange(
                                link.link, link.snapshot, before=link, synced_version=plan.prospect.version
                            )
                        )
                continue
            self.counts[plan.outcome.value] += 1
            if plan.link is not None and result is not None:
                key = (plan.link.link.crm.object.sobject, plan.link.link.crm.id)
                if key in self.open_errors:
                    synced.append(key)
            audit += self._audit(plan)
            restore = plan.prospect_change
            if restore is not None:
                restores.append(restore)
                plan_of_restore[id(restore)] = planned
                continue
            change = plan.snapshot_change
            if change is not None:
                snapshots.append(change)
                waiting_by_change[id(change)] = planned.pending
            else:
                settled.append(planned.pending)
        # Prospects put back to Salesforce's value first: only then does the snapshot say so.
        refused_restores = {id(c) for c in self.s._prospects.save(restores)} if restores else set()
        for restore in restores:
            planned = plan_of_restore[id(restore)]
            if id(restore) in refused_restores:
                # The prospect changed again meanwhile: it is planned again with that change.
                self.counts["retried"] += 1
                continue
            change = planned.plan.snapshot_change
            if change is not None:
                snapshots.append(change)
                waiting_by_change[id(change)] = planned.pending
            else:
                settled.append(planned.pending)
        # A listed prospect whose link changed meanwhile keeps its old synced version: at worst
        # reconciliation has it tried once more.
        saved = snapshots + listed
        refused = {id(change) for change in self.s._links.save(saved)} if saved else set()
        for change in snapshots:
            if id(change) in refused:
                # The link changed meanwhile (outbound moved it, say): plan again next run.
                self.counts["retried"] += 1
            else:
                settled.append(waiting_by_change[id(change)])
        if errors:
            self.s._error_list.record_errors(errors)
        if synced:
            self.s._error_list.resolve_errors(Direction.INBOUND, synced)
        if audit:
            self.s._audit_trail.append_audit(audit, self.s._retention)
        kept = self.s._pending.done(settled) if settled else []
        if kept:
            self.counts["changed_again"] += len(kept)

    def _queue_creation(self, prospect_id: str) -> bool:
        """Queue a create_lead action for an unlinked prospect; False when the queue cannot
        take it now (the prospect keeps waiting for the next run)."""
        request = ActionRequest(ActionKind.CREATE_LEAD, prospect_id, CREATE_UNLINKED_KEY)
        accepted = AcceptedAction(
            action_id=action_id(request, new_id=lambda: ""),
            action=request.action,
            prospect_id=prospect_id,
            idempotency_key=request.idempotency_key,
            accepted_at=self.now,
        )
        try:
            self.s._actions.send(accepted.message())
        except QueueError:
            self.counts["retried"] += 1
            return False
        self.counts[InboundOutcome.TO_CREATE.value] += 1
        return True

    def _error(self, planned: _Planned, failure: Failure) -> SyncError:
        crm = planned.link.link.crm
        sobject = crm.object.sobject
        earlier = self.open_errors.get((sobject, crm.id))
        attempts = (earlier.attempts if earlier else 0) + 1
        return SyncError(
            direction=Direction.INBOUND,
            operation="update",
            sobject=sobject,
            record_id=crm.id,
            failure=failure,
            at=self.now,
            prospect_id=planned.pending.prospect_id,
            attempts=attempts,
            retries_exhausted=failure.retryable and attempts >= RETRY_BUDGET,
        )

    def _audit(self, plan: InboundPlan) -> list[AuditRecord]:
        if plan.link is None or not (plan.pushed or plan.dropped or plan.unmapped_owner):
            return []
        crm = plan.link.link.crm
        base = AuditRecord(
            prospect_id=plan.prospect_id,
            at=self.now,
            run_id=self.run_id,
            direction=Direction.INBOUND,
            crm_type=crm.object.value,
            crm_id=crm.id,
            event="field synced",
        )

        def entry(event: str, audited: AuditEntry) -> AuditRecord:
            return base._replace(
                event=event,
                field=audited.field,
                side=audited.side.value,
                old=audited.old,
                new=audited.new,
                rule=audited.reason.value,
            )

        records = [entry("field synced", e) for e in plan.pushed] + [
            entry("pending change dropped: Salesforce's value stands", e) for e in plan.dropped
        ]
        if plan.unmapped_owner is not None:
            records.append(
                base._replace(
                    event=f"owner not sent: no active Salesforce user maps to {plan.unmapped_owner}",
                )
            )
        return records
