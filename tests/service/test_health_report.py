"""The health report's data (`GET /report`) from runs on fakes: what the runs kept, summed into
buckets. What the HTTP API answers, and its refusals, are tests/functions/test_health_report.py's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.ports import RunOutcome, RunSummary
from crmsync.sync.health_report import Period, health_report

from tests.fakes.connector import FakeConnector

LEAD = {"LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"}


def report(connector: FakeConnector, since: datetime, until: datetime) -> dict[str, Any]:
    return health_report(
        connector.state, connector.state, Period(since, until), budget_percent=50, now=connector.clock.now()
    )


def readings(series: list[dict[str, Any]]) -> list[Any]:
    """The buckets that have a reading, in time order."""
    return [point["value"] for point in series if point["value"] is not None]


def test_the_lag_grows_through_runs_over_budget_and_falls_when_a_run_completes(
    connector: FakeConnector,
) -> None:
    start = connector.clock.now()
    # GIVEN an outbound run that synced a Lead
    connector.salesforce.insert("Lead", LEAD)
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    # AND then other integrations spend 60% of the org's API calls: two runs 10 minutes apart wait
    connector.salesforce.spend_daily_api(60_000)
    for _ in range(2):
        connector.later(minutes=10)
        assert connector.run_outbound().outcome is RunOutcome.OVER_BUDGET
    # AND the usage falls, and a run 10 minutes later completes
    connector.salesforce.set_daily_api_usage(1_000)
    connector.later(minutes=10)
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED

    # WHEN the hour is reported (5-minute buckets)
    data = report(connector, start - timedelta(minutes=1), start + timedelta(hours=1))

    # THEN the lag counts from the completed run, through the runs that waited, back to 0
    assert data["bucket_seconds"] == 300
    assert readings(data["lag_seconds"]["outbound"]) == [0, 600, 1200, 0]
    assert readings(data["lag_seconds"]["inbound"]) == []
    # AND the org's usage as the runs heard it, over the budget while they waited
    usage = readings(data["api_usage_percent"])
    assert len(usage) == 4
    assert usage[1] >= 60 and usage[2] >= 60 and usage[3] < 50
    # AND one record synced, by the first run
    assert sum(readings(data["records_synced"]["outbound"])) == 1
    assert data["totals"]["outbound"]["runs"] == 4
    outcomes = [point["counts"] for point in data["run_outcomes"]["outbound"] if point["counts"]]
    assert outcomes == [{"completed": 1}, {"over_budget": 1}, {"over_budget": 1}, {"completed": 1}]


def test_a_record_that_keeps_failing_is_counted_at_each_run_and_listed_among_those_that_fail_most(
    connector: FakeConnector,
) -> None:
    start = connector.clock.now()
    # GIVEN a synced Lead, and its duplicate, which cannot be linked: the next runs report it
    connector.salesforce.insert("Lead", LEAD)
    connector.run_outbound()
    connector.later()
    duplicate = connector.salesforce.insert("Lead", {**LEAD, "Email": "GRACE@example.com"})
    connector.run_outbound()
    connector.later()

    # WHEN the hour is reported
    data = report(connector, start - timedelta(minutes=1), start + timedelta(hours=1))

    # THEN the error is in the run's bucket by category, open, and the record fails most
    errors = [point["counts"] for point in data["errors_by_category"] if point["counts"]]
    assert errors == [{"validation": 1}]
    assert data["open_errors"] == {"validation": 1}
    (failing,) = data["top_failing_records"]
    assert (failing["direction"], failing["object"], failing["record_id"]) == (
        Direction.OUTBOUND.value,
        "Lead",
        duplicate,
    )
    assert failing["category"] == "validation" and failing["attempts"] == 1
    assert data["totals"]["outbound"]["errors"] == 1


def test_the_lag_of_runs_before_the_periods_first_completed_one_counts_from_the_last_before_it(
    connector: FakeConnector,
) -> None:
    # GIVEN outbound completed two hours before the period, and since then only went over budget
    day = connector.clock.now()

    def run(finished: datetime, outcome: RunOutcome) -> RunSummary:
        return RunSummary(Direction.OUTBOUND, f"run-{finished:%H%M}", finished, finished, outcome)

    connector.state.save_run(run(day - timedelta(hours=2), RunOutcome.COMPLETED))
    connector.state.save_run(run(day + timedelta(hours=1), RunOutcome.OVER_BUDGET))

    data = report(connector, day, day + timedelta(days=1))

    assert readings(data["lag_seconds"]["outbound"]) == [3 * 3600]


def test_the_records_that_fail_most_are_the_open_errors_most_attempted(connector: FakeConnector) -> None:
    def failing(record_id: str, category: ErrorCategory, attempts: int) -> None:
        failure = Failure("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Lead Source is required", category=category)
        for _ in range(attempts):
            error = SyncError(Direction.INBOUND, "update", "Lead", record_id, failure, connector.clock.now())
            connector.state.record_errors([error])

    failing("00Q000000000001AAA", ErrorCategory.VALIDATION, attempts=2)
    failing("00Q000000000002AAA", ErrorCategory.DUPLICATE, attempts=5)
    failing("00Q000000000003AAA", ErrorCategory.VALIDATION, attempts=1)
    now = connector.clock.now()

    data = report(connector, now - timedelta(hours=1), now)

    assert [(e["record_id"], e["attempts"], e["category"]) for e in data["top_failing_records"]] == [
        ("00Q000000000002AAA", 5, "duplicate"),
        ("00Q000000000001AAA", 2, "validation"),
        ("00Q000000000003AAA", 1, "validation"),
    ]
    assert data["open_errors"] == {"validation": 2, "duplicate": 1}
