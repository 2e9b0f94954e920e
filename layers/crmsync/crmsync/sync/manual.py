"""Manual sync of one record, now (docs/guide/operator-actions.md): `POST /records/{id}/sync`.

The operator names a prospect, or a Salesforce Lead, Contact or Person Account by its Id (15 or
18 characters), and a direction (`domain.manual.ManualDirection`). It works while the connector
is paused and past its API budget: it is an operator's explicit request, as Account
Engagement's "Sync with CRM" is, and costs a few calls (`manual_request.MAX_API_CALLS`). Each direction's part
goes `read → plan → apply → record` through the runs' own pieces, so the rules, the audit
entries and the error list entries are the ones a run would make:

- outbound: the record is read by Id and applied as a run applies a chunk of one
  (`sync/outbound/objects.py`): lifecycle, scope, matching, fields; a Contact's Account fields
  too (its own Account only). The change watermarks do not move.
- inbound, a linked prospect: planned by the core with the record's current values (read by
  Id, or as the outbound part just read it), then sent and settled by the inbound run's sender.
- inbound, a prospect without a link: carried out as a `create_lead` automation action
  (`create_contact` where Leads are not synced), claims and all: linked to the record its email
  finds (`email` matching), or to one created for it, exactly once.

It takes the run lease of each direction it syncs, for as long as it works: a run plans from
what the stores and Salesforce say before it writes, and the manual sync changing the same
record in between would have one of them write over the other's newer value. While a run holds
a lease, the manual sync is refused (`RunInProgress`); a run that comes meanwhile finds the
lease taken and goes at its next tick. No run summary is kept: it is no run of a direction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from crmsync.config import Configuration
from crmsync.domain.action_results import IN_PROGRESS, Outcome
from crmsync.domain.actions import Action, ActionKind
from crmsync.domain.audit import Direction, Report
from crmsync.domain.errors import ConfigurationError, CrmError, ErrorCategory, Failure, StoreError
from crmsync.domain.lifecycle import CrmRef, LinkStatus, StoredLink
from crmsync.domain.manual import DirectionResult, ManualDirection, direction_result, manual_sync_audit
from crmsync.domain.objects import CrmObject, object_of, object_of_id, salesforce_id
from crmsync.domain.outbound import RecordOutcome
from crmsync.domain.records import SalesforceRecord
from crmsync.ports import (
    ActionClaims,
    ActionQueue,
    AuditTrail,
    Clock,
    CrmGateway,
    ErrorList,
    Leases,
    LinkStore,
    PendingChange,
    PendingChanges,
    ProspectStore,
    RetryList,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.actions.batch import ActionBatch
from crmsync.sync.actions.consumer import automation_rules
from crmsync.sync.actions.records import ActionRecords
from crmsync.sync.actions_intake import action_id
from crmsync.sync.cursor import ChangeCursor
from crmsync.sync.inbound import LEASE as INBOUND_LEASE
from crmsync.sync.inbound.send import InboundSender
from crmsync.sync.inbound.sync import inbound_rules
from crmsync.sync.leases import lease_held
from crmsync.sync.manual_request import (
    ManualSyncFailed,
    ManualSyncReport,
    RunInProgress,
    UnknownRecord,
)
from crmsync.sync.outbound import LEASE as OUTBOUND_LEASE
from crmsync.sync.outbound.objects import OutboundStores, object_appliers, outbound_rules
from crmsync.sync.outbound.reads import account_fields, account_mappings, person_fields
from crmsync.sync.run import ReportStore, RunContext

MANUAL_SYNC_KEY = "manual sync"
"""The idempotency key of the action a manual sync carries out for an unlinked prospect: the
same action id every time, and the claims (by prospect) keep it to one record."""


@dataclass(frozen=True)
class _Target:
    """The record asked for, as the stores know it before the sync."""

    record_id: str
    prospect_id: str | None
    crm: CrmRef | None
    named_in_salesforce: bool
    """The id asked for was a Salesforce record's (not a prospect's)."""


@dataclass(frozen=True)
class _KeptReports(ReportStore):
    """The record step, remembering what it kept: the manual sync answers with it."""

    kept: list[Report] = field(default_factory=list)

    def keep(self, report: Report) -> None:
        super().keep(report)
        self.kept.append(report)


@dataclass(frozen=True)
class ManualPorts:
    """What a manual sync reads and keeps, besides Salesforce."""

    links: LinkStore
    prospects: ProspectStore
    pending: PendingChanges
    actions: ActionQueue
    claims: ActionClaims
    watermarks: Watermarks
    retry_list: RetryList
    user_directory: UserDirectory
    audit_trail: AuditTrail
    error_list: ErrorList
    connector: StateStore
    retention_days: int
    new_prospect_id: Callable[[], str]


class ManualSync:
    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        prospects: ProspectStore,
        pending: PendingChanges,
        actions: ActionQueue,
        claims: ActionClaims,
        leases: Leases,
        watermarks: Watermarks,
        retry_list: RetryList,
        user_directory: UserDirectory,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        connector: StateStore,
        configuration: Configuration,
        clock: Clock,
        audit_retention_days: int = 30,
        new_prospect_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._crm = crm
        self._leases = leases
        self._config = configuration
        self._clock = clock
        self._ports = ManualPorts(
            links=links,
            prospects=prospects,
            pending=pending,
            actions=actions,
            claims=claims,
            watermarks=watermarks,
            retry_list=retry_list,
            user_directory=user_directory,
            audit_trail=audit_trail,
            error_list=error_list,
            connector=connector,
            retention_days=audit_retention_days,
            new_prospect_id=new_prospect_id,
        )

    def sync(
        self,
        record_id: str,
        direction: ManualDirection,
        *,
        caller: str,
        run_id: str,
        remaining_ms: Callable[[], int],
    ) -> ManualSyncReport:
        """Sync the record now. Raises `UnknownRecord`, `RunInProgress`, `ManualSyncFailed`, or
        a `StoreError` when the connector's own tables cannot be reached."""
        target = self._resolve(record_id, direction)
        now = self._clock.now()
        with ExitStack() as held:
            for part in direction.directions:
                lease = OUTBOUND_LEASE if part is Direction.OUTBOUND else INBOUND_LEASE
                if not held.enter_context(lease_held(self._leases, lease, run_id, now, remaining_ms())):
                    raise RunInProgress(f"the {lease} run")
            run = _ManualRun(
                crm=self._crm,
                ports=self._ports,
                configuration=self._config,
                target=target,
                direction=direction,
                caller=caller,
                context=RunContext(run_id, now, remaining_ms, stop_margin_ms=0),
            )
            return run.execute()

    def _resolve(self, record_id: str, direction: ManualDirection) -> _Target:
        prospect = self._ports.prospects.get_many([record_id]).get(record_id)
        if prospect is not None:
            link = self._ports.links.by_prospect_ids([record_id]).get(record_id)
            return _Target(record_id, record_id, link.link.crm if link else None, named_in_salesforce=False)
        sf_id = salesforce_id(record_id)
        crm = object_of_id(sf_id) if sf_id else None
        if sf_id is None or crm is None:
            raise UnknownRecord(
                record_id,
                f"{record_id!r} is neither a prospect's id nor the Id of a Salesforce Lead, Contact or "
                "Person Account (15 or 18 characters)",
            )
        link = self._ports.links.by_crm_ids([sf_id]).get(sf_id)
        if link is None and direction is ManualDirection.INBOUND:
            raise UnknownRecord(
                record_id,
                f"no prospect is linked to {crm.value} {sf_id}: there is nothing to send; sync it "
                "outbound (or both ways) to bring it in",
            )
        return _Target(
            record_id, link.link.prospect_id if link else None, CrmRef(crm, sf_id), named_in_salesforce=True
        )


class _ManualRun:
    """One manual sync, its leases held: each direction's part in turn."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        ports: ManualPorts,
        configuration: Configuration,
        target: _Target,
        direction: ManualDirection,
        caller: str,
        context: RunContext,
    ) -> None:
        self._build_crm = crm
        self._ports = ports
        self._config = configuration
        self._target = target
        self._direction = direction
        self._caller = caller
        self._context = context
        self._gateway: CrmGateway | None = None
        self._calls_at_start = 0
        self._prospect_id = target.prospect_id
        self._crm = target.crm
        self._record: SalesforceRecord | None = None
        """The record as the outbound part read it (the inbound part plans with it)."""
        self._results: dict[Direction, DirectionResult] = {}

    def execute(self) -> ManualSyncReport:
        for part in self._direction.directions:
            try:
                result = self._outbound() if part is Direction.OUTBOUND else self._inbound()
            except CrmError as exc:
                raise ManualSyncFailed(exc.failure, self._report()) from exc
            except ConfigurationError as exc:
                # The Salesforce secret is missing or malformed: no login can even be tried.
                failure = Failure("CONFIGURATION", str(exc), category=ErrorCategory.CONFIGURATION)
                raise ManualSyncFailed(failure, self._report()) from exc
            self._results[part] = result
        return self._report()

    def _report(self) -> ManualSyncReport:
        calls = 0 if self._gateway is None else self._gateway.api_calls - self._calls_at_start
        return ManualSyncReport(
            record_id=self._target.record_id,
            prospect_id=self._prospect_id,
            salesforce=self._crm,
            direction=self._direction,
            caller=self._caller,
            run_id=self._context.run_id,
            results=dict(self._results),
            api_calls=calls,
        )

    def _salesforce(self) -> CrmGateway:
        if self._gateway is None:
            self._gateway = self._build_crm()
            self._calls_at_start = self._gateway.api_calls
        return self._gateway

    def _reports(self) -> _KeptReports:
        ports = self._ports
        return _KeptReports(ports.audit_trail, ports.error_list, ports.retention_days)

    def _opened(self, reports: _KeptReports, direction: Direction) -> None:
        """The audit entry saying who asked, first in the prospect's trail for this part."""
        if self._prospect_id is not None:
            audit = manual_sync_audit(
                self._prospect_id,
                self._crm,
                direction,
                caller=self._caller,
                at=self._context.now,
                run_id=self._context.run_id,
            )
            reports.keep(Report(direction, [audit]))

    # ------------------------------------------------------------------ outbound

    def _outbound(self) -> DirectionResult:
        crm, config = self._crm, self._config
        if crm is None:
            return DirectionResult(
                Direction.OUTBOUND,
                "not_linked",
                f"prospect {self._prospect_id} has no Salesforce record: there is nothing to read; "
                "an inbound sync links it to a record or creates one",
            )
        if not config.objects.syncs(crm.object):
            return _not_synced(Direction.OUTBOUND, crm.object)
        gateway = self._salesforce()
        sobject = crm.object.sobject
        found = gateway.find(sobject, (*person_fields(config, crm.object), "IsDeleted"), "Id", [crm.id])
        if not found:
            if self._prospect_id is None:
                raise UnknownRecord(
                    self._target.record_id,
                    f"Salesforce has no {crm.object.value} {crm.id}, and no prospect is linked to it",
                )
            return DirectionResult(
                Direction.OUTBOUND,
                "not_found",
                f"Salesforce has no {crm.object.value} {crm.id} any more (deleted, and emptied from the "
                "recycle bin): the link stays as it is",
            )
        record = found[0]
        person = object_of(sobject, person_account=record.person_account)
        if person is None:
            return DirectionResult(
                Direction.OUTBOUND,
                "unchanged",
                f"Contact {record.id} is a person account's own contact: sync its Person Account "
                f"{record.get('AccountId')} instead",
            )
        if not person.is_person:
            raise UnknownRecord(
                self._target.record_id,
                f"{crm.id} is a business Account: no prospect is linked to one (its fields reach the "
                "prospects of its contacts)",
            )
        reports = self._reports()
        self._opened(reports, Direction.OUTBOUND)
        counts: Counter[str] = Counter()
        appliers = object_appliers(
            crm=gateway,
            stores=OutboundStores(
                links=self._ports.links,
                prospects=self._ports.prospects,
                watermarks=self._ports.watermarks,
                retry_list=self._ports.retry_list,
                user_directory=self._ports.user_directory,
                connector=self._ports.connector,
                reports=reports,
                pending=self._ports.pending,
            ),
            configuration=config,
            rules=outbound_rules(config, self._ports.user_directory.users().values()),
            context=self._context,
            cursor=ChangeCursor(self._ports.watermarks, self._ports.retry_list),
            counts=counts,
            new_prospect_id=self._ports.new_prospect_id,
        )
        appliers.people.apply(person, [record])
        plan = next(iter(appliers.applier.last_plans), None)
        outcome = (
            "retried"
            if counts["retried"]
            else (plan.outcome.value if plan else RecordOutcome.UNCHANGED.value)
        )
        reason = plan.reason if plan else ""
        if counts["retried"]:
            reason = (
                "the link or the prospect changed while it was synced: the next outbound run reads it again"
            )
        self._record = record
        link = self._ports.links.by_crm_ids([record.id]).get(record.id)
        if link is not None and link.link.status is not LinkStatus.REPLACED:
            if self._prospect_id is None:
                self._prospect_id = link.link.prospect_id
                self._opened(reports, Direction.OUTBOUND)
            self._crm = link.link.crm
            if person is CrmObject.CONTACT and link.link.status is LinkStatus.ACTIVE:
                self._account_fields(gateway, record, link, appliers.related.apply_account_fields)
        return direction_result(Direction.OUTBOUND, outcome, reason, reports.kept)

    def _account_fields(
        self,
        gateway: CrmGateway,
        contact: SalesforceRecord,
        link: StoredLink,
        apply: Callable[[Sequence[SalesforceRecord], Mapping[str, Sequence[StoredLink]]], None],
    ) -> None:
        """A Contact's own Account's mapped fields onto its prospect (not onto every prospect of
        the Account's contacts, as the runs do: that is the Account's sync, not this record's)."""
        config = self._config
        account_id = contact.get("AccountId")
        if not (config.objects.account_fields and account_mappings(config) and account_id):
            return
        accounts = gateway.find("Account", (*account_fields(config), "IsDeleted"), "Id", [str(account_id)])
        apply(accounts, {str(account_id): [link]})

    # ------------------------------------------------------------------ inbound

    def _inbound(self) -> DirectionResult:
        links, prospects = self._ports.links, self._ports.prospects
        if self._crm is not None and self._prospect_id is None:
            linked = links.by_crm_ids([self._crm.id]).get(self._crm.id)
            self._prospect_id = linked.link.prospect_id if linked else None
        prospect_id = self._prospect_id
        if prospect_id is None:
            crm = self._crm
            assert crm is not None
            return DirectionResult(
                Direction.INBOUND,
                "not_linked",
                f"no prospect is linked to {crm.object.value} {crm.id}: there is nothing to send",
            )
        prospect = prospects.get_many([prospect_id]).get(prospect_id)
        if prospect is None:
            return DirectionResult(
                Direction.INBOUND, "prospect_missing", f"prospect {prospect_id} no longer exists"
            )
        link = links.by_prospect_ids([prospect_id]).get(prospect_id)
        if link is None:
            return self._create_or_link(prospect_id)
        self._crm = link.link.crm
        return self._send(prospect_id, prospect.version, link)

    def _send(self, prospect_id: str, version: int, link: StoredLink) -> DirectionResult:
        config, crm = self._config, link.link.crm
        if not config.objects.syncs(crm.object):
            return _not_synced(Direction.INBOUND, crm.object)
        rules = inbound_rules(config, self._ports.user_directory.users().values())
        record = self._record if self._record is not None and self._record.id == crm.id else None
        if record is None and link.link.status is LinkStatus.ACTIVE:
            fields = (*person_fields(config, crm.object), "LastModifiedDate")
            found = self._salesforce().find(crm.object.sobject, fields, "Id", [crm.id])
            record = found[0] if found else None
        reports = self._reports()
        self._opened(reports, Direction.INBOUND)
        counts: Counter[str] = Counter()
        sender = InboundSender(
            crm=self._salesforce,
            links=self._ports.links,
            prospects=self._ports.prospects,
            pending=self._ports.pending,
            actions=self._ports.actions,
            watermarks=self._ports.watermarks,
            reports=reports,
            configuration=config,
            rules=rules,
            context=self._context,
            counts=counts,
            check_budget=lambda: None,  # an operator's request: it goes past the budget
            # A record gone for good: planned from its snapshot, and Salesforce says it is gone.
            records_read={prospect_id: record} if record is not None else {},
        )
        waiting = self._ports.pending.versions([prospect_id]).get(prospect_id, version)
        planned = sender.plan([PendingChange(prospect_id, waiting)])
        plan = sender.send(planned)[0].plan
        outcome = next((name for name in ("failed", "retried") if counts[name]), None)
        if outcome is None:
            outcome = next((name for name, count in counts.items() if count), plan.outcome.value)
        return direction_result(Direction.INBOUND, outcome, plan.reason, reports.kept)

    def _create_or_link(self, prospect_id: str) -> DirectionResult:
        """The prospect has no record: it gets one as an automation action would give it one."""
        config = self._config
        if config.objects.leads:
            kind = ActionKind.CREATE_LEAD
        elif config.objects.contacts:
            kind = ActionKind.CREATE_CONTACT
        else:
            return DirectionResult(
                Direction.INBOUND,
                "not_synced",
                "neither Leads nor Contacts are synced (objects in the configuration): no record is made",
            )
        rules = automation_rules(config)
        reports = self._reports()
        self._opened(reports, Direction.INBOUND)
        batch = ActionBatch(
            records=ActionRecords(
                crm=self._salesforce, links=self._ports.links, rules=rules, batching=config.batching
            ),
            links=self._ports.links,
            prospects=self._ports.prospects,
            claims=self._ports.claims,
            reports=reports,
            rules=rules,
            tags=config.tags,
            context=self._context,
        )
        action = Action(
            action_id=action_id(prospect_id, kind, MANUAL_SYNC_KEY, new_id=lambda: ""),
            kind=kind,
            prospect_id=prospect_id,
            idempotency_key=MANUAL_SYNC_KEY,
            accepted_at=self._context.now,
        )
        # No queue delivers it again: a passing failure is listed as open, not as retrying.
        [result] = batch.carry_out([action], last_receive={prospect_id})
        failure = result.failure
        if result.outcome is Outcome.RETRY and failure is not None:
            if failure.code == IN_PROGRESS:
                raise RunInProgress(f"an automation action for prospect {prospect_id}")
            # Claims and links are the connector's own tables; the other steps are Salesforce's.
            raise (StoreError if result.operation in ("claim", "link") else CrmError)(failure)
        if result.crm is not None:
            self._crm = result.crm
        reason = result.decision.reason if result.decision is not None else ""
        if failure is not None:
            reason = failure.describe()
        return direction_result(Direction.INBOUND, result.outcome.value, reason, reports.kept)


def _not_synced(direction: Direction, crm: CrmObject) -> DirectionResult:
    return DirectionResult(
        direction,
        "not_synced",
        f"{crm.value} records are not synced (objects in the configuration): nothing is done",
    )
