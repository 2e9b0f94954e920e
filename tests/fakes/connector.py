"""One deployed connector on fakes: every port a fake, one clock, an emulated org, and the use
cases built on them through their public constructors, as `crmsync.bootstrap` builds them on
DynamoDB, SQS and Salesforce (cosmicpython's `FakeUnitOfWork`, for a connector)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from crmsync.config import Configuration
from crmsync.ports import RunSummary
from crmsync.sync import control
from crmsync.sync.actions import AutomationActions
from crmsync.sync.activities import ActivitySync
from crmsync.sync.error_actions import ErrorActions
from crmsync.sync.inbound import InboundSync
from crmsync.sync.outbound import OutboundSync
from crmsync.sync.status import ConnectorStatus
from crmsync.sync.why import RecordHistory

from tests.fakes.activities import FakeActivityStore
from tests.fakes.clock import FakeClock
from tests.fakes.crm import FakeCrm
from tests.fakes.links import FakeLinkStore
from tests.fakes.messaging import (
    FakeActionClaims,
    FakeActionQueue,
    FakeFailedCaptures,
    FakeParkedActions,
    FakeQueueDepths,
)
from tests.fakes.pending import FakePendingChanges
from tests.fakes.prospects import CONNECTOR_WRITER, FakeProspectStore
from tests.fakes.state import FakeConfigStore, FakeStateStore, FakeSyncState

ORG_BEHIND = timedelta(minutes=1)
"""How far the org's clock runs behind the connector's. A run reads changes up to the start of
its own current second; an org a minute behind has stamped everything a test did before the
run in a second already over, so the run reads it. Move the clock on (`later`) before a change
that must read as made after an earlier run, as any real change is."""
API_BUDGET_PERCENT = 50
AUDIT_RETENTION_DAYS = 30
PLENTY_OF_TIME_MS = 120_000
LONG_AGO = timedelta(days=2)
"""Longer than the longest schedule ("daily")."""


def plenty_of_time() -> int:
    return PLENTY_OF_TIME_MS


class FakeConnector:
    def __init__(self, *, person_accounts: bool = False, daily_api_limit: int = 100_000) -> None:
        self.clock = FakeClock()
        self.crm = FakeCrm(
            clock=self.clock,
            org_clock=lambda: self.clock.now() - ORG_BEHIND,
            person_accounts=person_accounts,
            daily_api_limit=daily_api_limit,
        )
        self.salesforce = self.crm.org
        self.links = FakeLinkStore()
        self.marketing = FakeProspectStore()
        """The marketing platform's view of the prospects: its saves are marketing changes."""
        self.prospects = self.marketing.written_by(CONNECTOR_WRITER)
        """The connector's view, as bootstrap builds it: its saves are not sent back."""
        self.pending = FakePendingChanges()
        self.activity_store = FakeActivityStore()
        self.state = FakeSyncState()
        self.connector = FakeStateStore()
        self.config_store = FakeConfigStore(self.connector)
        self.queue = FakeActionQueue()
        self.queue_depths = FakeQueueDepths(self.queue)
        self.claims = FakeActionClaims(self.clock)
        self.parked = FakeParkedActions()
        self.failed_captures = FakeFailedCaptures(self.clock)
        self.salesforce_reached = 0
        """How often a use case asked for the gateway (it builds it only when it needs it)."""
        self._run_ids = itertools.count(1)

    # ------------------------------------------------------------------ control

    def configure(self, document: Mapping[str, Any]) -> Configuration:
        """Load `document` as an operator would: read, checked against the org's describe, saved."""
        return control.load_configuration(document, self.gateway, self.config_store)

    def configuration(self) -> Configuration:
        return control.current_configuration(self.config_store)

    def resume(self) -> None:
        control.resume(self.connector)

    def pause(self) -> None:
        control.pause(self.connector)

    def later(self, **delta: float) -> None:
        """Time passes, for the org and the connector alike (a minute unless told)."""
        self.clock.advance(**(delta or {"minutes": 1}))

    def let_schedules_pass(self, *names: str) -> None:
        """Make the next scheduled run of `names` ("outbound", "inbound"; both by default) due, as
        if the last had started long ago (as local runs do between ticks)."""
        for name in names or ("outbound", "inbound"):
            self.state.save_scheduled_start(name, self.clock.now() - LONG_AGO)

    def new_run_id(self) -> str:
        """A run's id: every Lambda invocation has its own."""
        return f"run-{next(self._run_ids)}"

    def run_outbound(self, remaining_ms: Callable[[], int] = plenty_of_time, **options: Any) -> RunSummary:
        """One scheduled outbound run, its schedule let pass first."""
        self.let_schedules_pass("outbound")
        return self.outbound(**options).run(remaining_ms, self.new_run_id())

    def run_inbound(self, remaining_ms: Callable[[], int] = plenty_of_time, **options: Any) -> RunSummary:
        """One inbound run of what waits (as a stream invocation starts it: no schedule)."""
        return self.inbound(**options).run(remaining_ms, self.new_run_id())

    # ------------------------------------------------------------------ the use cases

    def outbound(self, **options: Any) -> OutboundSync:
        return OutboundSync(
            **dict(
                crm=self.gateway,
                links=self.links,
                prospects=self.prospects,
                leases=self.state,
                watermarks=self.state,
                retry_list=self.state,
                user_directory=self.state,
                audit_trail=self.state,
                error_list=self.state,
                run_log=self.state,
                connector=self.connector,
                configuration=self.configuration(),
                clock=self.clock,
                pending=self.pending,
                api_budget_percent=API_BUDGET_PERCENT,
                audit_retention_days=AUDIT_RETENTION_DAYS,
            )
            | options
        )

    def inbound(self, **options: Any) -> InboundSync:
        return InboundSync(
            **dict(
                crm=self.gateway,
                links=self.links,
                prospects=self.prospects,
                pending=self.pending,
                actions=self.queue,
                leases=self.state,
                watermarks=self.state,
                user_directory=self.state,
                audit_trail=self.state,
                error_list=self.state,
                run_log=self.state,
                connector=self.connector,
                configuration=self.configuration(),
                clock=self.clock,
                api_budget_percent=API_BUDGET_PERCENT,
                audit_retention_days=AUDIT_RETENTION_DAYS,
                failed_captures=self.failed_captures,
            )
            | options
        )

    def actions(self, **options: Any) -> AutomationActions:
        return AutomationActions(
            **dict(
                crm=self.gateway,
                links=self.links,
                prospects=self.prospects,
                audit_trail=self.state,
                error_list=self.state,
                connector=self.connector,
                claims=self.claims,
                parked=self.parked,
                configuration=self.configuration(),
                clock=self.clock,
                api_budget_percent=API_BUDGET_PERCENT,
                audit_retention_days=AUDIT_RETENTION_DAYS,
            )
            | options
        )

    def activities(self, **options: Any) -> ActivitySync:
        configuration = self.configuration()
        return ActivitySync(
            **dict(
                crm=self.gateway,
                links=self.links,
                activities=self.activity_store,
                leases=self.state,
                watermarks=self.state,
                audit_trail=self.state,
                error_list=self.state,
                connector=self.connector,
                settings=configuration.activities,
                clock=self.clock,
                batching=configuration.batching,
                api_budget_percent=API_BUDGET_PERCENT,
                audit_retention_days=AUDIT_RETENTION_DAYS,
            )
            | options
        )

    def status(self) -> dict[str, Any]:
        """`GET /status`'s report now."""
        return ConnectorStatus(
            state=self.connector,
            crm=self.gateway,
            run_log=self.state,
            error_list=self.state,
            pending_changes=self.pending,
            parked_actions=self.parked,
            queues=self.queue_depths,
            api_budget_percent=API_BUDGET_PERCENT,
            configuration=self.configuration,
        ).report(self.clock.now())

    def error_actions(self) -> ErrorActions:
        """`GET /errors`, `POST /errors/retry` and `POST /errors/dismiss`."""
        return ErrorActions(
            error_list=self.state,
            retry_list=self.state,
            pending_changes=self.pending,
            prospects=self.prospects,
            activities=self.activity_store,
            accept_action=self._accept_action,
            clock=self.clock,
        )

    def record_history(self) -> RecordHistory:
        """`GET /records/{id}/why`."""
        return RecordHistory(
            links=self.links, prospects=self.prospects, audit_trail=self.state, error_list=self.state
        )

    def _accept_action(self, body: Mapping[str, Any]) -> Any:
        from crmsync.sync.actions_intake import accept_action

        return accept_action(body, self.prospects, self.queue, self.configuration().tags)

    def gateway(self) -> FakeCrm:
        """The CRM gateway, as the use cases ask for it (counted: they build it only when needed)."""
        self.salesforce_reached += 1
        return self.crm
