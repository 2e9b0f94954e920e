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
from crmsync.ports import ParkedAction, PendingChange, RunOutcome, RunSummary

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import REGION, LambdaContext, load_event


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(bootstrap, "clock", lambda: FixedClock(NOW))
    return NOW


def save_run(
    direction: Direction, outcome: RunOutcome, finished: datetime, run_id: str, **counts: int
) -> None:
    bootstrap.run_log().save_run(
        RunSummary(
            direction=direction,
            run_id=run_id,
            started_at=finished - timedelta(seconds=20),
            finished_at=finished,
            outcome=outcome,
            counts=counts,
            api_calls=3,
        )
    )


def listed_error(record_id: str, at: datetime, code: str = "NOT_SYNCED") -> SyncError:
    return SyncError(
        direction=Direction.OUTBOUND,
        operation="link",
        sobject="Lead",
        record_id=record_id,
        failure=Failure(code, f"Lead {record_id} has no email"),
        at=at,
    )


def test_a_newly_deployed_connector_reports_paused_its_version_and_salesforce_usage(
    connector: LocalStack, emulator: Emulator
) -> None:
    status, body = call(load_event("http_api", "status"))

    assert status == 200
    assert (body["state"], body["healthy"]) == ("paused", True)
    assert body["version"] == __version__
    assert body["salesforce"]["reachable"] is True
    assert body["salesforce"]["api_usage"]["limit"] == 100_000
    assert body["salesforce"]["api_usage"]["used"] == emulator.api_calls == 1
    assert body["api"] == {"used": 1, "limit": 100_000, "percent": 0.0, "budget_percent": 50}
    assert body["directions"]["outbound"] == {
        "last_completed_run": None,
        "lag_seconds": None,
        "last_run": None,
        "failing": False,
        "failing_because": None,
    }
    assert body["waiting"] == {
        "changed_prospects": 0,
        "parked_actions": 0,
        "actions_queue": 0,
        "actions_dlq": 0,
        "failed_captures": 0,
    }
    assert body["open_errors"] == {}
    assert body["resync"] is None


def test_status_shows_the_last_run_of_each_direction_its_lag_and_open_errors_by_category(
    connector: LocalStack, fixed_clock: datetime
) -> None:
    # GIVEN an outbound run that finished a minute ago and left one record it could not link
    finished = fixed_clock - timedelta(minutes=1)
    save_run(Direction.OUTBOUND, RunOutcome.COMPLETED, finished, "run-1", read=12, created=11, reported=1)
    bootstrap.error_list().record_errors([listed_error("00Q000000000001AAA", finished)])

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN it shows that run, how long ago it finished, and the open error
    outbound = body["directions"]["outbound"]
    assert outbound["last_completed_run"]["run_id"] == "run-1"
    assert outbound["last_completed_run"]["counts"] == {"read": 12, "created": 11, "reported": 1}
    assert outbound["last_run"] == outbound["last_completed_run"]
    assert outbound["lag_seconds"] == 60
    assert body["directions"]["inbound"]["last_run"] is None
    assert body["open_errors"] == {"validation": 1}


def test_lag_counts_from_the_last_completed_run_while_every_run_since_ends_over_budget(
    connector: LocalStack, emulator: Emulator, fixed_clock: datetime
) -> None:
    # GIVEN a running connector whose last completed outbound run ended two hours ago, and whose
    # runs since all stopped over the API budget (the org has used 80% of its allowance)
    bootstrap.state_store().set_paused(False)
    save_run(Direction.OUTBOUND, RunOutcome.COMPLETED, fixed_clock - timedelta(hours=2), "run-1", read=5)
    for minutes in (30, 20, 10):
        save_run(
            Direction.OUTBOUND,
            RunOutcome.OVER_BUDGET,
            fixed_clock - timedelta(minutes=minutes),
            f"r{minutes}",
        )
    emulator.set_daily_api_usage(80_000)

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN the lag counts from the completed run, and the connector reads over budget, not
    # running
    outbound = body["directions"]["outbound"]
    assert outbound["lag_seconds"] == 2 * 3600
    assert outbound["last_completed_run"]["run_id"] == "run-1"
    assert outbound["last_run"]["outcome"] == "over_budget"
    assert (body["state"], body["healthy"]) == ("over_budget", False)
    assert body["api"]["percent"] >= body["api"]["budget_percent"] == 50


def test_a_direction_whose_last_three_runs_failed_makes_the_connector_failing(
    connector: LocalStack, fixed_clock: datetime
) -> None:
    # GIVEN a running connector whose last three inbound runs failed
    bootstrap.state_store().set_paused(False)
    save_run(Direction.INBOUND, RunOutcome.COMPLETED, fixed_clock - timedelta(hours=1), "ok")
    for minutes in (3, 2, 1):
        save_run(
            Direction.INBOUND, RunOutcome.FAILED, fixed_clock - timedelta(minutes=minutes), f"f{minutes}"
        )

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN it reads failing, says why, and is unhealthy
    inbound = body["directions"]["inbound"]
    assert inbound["failing"] is True
    assert inbound["failing_because"] == "its last 3 runs failed (failed)"
    assert (body["state"], body["healthy"]) == ("failing", False)
    assert body["problems"] == ["inbound: its last 3 runs failed (failed)"]
    assert inbound["lag_seconds"] == 3600
    assert body["directions"]["outbound"]["failing"] is False


def test_two_failed_runs_after_a_completed_one_are_not_yet_failing(
    connector: LocalStack, fixed_clock: datetime
) -> None:
    bootstrap.state_store().set_paused(False)
    save_run(Direction.INBOUND, RunOutcome.COMPLETED, fixed_clock - timedelta(minutes=3), "ok")
    for minutes in (2, 1):
        save_run(
            Direction.INBOUND, RunOutcome.FAILED, fixed_clock - timedelta(minutes=minutes), f"f{minutes}"
        )

    _, body = call(load_event("http_api", "status"))

    assert (body["state"], body["directions"]["inbound"]["failing"]) == ("running", False)


def test_errors_rising_make_the_connector_failing_and_dismissed_ones_do_not_count(
    connector: LocalStack, fixed_clock: datetime
) -> None:
    # GIVEN ten records that failed within the last hour, and one older
    bootstrap.state_store().set_paused(False)
    bootstrap.error_list().record_errors(
        [listed_error(f"00Q0000000000{n:02d}AAA", fixed_clock - timedelta(minutes=n)) for n in range(10)]
        + [listed_error("00Q000000000099AAA", fixed_clock - timedelta(hours=3))]
    )

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN outbound is failing: its errors are rising
    assert body["state"] == "failing"
    assert body["directions"]["outbound"]["failing_because"] == (
        "errors are rising: 10 new entries on the error list within 1 hour"
    )
    assert body["open_errors"] == {"validation": 11}

    # WHEN one of them is dismissed THEN it neither counts as open nor as rising
    bootstrap.error_list().dismiss_errors(
        ["outbound#Lead#00Q000000000000AAA"], "test data", "me", fixed_clock
    )
    _, body = call(load_event("http_api", "status"))
    assert (body["state"], body["open_errors"]) == ("running", {"validation": 10})


def test_status_counts_what_waits(connector: LocalStack) -> None:
    # GIVEN two prospects waiting, a parked action, and a message on the actions queue
    bootstrap.pending_changes().add([PendingChange("p-1", 1), PendingChange("p-2", 3)])
    bootstrap.parked_actions().park([ParkedAction("m-1", "{}", datetime.now(UTC))])
    bootstrap.actions_queue().send({"action": "create_lead"})

    # WHEN the status is asked for
    _, body = call(load_event("http_api", "status"))

    # THEN it counts each
    assert body["waiting"] == {
        "changed_prospects": 2,
        "parked_actions": 1,
        "actions_queue": 1,
        "actions_dlq": 0,
        "failed_captures": 0,
    }


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
    assert (body["state"], body["healthy"]) == ("running", True)


def test_an_unreachable_salesforce_is_reported_not_raised(connector: LocalStack, emulator: Emulator) -> None:
    emulator.faults.server_errors(count=10, status=503)

    status, body = call(load_event("http_api", "status"))

    assert status == 200
    assert body["salesforce"]["reachable"] is False
    assert body["salesforce"]["error"]["category"] == "transient"
    assert body["api"]["used"] is None
    assert (body["state"], body["healthy"]) == ("paused", False), "paused, but a fault needs a person"
    assert body["problems"][-1].startswith("Salesforce does not answer: ")


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


def test_status_shows_the_resync_under_way(connector: LocalStack) -> None:
    status, started = call(load_event("http_api", "resync_start"))
    assert status == 202

    _, body = call(load_event("http_api", "status"))

    assert body["resync"] == started["resync"]
