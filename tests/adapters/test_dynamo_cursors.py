"""Where the runs got to, on moto: watermarks, the retry list, the users, the runs and the
schedules' starts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crmsync.aws.retry_list import DynamoRetryList
from crmsync.aws.run_log import DynamoRunLog
from crmsync.aws.user_directory import DynamoUserDirectory
from crmsync.aws.watermarks import DynamoWatermarks
from crmsync.domain.audit import Direction
from crmsync.domain.records import ApiUsage, Watermark
from crmsync.ports import RunOutcome, RunSummary, SalesforceUser

from tests.adapters.dynamo_doubles import DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- watermarks


def test_a_watermark_reads_back_to_the_microsecond(dynamo: DynamoTables) -> None:
    watermarks = DynamoWatermarks(dynamo.state_table())
    assert watermarks.watermark("Lead") is None
    mark = Watermark(datetime(2026, 11, 22, 11, 59, 58, 123456, tzinfo=UTC), "00Q000000000042")

    watermarks.save_watermark("Lead", mark)
    watermarks.save_watermark("Contact", Watermark(NOON, "003"))

    assert watermarks.watermark("Lead") == mark


def test_a_later_watermark_replaces_the_earlier(dynamo: DynamoTables) -> None:
    watermarks = DynamoWatermarks(dynamo.state_table())
    watermarks.save_watermark("Lead", Watermark(NOON, "00Q1"))

    watermarks.save_watermark("Lead", Watermark(NOON + timedelta(seconds=1), ""))

    assert watermarks.watermark("Lead") == Watermark(NOON + timedelta(seconds=1), "")


# --------------------------------------------------------------------------- records to retry


def test_records_to_retry_are_grouped_by_object_until_cleared(dynamo: DynamoTables) -> None:
    retry = DynamoRetryList(dynamo.state_table())
    retry.mark_for_retry(Direction.OUTBOUND, "Lead", ["00Q2", "00Q1", "00Q1"])
    retry.mark_for_retry(Direction.OUTBOUND, "Contact", ["003A"])
    retry.mark_for_retry(Direction.INBOUND, "Lead", ["00Q9"])

    retry.clear_retry(Direction.OUTBOUND, "Lead", ["00Q1", "00Q-never-marked"])

    assert retry.records_to_retry(Direction.OUTBOUND) == {"Lead": ["00Q2"], "Contact": ["003A"]}
    assert retry.records_to_retry(Direction.INBOUND) == {"Lead": ["00Q9"]}


def test_more_records_than_one_batch_write_holds_are_all_kept(dynamo: DynamoTables) -> None:
    retry = DynamoRetryList(dynamo.state_table())
    ids = [f"00Q{n:04d}" for n in range(60)]

    retry.mark_for_retry(Direction.OUTBOUND, "Lead", ids)

    assert retry.records_to_retry(Direction.OUTBOUND) == {"Lead": ids}
    retry.clear_retry(Direction.OUTBOUND, "Lead", ids)
    assert retry.records_to_retry(Direction.OUTBOUND) == {}


# --------------------------------------------------------------------------- users


def test_users_read_back_as_last_saved(dynamo: DynamoTables) -> None:
    directory = DynamoUserDirectory(dynamo.state_table())
    directory.save_users([SalesforceUser("005A", "ann@example.com", "Ann Lee"), SalesforceUser("005B", None)])

    directory.save_users([SalesforceUser("005A", "ann@example.com", "Ann Lee", active=False)])

    assert directory.users() == {
        "005A": SalesforceUser("005A", "ann@example.com", "Ann Lee", active=False),
        "005B": SalesforceUser("005B", None),
    }


# --------------------------------------------------------------------------- runs and schedules


def run(run_id: str, started_at: datetime, outcome: RunOutcome = RunOutcome.COMPLETED) -> RunSummary:
    return RunSummary(
        direction=Direction.OUTBOUND,
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=42, microseconds=500),
        outcome=outcome,
        counts={"read": 120, "created": 3},
        api_calls=7,
    )


def test_the_last_run_is_the_newest(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    assert runs.last_run(Direction.OUTBOUND) is None
    newest = run("run-2", NOON + timedelta(minutes=2), outcome=RunOutcome.CUT_SHORT)

    runs.save_run(run("run-1", NOON))
    runs.save_run(newest)
    runs.save_run(run("run-0", NOON - timedelta(minutes=2)))

    assert runs.last_run(Direction.OUTBOUND) == newest
    assert runs.last_run(Direction.INBOUND) is None
    item = dynamo.state_table().get({"pk": "run#outbound", "sk": "2026-11-22T12:02:00.000000+00:00#run-2"})
    assert item is not None
    assert item["expires_at"] == int((newest.started_at + timedelta(days=90)).timestamp())
    assert item["outcome"] == "cut_short"


def test_the_last_completed_run_stays_while_later_runs_end_otherwise(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    completed = replace(run("run-1", NOON), api_calls_by_kind={"query": 5, "limits": 1, "login": 1})
    runs.save_run(completed)
    runs.save_run(run("run-2", NOON + timedelta(minutes=2), outcome=RunOutcome.OVER_BUDGET))
    runs.save_run(run("run-3", NOON + timedelta(minutes=4), outcome=RunOutcome.FAILED))

    assert runs.last_completed_run(Direction.OUTBOUND) == completed
    assert runs.last_completed_run(Direction.INBOUND) is None
    assert [r.run_id for r in runs.recent_runs(Direction.OUTBOUND, 2)] == ["run-3", "run-2"]
    assert runs.recent_runs(Direction.OUTBOUND, 5)[-1] == completed
    # An idle run leaves its direction in step too
    idle = run("run-4", NOON + timedelta(minutes=6), outcome=RunOutcome.IDLE)
    runs.save_run(idle)
    assert runs.last_completed_run(Direction.OUTBOUND) == idle


def test_a_run_keeps_its_errors_by_category_and_the_api_usage_it_last_heard(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    heard = replace(
        run("run-1", NOON),
        errors={"validation": 2, "duplicate": 1},
        api_usage=ApiUsage(used=4_210, limit=15_000),
    )
    silent = run("run-2", NOON + timedelta(minutes=5), outcome=RunOutcome.PAUSED)

    runs.save_run(heard)
    assert runs.last_run(Direction.OUTBOUND) == heard
    runs.save_run(silent)
    assert runs.last_run(Direction.OUTBOUND) == silent
    assert silent.api_usage is None and silent.errors == {}


def test_the_last_completed_run_is_kept_through_runs_that_did_not_complete(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    # GIVEN no run yet, THEN no completed run either
    assert runs.last_completed_run(Direction.OUTBOUND) is None
    completed = run("run-1", NOON)
    runs.save_run(completed)

    # WHEN runs over budget, paused, cut short and busy follow
    for minutes, outcome in enumerate(
        (RunOutcome.OVER_BUDGET, RunOutcome.PAUSED, RunOutcome.CUT_SHORT, RunOutcome.BUSY), start=1
    ):
        runs.save_run(run(f"run-{minutes + 1}", NOON + timedelta(minutes=minutes), outcome=outcome))

    # THEN the last completed run is still the first, with everything it kept
    assert runs.last_completed_run(Direction.OUTBOUND) == completed
    assert runs.last_run(Direction.OUTBOUND) != completed
    # AND an inbound run that found nothing to do left inbound in step
    idle = replace(
        run("run-9", NOON + timedelta(minutes=9), outcome=RunOutcome.IDLE), direction=Direction.INBOUND
    )
    runs.save_run(idle)
    assert runs.last_completed_run(Direction.INBOUND) == idle
    assert runs.last_completed_run(Direction.OUTBOUND) == completed
    # AND that item is not one of the runs of a period
    assert [r.run_id for r in runs.runs_between(Direction.INBOUND, NOON, NOON + timedelta(hours=1))] == [
        "run-9"
    ]


def test_the_runs_of_a_period_are_those_that_started_in_it_oldest_first(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    for minutes in (-1, 0, 30, 59, 60, 61):
        runs.save_run(run(f"run-{minutes}", NOON + timedelta(minutes=minutes)))

    within = runs.runs_between(Direction.OUTBOUND, NOON, NOON + timedelta(hours=1))

    assert [r.run_id for r in within] == ["run-0", "run-30", "run-59"]
    assert runs.runs_between(Direction.INBOUND, NOON, NOON + timedelta(hours=1)) == []


def test_a_schedule_remembers_the_start_of_its_last_run(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    assert runs.last_scheduled_start("outbound") is None

    runs.save_scheduled_start("outbound", NOON)
    runs.save_scheduled_start("outbound", NOON + timedelta(minutes=2, microseconds=7))

    assert runs.last_scheduled_start("outbound") == NOON + timedelta(minutes=2, microseconds=7)
    assert runs.last_scheduled_start("inbound") is None
