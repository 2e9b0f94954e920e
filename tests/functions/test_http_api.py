"""`GET /status` through the HTTP entry point's handler with its sample event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from crmsync import __version__, bootstrap
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import Failure
from crmsync.ports import RunOutcome, RunSummary

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import REGION, LambdaContext, load_event


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def test_a_newly_deployed_connector_reports_paused_its_version_and_salesforce_usage(
    connector: LocalStack, emulator: Emulator
) -> None:
    status, body = call(load_event("http_api", "status"))

    assert status == 200
    assert body["connector"] == "paused"
    assert body["version"] == __version__
    assert body["salesforce"]["reachable"] is True
    assert body["salesforce"]["api_usage"]["limit"] == 100_000
    assert body["salesforce"]["api_usage"]["used"] == emulator.api_calls == 1


def test_status_shows_the_last_run_of_each_direction_its_lag_and_open_errors_by_category(
    connector: LocalStack,
) -> None:
    # GIVEN an outbound run that finished a minute ago and left one record it could not link
    finished = datetime.now(UTC) - timedelta(minutes=1)
    bootstrap.run_log().save_run(
        RunSummary(
            direction=Direction.OUTBOUND,
            run_id="run-1",
            started_at=finished - timedelta(seconds=20),
            finished_at=finished,
            outcome=RunOutcome.COMPLETED,
            counts={"read": 12, "created": 11, "reported": 1},
            api_calls=3,
        )
    )
    bootstrap.error_list().record_errors(
        [
            SyncError(
                direction=Direction.OUTBOUND,
                operation="link",
                sobject="Lead",
                record_id="00Q000000000001AAA",
                failure=Failure("NOT_SYNCED", "Lead 00Q000000000001AAA has no email"),
                at=finished,
            )
        ]
    )

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN it shows that run, how long ago it finished, and the open error
    outbound = body["runs"]["outbound"]
    assert outbound["outcome"] == "completed"
    assert outbound["counts"] == {"read": 12, "created": 11, "reported": 1}
    assert 55 <= outbound["lag_seconds"] <= 120
    assert body["runs"]["inbound"] is None
    assert body["open_errors"] == {"validation": 1}


def test_status_shows_the_configurations_schedules_and_when_each_run_is_next_due(
    connector: LocalStack,
) -> None:
    # GIVEN a configuration that reads every 6 hours and sends every 10 minutes, and an outbound
    # run that started an hour ago
    bootstrap.load_configuration(
        {"version": 2, "outbound": {"schedule": "6 hours"}, "inbound": {"every_minutes": 10}}
    )
    started = datetime.now(UTC) - timedelta(hours=1)
    bootstrap.run_log().save_scheduled_start("outbound", started)

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN it shows the schedules in force, and when the next scheduled runs are due
    assert body["schedules"] == {
        "outbound": {
            "every": "6 hours",
            "last_started_at": started.isoformat(),
            "next_due_at": (started + timedelta(hours=6)).isoformat(),
        },
        "inbound": {
            "every": "10 minutes",
            "max_waiting_changes": 100,
            "last_started_at": None,
            "next_due_at": None,
        },
    }


def test_a_resumed_connector_reports_running(connector: LocalStack) -> None:
    bootstrap.state_store().set_paused(False)
    _, body = call(load_event("http_api", "status"))
    assert body["connector"] == "running"


def test_an_unreachable_salesforce_is_reported_not_raised(connector: LocalStack, emulator: Emulator) -> None:
    emulator.faults.server_errors(count=10, status=503)

    status, body = call(load_event("http_api", "status"))

    assert status == 200
    assert body["salesforce"]["reachable"] is False
    assert body["salesforce"]["error"]["category"] == "transient"


def test_a_refused_login_is_reported_with_salesforces_reason(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(
        Name="crmsync/wrong",
        SecretString=json.dumps(
            {
                "auth": "client_credentials",
                "login_url": "https://127.0.0.1:1",
                "client_id": "x",
                "client_secret": "y",
            }
        ),
    )["ARN"]
    monkeypatch.setenv("CRMSYNC_SALESFORCE_SECRET_ARN", arn)
    bootstrap.reset()

    _, body = call(load_event("http_api", "status"))

    assert body["salesforce"]["reachable"] is False
    assert body["salesforce"]["error"]["code"] == "CONNECTION_ERROR"


def test_a_secret_that_is_not_json_is_reported_as_configuration(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="crmsync/plain", SecretString="not json"
    )["ARN"]
    monkeypatch.setenv("CRMSYNC_SALESFORCE_SECRET_ARN", arn)
    bootstrap.reset()

    _, body = call(load_event("http_api", "status"))

    assert body["salesforce"]["error"]["category"] == "configuration"
    assert "is not JSON" in body["salesforce"]["error"]["message"]


def test_an_unknown_route_is_404(connector: LocalStack) -> None:
    event = load_event("http_api", "status")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /nope"
    status, _ = call(event)
    assert status == 404
