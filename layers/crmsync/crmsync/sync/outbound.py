"""Outbound sync, Salesforce → marketing (docs/guide/: matching, fields, scope,
schedules, lifecycle, control): one scheduled run.

A run holds the `outbound` lease (one run at a time), syncs Salesforce Users (even while the
connector is paused), then, when running and within the API budget, reads every synced object
changed since its watermark, oldest first, in chunks of up to 1,000 records. For each chunk it
reads what the stores know in a few batched calls, asks the core for one plan per record
(`domain.outbound`), carries the plans out in batches, and only then moves the watermark past
the chunk: a run stopped by its deadline, or by a crash, resumes from the last chunk applied.
A record that could not be applied (a prospect or link changed under the run) goes to the
retry list and is read again by id at the start of the next run, so nothing is lost behind
the watermark.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from crmsync.config import OPPORTUNITY_MAPPING, Configuration, OwnerDirection
from crmsync.domain.audit import AuditRecord, Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.fields import Behaviour, FieldMapping
from crmsync.domain.lifecycle import LinkChange, LinkStatus, StoredLink, lead_converted_into
from crmsync.domain.matching import MatchingMode, ProspectCandidate, normalize_email
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.outbound import OutboundRules, PersonRecord, RecordPlan, plan_person_record
from crmsync.domain.owner import owner_map
from crmsync.domain.plan import SideState, plan_field_sync
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import CrmRecord, Watermark
from crmsync.domain.scope import Flagged, MatchingCriteria, OutboundScope, as_checkbox, as_datetime, in_scope
from crmsync.ports import (
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
    RunLog,
    RunOutcome,
    RunSummary,
    SalesforceUser,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.budget import ApiBudget
from crmsync.sync.leases import RunStopped, run_under_lease

Change = TypeVar("Change", LinkChange, ProspectChange)

LEASE = "outbound"
STOP_MARGIN_MS = 15_000
"""Stop taking new chunks when less than this is left before the Lambda deadline: applying
one chunk (a few dozen batched DynamoDB calls) takes a second or two, the rest is headroom."""
CHUNK_SIZE = 1_000
"""Records applied together, then the watermark moves past them. Each chunk costs a watermark
write and part-filled batches at the end of each step (a new prospect is 3 items, so 33 go to
a transaction of 100); chunks of 1,000 rather than 200 spent 9% fewer DynamoDB calls on a run
of new Leads (`make bench`). A crash repeats at most one chunk's work, which is idempotent."""
RETRY_BATCH = 200
"""Records on the retry list read again by Id per query (their Ids make the SOQL `IN` list)."""

_COMMON_FIELDS = ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate", "OwnerId", "MasterRecordId")
_PERSON_FIELDS: Mapping[CrmObject, tuple[str, ...]] = {
    CrmObject.LEAD: (*_COMMON_FIELDS, "Email", "IsConverted", "ConvertedContactId", "ConvertedAccountId"),
    CrmObject.CONTACT: (*_COMMON_FIELDS, "Email", "AccountId"),
    CrmObject.PERSON_ACCOUNT: (*_COMMON_FIELDS, "PersonEmail", "IsPersonAccount"),
}
_USER_FIELDS = ("Id", "SystemModstamp", "Email", "Name", "IsActive")
_OPPORTUNITY_FIELDS = ("Id", "SystemModstamp", *(m.salesforce_field for m in OPPORTUNITY_MAPPING))


@dataclass(frozen=True)
class _ObjectRead:
    """One incremental read of a run: a Salesforce object, its fields, what applies a chunk."""

    sobject: str
    fields: tuple[str, ...]
    apply: Callable[[Sequence[CrmRecord]], None]

    @property
    def watermark_key(self) -> str:
        return f"outbound#{self.sobject}"


class _Stop(RunStopped):
    """The run must stop before its deadline; what was applied is kept."""


class OutboundSync:
    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        prospects: ProspectStore,
        leases: Leases,
        watermarks: Watermarks,
        retry_list: RetryList,
        user_directory: UserDirectory,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        run_log: RunLog,
        connector: StateStore,
        configuration: Configuration,
        clock: Clock,
        pending: PendingChanges | None = None,
        api_budget_percent: float = 50.0,
        audit_retention_days: int = 30,
        stop_margin_ms: int = STOP_MARGIN_MS,
        new_prospect_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._crm_factory = crm
        self._links = links
        self._prospects = prospects
        self._leases = leases
        self._watermarks = watermarks
        self._retry_list = retry_list
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
        self._new_prospect_id = new_prospect_id
        self._pending = pending

    def run(self, remaining_ms: Callable[[], int], run_id: str) -> RunSummary:
        """One scheduled tick: a run when `outbound.schedule` has passed since the last one
        started, "not_due" (nothing read but that start, Salesforce untouched) otherwise."""
        return run_under_lease(
            Direction.OUTBOUND,
            LEASE,
            run_id,
            remaining_ms=remaining_ms,
            leases=self._leases,
            run_log=self._run_log,
            clock=self._clock,
            start=lambda: _Run(self, run_id, remaining_ms),
            every=self._config.outbound.schedule.interval,
        )


class _Run:
    """One run's working state: the settled second it reads up to, its counts, the user map."""

    def __init__(self, sync: OutboundSync, run_id: str, remaining_ms: Callable[[], int]) -> None:
        self.s = sync
        self.crm = sync._crm_factory()
        self.run_id = run_id
        self.remaining_ms = remaining_ms
        self.now = sync._clock.now()
        # Records stamped in the current second may still be joined by others with a lower
        # Id; reading up to the start of this second keeps the (stamp, Id) watermark exact.
        self.until = self.now.replace(microsecond=0)
        self.counts: Counter[str] = Counter()
        self.calls_at_start = self.crm.api_calls
        self.open_errors: set[tuple[str, str]] = set()
        self.failed_inbound: set[tuple[str, str]] = set()
        """(sObject, record id) whose last inbound write failed: a change of the record in
        Salesforce sends the prospect's pending values again (docs/guide/errors.md)."""
        """(sObject, record id) of the error list's outbound entries, to resolve when they sync."""
        config = sync._config
        self.config = config
        self.rules = OutboundRules(
            matching=config.matching,
            conflict_winner=config.conflict_winner,
            tags=config.tags,
            mappings={crm: config.mappings.get(crm, ()) for crm in PEOPLE},
        )

    # ------------------------------------------------------------------ the run

    def api_calls(self) -> int:
        return self.crm.api_calls - self.calls_at_start

    def execute(self) -> RunOutcome:
        self._sync_users()
        if self.s._connector.connector_state().paused:
            return RunOutcome.PAUSED
        self.open_errors = {
            (e.sobject, e.record_id) for e in self.s._error_list.open_errors(Direction.OUTBOUND)
        }
        if self.s._pending is not None:
            self.failed_inbound = {
                (e.sobject, e.record_id)
                for e in self.s._error_list.open_errors(Direction.INBOUND)
                if e.prospect_id
            }
        try:
            self._check_budget()
            self._retry_records()
            for read in self._reads():
                self._read(read)
        except _Stop as stop:
            return stop.outcome
        return RunOutcome.COMPLETED

    def _check_deadline(self) -> None:
        if self.remaining_ms() < self.s._stop_margin:
            raise _Stop(RunOutcome.CUT_SHORT)

    def _check_budget(self) -> None:
        if self.s._budget.spent(self.crm) is not None:
            raise _Stop(RunOutcome.OVER_BUDGET)

    def _read(self, read: _ObjectRead) -> None:
        since = self.s._watermarks.watermark(read.watermark_key)
        pages = self.crm.read_changes(
            read.sobject, read.fields, since, self.until, page_size=self.config.batching.read_page_size
        )
        for page in pages:
            for start in range(0, len(page.records), CHUNK_SIZE):
                self._check_deadline()
                chunk = page.records[start : start + CHUNK_SIZE]
                read.apply(chunk)
                last = chunk[-1]
                stamp = as_datetime(last["SystemModstamp"])
                assert stamp is not None
                self.s._watermarks.save_watermark(read.watermark_key, Watermark(stamp, str(last["Id"])))
            self._check_budget()
            # Before the next page is fetched: a page read and then left unapplied is a wasted call.
            self._check_deadline()

    def _reads(self) -> Iterator[_ObjectRead]:
        objects = self.config.objects
        if objects.leads:
            yield _ObjectRead("Lead", self._person_fields(CrmObject.LEAD), self._apply_leads)
        if objects.contacts:
            yield _ObjectRead("Contact", self._person_fields(CrmObject.CONTACT), self._apply_contacts)
        if objects.person_accounts or (objects.account_fields and self._account_mappings()):
            yield _ObjectRead("Account", self._account_fields(), self._apply_accounts)
        if objects.opportunities:
            yield _ObjectRead("Opportunity", _OPPORTUNITY_FIELDS, self._apply_opportunities)

    def _retry_records(self) -> None:
        waiting = self.s._retry_list.records_to_retry(Direction.OUTBOUND)
        handlers = {read.sobject: read for read in self._reads()}
        for sobject, ids in waiting.items():
            read = handlers.get(sobject)
            if read is None:
                self.s._retry_list.clear_retry(Direction.OUTBOUND, sobject, ids)
                continue
            for start in range(0, len(ids), RETRY_BATCH):
                self._check_deadline()
                batch = ids[start : start + RETRY_BATCH]
                records = self.crm.find(sobject, read.fields, "Id", batch)
                read.apply(records)
                self.s._retry_list.clear_retry(Direction.OUTBOUND, sobject, batch)

    # ------------------------------------------------------------------ fields read

    def _person_fields(self, crm: CrmObject) -> tuple[str, ...]:
        fields = list(_PERSON_FIELDS[crm])
        if crm is CrmObject.CONTACT and self.config.objects.person_accounts:
            fields.append("IsPersonAccount")
        fields += [
            m.salesforce_field for m in self.rules.mappings.get(crm, ()) if m.behaviour is not Behaviour.NONE
        ]
        fields += _scope_fields(self.config.outbound.scope.get(crm))
        return tuple(dict.fromkeys(fields))

    def _account_mappings(self) -> Sequence[FieldMapping]:
        return [
            m for m in self.config.mappings.get(CrmObject.ACCOUNT, ()) if m.behaviour is not Behaviour.NONE
        ]

    def _account_fields(self) -> tuple[str, ...]:
        fields = list(_COMMON_FIELDS)
        if self.config.objects.person_accounts:
            fields += self._person_fields(CrmObject.PERSON_ACCOUNT)
        if self.config.objects.account_fields:
            fields += [m.salesforce_field for m in self._account_mappings()]
        return tuple(dict.fromkeys(fields))

    # ------------------------------------------------------------------ users

    def _sync_users(self) -> None:
        key = "outbound#User"
        since = self.s._watermarks.watermark(key)
        for page in self.crm.read_changes("User", _USER_FIELDS, since, self.until, include_deleted=False):
            users = [
                SalesforceUser(
                    id=str(r["Id"]),
                    email=normalize_email(r.get("Email")),
                    name=str(r.get("Name") or ""),
                    active=as_checkbox(r.get("IsActive")),
                )
                for r in page.records
            ]
            if users:
                self.s._user_directory.save_users(users)
                self.counts["users"] += len(users)
            if page.watermark is not None:
                self.s._watermarks.save_watermark(key, page.watermark)
        owners = owner_map(
            ((u.id, u.email, u.active) for u in self.s._user_directory.users().values()),
            self.config.owner.user_map,
        )
        self.rules = replace(
            self.rules,
            owner_emails=owners,
            owner_two_way=self.config.owner.direction is OwnerDirection.TWO_WAY,
        )

    # ------------------------------------------------------------------ people

    def _apply_leads(self, records: Sequence[CrmRecord]) -> None:
        self._apply_people(CrmObject.LEAD, records)

    def _apply_contacts(self, records: Sequence[CrmRecord]) -> None:
        # A Person Account's hidden Contact is synced as the Person Account itself.
        people = [r for r in records if not as_checkbox(r.get("IsPersonAccount"))]
        self._apply_people(CrmObject.CONTACT, people)

    def _apply_accounts(self, records: Sequence[CrmRecord]) -> None:
        if self.config.objects.person_accounts:
            self._apply_people(
                CrmObject.PERSON_ACCOUNT, [r for r in records if as_checkbox(r.get("IsPersonAccount"))]
            )
        if self.config.objects.account_fields:
            self._apply_account_fields([r for r in records if not as_checkbox(r.get("IsPersonAccount"))])

    def _apply_people(self, crm: CrmObject, records: Sequence[CrmRecord]) -> None:
        self.counts["read"] += len(records)
        # Deletions, merges and conversions move links; the chunk's other records (a merge's
        # survivor, say) are planned once those moves are stored, so they see them.
        moving: list[CrmRecord] = []
        staying: list[CrmRecord] = []
        for record in records:
            moves = as_checkbox(record.get("IsDeleted")) or as_checkbox(record.get("IsConverted"))
            (moving if moves else staying).append(record)
        for batch in (moving, staying):
            if batch:
                self._plan_and_apply_people(crm, batch)

    def _plan_and_apply_people(self, crm: CrmObject, records: Sequence[CrmRecord]) -> None:
        scope = self.config.outbound.scope.get(crm)
        related = {
            str(r[f])
            for r in records
            for f in ("ConvertedContactId", "ConvertedAccountId", "MasterRecordId")
            if r.get(f)
        }
        links = self.s._links.by_crm_ids({str(r["Id"]) for r in records} | related)
        prospects = self.s._prospects.get_many({stored.link.prospect_id for stored in links.values()})
        person_accounts = self._person_accounts_converted_into([r for r in records if str(r["Id"]) in links])
        unlinked = [r for r in records if str(r["Id"]) not in links and not as_checkbox(r.get("IsDeleted"))]
        candidates = self._candidates(crm, unlinked)
        candidate_links = self.s._links.by_prospect_ids(
            {p.id for found in candidates.values() for p in found}
        )

        plans: list[RecordPlan] = []
        for values in records:
            record_id = str(values["Id"])
            stored = links.get(record_id)
            found = candidates.get(self._candidate_key(crm, values) or "", [])
            person = PersonRecord(
                object=crm,
                values=values,
                in_scope=scope is not None and in_scope(scope, values),
                link=stored,
                prospect=prospects.get(stored.link.prospect_id) if stored else None,
                candidates=[
                    ProspectCandidate(id=p.id, email=p.email, crm_id=p.crm_id, linked=p.id in candidate_links)
                    for p in found
                ],
                candidate_prospects={p.id: p for p in found},
                target_link=self._target_link(values, links, person_accounts),
                converted_into_person_account=values.get("ConvertedAccountId") in person_accounts,
            )
            plans.append(plan_person_record(person, self.rules, self.now, self.s._new_prospect_id))
        self._carry_out(crm.sobject, plans)

    def _candidate_key(self, crm: CrmObject, values: CrmRecord) -> str | None:
        if self.config.matching is MatchingMode.CRM_ID:
            return str(values["Id"])
        return normalize_email(crm.email_of(values))

    def _candidates(self, crm: CrmObject, unlinked: Sequence[CrmRecord]) -> dict[str, list[Prospect]]:
        keys = {key for r in unlinked if (key := self._candidate_key(crm, r))}
        if not keys:
            return {}
        if self.config.matching is MatchingMode.CRM_ID:
            return self.s._prospects.find_by_crm_ids(keys)
        return self.s._prospects.find_by_emails(keys)

    @staticmethod
    def _target_link(
        values: CrmRecord, links: Mapping[str, StoredLink], person_accounts: AbstractSet[str]
    ) -> StoredLink | None:
        if as_checkbox(values.get("IsDeleted")):
            target = values.get("MasterRecordId")
        elif as_checkbox(values.get("IsConverted")):
            account = values.get("ConvertedAccountId") or None
            converted = lead_converted_into(
                values.get("ConvertedContactId") or None,
                account,
                account_is_person_account=account in person_accounts,
            )
            target = converted.id if converted else None
        else:
            return None
        return links.get(str(target)) if target else None

    def _person_accounts_converted_into(self, linked: Sequence[CrmRecord]) -> frozenset[str]:
        """Which of the linked converted Leads' accounts are person accounts. A Lead does not
        say, so they are read: one query per 200 (a SOQL `IN` list that fits a URL), and only
        for a chunk that holds a linked conversion."""
        if not self.config.objects.person_accounts:
            return frozenset()
        ids = sorted(
            {
                str(r["ConvertedAccountId"])
                for r in linked
                if as_checkbox(r.get("IsConverted")) and r.get("ConvertedAccountId")
            }
        )
        found: set[str] = set()
        for start in range(0, len(ids), RETRY_BATCH):
            rows = self.crm.find("Account", ("IsPersonAccount",), "Id", ids[start : start + RETRY_BATCH])
            found.update(str(row["Id"]) for row in rows if as_checkbox(row.get("IsPersonAccount")))
        return frozenset(found)

    def _carry_out(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        """Links first, then prospects, then snapshots; a record whose step is refused stops
        there and is read again next run."""
        retry: set[str] = set()
        linked = _save_step(plans, lambda p: p.link_change, self.s._links.save, retry)
        written = _save_step(linked, lambda p: p.prospect_change, self.s._prospects.save, retry)
        _save_step(written, lambda p: p.snapshot_change, self.s._links.save, retry)
        if retry:
            self.s._retry_list.mark_for_retry(Direction.OUTBOUND, sobject, sorted(retry))
            self.counts["retried"] += len(retry)
        finished = [p for p in plans if p.crm.id not in retry]
        for plan in finished:
            self.counts[plan.outcome] += 1
        self._report(sobject, finished)
        self._note_inbound_passes(finished)
        self._send_failed_inbound_again(sobject, finished)

    def _note_inbound_passes(self, plans: Sequence[RecordPlan]) -> None:
        """The prospects whose values Salesforce must take wait for the next inbound run, as a
        marketing change would: nothing on the marketing side may ever change to send them."""
        waiting = [PendingChange(plan.inbound_pass, 0) for plan in plans if plan.inbound_pass is not None]
        if waiting and self.s._pending is not None:
            self.s._pending.add(waiting)
            self.counts["inbound_needed"] += len(waiting)

    def _send_failed_inbound_again(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        failed = {plan.crm.id for plan in plans if (sobject, plan.crm.id) in self.failed_inbound}
        if not failed or self.s._pending is None:
            return
        # A record read "already in step" plans no change, so its prospect comes from its link.
        links = self.s._links.by_crm_ids(failed)
        again = [
            PendingChange(stored.link.prospect_id, 0)
            for stored in links.values()
            # A replaced record is history: its prospect's values now go to another record.
            if stored.link.status is not LinkStatus.REPLACED
        ]
        if again:
            self.s._pending.add(again)
            self.counts["inbound_retried"] += len(again)
        self.failed_inbound.difference_update((sobject, crm_id) for crm_id in failed)

    def _report(self, sobject: str, plans: Sequence[RecordPlan]) -> None:
        audit: list[AuditRecord] = []
        errors: list[SyncError] = []
        synced: list[tuple[str, str]] = []
        for plan in plans:
            prospect_id = plan.prospect_id
            if plan.reported:
                errors.append(
                    SyncError(
                        direction=Direction.OUTBOUND,
                        operation="link",
                        sobject=sobject,
                        record_id=plan.crm.id,
                        failure=Failure("NOT_SYNCED", plan.reason, category=ErrorCategory.VALIDATION),
                        at=self.now,
                        prospect_id=prospect_id,
                    )
                )
            elif (sobject, plan.crm.id) in self.open_errors:
                synced.append((sobject, plan.crm.id))
            if prospect_id is None:
                continue
            # Built whole, not by `replace` on a common record: a run audits every field it
            # writes, and `replace` costs several times a plain construction.
            about: dict[str, Any] = {
                "prospect_id": prospect_id,
                "at": self.now,
                "run_id": self.run_id,
                "direction": Direction.OUTBOUND,
                "crm_type": plan.crm.object.value,
                "crm_id": plan.crm.id,
            }
            audit += [AuditRecord(**about, event=event) for event in plan.events]
            audit += [
                AuditRecord(
                    **about,
                    event="field synced",
                    field=entry.field,
                    side=entry.side.value,
                    old=entry.old,
                    new=entry.new,
                    rule=entry.reason.value,
                )
                for entry in plan.field_audit
            ]
        if audit:
            self.s._audit_trail.append_audit(audit, self.s._retention)
        if errors:
            self.s._error_list.record_errors(errors)
            self.open_errors.update((e.sobject, e.record_id) for e in errors)
        if synced:
            self.s._error_list.resolve_errors(Direction.OUTBOUND, synced)
            self.open_errors.difference_update(synced)

    # ------------------------------------------------------------------ accounts, opportunities

    def _prospects_of_contacts(
        self, key_field: str, ids: Iterable[str], wanted: Sequence[str]
    ) -> dict[str, list[tuple[str, StoredLink]]]:
        """`key_field` value (AccountId, OpportunityId) → the active links of its contacts."""
        rows = self.crm.find(
            "Contact" if key_field == "AccountId" else "OpportunityContactRole",
            wanted,
            key_field,
            sorted(ids),
        )
        contact_field = "Id" if key_field == "AccountId" else "ContactId"
        links = self.s._links.by_crm_ids({str(r[contact_field]) for r in rows if r.get(contact_field)})
        found: dict[str, list[tuple[str, StoredLink]]] = {}
        for row in rows:
            stored = links.get(str(row.get(contact_field)))
            if stored is not None and stored.link.status is LinkStatus.ACTIVE:
                found.setdefault(str(row[key_field]), []).append((str(row[contact_field]), stored))
        return found

    def _apply_account_fields(self, accounts: Sequence[CrmRecord]) -> None:
        live = {str(a["Id"]): a for a in accounts if not as_checkbox(a.get("IsDeleted"))}
        if not live:
            return
        self.counts["accounts"] += len(live)
        by_account = self._prospects_of_contacts("AccountId", live, ("Id", "AccountId"))
        links = [stored for found in by_account.values() for _, stored in found]
        prospects = self.s._prospects.get_many({s.link.prospect_id for s in links})
        mappings = self._account_mappings()
        plans: list[RecordPlan] = []
        for account_id, found in by_account.items():
            account = live[account_id]
            for _contact_id, stored in found:
                prospect = prospects.get(stored.link.prospect_id)
                if prospect is None:
                    continue
                plan = plan_field_sync(
                    mappings,
                    self.config.conflict_winner,
                    stored.snapshot,
                    SideState(account, as_datetime(account.get("LastModifiedDate"))),
                    SideState(prospect.fields, prospect.modified_at),
                )
                # Account fields only flow onto prospects (validated to be `salesforce`).
                snapshot = {
                    **stored.snapshot,
                    **{k: v for k, v in plan.snapshot.items() if k in {m.key for m in mappings}},
                }
                writes = plan.prospect_writes
                prospect_change = (
                    ProspectChange(replace(prospect, fields={**prospect.fields, **writes}), before=prospect)
                    if writes
                    else None
                )
                snapshot_change = (
                    LinkChange(stored.link, snapshot, before=stored)
                    if snapshot != dict(stored.snapshot)
                    else None
                )
                if prospect_change is None and snapshot_change is None:
                    continue
                plans.append(
                    RecordPlan(
                        "updated",
                        stored.link.crm,
                        f"Account {account_id} fields",
                        prospect_change=prospect_change,
                        snapshot_change=snapshot_change,
                        field_audit=tuple(e for e in plan.audit if e.side.value == "marketing"),
                    )
                )
        self._carry_out("Contact", plans)

    def _apply_opportunities(self, opportunities: Sequence[CrmRecord]) -> None:
        if not opportunities:
            return
        self.counts["opportunities"] += len(opportunities)
        by_opportunity = self._prospects_of_contacts(
            "OpportunityId", {str(o["Id"]) for o in opportunities}, ("OpportunityId", "ContactId")
        )
        links = {stored.link.prospect_id: stored for found in by_opportunity.values() for _, stored in found}
        prospects = self.s._prospects.get_many(set(links))
        updated: dict[str, Prospect] = {}
        for opportunity in opportunities:
            opportunity_id = str(opportunity["Id"])
            for _contact_id, stored in by_opportunity.get(opportunity_id, ()):
                prospect = updated.get(stored.link.prospect_id) or prospects.get(stored.link.prospect_id)
                if prospect is None:
                    continue
                attached = dict(prospect.opportunities)
                if as_checkbox(opportunity.get("IsDeleted")):
                    attached.pop(opportunity_id, None)
                else:
                    attached[opportunity_id] = {
                        m.marketing_field.removeprefix("opportunity_"): opportunity.get(m.salesforce_field)
                        for m in OPPORTUNITY_MAPPING
                    }
                if attached != dict(prospect.opportunities):
                    updated[prospect.id] = replace(prospect, opportunities=attached)
        plans = [
            RecordPlan(
                "opportunity_attached",
                links[prospect_id].link.crm,
                "opportunities of the contact",
                prospect_change=ProspectChange(after, before=prospects[prospect_id]),
                events=("opportunities updated: " + ", ".join(sorted(after.opportunities)),),
            )
            for prospect_id, after in updated.items()
        ]
        self._carry_out("Contact", plans)


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


def _scope_fields(scope: OutboundScope | None) -> list[str]:
    match scope:
        case Flagged(field=field):
            return [field]
        case MatchingCriteria(criteria=criteria):
            return [c.field for c in criteria]
    return []
