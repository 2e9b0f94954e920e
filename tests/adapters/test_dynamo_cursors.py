"""Where the runs got to, on moto: watermarks, the retry list, the users, the runs and the
schedules' starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crmsync.aws.retry_list import DynamoRetryList
from crmsync.aws.run_log import DynamoRunLog
from crmsync.aws.user_directory import DynamoUserDirectory
from crmsync.aws.watermarks import DynamoWatermarks
from crmsync.domain.audit import Direction
from crmsync.domain.records import Watermark
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


def test_a_schedule_remembers_the_start_of_its_last_run(dynamo: DynamoTables) -> None:
    runs = DynamoRunLog(dynamo.state_table())
    assert runs.last_scheduled_start("outbound") is None

    runs.save_scheduled_start("outbound", NOON)
    runs.save_scheduled_start("outbound", NOON + timedelta(minutes=2, microseconds=7))

    assert runs.last_scheduled_start("outbound") == NOON + timedelta(minutes=2, microseconds=7)
    assert runs.last_scheduled_start("inbound") is None
