"""Resync of one object (docs/guide/operator-actions.md): `POST /resync`, `GET /resync`.

An operator asks for a full re-read of Leads, Contacts or Person Accounts (those changed since a
date, or all), to heal drift (values changed behind the connector's back) or to adopt a new
mapping on every record, not only on those that change from now on. The request only stores the
job (`ResyncJobs`, one at a time: a second request while one is active is refused with it).

The scheduled outbound invocation then moves it on, after its own run (`advance`): it holds the
outbound lease, so it never races an outbound run or a manual sync on the same records; it
creates a Bulk API 2.0 query job (one request, however many records), waits for its results
across ticks, and applies them a page at a time through the outbound run's own pieces
(`sync/outbound/objects.py`): the same rules, audit entries and error list entries. It does not
move the outbound watermarks (what changes meanwhile is the runs' as ever). After each page the
job keeps the results' locator, so a tick cut by its deadline, or a crash, resumes at the page it
did not finish, which it applies again (applying a record twice changes nothing the second time).

Like every automatic sync it waits while the connector is paused and while the API budget is
spent, and goes on by itself once resumed or back under budget. A Salesforce failure worth
retrying leaves the job where it is for the next tick; one that is not (the query refused, the
job failed) ends it as `failed`, with Salesforce's reason.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from crmsync.config import Configuration
from crmsync.domain.errors import CrmError
from crmsync.domain.objects import CrmObject
from crmsync.domain.outbound import RecordOutcome
from crmsync.domain.resync import RESYNCED_OBJECTS, ResyncJob, ResyncState
from crmsync.json_input import json_type
from crmsync.ports import (
    AuditTrail,
    BulkQuery,
    Clock,
    CrmGateway,
    ErrorList,
    Leases,
    LinkStore,
    PendingChanges,
    ProspectStore,
    ResyncJobs,
    RetryList,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.budget import ApiBudget
from crmsync.sync.cursor import ChangeCursor
from crmsync.sync.leases import lease_held
from crmsync.sync.outbound import LEASE as OUTBOUND_LEASE
from crmsync.sync.outbound.objects import OutboundStores, object_appliers, outbound_rules, read_of
from crmsync.sync.run import ReportStore, RunContext, RunStopped

PAGE_SIZE = 1_000
"""Records per page of results (`maxRecords`), one API call each. A page is applied whole, the
deadline checked before it is fetched: a locator only points at a page's start, so a page cut
part way would be read and applied again from its start, and one longer than a tick could give
would never get done. 1,000 records take a few seconds to apply, well within the stop margin,
as an outbound run's chunks of the same size do."""
REQUEST_KEYS = ("object", "since")


class InvalidResync(ValueError):
    """The request is not a resync's; `problems` lists every one, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class ResyncBusy(Exception):
    """A resync is active already: one at a time."""

    def __init__(self, job: ResyncJob) -> None:
        super().__init__(
            f"a resync of {job.object.value} is {job.state.value} (asked by {job.requested_by} at "
            f"{job.started_at.isoformat()}): one at a time; ask again once it is done"
        )
        self.job = job


def read_request(body: Any) -> tuple[CrmObject, datetime | None]:
    """`{"object": "Lead" | "Contact" | "PersonAccount", "since": ISO date or date-time | null}`."""
    if not isinstance(body, Mapping):
        raise InvalidResync([f"body: must be a JSON object, not {json_type(body)}"])
    problems = [
        f"{key}: unknown key (allowed: {', '.join(REQUEST_KEYS)})" for key in body if key not in REQUEST_KEYS
    ]
    names = {crm.value: crm for crm in RESYNCED_OBJECTS}
    name = body.get("object")
    if not isinstance(name, str) or name not in names:
        shown = repr(name[:40]) if isinstance(name, str) else json_type(name)
        problems.append(f"object: must be one of {', '.join(names)}, not {shown}")
    since = body.get("since")
    moment: datetime | None = None
    if since is not None:
        moment = _instant(since)
        if moment is None:
            shown = repr(since[:40]) if isinstance(since, str) else json_type(since)
            problems.append(f"since: must be an ISO date (2026-11-01) or date-time, or null, not {shown}")
    if problems:
        raise InvalidResync(problems)
    return names[str(name)], moment


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Resync:
    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        bulk: Callable[[], BulkQuery],
        jobs: ResyncJobs,
        leases: Leases,
        links: LinkStore,
        prospects: ProspectStore,
        pending: PendingChanges,
        watermarks: Watermarks,
        retry_list: RetryList,
        user_directory: UserDirectory,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        connector: StateStore,
        configuration: Configuration,
        clock: Clock,
        audit_retention_days: int,
        api_budget_percent: float,
        stop_margin_ms: int,
        new_prospect_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._crm = crm
        self._bulk = bulk
        self._jobs = jobs
        self._leases = leases
        self._stores = OutboundStores(
            links=links,
            prospects=prospects,
            watermarks=watermarks,
            retry_list=retry_list,
            user_directory=user_directory,
            connector=connector,
            reports=ReportStore(audit_trail, error_list, audit_retention_days),
            pending=pending,
        )
        self._config = configuration
        self._clock = clock
        self._budget = ApiBudget(api_budget_percent, clock)
        self._stop_margin = stop_margin_ms
        self._new_prospect_id = new_prospect_id

    # ------------------------------------------------------------------ the operator's side

    def request(self, crm: CrmObject, since: datetime | None, *, caller: str) -> ResyncJob:
        """Store a new resync job; raises `ResyncBusy` while one is active, `InvalidResync` for
        an object the configuration does not sync. No Salesforce call."""
        if not self._config.objects.syncs(crm):
            raise InvalidResync(
                [f"object: {crm.value} records are not synced (objects in the configuration)"]
            )
        now = self._clock.now()
        job = ResyncJob(object=crm, since=since, requested_by=caller, started_at=now, updated_at=now)
        active = self._jobs.start(job)
        if active is not None:
            raise ResyncBusy(active)
        return job

    def progress(self) -> ResyncJob | None:
        return self._jobs.current()

    # ------------------------------------------------------------------ the scheduled side

    def advance(self, remaining_ms: Callable[[], int], run_id: str) -> ResyncJob | None:
        """Move the active resync on as far as the deadline allows; the job as it now stands
        (None: no resync is active, and nothing was read but its item)."""
        job = self._jobs.current()
        if job is None or not job.state.active:
            return None
        if self._stores.connector.connector_state().paused:
            return job
        now = self._clock.now()
        with lease_held(self._leases, OUTBOUND_LEASE, run_id, now, remaining_ms()) as taken:
            if not taken:
                return job
            step = _ResyncStep(
                job,
                jobs=self._jobs,
                crm=self._crm,
                bulk=self._bulk,
                stores=self._stores,
                configuration=self._config,
                budget=self._budget,
                clock=self._clock,
                context=RunContext(run_id, now, remaining_ms, self._stop_margin),
                new_prospect_id=self._new_prospect_id,
            )
            try:
                step.run()
            except RunStopped:
                pass
            except CrmError as exc:
                if not exc.failure.retryable:
                    step.save(
                        state=ResyncState.FAILED, error=exc.failure.describe(), finished_at=self._clock.now()
                    )
            return step.job


class _ResyncStep:
    """One tick's share of a resync, under the outbound lease."""

    def __init__(
        self,
        job: ResyncJob,
        *,
        jobs: ResyncJobs,
        crm: Callable[[], CrmGateway],
        bulk: Callable[[], BulkQuery],
        stores: OutboundStores,
        configuration: Configuration,
        budget: ApiBudget,
        clock: Clock,
        context: RunContext,
        new_prospect_id: Callable[[], str],
    ) -> None:
        self.job = job
        self._jobs = jobs
        self._crm = crm
        self._bulk = bulk
        self._stores = stores
        self._config = configuration
        self._budget = budget
        self._clock = clock
        self._context = context
        self._new_prospect_id = new_prospect_id

    def save(self, **changes: Any) -> None:
        self.job = self.job.moved(self._clock.now(), **changes)
        self._jobs.save(self.job)

    def run(self) -> None:
        config, crm, bulk = self._config, self._crm(), self._bulk()
        self._budget.check(crm)
        counts: Counter[str] = Counter()
        appliers = object_appliers(
            crm=crm,
            stores=self._stores,
            configuration=config,
            rules=outbound_rules(config, self._stores.user_directory.users().values()),
            context=self._context,
            cursor=ChangeCursor(self._stores.watermarks, self._stores.retry_list),
            counts=counts,
            new_prospect_id=self._new_prospect_id,
        )
        sobject = self.job.object.sobject
        read = read_of(config, appliers, sobject)
        if read is None or not config.objects.syncs(self.job.object):
            message = f"{self.job.object.value} records are no longer synced (objects in the configuration)"
            self.save(state=ResyncState.FAILED, error=message, finished_at=self._clock.now())
            return
        if self.job.query_job_id is None:
            query_job = bulk.start_query(sobject, read.fields, self.job.since)
            self.save(state=ResyncState.RUNNING, query_job_id=query_job)
        assert self.job.query_job_id is not None
        ready, total = bulk.query_progress(self.job.query_job_id)
        if not ready:
            return
        if total != self.job.total:
            self.save(total=total)
        while True:
            self._context.check_deadline()
            page = bulk.query_page(self.job.query_job_id, sobject, self.job.locator, PAGE_SIZE)
            before = Counter(counts)
            if page.records:
                read.apply(page.records)
            outcomes = {
                name: count - before[name]
                for name, count in counts.items()
                if name in _OUTCOMES and count > before[name]
            }
            changed = sum(n for name, n in outcomes.items() if name != RecordOutcome.UNCHANGED.value)
            done = page.next_locator is None
            self.save(
                read=self.job.read + len(page.records),
                applied=self.job.applied + changed,
                counts=dict(Counter(self.job.counts) + Counter(outcomes)),
                locator=page.next_locator,
                **({"state": ResyncState.DONE, "finished_at": self._clock.now()} if done else {}),
            )
            if done:
                return
            self._budget.check(crm)


_OUTCOMES = frozenset({*(outcome.value for outcome in RecordOutcome), "retried"})
