"""`POST /config/plan` through the HTTP entry point's handler with its sample event: a dry run of
a new configuration over linked records, against the Salesforce emulator. It writes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from crmsync import bootstrap

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import REGION, LambdaContext, load_event
from .test_http_api_manual_sync import CONFIGURATION, edit, new_lead, prospect_of, sync

NEW_MAPPING = {"marketing_field": "phone", "salesforce_field": "Phone", "behaviour": "salesforce"}


def plan(body: Any, *, raw: str | None = None) -> tuple[int, dict[str, Any]]:
    event = copy.deepcopy(load_event("http_api", "config_plan"))
    event["body"] = raw if raw is not None else json.dumps(body)
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def with_lead_mappings(*extra: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        **CONFIGURATION,
        "version": CONFIGURATION["version"] + 1,
        "mappings": {"Lead": [*CONFIGURATION["mappings"]["Lead"], *extra]},
        **changes,
    }


def everything_stored(stack: LocalStack) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table of the stack, to tell that nothing was written."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        items = dynamodb.scan(TableName=name)["Items"]
        tables[name] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return tables


@pytest.fixture
def linked(connector: LocalStack, emulator: Emulator) -> list[str]:
    """Three Leads linked to prospects (each synced by hand), with phones the prospects lack."""
    bootstrap.load_configuration(CONFIGURATION)
    leads = [new_lead(emulator, Email=f"lead{n}@example.com", Phone=f"+44 20 7946 000{n}") for n in range(3)]
    for lead_id in leads:
        assert sync(lead_id, {"direction": "outbound"})[0] == 200
    return leads


def test_a_new_mapping_shows_which_prospects_would_take_which_value_and_writes_nothing(
    connector: LocalStack, emulator: Emulator, linked: list[str]
) -> None:
    # GIVEN three linked Leads, and a configuration that newly maps their phone onto prospects
    document = with_lead_mappings(NEW_MAPPING)
    stored_before = everything_stored(connector)
    records_before = [dict(record) for record in emulator.records("Lead")]
    emulator.reset_counters()

    # WHEN it is planned over a sample of 10
    status, body = plan({"document": document, "sample": 10})

    # THEN each of the three prospects would take its Lead's phone, by the behaviour's rule
    assert status == 200, body
    assert body["valid"] is True
    assert body["problems"] == []
    planned = {record["id"]: record for record in body["records"]}
    assert set(planned) == set(linked)
    for n, lead_id in enumerate(linked):
        (change,) = planned[lead_id]["changes"]
        assert change == {
            "field": "phone",
            "side": "marketing",
            "old": None,
            "new": f"+44 20 7946 000{n}",
            "rule": "salesforce: Salesforce's value is always used",
        }
        assert planned[lead_id]["prospect_id"] == prospect_of(lead_id).id
    assert body["summary"] == {"records": 3, "would_change": 3, "by_field": {"marketing:phone": 3}}

    # AND it cost the describes of the objects it syncs (Lead, Contact) and one query of the
    # Leads by Id, and wrote nothing, on either side
    assert body["api_calls"] == emulator.api_calls == 3
    assert everything_stored(connector) == stored_before
    assert [dict(record) for record in emulator.records("Lead")] == records_before
    assert bootstrap.configuration().version == CONFIGURATION["version"]


def test_a_behaviour_turned_round_shows_the_writes_towards_salesforce(
    connector: LocalStack, emulator: Emulator, linked: list[str]
) -> None:
    # GIVEN a prospect whose job title marketing changed since the last sync, while the
    # configuration gives Salesforce the title
    prospect = prospect_of(linked[0])
    edit(prospect, job_title="Chief Scientist")
    lead_rules = [
        {**m, "behaviour": "salesforce"} if m["marketing_field"] == "job_title" else m
        for m in CONFIGURATION["mappings"]["Lead"]
    ]
    document = {**CONFIGURATION, "version": 3, "mappings": {"Lead": lead_rules}}

    # WHEN a configuration where the prospect's title wins is planned over one record
    document["mappings"]["Lead"] = [
        {**m, "behaviour": "marketing"} if m["marketing_field"] == "job_title" else m for m in lead_rules
    ]
    status, body = plan({"document": document, "sample": 3})

    # THEN that Lead would take the prospect's title, and the others nothing
    assert status == 200, body
    changes = {record["id"]: record["changes"] for record in body["records"]}
    assert changes[linked[0]] == [
        {
            "field": "Title",
            "side": "salesforce",
            "old": None,
            "new": "Chief Scientist",
            "rule": "marketing: the prospect's value is always used",
        }
    ]
    assert changes[linked[1]] == changes[linked[2]] == []
    assert body["summary"]["would_change"] == 1


def test_an_invalid_document_is_answered_valid_false_with_every_problem_and_no_salesforce_call(
    connector: LocalStack, emulator: Emulator, linked: list[str]
) -> None:
    emulator.reset_counters()
    document = with_lead_mappings(
        {"marketing_field": "emial", "salesforce_field": "Title", "behaviour": "nope"}
    )

    status, body = plan({"document": document})

    assert status == 200
    assert body["valid"] is False
    assert body["records"] == []
    assert len(body["problems"]) == 2
    assert any("mappings.Lead[7].marketing_field" in problem for problem in body["problems"])
    assert any("mappings.Lead[7].behaviour" in problem for problem in body["problems"])
    assert emulator.api_calls == 0


def test_a_field_the_org_does_not_have_is_answered_valid_false_naming_it(
    connector: LocalStack, emulator: Emulator, linked: list[str]
) -> None:
    document = with_lead_mappings(
        {"marketing_field": "phone", "salesforce_field": "Fax_Number__c", "behaviour": "salesforce"}
    )

    status, body = plan({"document": document})

    assert status == 200
    assert body["valid"] is False
    assert len(body["problems"]) == 1
    assert "Fax_Number__c" in body["problems"][0]


def test_against_an_unreachable_salesforce_it_answers_503_with_salesforces_failure(
    connector: LocalStack, emulator: Emulator, linked: list[str]
) -> None:
    emulator.faults.server_errors(count=100, status=503)

    status, body = plan({"document": with_lead_mappings(NEW_MAPPING)})

    assert status == 503
    assert body["salesforce"]["category"] == "transient"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"sample": 5}, "document: must be the configuration document (a JSON object), not null"),
        ({"document": {}, "sample": 500}, "sample: must be a whole number from 1 to 200, not 500"),
        ({"document": {}, "sample": "ten"}, "sample: must be a whole number from 1 to 200, not a string"),
        ({"document": {}, "dry": True}, "dry: unknown key (allowed: document, sample)"),
    ],
)
def test_a_request_that_is_not_a_dry_runs_is_refused_with_400(
    connector: LocalStack, body: dict[str, Any], problem: str
) -> None:
    status, answer = plan(body)

    assert status == 400
    assert answer["problems"] == [problem]


def test_the_sample_request_is_answered(connector: LocalStack, emulator: Emulator) -> None:
    status, body = plan(None, raw=load_event("http_api", "config_plan")["body"])

    assert status == 200
    assert body["valid"] is True
    assert body["records"] == []
