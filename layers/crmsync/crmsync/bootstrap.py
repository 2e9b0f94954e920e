"""Composition root: builds the adapters from the environment, lazily, once per container.

Nothing is built at import time (ARCHITECTURE.md, rule 4), and simple_salesforce is imported
only by the routes and functions that talk to Salesforce, so those that do not start fast.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from crmsync.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from crmsync.aws.dynamo_table import DynamoTable
    from crmsync.config import Configuration
    from crmsync.domain.actions import Action
    from crmsync.domain.lifecycle import Tags
    from crmsync.domain.resync import ResyncJob
    from crmsync.ports import (
        ActionClaims,
        ActionQueue,
        ActivityStore,
        AuditTrail,
        BulkQuery,
        Clock,
        ConfigStore,
        CrmGateway,
        ErrorList,
        FailedCaptures,
        Leases,
        LinkStore,
        ParkedActions,
        PendingChanges,
        ProspectStore,
        QueueDepths,
        ResyncJobs,
        RetryList,
        RunLog,
        StateStore,
        UserDirectory,
        Watermarks,
    )
    from crmsync.sync.actions import AutomationActions
    from crmsync.sync.activities import ActivitySync
    from crmsync.sync.config_plan import ConfigurationPlan
    from crmsync.sync.error_actions import ErrorActions
    from crmsync.sync.fields import OrgFields
    from crmsync.sync.inbound import InboundSync
    from crmsync.sync.manual import ManualSync
    from crmsync.sync.outbound import OutboundSync
    from crmsync.sync.resync import Resync
    from crmsync.sync.why import RecordHistory


P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Settings:
    """The deployment's settings, from the environment `template.yaml` gives every function."""

    state_table: str
    links_table: str
    prospects_table: str
    activities_table: str
    idempotency_table: str
    actions_queue_url: str
    salesforce_secret_arn: str
    failed_captures_queue_url: str = ""
    """The prospects stream mapping's on-failure queue: InboundSyncFunction reads it back, the
    HTTP API's status counts it."""
    actions_dlq_url: str = ""
    """The actions queue's dead-letter queue (the HTTP API's status counts it)."""
    api_budget_percent: int = 50
    audit_retention_days: int = 30
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "")
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set (template.yaml sets it)")
            return value

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            try:
                return float(raw) if raw else default
            except ValueError:
                raise ConfigurationError(
                    f"environment variable {name} must be a number, not {raw!r}"
                ) from None

        return cls(
            state_table=required("CRMSYNC_STATE_TABLE"),
            links_table=required("CRMSYNC_LINKS_TABLE"),
            prospects_table=required("CRMSYNC_PROSPECTS_TABLE"),
            activities_table=required("CRMSYNC_ACTIVITIES_TABLE"),
            idempotency_table=required("CRMSYNC_IDEMPOTENCY_TABLE"),
            actions_queue_url=required("CRMSYNC_ACTIONS_QUEUE_URL"),
            salesforce_secret_arn=env.get("CRMSYNC_SALESFORCE_SECRET_ARN", ""),
            failed_captures_queue_url=env.get("CRMSYNC_FAILED_CAPTURES_QUEUE_URL", ""),
            actions_dlq_url=env.get("CRMSYNC_ACTIONS_DLQ_URL", ""),
            api_budget_percent=int(number("CRMSYNC_API_BUDGET_PERCENT", 50)),
            audit_retention_days=int(number("CRMSYNC_AUDIT_RETENTION_DAYS", 30)),
            connect_timeout_seconds=number("CRMSYNC_CONNECT_TIMEOUT_SECONDS", 5.0),
            read_timeout_seconds=number("CRMSYNC_READ_TIMEOUT_SECONDS", 60.0),
        )


@cache
def settings() -> Settings:
    return Settings.from_environment(os.environ)


# ------------------------------------------------------------------ DynamoDB: the stores


@cache
def _dynamodb_client() -> Any:
    """The stores' client (`dynamo_wire.stores_client`): theirs alone."""
    from crmsync.aws.dynamo_wire import stores_client

    return stores_client()


@cache
def _table(name: str, key: tuple[str, ...]) -> DynamoTable:
    """The one way a store reaches its table: one `DynamoTable` per table and container."""
    from crmsync.aws.dynamo_table import DynamoTable

    return DynamoTable(_dynamodb_client(), name, key)


def _state_table() -> DynamoTable:
    from crmsync.aws.tables import STATE_KEY

    return _table(settings().state_table, STATE_KEY)


@cache
def state_store() -> StateStore:
    from crmsync.aws.connector_state import DynamoConnectorState

    return DynamoConnectorState(_state_table())


@cache
def link_store() -> LinkStore:
    from crmsync.aws.links import DynamoLinkStore
    from crmsync.aws.tables import LINKS_KEY

    return DynamoLinkStore(_table(settings().links_table, LINKS_KEY))


@cache
def prospect_store() -> ProspectStore:
    from crmsync.aws.prospects import CONNECTOR_WRITER, DynamoProspectStore
    from crmsync.aws.tables import PROSPECTS_KEY

    # Marked as the connector's own writes, which change capture does not send back.
    return DynamoProspectStore(_table(settings().prospects_table, PROSPECTS_KEY), writer=CONNECTOR_WRITER)


@cache
def activity_store() -> ActivityStore:
    from datetime import timedelta

    from crmsync.aws.activities import DynamoActivityStore
    from crmsync.aws.tables import ACTIVITIES_KEY

    retention = timedelta(days=settings().audit_retention_days)
    return DynamoActivityStore(_table(settings().activities_table, ACTIVITIES_KEY), retention=retention)


# What the runs keep between them, one store per concern, all in the state table: each use
# case is given only those it uses.


@cache
def leases() -> Leases:
    from crmsync.aws.leases import DynamoLeases

    return DynamoLeases(_state_table())


@cache
def watermarks() -> Watermarks:
    from crmsync.aws.watermarks import DynamoWatermarks

    return DynamoWatermarks(_state_table())


@cache
def retry_list() -> RetryList:
    from crmsync.aws.retry_list import DynamoRetryList

    return DynamoRetryList(_state_table())


@cache
def user_directory() -> UserDirectory:
    from crmsync.aws.user_directory import DynamoUserDirectory

    return DynamoUserDirectory(_state_table())


@cache
def audit_trail() -> AuditTrail:
    """One per container: it numbers each run's audit items across the run's calls."""
    from crmsync.aws.audit_trail import DynamoAuditTrail

    return DynamoAuditTrail(_state_table())


@cache
def error_list() -> ErrorList:
    from crmsync.aws.error_list import DynamoErrorList

    return DynamoErrorList(_state_table())


@cache
def run_log() -> RunLog:
    from crmsync.aws.run_log import DynamoRunLog

    return DynamoRunLog(_state_table())


@cache
def pending_changes() -> PendingChanges:
    from crmsync.aws.pending_changes import DynamoPendingChanges

    return DynamoPendingChanges(_state_table())


@cache
def parked_actions() -> ParkedActions:
    from crmsync.aws.parked_actions import DynamoParkedActions

    return DynamoParkedActions(_state_table())


@cache
def _claims_client() -> Any:
    """A plain client of the action claims' own: the idempotency table is Powertools' layout,
    and the stores' client (`dynamo_wire`) is not for anything but the stores."""
    import boto3

    return boto3.client("dynamodb")


def action_claims() -> ActionClaims:
    """Built per invocation, on the clock in force."""
    from crmsync.aws.action_claims import IdempotencyActionClaims
    from crmsync.aws.dynamo_table import DynamoTable
    from crmsync.aws.tables import IDEMPOTENCY_KEY

    table = DynamoTable(_claims_client(), settings().idempotency_table, IDEMPOTENCY_KEY)
    return IdempotencyActionClaims(table, clock=clock())


@cache
def config_store() -> ConfigStore:
    from crmsync.aws.config_store import DynamoConfigStore

    return DynamoConfigStore(_state_table())


# ------------------------------------------------------------------ queues


@cache
def _sqs_client() -> Any:
    import boto3
    from botocore.config import Config

    # Standard retry mode retries throttling and 5xx answers; the HTTP route answers within
    # API Gateway's 30 s, so connecting and reading are kept short.
    return boto3.client(
        "sqs",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5),
    )


@cache
def actions_queue() -> ActionQueue:
    from crmsync.aws.actions_queue import SqsActionQueue

    return SqsActionQueue(_sqs_client(), settings().actions_queue_url)


@cache
def failed_captures() -> FailedCaptures | None:
    """The stream batches change capture gave up on; None in a function without the queue."""
    url = settings().failed_captures_queue_url
    if not url:
        return None
    import boto3

    from crmsync.aws.failed_captures import SqsFailedCaptures

    return SqsFailedCaptures(_sqs_client(), url, boto3.client("dynamodbstreams"), settings().prospects_table)


@cache
def salesforce_gateway() -> CrmGateway:
    """The Salesforce adapter. Each login re-reads the secret (cached a few minutes), and a
    login Salesforce refuses for its credentials reads it afresh and tries once more, so rotated
    credentials are picked up without a redeploy or a wait."""
    from crmsync.aws.secrets import load_json_secret
    from crmsync.salesforce.auth import SalesforceCredentials, login_with_secret
    from crmsync.salesforce.gateway import SalesforceGateway
    from crmsync.salesforce.session import SalesforceSession

    config = settings()
    timeout = (config.connect_timeout_seconds, config.read_timeout_seconds)

    def credentials(fresh: bool = False) -> SalesforceCredentials:
        return SalesforceCredentials.from_secret(load_json_secret(config.salesforce_secret_arn, fresh=fresh))

    # Looked up at every reading: the clock in force, even in a gateway built before it was set.
    session = SalesforceSession(
        login_with_secret(credentials, timeout=timeout), timeout=timeout, clock=lambda: clock().now()
    )
    return SalesforceGateway(session, api_version=credentials().api_version)


@cache
def queue_depths() -> QueueDepths:
    from crmsync.aws.queue_depths import SqsQueueDepths

    config = settings()
    return SqsQueueDepths(
        _sqs_client(),
        {
            "actions_queue": config.actions_queue_url,
            "actions_dlq": config.actions_dlq_url,
            "failed_captures": config.failed_captures_queue_url,
        },
    )


def status() -> dict[str, Any]:
    from crmsync.sync.status import ConnectorStatus

    return ConnectorStatus(
        state=state_store(),
        crm=salesforce_gateway,
        run_log=run_log(),
        error_list=error_list(),
        pending_changes=pending_changes(),
        parked_actions=parked_actions(),
        queues=queue_depths(),
        api_budget_percent=settings().api_budget_percent,
        configuration=configuration,
        resync=lambda: resync_jobs().current(),
    ).report(clock().now())


def error_actions() -> ErrorActions:
    """The operators' error list: list, retry, dismiss."""
    from crmsync.sync.error_actions import ErrorActions

    return ErrorActions(
        error_list=error_list(),
        retry_list=retry_list(),
        pending_changes=pending_changes(),
        prospects=prospect_store(),
        activities=activity_store(),
        accept_action=accept_action,
        clock=clock(),
    )


def record_history() -> RecordHistory:
    from crmsync.sync.why import RecordHistory

    return RecordHistory(
        links=link_store(), prospects=prospect_store(), audit_trail=audit_trail(), error_list=error_list()
    )


def org_fields() -> OrgFields:
    from crmsync.sync.fields import OrgFields

    return OrgFields(crm=salesforce_gateway, configuration=configuration)


def health_report(*, since: str | None, until: str | None) -> dict[str, Any]:
    """`GET /report`'s data; `InvalidPeriod` for a period it cannot report."""
    from crmsync.sync.health_report import Period
    from crmsync.sync.health_report import health_report as report

    now = clock().now()
    return report(
        run_log(),
        error_list(),
        Period.of(since, until, now),
        budget_percent=settings().api_budget_percent,
        now=now,
    )


def configuration() -> Configuration:
    """The configuration in force, read again at every call (not cached): a configuration
    loaded meanwhile takes effect at the next run of every warm container."""
    from crmsync.sync import control

    return control.current_configuration(config_store())


def configuration_report() -> dict[str, Any]:
    from crmsync.sync import control

    return control.configuration_report(config_store())


def load_configuration(document: Mapping[str, Any]) -> Configuration:
    """Check `document` against the org's describe and make it the configuration in force."""
    from crmsync.sync import control

    return control.load_configuration(document, salesforce_gateway, config_store())


def accept_action(body: Any) -> Action:
    """Accept an automation action (docs/guide/actions.md): validate, tag the prospect, queue the action.
    Uses the tags of the configuration in force; never touches Salesforce."""
    from crmsync.sync.actions_intake import accept_action as accept

    return accept(body, prospect_store(), actions_queue(), _tags_in_force())


def _tags_in_force() -> Tags:
    """The tags of the configuration in force, read from the stored document's `tags` section
    alone: the intake route stays free of the configuration's models (`crmsync.config`), which a
    cold HttpApiFunction would otherwise load for two tag names. The document was checked whole
    when it was loaded (`sync.control`); a tag it leaves out keeps its default, as there."""
    from dataclasses import fields

    from crmsync.domain.lifecycle import Tags

    section = (config_store().current() or {}).get("tags") or {}
    names = {field.name for field in fields(Tags)}
    return Tags(
        **{name: str(tag).strip() for name, tag in section.items() if name in names and tag is not None}
    )


def pause() -> None:
    from crmsync.sync import control

    control.pause(state_store())


def resume() -> None:
    from crmsync.sync import control

    control.resume(state_store())


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def clock() -> Clock:
    """The connector's one clock: the runs' and the Salesforce session's (the age of an API
    usage reading). Tests that move time replace this function."""
    return SystemClock()


def outbound_sync() -> OutboundSync:
    """The outbound run, built per invocation: it reads the configuration in force now.
    Salesforce is only reached when the run is due."""
    from crmsync.sync.outbound import OutboundSync

    config = settings()
    return OutboundSync(
        crm=salesforce_gateway,
        links=link_store(),
        prospects=prospect_store(),
        leases=leases(),
        watermarks=watermarks(),
        retry_list=retry_list(),
        user_directory=user_directory(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        run_log=run_log(),
        connector=state_store(),
        configuration=configuration(),
        clock=clock(),
        pending=pending_changes(),
        api_budget_percent=config.api_budget_percent,
        audit_retention_days=config.audit_retention_days,
    )


def bulk_query() -> BulkQuery:
    """The Salesforce adapter (`salesforce_gateway`, the same one) as Bulk API 2.0 query jobs."""
    return cast("BulkQuery", salesforce_gateway())


def resync_jobs() -> ResyncJobs:
    from crmsync.aws.resync_jobs import DynamoResyncJobs

    return DynamoResyncJobs(_state_table())


def advance_resync(remaining_ms: Callable[[], int], run_id: str) -> ResyncJob | None:
    """Move on the active resync, if there is one (the scheduled outbound invocation, after its
    run): a tick with none reads the job's item alone, not the configuration."""
    job = resync_jobs().current()
    if job is None or not job.state.active:
        return None
    return resync().advance(remaining_ms, run_id)


def resync() -> Resync:
    """The resync of an object (`POST /resync`; moved on by the scheduled outbound invocation),
    built per invocation: it reads the configuration in force now."""
    from crmsync.sync.outbound.sync import STOP_MARGIN_MS
    from crmsync.sync.resync import Resync

    config = settings()
    return Resync(
        crm=salesforce_gateway,
        bulk=bulk_query,
        jobs=resync_jobs(),
        leases=leases(),
        links=link_store(),
        prospects=prospect_store(),
        pending=pending_changes(),
        watermarks=watermarks(),
        retry_list=retry_list(),
        user_directory=user_directory(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        connector=state_store(),
        configuration=configuration(),
        clock=clock(),
        audit_retention_days=config.audit_retention_days,
        api_budget_percent=config.api_budget_percent,
        stop_margin_ms=STOP_MARGIN_MS,
    )


def inbound_sync() -> InboundSync:
    """Change capture and the inbound run, built per invocation: they read the configuration
    in force now. Salesforce is only reached when a run has something to send."""
    from crmsync.sync.inbound import InboundSync

    config = settings()
    return InboundSync(
        crm=salesforce_gateway,
        links=link_store(),
        prospects=prospect_store(),
        pending=pending_changes(),
        actions=actions_queue(),
        leases=leases(),
        watermarks=watermarks(),
        user_directory=user_directory(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        run_log=run_log(),
        connector=state_store(),
        configuration=configuration(),
        clock=clock(),
        api_budget_percent=config.api_budget_percent,
        audit_retention_days=config.audit_retention_days,
        failed_captures=failed_captures(),
    )


def activity_sync() -> ActivitySync:
    """Marketing activities to Salesforce Tasks, built per invocation: it reads the
    configuration in force now. Salesforce is only reached when a Task is to be written."""
    from crmsync.sync.activities import ActivitySync

    config = settings()
    return ActivitySync(
        crm=salesforce_gateway,
        links=link_store(),
        activities=activity_store(),
        leases=leases(),
        watermarks=watermarks(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        connector=state_store(),
        settings=configuration().activities,
        clock=clock(),
        batching=configuration().batching,
        api_budget_percent=config.api_budget_percent,
        audit_retention_days=config.audit_retention_days,
    )


def configuration_plan() -> ConfigurationPlan:
    """A configuration's dry run (`POST /config/plan`): reads only."""
    from crmsync.aws.link_sample import DynamoLinkSample
    from crmsync.aws.tables import LINKS_KEY
    from crmsync.sync.config_plan import ConfigurationPlan

    return ConfigurationPlan(
        crm=salesforce_gateway,
        links=link_store(),
        sample=DynamoLinkSample(_table(settings().links_table, LINKS_KEY)),
        prospects=prospect_store(),
    )


def manual_sync() -> ManualSync:
    """A manual sync of one record (`POST /records/{id}/sync`), built per request: it reads the
    configuration in force now. Salesforce is reached only by the parts that need it."""
    from crmsync.sync.manual import ManualSync

    return ManualSync(
        crm=salesforce_gateway,
        links=link_store(),
        prospects=prospect_store(),
        pending=pending_changes(),
        actions=actions_queue(),
        claims=action_claims(),
        leases=leases(),
        watermarks=watermarks(),
        retry_list=retry_list(),
        user_directory=user_directory(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        connector=state_store(),
        configuration=configuration(),
        clock=clock(),
        audit_retention_days=settings().audit_retention_days,
    )


def automation_actions() -> AutomationActions:
    """The automation actions consumer's use case, built per invocation: it reads the
    configuration in force now. Also used by the inbound run to carry out parked actions."""
    from crmsync.sync.actions import AutomationActions

    config = settings()
    return AutomationActions(
        crm=salesforce_gateway,
        links=link_store(),
        prospects=prospect_store(),
        audit_trail=audit_trail(),
        error_list=error_list(),
        connector=state_store(),
        claims=action_claims(),
        parked=parked_actions(),
        user_directory=user_directory(),
        configuration=configuration(),
        clock=clock(),
        api_budget_percent=config.api_budget_percent,
        audit_retention_days=config.audit_retention_days,
    )


def settled_after_first_invocation(handler: Callable[P, R]) -> Callable[P, R]:
    """`handler`, after whose first invocation in a container every object then alive goes to
    the garbage collector's permanent generation (`gc.freeze`).

    What a container has built by then (modules, botocore's service models and clients, the
    Salesforce session, Powertools) lives as long as the container. Left in the collector's
    generations, each collection a run triggers walks those ~150,000 objects again: a fifth of
    an outbound run's CPU (`make bench`). Frozen once, they are still freed by reference
    counting; only a cycle among them that became garbage later would stay, and nothing alive
    at that point is expected to."""

    @wraps(handler)
    def settling(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            if gc.get_freeze_count() == 0:
                gc.freeze()

    return settling


def reset() -> None:
    """Forget every built adapter (tests, the local runs; a container never needs it)."""
    from aws_lambda_powertools.utilities import parameters

    # The secret's cached value and its client belong to the environment being forgotten too:
    # a local run that starts moto again on another port must not reach the old one.
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    for built in (
        settings,
        _dynamodb_client,
        _claims_client,
        _table,
        state_store,
        link_store,
        prospect_store,
        activity_store,
        leases,
        watermarks,
        retry_list,
        user_directory,
        audit_trail,
        error_list,
        run_log,
        pending_changes,
        parked_actions,
        config_store,
        _sqs_client,
        actions_queue,
        failed_captures,
        queue_depths,
        salesforce_gateway,
    ):
        built.cache_clear()
