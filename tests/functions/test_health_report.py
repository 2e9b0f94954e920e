"""`GET /report`: the sync health of a period, as the HTML report (`crmsync report --html`)
draws it, read from the runs the run log kept on the state table. How runs and errors become the
report's buckets is tests/service/test_health_report.py's."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.records import ApiUsage
from crmsync.ports import RunOutcome, RunSummary

from functions.http_api import app
from local.aws_stack import LocalStack

from .conftest import LambdaContext, load_event

DAY = datetime(2026, 11, 21, tzinfo=UTC)


def report(**query: str) -> tuple[int, dict[str, Any]]:
    event = copy.deepcopy(load_event("http_api", "report"))
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in query.items())
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def save_run(
    direction: Direction,
    finished: datetime,
    outcome: RunOutcome = RunOutcome.COMPLETED,
    *,
    counts: dict[str, int] | None = None,
    errors: dict[str, int] | None = None,
    api_used: int | None = None,
) -> None:
    bootstrap.run_log().save_run(
        RunSummary(
            direction=direction,
            run_id=f"{direction}-{finished:%H%M}",
            started_at=finished - timedelta(seconds=30),
            finished_at=finished,
            outcome=outcome,
            counts=counts or {},
            api_calls=4,
            errors=errors or {},
            api_usage=None if api_used is None else ApiUsage(api_used, 100_000),
        )
    )


def at(series: list[dict[str, Any]], moment: datetime) -> Any:
    (point,) = [point for point in series if point["at"] == moment.isoformat()]
    return point["value"] if "value" in point else point["counts"]


def test_a_days_report_shows_lag_throughput_api_usage_and_errors_hour_by_hour(connector: LocalStack) -> None:
    # GIVEN a day where outbound completed at 01:00, then went over budget at 02:00 and 03:00
    # (the org's usage at 55% and 61%), and completed again at 04:00
    save_run(Direction.OUTBOUND, DAY + timedelta(hours=1), counts={"read": 9, "created": 3, "updated": 4})
    save_run(
        Direction.OUTBOUND, DAY + timedelta(hours=2, minutes=10), RunOutcome.OVER_BUDGET, api_used=55_000
    )
    save_run(
        Direction.OUTBOUND, DAY + timedelta(hours=3, minutes=10), RunOutcome.OVER_BUDGET, api_used=61_000
    )
    save_run(Direction.OUTBOUND, DAY + timedelta(hours=4), counts={"updated": 2}, api_used=30_000)
    # AND inbound updated five Leads at 02:00 and failed two for validation, one for a duplicate
    save_run(
        Direction.INBOUND,
        DAY + timedelta(hours=2),
        counts={"read": 8, "updated": 5, "failed": 3},
        errors={"validation": 2, "duplicate": 1},
        api_used=20_000,
    )
    # AND a run of the day before, outside the period
    save_run(Direction.OUTBOUND, DAY - timedelta(hours=1), counts={"created": 50})

    # WHEN the day is reported
    status, body = report(since="2026-11-21T00:00:00Z", until="2026-11-22T00:00:00Z")

    # THEN hour by hour: the lag grows from the last completed run and falls back to 0
    assert status == 200
    assert body["bucket_seconds"] == 3600
    lag = body["lag_seconds"]["outbound"]
    assert len(lag) == 24
    assert at(lag, DAY + timedelta(hours=1)) == 0
    assert at(lag, DAY + timedelta(hours=2)) == 4200
    assert at(lag, DAY + timedelta(hours=3)) == 7800
    assert at(lag, DAY + timedelta(hours=4)) == 0
    assert at(lag, DAY + timedelta(hours=5)) is None, "no run, no reading"
    # AND the records synced per direction (the day before's left out)
    synced = body["records_synced"]
    assert at(synced["outbound"], DAY + timedelta(hours=1)) == 7
    assert at(synced["inbound"], DAY + timedelta(hours=2)) == 5
    assert body["totals"]["outbound"] == {"runs": 4, "records_synced": 9, "errors": 0, "api_calls": 16}
    # AND the org's API usage, the highest reading of each hour, against the budget
    assert body["budget_percent"] == 50
    usage = body["api_usage_percent"]
    assert at(usage, DAY + timedelta(hours=2)) == 55.0
    assert at(usage, DAY + timedelta(hours=3)) == 61.0
    assert at(usage, DAY + timedelta(hours=1)) is None
    # AND the errors by category, and the runs' outcomes
    assert at(body["errors_by_category"], DAY + timedelta(hours=2)) == {"validation": 2, "duplicate": 1}
    assert at(body["run_outcomes"]["outbound"], DAY + timedelta(hours=3)) == {"over_budget": 1}
    # AND the runs, newest first
    assert [run["run_id"] for run in body["runs"]] == [
        "outbound-0400",
        "outbound-0310",
        "outbound-0210",
        "inbound-0200",
        "outbound-0100",
    ]
    assert body["runs"][0]["duration_s"] == 30.0


def test_by_default_the_report_covers_the_last_seven_days_in_three_hour_buckets(
    connector: LocalStack,
) -> None:
    status, body = report()

    assert status == 200
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(days=7)
    assert body["bucket_seconds"] == 3 * 3600
    assert 56 <= len(body["lag_seconds"]["inbound"]) <= 57
    assert body["runs"] == [] and body["top_failing_records"] == []


def test_a_period_that_cannot_be_reported_is_refused_with_the_reason(connector: LocalStack) -> None:
    cases = {
        ("2026-11-22", "2026-11-21"): "must be before until",
        ("yesterday", "2026-11-21"): "since: 'yesterday' is not an ISO 8601 date or date-time",
        ("2026-01-01", "2026-11-21"): "at most 90 are kept and reported",
    }
    for (since, until), reason in cases.items():
        status, body = report(since=since, until=until)
        assert status == 400, (since, until)
        assert body["message"].startswith("the period cannot be reported: ")
        assert reason in body["message"]
