"""The metrics the scheduled handlers publish, read from what they print: CloudWatch's embedded
metric format (EMF), one JSON document per set of dimensions, on standard output, as Lambda
hands it to CloudWatch Logs. The tests turn metrics on (the test environment turns them off)
and assert names, values, units and dimensions as CloudWatch would file them.

The dashboard and the alarms of template.yaml may only show metrics some handler publishes:
the last test drives the handlers through every outcome the dashboard shows and compares."""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.errors import CrmError
from crmsync.ports import ParkedAction
from crmsync.sync.outbound import LEASE as OUTBOUND_LEASE

from functions.inbound_sync import app as inbound_app
from functions.outbound_sync import app as outbound_app
from local.runtime.schedules import let_schedules_pass
from local.salesforce_emulator import ManualClock

from .conftest import LambdaContext, OutboundConnector, load_event
from .test_inbound_sync import Inbound, inbound, run_inbound, wait_for_schedule
from .test_outbound_sync import insert_lead, run_outbound
from .test_template_stack import alarm_metric_names, dashboard_metric_names

__all__ = ["inbound"]  # the fixture, shared with the inbound tests


@dataclass(frozen=True)
class Published:
    """One metric value as CloudWatch files it: namespace, name, unit and dimensions."""

    namespace: str
    name: str
    value: float
    unit: str
    dimensions: dict[str, str]


def published(output: str) -> list[Published]:
    """Every metric value in the EMF documents of `output` (each document's first dimension set)."""
    values = []
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimensions = {name: document[name] for name in directive["Dimensions"][0]}
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                for each in value if isinstance(value, list) else [value]:
                    values.append(
                        Published(directive["Namespace"], metric["Name"], each, metric["Unit"], dimensions)
                    )
    return values


def metric(values: list[Published], name: str, **dimensions: str) -> list[float]:
    """The values of `name` published with exactly these dimensions (and `service`: the stack's
    name, as the template gives it)."""
    wanted = {"service": os.environ["POWERTOOLS_SERVICE_NAME"], **dimensions}
    return [v.value for v in values if v.name == name and v.dimensions == wanted]


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Metrics published as in Lambda: the handlers imported again with the function's
    environment in place (their `Metrics` reads its namespace when built)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    for app in (outbound_app, inbound_app):
        importlib.reload(app)
        app.metrics.clear_metrics()
    capsys.readouterr()
    yield


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(bootstrap, "clock", lambda: clock)
    return clock


def new_context(remaining_millis: int = 60_000) -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()), remaining_millis=remaining_millis)


def printed(capsys: pytest.CaptureFixture[str]) -> list[Published]:
    return published(capsys.readouterr().out)


# ------------------------------------------------------------------ a run


def test_a_completed_run_publishes_its_outcome_what_it_synced_no_lag_and_the_orgs_api_usage(
    outbound_connector: OutboundConnector, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN two new Leads, and an org whose other integrations spent a fifth of today's API calls
    insert_lead(salesforce, Email="grace@example.com")
    insert_lead(salesforce, Email="ada@example.com")
    salesforce.spend_daily_api(20_000)

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN it is published in namespace crmsync, by direction: completed, two records synced,
    # no error, no lag, its API calls; and the org's usage as Salesforce reported it last
    assert report["outcome"] == "completed"
    values = printed(capsys)
    assert {v.namespace for v in values} == {"crmsync"}
    assert metric(values, "RunCompleted", direction="outbound") == [1]
    assert metric(values, "RecordsSynced", direction="outbound") == [2]
    assert metric(values, "Created", direction="outbound") == [2]
    assert metric(values, "SyncErrors", direction="outbound") == [0]
    assert metric(values, "LagSeconds", direction="outbound") == [0]
    assert metric(values, "ApiCalls", direction="outbound") == [report["api_calls"]]
    (percent,) = metric(values, "ApiUsagePercent")
    assert percent == pytest.approx(100 * salesforce.daily_api_usage / 100_000, abs=0.01)
    units = {v.name: v.unit for v in values}
    assert (units["LagSeconds"], units["ApiUsagePercent"], units["RecordsSynced"]) == (
        "Seconds",
        "Percent",
        "Count",
    )


def test_runs_over_budget_leave_the_lag_growing_from_the_last_completed_run(
    outbound_connector: OutboundConnector,
    metrics_on: None,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a completed run
    assert run_outbound()["outcome"] == "completed"
    # AND then other integrations spend 60% of the org's API calls (the budget is 50%)
    salesforce.spend_daily_api(60_000)
    capsys.readouterr()

    # WHEN runs come 10 and then 25 minutes later
    clock.advance(minutes=10)
    assert run_outbound()["outcome"] == "over_budget"
    after_ten = printed(capsys)
    clock.advance(minutes=15)
    assert run_outbound()["outcome"] == "over_budget"
    after_twenty_five = printed(capsys)

    # THEN each says so, and the lag counts from the completed run, not from the last run
    assert metric(after_ten, "RunOverBudget", direction="outbound") == [1]
    assert metric(after_ten, "LagSeconds", direction="outbound") == [600]
    assert metric(after_twenty_five, "LagSeconds", direction="outbound") == [1500]
    assert metric(after_twenty_five, "RecordsSynced", direction="outbound") == [0]
    (percent,) = metric(after_twenty_five, "ApiUsagePercent")
    assert percent >= 60

    # WHEN the usage falls and a run completes, THEN the lag is 0 again
    salesforce.set_daily_api_usage(1_000)
    clock.advance(minutes=2)
    assert run_outbound()["outcome"] == "completed"
    assert metric(printed(capsys), "LagSeconds", direction="outbound") == [0]


def test_a_run_that_fails_publishes_run_failed_and_the_lag_since_the_last_completed_run(
    outbound_connector: OutboundConnector,
    metrics_on: None,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a completed run, then Salesforce down
    assert run_outbound()["outcome"] == "completed"
    salesforce.faults.server_errors(count=100, status=503)
    capsys.readouterr()

    # WHEN the next run comes 7 minutes later, it fails (Lambda reports the error)
    clock.advance(minutes=7)
    with pytest.raises(CrmError):
        run_outbound()

    # THEN RunFailed and the lag are published all the same, and no other outcome
    values = printed(capsys)
    assert metric(values, "RunFailed", direction="outbound") == [1]
    assert metric(values, "LagSeconds", direction="outbound") == [420]
    assert not [v for v in values if v.name.startswith("Run") and v.name != "RunFailed"]


def test_an_inbound_run_publishes_its_errors_by_category_and_what_is_left_open_and_waiting(
    inbound: Inbound, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN three synced Leads; marketing scores them and gives one an invalid email
    wait_for_schedule()
    lead_ids = inbound.leads(3)
    inbound.edit(lead_ids, score=10)
    inbound.edit([lead_ids[1]], email="not-an-email")
    inbound.capture()
    capsys.readouterr()

    # WHEN the scheduled inbound invocation runs
    report = run_inbound()

    # THEN two records synced and one validation error, in all and by category
    assert report["counts"] == {"updated": 2, "failed": 1}
    values = printed(capsys)
    assert metric(values, "RunCompleted", direction="inbound") == [1]
    assert metric(values, "RecordsSynced", direction="inbound") == [2]
    assert metric(values, "SyncErrors", direction="inbound") == [1]
    assert metric(values, "SyncErrors", direction="inbound", category="validation") == [1]
    assert metric(values, "LagSeconds", direction="inbound") == [0]
    # AND after it: nothing waits, and one error is open, a validation error
    assert metric(values, "WaitingChanges") == [0]
    assert metric(values, "ParkedActions") == [0]
    assert metric(values, "OpenErrors", category="validation") == [1]
    assert metric(values, "OpenErrors", category="transient") == [0]


def test_while_paused_the_changes_and_parked_actions_waiting_are_published(
    inbound: Inbound, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a paused connector, a changed prospect and an automation action parked meanwhile
    (lead_id,) = inbound.leads(1)
    bootstrap.pause()
    inbound.edit([lead_id], score=4)
    inbound.capture()
    bootstrap.parked_actions().park(
        [ParkedAction("message-1", json.dumps({"action": "create_lead"}), datetime.now(UTC))]
    )
    capsys.readouterr()

    # WHEN the scheduled inbound invocation comes
    assert run_inbound()["outcome"] == "paused"

    # THEN the run is published as paused, and both wait
    values = printed(capsys)
    assert metric(values, "RunPaused", direction="inbound") == [1]
    assert metric(values, "WaitingChanges") == [1]
    assert metric(values, "ParkedActions") == [1]


# ------------------------------------------------------------------ the dashboard's metrics


def test_every_metric_the_dashboard_and_the_alarms_show_is_one_the_handlers_publish(
    inbound: Inbound,
    metrics_on: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    salesforce = inbound.salesforce
    outcomes: list[str] = []

    def outbound(context: LambdaContext | None = None) -> None:
        outcomes.append(run_outbound_with(context))

    # GIVEN runs ending every way the dashboard tells apart: completed, idle, paused, busy,
    # over budget, cut short, failed
    inbound.leads(1)  # an outbound run, completed
    outcomes.append(run_inbound()["outcome"])  # nothing waits: idle
    bootstrap.pause()
    outbound()
    bootstrap.resume()
    now = datetime.now(UTC)
    assert bootstrap.leases().acquire_lease(OUTBOUND_LEASE, "another-run", now, now + timedelta(hours=1))
    outbound()
    bootstrap.leases().release_lease(OUTBOUND_LEASE, "another-run")
    salesforce.spend_daily_api(60_000)
    outbound()
    salesforce.set_daily_api_usage(1_000)
    outbound(new_context(remaining_millis=10_000))  # under the run's 15 s stop margin
    salesforce.faults.server_errors(count=100, status=503)
    with pytest.raises(CrmError):
        outbound()
    assert outcomes == ["idle", "paused", "busy", "over_budget", "cut_short"]

    # WHEN the metrics they published are read
    names = {v.name for v in published(capsys.readouterr().out)}

    # THEN every metric of the connector's namespace on the dashboard and in the alarms is one
    assert dashboard_metric_names() <= names, dashboard_metric_names() - names
    assert alarm_metric_names() <= names, alarm_metric_names() - names


def run_outbound_with(context: LambdaContext | None) -> str:
    let_schedules_pass("outbound")
    report: dict[str, Any] = outbound_app.handler(
        load_event("outbound_sync", "scheduled"), context or new_context()
    )
    return str(report["outcome"])
