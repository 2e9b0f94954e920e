"""`GET /fields/{object}` through the HTTP entry point's handler with its sample event: the org's
fields of an object, and how the configuration in force maps each."""

from __future__ import annotations

import json
from typing import Any

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import LambdaContext, load_event


def fields(name: str) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "fields")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/fields/{name}"
    event["pathParameters"] = {"object": name}
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def test_each_field_shows_its_type_whether_it_can_be_written_and_its_mapping(
    connector: LocalStack, emulator: Emulator
) -> None:
    status, body = fields("Lead")

    assert status == 200
    assert body["object"] == "Lead"
    by_name = {field["name"]: field for field in body["fields"]}
    email = by_name["Email"]
    assert (email["type"], email["label"], email["createable"], email["updateable"]) == (
        "email",
        "Email",
        True,
        True,
    )
    assert email["mapped"] == {"marketing_field": "email", "behaviour": "most_recent", "sync_blanks": False}
    assert by_name["Id"]["mapped"] is None
    assert (by_name["Id"]["createable"], by_name["Id"]["updateable"]) == (False, False)
    assert by_name["SystemModstamp"]["updateable"] is False
    # One describe call, whatever the case the object was named in
    calls = emulator.api_calls
    assert fields("lead")[1] == body
    assert emulator.api_calls == calls + 1


def test_an_object_the_connector_does_not_sync_is_404(connector: LocalStack) -> None:
    status, body = fields("Case")

    assert status == 404
    assert body["message"] == (
        "'Case' is not an object the connector syncs: one of Lead, Contact, PersonAccount, Account, Opportunity"
    )


def test_a_salesforce_that_does_not_answer_is_503_with_its_failure(
    connector: LocalStack, emulator: Emulator
) -> None:
    emulator.faults.server_errors(count=10, status=503)

    status, body = fields("Contact")

    assert status == 503
    assert body["salesforce"]["category"] == "transient"
