"""`POST /records/{id}/sync` through the HTTP entry point's handler with its sample event: a
manual sync of one record, against the Salesforce emulator, on a paused connector."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.audit import Direction
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync.manual_request import MAX_API_CALLS
from crmsync.sync.outbound import LEASE as OUTBOUND_LEASE

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import REGION, LambdaContext, load_event

OPERATOR = "arn:aws:iam::123456789012:user/operator"
CONFIGURATION: dict[str, Any] = {
    "version": 2,
    "mappings": {
        "Lead": [
            {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
            {"marketing_field": "first_name", "salesforce_field": "FirstName", "behaviour": "most_recent"},
            {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
            {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
            {"marketing_field": "job_title", "salesforce_field": "Title", "behaviour": "most_recent"},
            {"marketing_field": "lead_status", "salesforce_field": "Status", "behaviour": "salesforce"},
            {"marketing_field": "score", "salesforce_field": "Marketing_Score__c", "behaviour": "marketing"},
        ],
    },
}


def sync(record_id: str, body: Any = None, *, raw: str | None = None) -> tuple[int, dict[str, Any]]:
    event = copy.deepcopy(load_event("http_api", "record_sync"))
    event["rawPath"] = f"/records/{record_id}/sync"
    event["requestContext"]["http"]["path"] = event["rawPath"]
    event["pathParameters"] = {"id": record_id}
    event["body"] = raw if raw is not None else (None if body is None else json.dumps(body))
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def marketing() -> DynamoProspectStore:
    """The marketing platform's view of the built-in store: its saves are not the connector's."""
    client = boto3.client("dynamodb", region_name=REGION)
    return DynamoProspectStore(DynamoTable(client, bootstrap.settings().prospects_table, PROSPECTS_KEY))


def prospect_of(lead_id: str) -> Prospect:
    stored = bootstrap.link_store().by_crm_ids([lead_id])[lead_id]
    return marketing().get_many([stored.link.prospect_id])[stored.link.prospect_id]


def edit(prospect: Prospect, **fields: Any) -> None:
    changed = replace(prospect, fields={**prospect.fields, **fields}, modified_at=datetime.now(UTC))
    assert marketing().save([ProspectChange(changed, before=prospect)]) == []


@pytest.fixture
def paused(connector: LocalStack) -> LocalStack:
    """A deployed connector, paused (as it is until resumed), with a Lead mapping."""
    bootstrap.load_configuration(CONFIGURATION)
    assert bootstrap.state_store().connector_state().paused
    return connector


def new_lead(salesforce: Emulator, **fields: Any) -> str:
    return salesforce.insert(
        "Lead",
        {"LastName": "Lovelace", "FirstName": "Ada", "Company": "Acme", "Email": "ada@example.com", **fields},
    )


def test_the_sample_request_of_an_unknown_lead_is_answered_404_naming_it(paused: LocalStack) -> None:
    status, body = sync("00Q8d0000000001EAA", {"direction": "both"})

    assert status == 404
    assert body["id"] == "00Q8d0000000001EAA"
    assert "00Q8d0000000001EAA" in body["message"]


def test_an_id_that_is_neither_a_prospect_nor_a_salesforce_record_is_404(
    paused: LocalStack, emulator: Emulator
) -> None:
    emulator.reset_counters()

    status, body = sync("no-such-prospect")

    assert status == 404
    assert "'no-such-prospect' is neither a prospect's id nor the Id of a Salesforce" in body["message"]
    assert emulator.api_calls == 0


def test_a_lead_synced_by_hand_while_paused_becomes_a_linked_prospect_within_the_call_bound(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a Lead the connector has never read, on a paused connector
    lead_id = new_lead(emulator, Title="CTO")
    emulator.reset_counters()

    # WHEN an operator syncs it by hand, by its 15-character Id
    status, body = sync(lead_id[:15], {"direction": "outbound"})

    # THEN it is a prospect now, linked to the Lead, with its fields
    assert status == 200, body
    prospect = prospect_of(lead_id)
    assert prospect.fields["job_title"] == "CTO"
    assert body["prospect_id"] == prospect.id
    assert body["salesforce"] == {"object": "Lead", "id": lead_id}
    assert body["outbound"]["outcome"] == "created"
    assert {(c["field"], c["new"]) for c in body["outbound"]["changes"]} >= {("job_title", "CTO")}
    assert body["inbound"] is None

    # AND it cost one query, as the answer says
    assert body["api_calls"] == emulator.api_calls == 1
    assert body["api_calls_at_most"] == MAX_API_CALLS

    # AND the audit trail says who asked for it
    trail = bootstrap.audit_trail().audit_trail(prospect.id)
    assert any(e.event.startswith(f"manual sync by {OPERATOR}") for e in trail)
    assert bootstrap.state_store().connector_state().paused, "the connector stays paused"


def test_both_ways_a_marketing_change_reaches_salesforce_and_salesforces_change_the_prospect(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a Lead synced to a prospect; then marketing scores the prospect, and a sales rep
    # changes the Lead's status
    lead_id = new_lead(emulator)
    assert sync(lead_id, {"direction": "outbound"})[0] == 200
    edit(prospect_of(lead_id), score=87)
    emulator.update("Lead", lead_id, {"Status": "Working - Contacted"})
    emulator.reset_counters()

    # WHEN the operator syncs the prospect both ways (the default), by the prospect's id
    prospect_id = prospect_of(lead_id).id
    status, body = sync(prospect_id)

    # THEN each side has the other's change, each with the rule that decided it
    assert status == 200, body
    assert emulator.get(lead_id)["Marketing_Score__c"] == 87  # type: ignore[index]
    assert prospect_of(lead_id).fields["lead_status"] == "Working - Contacted"
    outbound = {c["field"]: c for c in body["outbound"]["changes"]}
    assert outbound["lead_status"]["new"] == "Working - Contacted"
    inbound = {c["field"]: c for c in body["inbound"]["changes"]}
    assert (inbound["Marketing_Score__c"]["old"], inbound["Marketing_Score__c"]["new"]) == (None, 87)
    assert inbound["Marketing_Score__c"]["rule"] == "marketing: the prospect's value is always used"
    assert body["inbound"]["outcome"] == "updated"

    # AND the answer lists both sides' changes together, each naming its direction
    together = {(c["direction"], c["side"], c["field"]) for c in body["changes"]}
    assert together >= {
        ("outbound", "marketing", "lead_status"),
        ("inbound", "salesforce", "Marketing_Score__c"),
    }

    # AND it cost a query and a write: the inbound part planned with what the outbound part read
    assert body["api_calls"] == emulator.api_calls == 2
    assert bootstrap.error_list().open_errors(Direction.INBOUND) == []


def test_a_prospect_without_a_record_gets_a_lead_as_a_create_lead_action_would_and_once(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a prospect the marketing side added, with no Salesforce record
    prospect = Prospect(
        id="p-manual-1",
        fields={"email": "grace@example.com", "last_name": "Hopper", "company": "Navy"},
        modified_at=datetime.now(UTC),
    )
    assert marketing().save([ProspectChange(prospect)]) == []
    emulator.reset_counters()

    # WHEN the operator syncs it
    status, body = sync("p-manual-1")

    # THEN a Lead is created for it and linked
    assert status == 200, body
    assert body["outbound"]["outcome"] == "not_linked"
    assert body["inbound"]["outcome"] == "created"
    (lead,) = emulator.records("Lead")
    assert (lead["Email"], lead["LastName"]) == ("grace@example.com", "Hopper")
    assert body["salesforce"] == {"object": "Lead", "id": lead["Id"]}
    assert bootstrap.link_store().by_prospect_ids(["p-manual-1"])["p-manual-1"].link.crm.id == lead["Id"]
    assert body["api_calls"] == emulator.api_calls <= MAX_API_CALLS

    # AND a second manual sync does not create another
    status, again = sync("p-manual-1", {"direction": "inbound"})
    assert status == 200, again
    assert len(emulator.records("Lead")) == 1


def test_a_record_salesforce_refuses_is_answered_200_with_its_error_list_entry(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a synced Lead whose prospect marketing gave an email Salesforce will not take
    lead_id = new_lead(emulator)
    assert sync(lead_id, {"direction": "outbound"})[0] == 200
    edit(prospect_of(lead_id), email="not-an-email")

    # WHEN the operator sends it
    status, body = sync(lead_id, {"direction": "inbound"})

    # THEN the answer carries the error list entry, and the Lead is as it was
    assert status == 200, body
    assert body["inbound"]["outcome"] == "failed"
    (error,) = body["inbound"]["errors"]
    assert body["errors"] == [error]
    assert (error["code"], error["fields"], error["record_id"]) == (
        "INVALID_EMAIL_ADDRESS",
        ["Email"],
        lead_id,
    )
    assert emulator.get(lead_id)["Email"] == "ada@example.com"  # type: ignore[index]
    (listed,) = bootstrap.error_list().open_errors(Direction.INBOUND)
    assert listed.key == error["key"]


def test_against_an_unreachable_salesforce_it_answers_503_with_salesforces_failure_and_writes_nothing(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a Lead synced to a prospect, which marketing then scores; then Salesforce fails
    lead_id = new_lead(emulator)
    assert sync(lead_id, {"direction": "outbound"})[0] == 200
    prospect = prospect_of(lead_id)
    edit(prospect, score=5)
    before = prospect_of(lead_id)
    trail = bootstrap.audit_trail().audit_trail(prospect.id)
    emulator.faults.server_errors(count=100, status=503)

    # WHEN the operator syncs it
    status, body = sync(prospect.id)

    # THEN the answer is 503 with Salesforce's failure, and nothing changed on either side
    assert status == 503, body
    assert body["salesforce"]["category"] == "transient"
    assert "nothing of that part was written" in body["message"]
    emulator.faults.recover()
    assert emulator.get(lead_id).get("Marketing_Score__c") is None  # type: ignore[union-attr]
    assert prospect_of(lead_id) == before
    assert bootstrap.audit_trail().audit_trail(prospect.id) == trail
    assert bootstrap.error_list().open_errors(Direction.INBOUND) == []


def test_while_a_run_holds_the_lease_the_manual_sync_is_refused_with_409(
    paused: LocalStack, emulator: Emulator
) -> None:
    lead_id = new_lead(emulator)
    now = datetime.now(UTC)
    assert bootstrap.leases().acquire_lease(OUTBOUND_LEASE, "run-1", now, now + timedelta(minutes=10))

    status, body = sync(lead_id)

    assert status == 409
    assert "the outbound run is working on it now" in body["message"]
    assert bootstrap.link_store().by_crm_ids([lead_id]) == {}


def test_a_body_asking_for_an_unknown_direction_is_refused_with_400_naming_the_choices(
    paused: LocalStack,
) -> None:
    status, body = sync("p-1", {"direction": "sideways", "force": True})

    assert status == 400
    assert body["problems"] == [
        "force: unknown key (allowed: direction)",
        "direction: must be one of outbound, inbound, both, not 'sideways'",
    ]


def test_past_the_api_budget_a_manual_sync_still_syncs_the_record(
    paused: LocalStack, emulator: Emulator
) -> None:
    # GIVEN an org whose daily API usage is past the connector's budget
    lead_id = new_lead(emulator, Title="CFO")
    emulator.set_daily_api_usage(99_000)

    # WHEN the operator syncs a Lead by hand
    status, body = sync(lead_id)

    # THEN it is synced all the same: an operator's request, a few calls
    assert status == 200, body
    assert body["outbound"]["outcome"] == "created"
    assert prospect_of(lead_id).fields["job_title"] == "CFO"


def test_a_contact_brings_its_own_accounts_mapped_fields_within_two_calls(
    connector: LocalStack, emulator: Emulator
) -> None:
    # GIVEN account fields mapped onto prospects, and a Contact of an Account no run has read
    bootstrap.load_configuration(
        {
            "version": 2,
            "objects": {"account_fields": True},
            "mappings": {
                "Account": [
                    {
                        "marketing_field": "company_industry",
                        "salesforce_field": "Industry",
                        "behaviour": "salesforce",
                    }
                ]
            },
        }
    )
    account = emulator.insert("Account", {"Name": "Analytical Engines", "Industry": "Technology"})
    contact = emulator.insert(
        "Contact", {"LastName": "Lovelace", "Email": "ada@example.com", "AccountId": account}
    )
    emulator.reset_counters()

    # WHEN the operator syncs the Contact from Salesforce
    status, body = sync(contact, {"direction": "outbound"})

    # THEN its prospect has the Account's industry, for a query of the Contact and one of its Account
    assert status == 200, body
    assert prospect_of(contact).fields["company_industry"] == "Technology"
    assert ("company_industry", "Technology") in {(c["field"], c["new"]) for c in body["changes"]}
    assert body["api_calls"] == emulator.api_calls == 2
