"""The operators' read side and error actions on fakes: the error list listed, retried and
dismissed, a record's story, the recent runs. What the HTTP API answers for them, and IAM, are
tests/functions/test_http_api_*.py's."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.prospect import ProspectChange
from crmsync.ports import RunOutcome
from crmsync.sync.error_actions import InvalidRequest
from crmsync.sync.runs import recent_runs
from crmsync.sync.why import UnknownRecord

from tests.fakes.connector import FakeConnector

LEAD = {"LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com"}


def duplicate_reported(connector: FakeConnector) -> str:
    """A second Lead with a linked prospect's email: reported, never linked."""
    connector.salesforce.insert("Lead", LEAD)
    connector.run_outbound()
    connector.later()
    duplicate = connector.salesforce.insert("Lead", {**LEAD, "FirstName": "Ada"})
    connector.run_outbound()
    return duplicate


def test_a_retried_record_that_still_fails_is_open_again_with_one_more_attempt(
    connector: FakeConnector,
) -> None:
    duplicate = duplicate_reported(connector)
    actions = connector.error_actions()
    key = f"outbound#Lead#{duplicate}"

    answer = actions.retry({"keys": [key]}, by="arn:operator")

    assert answer["queued"] == [{"key": key, "as": "read again by the next outbound run"}]
    [listed] = actions.listed({})["errors"]
    assert (listed["state"], listed["attempts"], listed["retry_requested"]["by"]) == (
        "retrying",
        1,
        "arn:operator",
    )

    connector.later()
    assert connector.run_outbound().counts["reported"] == 1

    [listed] = actions.listed({})["errors"]
    assert (listed["key"], listed["state"], listed["attempts"], listed["retry_requested"]) == (
        key,
        "open",
        2,
        None,
    )


def test_a_retried_record_that_syncs_clears_its_entry(connector: FakeConnector) -> None:
    # GIVEN the duplicate, and then the marketing side gives its twin's prospect another email:
    # nothing changed in Salesforce, so only a retry reads the duplicate again
    duplicate = duplicate_reported(connector)
    actions = connector.error_actions()
    [twin] = connector.marketing.all()
    changed = replace(twin, fields={**twin.fields, "email": "ada.lovelace@example.com"})
    assert connector.marketing.save([ProspectChange(changed, before=twin)]) == []

    actions.retry({"keys": [f"outbound#Lead#{duplicate}"]}, by="arn:operator")
    connector.later()
    connector.run_outbound()

    assert actions.listed({})["errors"] == []
    assert connector.links.by_crm_ids([duplicate])[duplicate].link.prospect_id != twin.id


def test_a_dismissed_entry_is_kept_with_its_reason_and_leaves_the_status_and_the_default_list(
    connector: FakeConnector,
) -> None:
    duplicate = duplicate_reported(connector)
    actions = connector.error_actions()

    with pytest.raises(InvalidRequest, match=r"body\.reason: is required"):
        actions.dismiss({"keys": [f"outbound#Lead#{duplicate}"]}, by="arn:operator")
    answer = actions.dismiss(
        {"keys": [f"outbound#Lead#{duplicate}"], "reason": "a test Lead"}, by="arn:operator"
    )

    assert answer == {"dismissed": [f"outbound#Lead#{duplicate}"], "not_found": []}
    assert actions.listed({})["errors"] == []
    [kept] = actions.listed({"state": "dismissed"})["errors"]
    assert kept["dismissed"]["reason"] == "a test Lead"
    assert connector.status()["open_errors"] == {}


def test_the_list_filters_by_age_from_the_first_failure(connector: FakeConnector) -> None:
    now = connector.clock.now()
    failure = Failure("STRING_TOO_LONG", "too long", ("Company",), ErrorCategory.VALIDATION)
    connector.state.record_errors(
        [SyncError(Direction.INBOUND, "update", "Lead", "00Qold", failure, now - timedelta(days=2))]
    )
    connector.state.record_errors([SyncError(Direction.INBOUND, "update", "Lead", "00Qold", failure, now)])
    connector.state.record_errors([SyncError(Direction.INBOUND, "update", "Lead", "00Qnew", failure, now)])
    actions = connector.error_actions()

    assert [e["record_id"] for e in actions.listed({"older_than": "1d"})["errors"]] == ["00Qold"]
    assert [e["record_id"] for e in actions.listed({"newer_than": "1h"})["errors"]] == ["00Qnew"]
    assert actions.listed({"category": "duplicate"})["errors"] == []


def test_a_records_story_by_prospect_id_and_an_unknown_id(connector: FakeConnector) -> None:
    lead_id = connector.salesforce.insert("Lead", LEAD)
    connector.run_outbound()
    connector.later()
    connector.salesforce.update("Lead", lead_id, {"Company": "Analytical Engines"})
    connector.run_outbound()
    prospect_id = connector.links.by_crm_ids([lead_id])[lead_id].link.prospect_id
    history = connector.record_history()

    story = history.why(prospect_id)

    assert story["salesforce"] == {"object": "Lead", "id": lead_id}
    assert [(e["event"], e["rule"]) for e in story["timeline"] if e["field"] is None] == [
        (f"prospect created from Lead {lead_id}: no prospect has this email", "lifecycle: created")
    ]
    [company] = [e for e in story["timeline"] if e["field"] == "company" and e["old"] is not None]
    assert (company["old"], company["new"]) == ("Engines", "Analytical Engines")
    assert history.why(lead_id[:15]) == story
    with pytest.raises(UnknownRecord):
        history.why("p-nobody")


def test_the_recent_runs_show_their_api_calls_by_kind(connector: FakeConnector) -> None:
    connector.salesforce.insert("Lead", LEAD)
    connector.run_outbound()
    connector.later()
    connector.run_outbound()

    runs = recent_runs(connector.state, {"direction": "outbound"})["runs"]

    assert [run["outcome"] for run in runs] == [RunOutcome.COMPLETED, RunOutcome.COMPLETED]
    for run in runs:
        assert sum(run["api_calls_by_kind"].values()) == run["api_calls"]
    assert runs[1]["api_calls_by_kind"]["query"] >= 2
    with pytest.raises(InvalidRequest):
        recent_runs(connector.state, {"limit": "0"})


def test_entries_with_nothing_left_to_send_are_not_queued_and_say_why(connector: FakeConnector) -> None:
    now = connector.clock.now()
    bad = Failure("MALFORMED_ACTION", "no action", (), ErrorCategory.VALIDATION)
    connector.state.record_errors(
        [
            SyncError(Direction.INBOUND, "action", "AutomationAction", "p-1", bad, now, prospect_id="p-1"),
            SyncError(Direction.INBOUND, "capture", "StreamBatch", "m-1", bad, now),
        ]
    )

    answer = connector.error_actions().retry({"category": "validation"}, by="arn:operator")

    assert answer["queued"] == []
    assert [item["key"] for item in answer["not_queued"]] == [
        "inbound#AutomationAction#p-1",
        "inbound#StreamBatch#m-1",
    ]
    assert connector.pending.versions(["p-1"]) == {}
