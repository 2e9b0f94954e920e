"""A login Salesforce refuses (here: the connected app does not know the secret's user) is
reported with Salesforce's reason but without the integration user's name: it reaches no log
line, no exception Lambda would log, no error list entry and no status answer."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.errors import CrmError
from crmsync.domain.prospect import Prospect, ProspectChange

from functions.automation_actions import app as actions_app
from functions.http_api import app as http_app
from functions.outbound_sync import app as outbound_app
from local.aws_stack import LocalStack, store_jwt_secret
from local.keys import JwtKeyPair
from local.salesforce_emulator import Emulator

from .conftest import CLIENT_ID, REGION, LambdaContext, load_event

UNKNOWN_USER = "jane.doe.integration@customer.example"


@pytest.fixture
def refused_login(
    stack: LocalStack, emulator: Emulator, key_pair: JwtKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Emulator]:
    """A resumed connector whose secret names a user the org's connected app does not know."""
    secret_arn = store_jwt_secret(
        login_url=emulator.login_url,
        client_id=CLIENT_ID,
        username=UNKNOWN_USER,
        private_key_pem=key_pair.private_key_pem,
        region=REGION,
    )
    for name, value in stack.function_environment("OutboundSyncFunction", secret_arn=secret_arn).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    bootstrap.reset()
    bootstrap.resume()
    yield emulator
    bootstrap.reset()


def context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def everything_logged(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """The handler's own log (Powertools, at the DEBUG level the LogLevel parameter allows) and
    every library's at INFO (botocore's DEBUG lines are its wire log, off in Lambda)."""
    captured = capsys.readouterr()
    return "\n".join((captured.out, captured.err, caplog.text))


def test_a_refused_login_fails_the_outbound_run_without_naming_the_user(
    refused_login: Emulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(CrmError) as raised:
        outbound_app.handler(load_event("outbound_sync", "scheduled"), context())

    # What Lambda logs for the failed invocation, and every line the handler wrote
    logged = "".join(traceback.format_exception(raised.value)) + everything_logged(capsys, caplog)
    assert raised.value.failure.code == "AUTHENTICATION_FAILED"
    assert "user hasn't approved this consumer" in str(raised.value)
    assert UNKNOWN_USER not in logged
    assert UNKNOWN_USER.split("@", maxsplit=1)[0] not in logged


def test_a_refused_login_sends_the_action_back_without_naming_the_user(
    refused_login: Emulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    prospect = Prospect(id="p-1", fields={"email": "p-1@example.com", "last_name": "Lovelace"})
    assert bootstrap.prospect_store().save([ProspectChange(prospect)]) == []
    record = json.loads(json.dumps(load_event("automation_actions", "direct_message")["Records"][0]))
    record["body"] = json.dumps({"action": "create_lead", "prospect_id": "p-1"})

    response: dict[str, Any] = actions_app.handler({"Records": [record]}, context())

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [record["messageId"]]
    entries = bootstrap.error_list().open_errors(Direction.INBOUND)
    assert entries, "the refusal is listed against the action's prospect"
    listed = " ".join(entry.failure.message for entry in entries)
    assert "user hasn't approved this consumer" in listed
    assert UNKNOWN_USER not in listed + everything_logged(capsys, caplog)


def test_the_status_reports_a_refused_login_without_naming_the_user(
    refused_login: Emulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = http_app.handler(load_event("http_api", "status"), context())  # type: ignore[arg-type]

    salesforce = json.loads(response["body"])["salesforce"]
    assert salesforce["reachable"] is False
    assert salesforce["error"]["code"] == "AUTHENTICATION_FAILED"
    assert UNKNOWN_USER not in response["body"] + everything_logged(capsys, caplog)
