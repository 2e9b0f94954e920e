"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from crmsync.domain.activities import Activity, ActivityState, ClickKey, StoredActivity
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.lifecycle import LinkChange, StoredLink
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import (
    ApiUsage,
    Batching,
    ChangePage,
    ObjectDescription,
    SalesforceRecord,
    Watermark,
    WriteOperation,
    WriteResult,
)
from crmsync.domain.resync import ResyncJob


class CrmGateway(Protocol):
    def read_changes(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        until: datetime,
        *,
        include_deleted: bool = True,
        page_size: int | None = None,
    ) -> Iterator[ChangePage]:
        """`page_size`: records per page asked of Salesforce (its default 2,000 when None)."""
        ...

    def find(
        self, sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object]
    ) -> list[SalesforceRecord]:
        """Records whose `key_field` is one of `values`, typed as `salesforce.records` types them."""
        ...

    def write(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
        batching: Batching | None = None,
    ) -> list[WriteResult]:
        """`batching`: the Collections size and Bulk API threshold (the defaults when None)."""
        ...

    def describe(self, sobject: str) -> ObjectDescription: ...

    def check_connection(self) -> ApiUsage: ...

    @property
    def api_usage(self) -> ApiUsage | None:
        """The usage Salesforce reported on its last response, and when (None before any call)."""
        ...

    @property
    def api_calls(self) -> int:
        """API requests this gateway made so far (what a run spent: the difference)."""
        ...

    @property
    def api_calls_by_kind(self) -> Mapping[str, int]:
        """`api_calls` so far by kind (query, query_more, collections, bulk_ingest, bulk_query,
        limits, describe, rest), and the logins (login)."""
        ...


@dataclass(frozen=True)
class ConnectorState:
    paused: bool
    config_version: int | None = None


class StateStore(Protocol):
    def connector_state(self) -> ConnectorState: ...

    def set_paused(self, paused: bool) -> None: ...


class LinkStore(Protocol):
    """Links, 1:1 by construction: a prospect and a CRM record each belong to one link at most."""

    def by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, StoredLink]:
        """The links of these records (CRM id → link), read consistently."""
        ...

    def by_prospect_ids(self, prospect_ids: Collection[str]) -> dict[str, StoredLink]: ...

    def synced_versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        """The `StoredLink.synced_version` of each of these prospects' active links (prospects
        without one left out): a few attributes of each link, not its snapshot."""
        ...

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        """Carry the changes out; returns those refused because a record or prospect is already
        claimed by another link, or the link changed since it was read. Never partly applies one."""
        ...


@dataclass(frozen=True)
class BulkQueryPage:
    """One page of a Bulk API 2.0 query job's results, typed as every record read is."""

    records: list[SalesforceRecord]
    next_locator: str | None
    """Where the next page starts (None: this was the last)."""


class BulkQuery(Protocol):
    """Bulk API 2.0 query jobs, for reads too large for the REST query (a resync)."""

    def start_query(self, sobject: str, fields: Sequence[str], since: datetime | None) -> str:
        """Create a query job for `sobject`'s records (those changed at or after `since`);
        its id."""
        ...

    def query_progress(self, job_id: str) -> tuple[bool, int | None]:
        """Whether the job's results are ready, and how many records it found (None until
        Salesforce says). Raises `CrmError` for a job that failed or was aborted."""
        ...

    def query_page(self, job_id: str, sobject: str, locator: str | None, max_records: int) -> BulkQueryPage:
        """Up to `max_records` records of a finished job, from `locator` (None: the first)."""
        ...


class ResyncJobs(Protocol):
    """The one resync at a time (`domain.resync`)."""

    def current(self) -> ResyncJob | None:
        """The last resync asked for, whatever its state (None: never one)."""
        ...

    def start(self, job: ResyncJob) -> ResyncJob | None:
        """Store `job` unless a resync is active; the active one when there is (nothing stored)."""
        ...

    def save(self, job: ResyncJob) -> None: ...


class LinkSample(Protocol):
    """A sample of linked prospects, for an operator's look at many records (the configuration's
    dry run): read from an index, so eventually consistent, and never used on a sync path."""

    def sample_prospect_ids(self, limit: int) -> list[str]:
        """Up to `limit` ids of linked prospects, in the store's own order (the same ones each
        time while the links stay as they are)."""
        ...


@dataclass(frozen=True)
class ProspectVersion:
    """Which version a prospect is at, and the last one the marketing side saved."""

    prospect_id: str
    version: int
    marketing_version: int


@dataclass(frozen=True)
class ProspectPage:
    """A share of the prospects table read in its own order: the versions of the prospects among
    the `read` items, and the key to read the next share after (None: the table's end)."""

    prospects: list[ProspectVersion]
    read: int
    next_after: str | None
    unreadable: list[str] = field(default_factory=list)
    """Ids of prospect items whose versions are not numbers."""


class ProspectStore(Protocol):
    """The marketing platform's prospects (the built-in store is a table of this stack)."""

    def get_many(self, prospect_ids: Collection[str]) -> dict[str, Prospect]: ...

    def scan(self, after: str | None, limit: int) -> ProspectPage:
        """The versions among at most `limit` items of the whole store, from after the key
        `after` (None: the start)."""
        ...

    def find_by_emails(self, email_keys: Collection[str]) -> dict[str, list[Prospect]]:
        """Prospects by normalized email (`normalize_email`); emails with none are left out."""
        ...

    def find_by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, list[Prospect]]:
        """Prospects carrying these CRM IDs (`Prospect.crm_id`)."""
        ...

    def save(self, changes: Sequence[ProspectChange]) -> list[ProspectChange]:
        """Carry the changes out; returns those refused because the prospect changed since it
        was read (or, for a new one, its id exists)."""
        ...


@dataclass(frozen=True)
class WaitingActivities:
    """A page of waiting activities, and the position to read the next page from (None: the
    last page). Activities sent meanwhile are left out, so a page may hold fewer than asked."""

    activities: list[Activity]
    next_after: Watermark | None


class ActivityStore(Protocol):
    """The marketing platform's engagement events and what became of each (docs/guide/activities.md); the
    built-in store is a table of this stack."""

    def record(self, activities: Sequence[Activity]) -> list[Activity]:
        """Add new activities, waiting to be sent; returns those recorded before, left as they are."""
        ...

    def waiting(self, state: ActivityState, after: Watermark | None, limit: int) -> WaitingActivities:
        """Up to `limit` activities in `state` (one of the waiting states), oldest first, from
        the first whose `position` is after `after`."""
        ...

    def sent_clicks(self, clicks: Collection[ClickKey]) -> set[ClickKey]:
        """Those of `clicks` already sent as a Task."""
        ...

    def settle(self, outcomes: Sequence[StoredActivity]) -> None:
        """Keep what became of these activities; a click sent is remembered for `sent_clicks`."""
        ...

    def of_prospect(self, prospect_id: str) -> list[StoredActivity]:
        """A prospect's activities with what became of each, oldest first."""
        ...


@dataclass(frozen=True)
class SalesforceUser:
    id: str
    email: str | None
    name: str = ""
    active: bool = True


class RunOutcome(StrEnum):
    """How a run ended: in its summary, the handlers' reports, the metrics and the status."""

    COMPLETED = "completed"
    PAUSED = "paused"
    IDLE = "idle"
    """Nothing waited: not one Salesforce call (inbound)."""
    CUT_SHORT = "cut_short"
    """Stopped before its deadline; what is left waits for the next run."""
    OVER_BUDGET = "over_budget"
    BUSY = "busy"
    """Another run holds the lease."""
    NOT_DUE = "not_due"
    """A scheduled tick before the schedule's interval has passed."""
    SALESFORCE_UNAVAILABLE = "salesforce_unavailable"
    """Salesforce failed in a way worth retrying (activities)."""
    FAILED = "failed"
    """The run raised (Salesforce or DynamoDB unreachable, a refused login): its summary is kept
    with what it counted, and the invocation fails."""

    @property
    def in_step(self) -> bool:
        """Whether a run that ended so left its direction in step: it read or sent all there was
        (`completed`), or nothing waited (`idle`). Only such a run resets the direction's lag; a
        run paused, over budget, cut short or failed leaves the lag growing."""
        return self in (RunOutcome.COMPLETED, RunOutcome.IDLE)

    @property
    def failed(self) -> bool:
        """Whether the run could not do its work (`docs/guide/operating.md`: "failing")."""
        return self in (RunOutcome.FAILED, RunOutcome.SALESFORCE_UNAVAILABLE)


@dataclass(frozen=True)
class RunSummary:
    """What one run did, for the status, the metrics, the health report and the demo."""

    direction: Direction
    run_id: str
    started_at: datetime
    finished_at: datetime
    outcome: RunOutcome
    counts: Mapping[str, int] = field(default_factory=dict)
    api_calls: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    """Error list entries the run made or renewed, by category (`ErrorCategory` values)."""
    api_usage: ApiUsage | None = None
    """The org's daily API usage as Salesforce last reported it to the run (None: the run made
    no Salesforce call)."""
    api_calls_by_kind: Mapping[str, int] = field(default_factory=dict)
    """The run's Salesforce API calls by kind (`salesforce.session.api_call_kind`; kinds not
    called left out)."""

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


# What the runs keep between them, one protocol per concern (the built-in stores all live in the
# state table).


class Leases(Protocol):
    """One run at a time per name (`sync/leases.py`)."""

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take the lease `name` if it is free or expired; False if another holder has it."""
        ...

    def release_lease(self, name: str, holder: str) -> None: ...


class Watermarks(Protocol):
    """Where each read got to: Salesforce change watermarks and the runs' cursors."""

    def watermark(self, key: str) -> Watermark | None: ...

    def save_watermark(self, key: str, watermark: Watermark) -> None: ...


class RetryList(Protocol):
    """Records a run could not apply and the next must read again."""

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        """sObject → ids of the records to read again."""
        ...

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None: ...

    def clear_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None: ...


class UserDirectory(Protocol):
    """The Salesforce users, as outbound last synced them (for the owner mapping)."""

    def save_users(self, users: Sequence[SalesforceUser]) -> None: ...

    def users(self) -> dict[str, SalesforceUser]:
        """Salesforce user id → user, as last synced."""
        ...


class AuditTrail(Protocol):
    """What happened to each prospect, kept for the retention period."""

    def append_audit(self, records: Sequence[AuditRecord], retention_days: int) -> None: ...

    def audit_trail(self, prospect_id: str) -> list[AuditRecord]:
        """Oldest first."""
        ...


@dataclass(frozen=True)
class ListedError:
    """An entry of the error list as an operator sees it: the failure as last reported, when the
    record first failed, its state, and who dismissed it or asked for a retry, when and why."""

    error: SyncError
    first_seen: datetime
    state: ErrorState
    dismissed_reason: str | None = None
    dismissed_by: str | None = None
    dismissed_at: datetime | None = None
    retry_requested_by: str | None = None
    retry_requested_at: datetime | None = None


class ErrorList(Protocol):
    """The records that failed to sync, one entry per record and direction, until they sync."""

    def record_errors(self, errors: Sequence[SyncError]) -> None:
        """Add or update entries of the error list (one per record and direction)."""
        ...

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        """Remove the entries of these (sObject, record id) pairs, if any: they synced."""
        ...

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]:
        """Every entry, dismissed ones too: a record that syncs clears its entry either way."""
        ...

    def listed_errors(self, direction: Direction | None = None) -> list[ListedError]:
        """Every entry as operators see it, in key order (`SyncError.key`)."""
        ...

    def dismiss_errors(self, keys: Collection[str], reason: str, by: str, at: datetime) -> list[str]:
        """Take these entries (`SyncError.key`) off the open list; returns the keys found."""
        ...

    def note_retry_requested(self, keys: Collection[str], by: str, at: datetime) -> list[str]:
        """Mark these entries as retrying at an operator's request; returns the keys found."""
        ...


class RunLog(Protocol):
    """The runs that went ahead: each one's summary, and when each schedule last started one."""

    def save_run(self, summary: RunSummary) -> None: ...

    def last_run(self, direction: Direction) -> RunSummary | None: ...

    def last_completed_run(self, direction: Direction) -> RunSummary | None:
        """The last run of `direction` that left it in step (`RunOutcome.in_step`)."""
        ...

    def recent_runs(self, direction: Direction, limit: int) -> list[RunSummary]:
        """Up to `limit` of the latest runs of `direction`, newest first."""
        ...

    def runs_between(self, direction: Direction, since: datetime, until: datetime) -> list[RunSummary]:
        """The runs of `direction` that started in [since, until), oldest first (kept for
        `RUN_RETENTION`)."""
        ...

    def last_scheduled_start(self, name: str) -> datetime | None:
        """When the last scheduled run `name` that went ahead (took its lease) started."""
        ...

    def save_scheduled_start(self, name: str, at: datetime) -> None: ...


class ConfigStore(Protocol):
    def current(self) -> Mapping[str, Any] | None:
        """The configuration document in force, or None before one was loaded."""
        ...

    def check_fits(self, document: Mapping[str, Any]) -> None:
        """Raise `ConfigurationTooLarge` when the store could not hold `document`."""
        ...

    def save(self, document: Mapping[str, Any]) -> int:
        """Store a new configuration document; returns its version."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class ActionQueue(Protocol):
    """Where accepted automation actions wait to be carried out (the stack's actions queue)."""

    def send(self, message: Mapping[str, Any]) -> None:
        """Put one message (a JSON object) on the queue; raises `QueueError` when it cannot."""
        ...


class QueueDepths(Protocol):
    """How many messages wait in the stack's queues (the actions queue, its dead-letter queue,
    the failed stream batches), for the status."""

    def depths(self) -> dict[str, int | None]:
        """Queue name → messages waiting (None: the queue could not be read)."""
        ...


@dataclass(frozen=True)
class Claim:
    """The answer to claiming a prospect for an automation action: `claimed`, or not because an
    earlier action already carried it out (`done_with`, what that action saved) or because
    another invocation is carrying one out right now (`done_with` None: try again later)."""

    claimed: bool
    done_with: Mapping[str, Any] | None = None


class ActionClaims(Protocol):
    """One automation action at a time per prospect, and a prospect carried out once: the
    business key of the actions' idempotency is the prospect id (one CRM record per prospect)."""

    def claim(self, prospect_id: str, remaining_ms: int) -> Claim:
        """Claim the prospect until done or released; a claim left by an invocation that died
        lapses after `remaining_ms` (that invocation's deadline)."""
        ...

    def complete(self, prospect_id: str, result: Mapping[str, Any]) -> None:
        """The prospect's action is carried out; later claims answer `done_with=result`."""
        ...

    def release(self, prospect_id: str) -> None:
        """Nothing was carried out (a failure): the next action for the prospect may claim it."""
        ...


@dataclass(frozen=True)
class ParkedAction:
    """An actions queue message kept while the connector cannot carry it out (paused, over
    its API budget), so that it is neither lost nor sent to the dead-letter queue."""

    message_id: str
    body: str
    sent_at: datetime


class ParkedActions(Protocol):
    def park(self, actions: Sequence[ParkedAction]) -> None:
        """Keep these (parking the same message twice keeps it once)."""
        ...

    def waiting(self, limit: int) -> list[ParkedAction]:
        """Up to `limit` parked actions, oldest first."""
        ...

    def count(self, at_most: int) -> int:
        """How many actions are parked, counted up to `at_most`."""
        ...

    def remove(self, actions: Sequence[ParkedAction]) -> None: ...


@dataclass(frozen=True)
class PendingChange:
    """A prospect changed on the marketing side and not yet sent to Salesforce; `version` is
    the prospect version change capture last saw."""

    prospect_id: str
    version: int


class PendingChanges(Protocol):
    """The prospects waiting for the next inbound run (filled by change capture)."""

    def add(self, changes: Sequence[PendingChange]) -> None:
        """Note these prospects as waiting (a prospect waiting already keeps one entry)."""
        ...

    def versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        """The version each of these prospects waits at; those not waiting are left out."""
        ...

    def add_unless_newer(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        """Note these prospects as waiting, except those already waiting with this version or a
        later one: for changes found late (a stream batch read back, reconciliation), which
        must not lower what change capture noted since. Returns those noted."""
        ...

    def count(self, at_most: int) -> int:
        """How many prospects wait, counted up to `at_most`."""
        ...

    def waiting(self, limit: int, after: str | None = None) -> list[PendingChange]:
        """Up to `limit` waiting prospects in prospect id order, from the first id after `after`."""
        ...

    def done(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        """Stop waiting for these, unless the prospect changed again since `version` was seen;
        returns those kept for that reason."""
        ...


@dataclass(frozen=True)
class RefusedChange:
    """A change record change capture could not read (unexpected shape): it is not noted, and
    goes to the error list for its prospect when its id can be read."""

    prospect_id: str | None
    reference: str
    """Where it came from: the stream record's sequence number or event id."""
    problem: str


@dataclass(frozen=True)
class CapturedChanges:
    """What a batch of change records says: the prospects to note as waiting, and the records
    refused."""

    changes: list[PendingChange] = field(default_factory=list)
    refused: list[RefusedChange] = field(default_factory=list)


@dataclass(frozen=True)
class StreamPosition:
    """Where in the prospects table's stream a batch of records lies (first and last inclusive)."""

    stream_arn: str
    shard_id: str
    first_sequence_number: str
    last_sequence_number: str


@dataclass(frozen=True)
class FailedCapture:
    """One batch change capture gave up on, as its on-failure message describes it: the
    records' position, or (`position` None) why the message describes none."""

    message_id: str
    receipt: str
    position: StreamPosition | None
    problem: str = ""


class StreamRecordsGone(Exception):
    """The stream no longer holds the records (they live 24 hours), or no longer exists."""


class FailedCaptures(Protocol):
    """The batches change capture gave up on (the stream mapping's on-failure destination), and
    their records read back from the stream."""

    def receive(self, at_most: int) -> list[FailedCapture]:
        """Up to `at_most` of the waiting messages; each stays hidden a while, then is received
        again unless deleted. Raises `QueueError`."""
        ...

    def read(self, position: StreamPosition) -> CapturedChanges:
        """The batch's records read back from the stream, through change capture's own reading.
        Raises `StreamRecordsGone`, or `StoreError` when the stream cannot be read now."""
        ...

    def delete(self, captures: Sequence[FailedCapture]) -> None:
        """Remove these messages for good. Raises `QueueError`."""
        ...
