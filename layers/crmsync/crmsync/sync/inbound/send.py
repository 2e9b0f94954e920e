"""Inbound's plan, apply and record steps for the waiting prospects a run gathered.

A page of waiting prospects is planned by the core (`domain.inbound`) from the prospects and
their links, read in two batched calls. Plans with writes are sent together, per object,
through the gateway's one write path (Collections by 200, Bulk API 2.0 from the threshold on),
so 1,000 changed prospects cost 5 Collections calls. Before sending, the records Salesforce
changed after outbound's last read are read once per object (usually none), and so are those
whose snapshot does not hold a value the plan would overwrite: for them the core plans again
with Salesforce's current values, so a pending marketing change never overwrites a newer
Salesforce value it conflicts with.

Each prospect stops waiting once its outcome is settled: written (and its link's snapshot
saved), nothing to send, or a permanent failure (in the error list, sent again when the
prospect changes again). A transient failure keeps it waiting for the next run until the retry
budget is spent. A prospect that changed again while the run sent it keeps waiting too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from crmsync.config import Configuration
from crmsync.domain.actions import Action, ActionKind
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, Report, SyncError
from crmsync.domain.errors import QueueError
from crmsync.domain.inbound import (
    CAPTURE_OBJECT,
    InboundOutcome,
    InboundPlan,
    InboundRules,
    plan_prospect_change,
    writes_unknown_values,
)
from crmsync.domain.lifecycle import LinkChange, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.owner import OWNER_MAPPING
from crmsync.domain.prospect import ProspectChange
from crmsync.domain.records import SalesforceRecord, WriteOperation, WriteResult
from crmsync.ports import (
    ActionQueue,
    CrmGateway,
    LinkStore,
    PendingChange,
    PendingChanges,
    ProspectStore,
    Watermarks,
)
from crmsync.sync.actions_intake import action_id, queue_message
from crmsync.sync.cursor import changes_read_until
from crmsync.sync.run import ReportStore, RunContext

CREATE_UNLINKED_KEY = "inbound.create_unlinked"
"""The idempotency key of the actions inbound queues for unlinked prospects: each prospect's
action id is the same every time, so repeated changes before it is linked make one record."""


@dataclass(frozen=True)
class Planned:
    pending: PendingChange
    plan: InboundPlan

    @property
    def link(self) -> StoredLink:
        assert self.plan.link is not None
        return self.plan.link


class InboundSender:
    """Plans, sends and settles the waiting prospects of one run."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        prospects: ProspectStore,
        pending: PendingChanges,
        actions: ActionQueue,
        watermarks: Watermarks,
        reports: ReportStore,
        configuration: Configuration,
        rules: InboundRules,
        context: RunContext,
        counts: Counter[str],
        check_budget: Callable[[], None],
        records_read: Mapping[str, SalesforceRecord] | None = None,
    ) -> None:
        """`records_read`: prospect id → its record, just read by Id (a manual sync); each such
        prospect is planned with its record's values, and no object's changes are read."""
        self._crm = crm
        self._links = links
        self._prospects = prospects
        self._pending = pending
        self._actions = actions
        self._watermarks = watermarks
        self._reports = reports
        self._config = configuration
        self._rules = rules
        self._context = context
        self._counts = counts
        self._check_budget = check_budget
        self._open_errors = {
            (e.sobject, e.record_id): e for e in reports.error_list.open_errors(Direction.INBOUND)
        }
        self._fresh: dict[str, dict[str, SalesforceRecord]] = {}
        """sObject → the records Salesforce changed after outbound's last read, by id."""
        self._records_read = records_read

    # ------------------------------------------------------------------ plan

    def plan(self, page: Sequence[PendingChange]) -> list[Planned]:
        ids = [change.prospect_id for change in page]
        links = self._links.by_prospect_ids(ids)
        prospects = self._prospects.get_many(ids)
        return [
            Planned(
                change,
                plan_prospect_change(
                    prospects.get(change.prospect_id),
                    change.prospect_id,
                    links.get(change.prospect_id),
                    self._rules,
                ),
            )
            for change in page
        ]

    def _with_salesforce_changes(self, batch: Sequence[Planned]) -> list[Planned]:
        """Plan again the prospects whose record Salesforce changed after outbound read it, and
        those whose snapshot does not hold a value the plan would overwrite (or, given
        `records_read`, every prospect with its record)."""
        if self._records_read is not None:
            return self._planned_again(batch, dict(self._records_read))
        for crm in {p.link.link.crm.object for p in batch if p.plan.salesforce_writes}:
            self._read_salesforce_changes(crm)
        changed: dict[str, SalesforceRecord] = {}
        unknown: dict[CrmObject, dict[str, str]] = {}
        for planned in batch:
            link = planned.plan.link
            if link is not None and planned.plan.salesforce_writes:
                record = self._fresh[link.link.crm.object.sobject].get(link.link.crm.id)
                if record is not None:
                    changed[planned.pending.prospect_id] = record
                elif writes_unknown_values(planned.plan, self._rules):
                    unknown.setdefault(link.link.crm.object, {})[link.link.crm.id] = (
                        planned.pending.prospect_id
                    )
        for crm, prospect_of in unknown.items():
            for record in self._crm().find(crm.sobject, self._fields_read(crm), "Id", sorted(prospect_of)):
                changed[prospect_of[record.id]] = record
        return self._planned_again(batch, changed)

    def _planned_again(
        self, batch: Sequence[Planned], changed: Mapping[str, SalesforceRecord]
    ) -> list[Planned]:
        """The batch, its prospects whose record is in `changed` (by prospect id) planned with it."""
        if not changed:
            return list(batch)
        # Read again: the prospect may have changed since its page was planned.
        prospects = self._prospects.get_many(changed)
        replanned: list[Planned] = []
        for planned in batch:
            record = changed.get(planned.pending.prospect_id)
            if record is None:
                replanned.append(planned)
                continue
            plan = plan_prospect_change(
                prospects.get(planned.pending.prospect_id),
                planned.pending.prospect_id,
                planned.plan.link,
                self._rules,
                salesforce_now=record,
                salesforce_modified_at=record.modified_at,
            )
            replanned.append(replace(planned, plan=plan))
        return replanned

    def _fields_read(self, crm: CrmObject) -> tuple[str, ...]:
        fields = ["Id", "SystemModstamp", "LastModifiedDate"]
        fields += [m.salesforce_field for m in self._rules.mappings.get(crm, ())]
        if self._rules.owners is not None:
            fields.append(OWNER_MAPPING.salesforce_field)
        return tuple(dict.fromkeys(fields))

    def _read_salesforce_changes(self, crm: CrmObject) -> None:
        sobject = crm.sobject
        if sobject in self._fresh:
            return
        since = changes_read_until(self._watermarks, sobject)
        self._fresh[sobject] = {}
        if since is None:
            # Outbound never read this object: every link's snapshot was written by this
            # connector's own writes, so it is Salesforce's current value.
            return
        until = self._context.now.replace(microsecond=0) + timedelta(seconds=1)
        for page in self._crm().read_changes(
            sobject,
            self._fields_read(crm),
            since,
            until,
            include_deleted=False,
            page_size=self._config.batching.read_page_size,
        ):
            self._fresh[sobject].update({record.id: record for record in page.records})

    # ------------------------------------------------------------------ apply

    def send(self, batch: Sequence[Planned]) -> list[Planned]:
        """Send the batch and settle it; the batch as sent (planned again with the records
        Salesforce changed)."""
        if not batch:
            return []
        batch = self._with_salesforce_changes(batch)
        self._check_budget()
        by_sobject: dict[str, list[Planned]] = {}
        for planned in batch:
            if planned.plan.salesforce_writes:
                by_sobject.setdefault(planned.link.link.crm.object.sobject, []).append(planned)
        results: dict[str, WriteResult] = {}
        sent: list[Planned] = [p for p in batch if not p.plan.salesforce_writes]
        try:
            for sobject, to_write in by_sobject.items():
                written = self._crm().write(
                    sobject,
                    WriteOperation.UPDATE,
                    [{"Id": p.link.link.crm.id, **p.plan.salesforce_writes} for p in to_write],
                    batching=self._config.batching,
                )
                for item, result in zip(to_write, written, strict=True):
                    results[item.pending.prospect_id] = result
                sent += to_write
        finally:
            # When Salesforce fails a whole request, what it took before is still settled.
            self._settle(sent, results)
        return batch

    def _settle(self, batch: Sequence[Planned], results: Mapping[str, WriteResult]) -> None:
        """Save the snapshots of what Salesforce took, list the failures, stop waiting for the
        prospects whose outcome is settled, and keep what the core reports of them."""
        snapshots: list[LinkChange] = []
        listed: list[LinkChange] = []
        settled: list[PendingChange] = []
        errors: list[SyncError] = []
        synced: list[tuple[str, str]] = []
        audit: list[AuditRecord] = []
        waiting_by_change: dict[int, PendingChange] = {}
        restores: list[ProspectChange] = []
        plan_of_restore: dict[int, Planned] = {}
        now, run_id = self._context.now, self._context.run_id
        for planned in batch:
            plan = planned.plan
            result = results.get(plan.prospect_id)
            failed = result is not None and result.failure is not None
            if not failed and (CAPTURE_OBJECT, plan.prospect_id) in self._open_errors:
                # A change record change capture refused: the prospect has been planned since.
                synced.append((CAPTURE_OBJECT, plan.prospect_id))
            if plan.outcome is InboundOutcome.TO_CREATE:
                if self._queue_creation(plan.prospect_id):
                    settled.append(planned.pending)
                continue
            if result is not None and result.failure is not None:
                crm = planned.link.link.crm
                error = plan.failed(result.failure, now, self._open_errors.get((crm.object.sobject, crm.id)))
                errors.append(error)
                self._counts["failed"] += 1
                if error.state is ErrorState.OPEN:
                    settled.append(planned.pending)
                    # Listed, it waits for its next change: reconciliation must not send it.
                    if (change := plan.listed_change) is not None:
                        listed.append(change)
                continue
            self._counts[plan.outcome.value] += 1
            # Written, or found in step (nothing to send: a listed record put right meanwhile).
            if plan.link is not None and (result is not None or plan.outcome is InboundOutcome.UNCHANGED):
                key = (plan.link.link.crm.object.sobject, plan.link.link.crm.id)
                if key in self._open_errors:
                    synced.append(key)
            audit += plan.audit(now, run_id)
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
        refused_restores = {id(c) for c in self._prospects.save(restores)} if restores else set()
        for restore in restores:
            planned = plan_of_restore[id(restore)]
            if id(restore) in refused_restores:
                # The prospect changed again meanwhile: it is planned again with that change.
                self._counts["retried"] += 1
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
        refused = {id(change) for change in self._links.save(saved)} if saved else set()
        for change in snapshots:
            if id(change) in refused:
                # The link changed meanwhile (outbound moved it, say): plan again next run.
                self._counts["retried"] += 1
            else:
                settled.append(waiting_by_change[id(change)])
        self._reports.keep(Report(Direction.INBOUND, audit, errors, synced))
        kept = self._pending.done(settled) if settled else []
        if kept:
            self._counts["changed_again"] += len(kept)

    def _queue_creation(self, prospect_id: str) -> bool:
        """Queue a create_lead action for an unlinked prospect; False when the queue cannot
        take it now (the prospect keeps waiting for the next run)."""
        kind = ActionKind.CREATE_LEAD
        action = Action(
            action_id=action_id(prospect_id, kind, CREATE_UNLINKED_KEY, new_id=lambda: ""),
            kind=kind,
            prospect_id=prospect_id,
            idempotency_key=CREATE_UNLINKED_KEY,
            accepted_at=self._context.now,
        )
        try:
            self._actions.send(queue_message(action))
        except QueueError:
            self._counts["retried"] += 1
            return False
        self._counts[InboundOutcome.TO_CREATE.value] += 1
        return True
