"""The connector's status and its control (pause, resume, load a configuration) on fakes. What
the HTTP API answers for them, and IAM, are tests/functions/test_http_api*.py's."""

from __future__ import annotations

from typing import Any

import pytest
from crmsync.config import InvalidConfiguration, StaleConfigurationVersion
from crmsync.domain.audit import Direction
from crmsync.ports import RunOutcome
from crmsync.sync import control
from crmsync.sync.status import connector_status

from tests.fakes.connector import FakeConnector


def status(connector: FakeConnector) -> dict[str, Any]:
    return connector_status(
        connector.connector,
        connector.gateway,
        run_log=connector.state,
        error_list=connector.state,
        now=connector.clock.now(),
        configuration=connector.configuration,
    )


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

    assert (report["connector"], report["config_version"]) == ("running", 2)
    outbound = report["runs"]["outbound"]
    assert (outbound["outcome"], outbound["lag_seconds"], outbound["counts"]) == (
        RunOutcome.COMPLETED,
        60,
        dict(run.counts),
    )
    assert report["runs"]["inbound"] is None
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
    assert status(connector)["connector"] == "paused"

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
