"""The connector's status and its control (pause, resume, load a configuration) on fakes. What
the HTTP API answers for them, and IAM, are tests/functions/test_http_api*.py's."""

from __future__ import annotations

from typing import Any

import pytest
from crmsync.config import InvalidConfiguration, StaleConfigurationVersion
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import CrmError, Failure
from crmsync.ports import PendingChange, RunOutcome
from crmsync.sync import control
from crmsync.sync.status import FAILING_RUNS, RISING_ERRORS

from tests.fakes.connector import FakeConnector


def status(connector: FakeConnector) -> dict[str, Any]:
    return connector.status()


def test_the_status_shows_each_directions_last_run_the_open_errors_and_when_runs_are_due(
    connector: FakeConnector,
) -> None:
    # GIVEN an outbound run that synced a Lead, and the next, which could not link its duplicate
    connector.configure({"version": 2, "outbound": {"schedule": "5 minutes"}})
    lead = {"LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"}
    connector.salesforce.insert("Lead", lead)
    connector.run_outbound()
    connector.later()
    connector.salesforce.insert("Lead", {**lead, "Email": "GRACE@example.com"})
    run = connector.run_outbound()
    connector.later()

    report = status(connector)

    assert (report["state"], report["healthy"], report["problems"], report["config_version"]) == (
        "running",
        True,
        [],
        2,
    )
    outbound = report["directions"]["outbound"]
    assert (outbound["last_run"]["outcome"], outbound["lag_seconds"], outbound["last_run"]["counts"]) == (
        RunOutcome.COMPLETED,
        60,
        dict(run.counts),
    )
    assert outbound["last_completed_run"] == outbound["last_run"]
    assert report["directions"]["inbound"]["last_run"] is None
    assert report["open_errors"] == {"validation": 1}
    started = run.started_at
    assert report["schedules"]["outbound"]["every"] == "5 minutes"
    assert (
        report["schedules"]["outbound"]["next_due_at"]
        == started.replace(minute=started.minute + 5).isoformat()
    )
    assert report["schedules"]["inbound"]["next_due_at"] is None, "no scheduled inbound run yet"
    assert report["salesforce"]["reachable"] and report["salesforce"]["api_usage"]["limit"] == 100_000


def test_the_status_answers_when_salesforce_is_down_or_the_stored_configuration_no_longer_reads(
    connector: FakeConnector,
) -> None:
    connector.salesforce.faults.server_errors(count=10, status=503)
    # A configuration stored past the reader (an upgrade that renamed a key, say)
    connector.config_store.save({"version": 7, "outbound": {"every": "5 minutes"}})

    report = status(connector)

    assert report["salesforce"]["reachable"] is False
    assert report["salesforce"]["error"]["code"] == "SERVER_UNAVAILABLE"
    assert report["schedules"]["error"]["code"] == "CONFIGURATION"
    assert "outbound.every" in report["schedules"]["error"]["message"]
    assert report["config_version"] == 7


def test_a_paused_connector_syncs_only_users_and_catches_up_once_resumed(connector: FakeConnector) -> None:
    # GIVEN a paused connector, and a Lead created meanwhile
    control.pause(connector.connector)
    lead_id = connector.salesforce.insert(
        "Lead", {"LastName": "Hopper", "Company": "Navy", "Email": "g@example.com"}
    )

    # WHEN runs come, THEN only Salesforce Users are synced, and nothing is sent or carried out
    paused = connector.run_outbound()
    assert (paused.outcome, dict(paused.counts)) == (RunOutcome.PAUSED, {"users": 2})
    assert connector.prospects.all() == []
    assert connector.run_inbound().outcome is RunOutcome.PAUSED
    assert status(connector)["state"] == "paused"

    # WHEN the connector is resumed, THEN the next run brings the Lead created while paused
    control.resume(connector.connector)
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    assert [p.crm_id for p in connector.prospects.all()] == [lead_id]


def test_a_configuration_is_loaded_only_whole_checked_against_the_org_and_newer(
    connector: FakeConnector,
) -> None:
    def mapping(salesforce_field: str) -> dict[str, Any]:
        return {
            "version": 3,
            "mappings": {
                "Lead": [
                    {
                        "marketing_field": "job_title",
                        "salesforce_field": salesforce_field,
                        "behaviour": "marketing",
                    }
                ]
            },
        }

    # A field the org does not have is refused by its path, and nothing is loaded
    with pytest.raises(InvalidConfiguration, match=r"mappings\.Lead\[0\]\.salesforce_field"):
        connector.configure(mapping("No_Such_Field__c"))
    assert connector.config_store.current() is None

    # A good one is loaded, and a version that is not newer is refused before Salesforce is asked
    connector.configure(mapping("Title"))
    reached = connector.salesforce_reached
    with pytest.raises(StaleConfigurationVersion):
        connector.configure(mapping("Title"))
    assert connector.salesforce_reached == reached
    assert connector.configuration().version == 3
    assert connector.state.open_errors(Direction.OUTBOUND) == []


# ------------------------------------------------------------------ the state, lag and failing


def test_three_runs_failed_in_a_row_make_the_connector_failing_and_one_completed_run_heals_it(
    connector: FakeConnector,
) -> None:
    # GIVEN a completed outbound run, then Salesforce failing every query for three runs
    connector.run_outbound()
    completed_at = connector.clock.now()
    connector.salesforce.faults.server_errors(count=500, status=500, path_containing="queryAll")
    for _ in range(FAILING_RUNS):
        connector.later()
        with pytest.raises(CrmError):
            connector.run_outbound()

    # WHEN the status is asked for
    report = status(connector)

    # THEN outbound is failing, says why, and its lag counts from the completed run
    outbound = report["directions"]["outbound"]
    assert (report["state"], report["healthy"]) == ("failing", False)
    assert (outbound["failing"], outbound["failing_because"]) == (True, "its last 3 runs failed (failed)")
    assert outbound["last_run"]["outcome"] == "failed"
    assert outbound["lag_seconds"] == round((connector.clock.now() - completed_at).total_seconds())

    # WHEN Salesforce is back and a run completes, THEN it is running again, in step
    connector.salesforce.faults.recover()
    connector.later()
    connector.run_outbound()
    report = status(connector)
    assert (report["state"], report["directions"]["outbound"]["lag_seconds"]) == ("running", 0)


def test_runs_over_the_budget_leave_the_lag_growing_and_the_state_over_budget(
    connector: FakeConnector,
) -> None:
    # GIVEN a completed run, then the org past the connector's API budget for two runs
    connector.run_outbound()
    connector.salesforce.spend_daily_api(60_000)
    for _ in range(2):
        connector.later(minutes=30)
        assert connector.run_outbound().outcome is RunOutcome.OVER_BUDGET

    report = status(connector)

    assert (report["state"], report["healthy"]) == ("over_budget", False)
    assert report["directions"]["outbound"]["lag_seconds"] == 3600
    assert report["directions"]["outbound"]["last_run"]["outcome"] == "over_budget"
    assert report["api"]["percent"] >= report["api"]["budget_percent"] == 50


def test_errors_rising_within_the_hour_make_a_direction_failing(connector: FakeConnector) -> None:
    now = connector.clock.now()
    connector.state.record_errors(
        [
            SyncError(Direction.INBOUND, "update", "Lead", f"00Q{n:015d}", Failure("X", "no"), now)
            for n in range(RISING_ERRORS - 1)
        ]
    )
    assert status(connector)["state"] == "running"

    connector.state.record_errors(
        [SyncError(Direction.INBOUND, "update", "Lead", "00Q-last", Failure("X", "no"), now)]
    )
    report = status(connector)

    assert report["state"] == "failing"
    assert report["problems"] == [
        f"inbound: errors are rising: {RISING_ERRORS} new entries on the error list within 1 hour"
    ]
    # An hour later they are no longer new: open, not rising
    connector.later(minutes=61)
    assert status(connector)["state"] == "running"


def test_the_status_counts_what_waits_and_a_queue_it_cannot_read_is_unknown(connector: FakeConnector) -> None:
    connector.pending.add([PendingChange("p-1", 1)])
    connector.queue.send({"action": "create_lead"})
    connector.queue_depths.depths_set["actions_dlq"] = None

    assert status(connector)["waiting"] == {
        "changed_prospects": 1,
        "parked_actions": 0,
        "actions_queue": 1,
        "actions_dlq": None,
        "failed_captures": 0,
    }


def test_a_paused_connector_is_healthy_whatever_its_runs_did(connector: FakeConnector) -> None:
    connector.pause()
    connector.salesforce.spend_daily_api(90_000)

    report = status(connector)

    assert (report["state"], report["healthy"]) == ("paused", True)
    # A fault is not what was asked for: Salesforce not answering makes it unhealthy, paused or not
    connector.salesforce.faults.server_errors(count=10, status=503)
    assert (status(connector)["state"], status(connector)["healthy"]) == ("paused", False)
