"""`GET /records/{id}/why` through the HTTP entry point's handler with its sample event: a
record's story as an operator reads it, by prospect id or by Salesforce Id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.http_api import app
from local.aws_stack import LocalStack

from .conftest import LambdaContext, OutboundConnector, load_event
from .test_outbound_sync import insert_lead, later, prospect_linked_to, run_outbound


def why(record_id: str) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "record_why")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/records/{record_id}/why"
    event["pathParameters"] = {"id": record_id}
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def test_a_records_story_shows_each_sync_with_the_field_old_new_and_rule(
    outbound_connector: OutboundConnector, capsys: pytest.CaptureFixture[str]
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead brought over as a prospect, whose company then changed in Salesforce
    lead_id = insert_lead(salesforce, FirstName="Grace", Email="grace@example.com")
    run_outbound()
    later(outbound_connector)
    salesforce.update("Lead", lead_id, {"Company": "Yale"})
    run_outbound()
    prospect = prospect_linked_to(lead_id)
    capsys.readouterr()

    # WHEN an operator asks why, by the Lead's Id
    status, body = why(lead_id)

    # THEN they see the prospect, the link, and each sync in order
    assert status == 200
    assert body["prospect_id"] == prospect.id
    assert body["salesforce"] == {"object": "Lead", "id": lead_id}
    assert (body["link"]["status"], body["link"]["id"]) == ("active", lead_id)
    assert [entry["id"] for entry in body["link_history"]] == [lead_id]
    assert (
        body["link_history"][0]["event"]
        == f"prospect created from Lead {lead_id}: no prospect has this email"
    )
    timeline = body["timeline"]
    assert timeline[0]["event"] == body["link_history"][0]["event"]
    assert timeline[0]["rule"] == "lifecycle: created"
    company = [entry for entry in timeline if entry["field"] == "company"]
    assert [(entry["old"], entry["new"], entry["side"]) for entry in company] == [
        (None, "US Navy", "marketing"),
        ("US Navy", "Yale", "marketing"),
    ]
    assert company[-1]["rule"] == "most_recent: only Salesforce changed since the last sync"
    assert company[-1]["run_id"] != company[0]["run_id"]
    assert body["open_errors"] == []
    # AND the same story by prospect id, by the 15-character Id and by the 18 in another case
    for other in (prospect.id, lead_id[:15], lead_id.lower()):
        assert why(other)[1]["timeline"] == timeline
    # AND nothing personal went to the log
    assert "grace@example.com" not in capsys.readouterr().out


def test_a_record_only_the_error_list_knows_shows_its_entry(outbound_connector: OutboundConnector) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a second Lead with a linked prospect's email: reported, never linked
    first = insert_lead(salesforce, LastName="Lovelace", Email="ada@example.com")
    run_outbound()
    later(outbound_connector)
    duplicate = insert_lead(salesforce, FirstName="Ada", LastName="Lovelace", Email="ada@example.com")
    run_outbound()

    status, body = why(duplicate)

    assert status == 200
    assert body["salesforce"] == {"object": "Lead", "id": duplicate}
    assert body["link"] is None
    assert body["timeline"] == []
    [entry] = body["open_errors"]
    assert (entry["key"], entry["code"]) == (f"outbound#Lead#{duplicate}", "NOT_SYNCED")
    assert body["prospect_id"] is None
    assert why(duplicate.lower())[1]["open_errors"] == body["open_errors"]
    assert why(first)[1]["open_errors"] == []


def test_an_unknown_id_is_404_with_a_clear_message(connector: LocalStack) -> None:
    for unknown in ("p-nobody", "00Q000000000404AAA"):
        status, body = why(unknown)
        assert status == 404
        assert body["id"] == unknown
        assert body["message"] == (
            f"{unknown!r} is neither a prospect nor a Salesforce record the connector knows: "
            "no link, no audit entry and no error list entry names it"
        )
