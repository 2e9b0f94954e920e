"""Run bookkeeping on moto: leases, watermarks, records to retry, users, audit trail, errors, runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from crmsync.aws.sync_state import DynamoSyncState
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.records import ApiUsage, Watermark
from crmsync.ports import RunOutcome, RunSummary, SalesforceUser

from tests.adapters.dynamo_doubles import DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEASE = "outbound"


@pytest.fixture
def state(dynamo: DynamoTables) -> DynamoSyncState:
    return DynamoSyncState(dynamo.client, dynamo.state, sleep=lambda seconds: None)


def raw_item(dynamo: DynamoTables, pk: str, sk: str) -> dict[str, dict[str, str]]:
    item: dict[str, dict[str, str]] = dynamo.client.get_item(
        TableName=dynamo.state, Key={"pk": {"S": pk}, "sk": {"S": sk}}
    )["Item"]
    return item


# --------------------------------------------------------------------------- leases


def test_a_free_lease_is_taken(state: DynamoSyncState) -> None:
    assert state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))


def test_a_lease_held_by_another_run_is_refused(state: DynamoSyncState) -> None:
    state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert not state.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_an_expired_lease_is_taken_over(state: DynamoSyncState) -> None:
    state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert state.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=6), NOON + timedelta(minutes=11))
    assert not state.acquire_lease(LEASE, "run-1", NOON + timedelta(minutes=7), NOON + timedelta(minutes=12))


def test_the_holder_renews_its_lease(state: DynamoSyncState) -> None:
    state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert state.acquire_lease(LEASE, "run-1", NOON + timedelta(minutes=4), NOON + timedelta(minutes=9))
    assert not state.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=7), NOON + timedelta(minutes=12))


def test_a_lease_expires_from_the_table_a_day_after_its_end(
    dynamo: DynamoTables, state: DynamoSyncState
) -> None:
    until = NOON + timedelta(minutes=5)

    state.acquire_lease(LEASE, "run-1", NOON, until)

    item = raw_item(dynamo, "lease", LEASE)
    assert int(item["expires_at"]["N"]) == int((until + timedelta(days=1)).timestamp())


def test_a_release_by_another_run_leaves_the_lease_with_its_holder(state: DynamoSyncState) -> None:
    state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    state.release_lease(LEASE, "run-2")

    assert not state.acquire_lease(LEASE, "run-3", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_a_released_lease_is_free_at_once(state: DynamoSyncState) -> None:
    state.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    state.release_lease(LEASE, "run-1")
    state.release_lease(LEASE, "run-1")

    assert state.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_leases_of_different_names_do_not_block_each_other(state: DynamoSyncState) -> None:
    state.acquire_lease("outbound", "run-1", NOON, NOON + timedelta(minutes=5))

    assert state.acquire_lease("inbound", "run-2", NOON, NOON + timedelta(minutes=5))


# --------------------------------------------------------------------------- watermarks


def test_a_watermark_reads_back_to_the_microsecond(state: DynamoSyncState) -> None:
    assert state.watermark("Lead") is None
    mark = Watermark(datetime(2026, 11, 22, 11, 59, 58, 123456, tzinfo=UTC), "00Q000000000042")

    state.save_watermark("Lead", mark)
    state.save_watermark("Contact", Watermark(NOON, "003"))

    assert state.watermark("Lead") == mark


def test_a_later_watermark_replaces_the_earlier(state: DynamoSyncState) -> None:
    state.save_watermark("Lead", Watermark(NOON, "00Q1"))

    state.save_watermark("Lead", Watermark(NOON + timedelta(seconds=1), ""))

    assert state.watermark("Lead") == Watermark(NOON + timedelta(seconds=1), "")


# --------------------------------------------------------------------------- records to retry


def test_records_to_retry_are_grouped_by_object_until_cleared(state: DynamoSyncState) -> None:
    state.mark_for_retry(Direction.OUTBOUND, "Lead", ["00Q2", "00Q1", "00Q1"])
    state.mark_for_retry(Direction.OUTBOUND, "Contact", ["003A"])
    state.mark_for_retry(Direction.INBOUND, "Lead", ["00Q9"])

    state.clear_retry(Direction.OUTBOUND, "Lead", ["00Q1", "00Q-never-marked"])

    assert state.records_to_retry(Direction.OUTBOUND) == {"Lead": ["00Q2"], "Contact": ["003A"]}
    assert state.records_to_retry(Direction.INBOUND) == {"Lead": ["00Q9"]}


def test_more_records_than_one_batch_write_holds_are_all_kept(state: DynamoSyncState) -> None:
    ids = [f"00Q{n:04d}" for n in range(60)]

    state.mark_for_retry(Direction.OUTBOUND, "Lead", ids)

    assert state.records_to_retry(Direction.OUTBOUND) == {"Lead": ids}
    state.clear_retry(Direction.OUTBOUND, "Lead", ids)
    assert state.records_to_retry(Direction.OUTBOUND) == {}


# --------------------------------------------------------------------------- users


def test_users_read_back_as_last_saved(state: DynamoSyncState) -> None:
    state.save_users([SalesforceUser("005A", "ann@example.com", "Ann Lee"), SalesforceUser("005B", None)])

    state.save_users([SalesforceUser("005A", "ann@example.com", "Ann Lee", active=False)])

    assert state.users() == {
        "005A": SalesforceUser("005A", "ann@example.com", "Ann Lee", active=False),
        "005B": SalesforceUser("005B", None),
    }


# --------------------------------------------------------------------------- audit trail


def audit(
    at: datetime,
    event: str,
    run_id: str = "run-1",
    *,
    field: str | None = None,
    side: str | None = None,
    old: object = None,
    new: object = None,
    rule: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        prospect_id="p-1",
        at=at,
        run_id=run_id,
        direction=Direction.OUTBOUND,
        crm_type="Lead",
        crm_id="00Q1",
        event=event,
        field=field,
        side=side,
        old=old,
        new=new,
        rule=rule,
    )


def test_the_audit_trail_reads_back_in_the_order_things_happened(state: DynamoSyncState) -> None:
    linked = audit(NOON, "linked to Lead 00Q1")
    title = audit(
        NOON, "field synced", field="title", side="marketing", old=None, new="CTO", rule="salesforce"
    )
    score = audit(NOON, "field synced", field="score", side="salesforce", old=41.5, new=42, rule="marketing")
    opted_out = audit(NOON, "field synced", field="opted_out", side="marketing", old=True, new=False)
    later = audit(NOON + timedelta(minutes=2), "deactivated", run_id="run-2")

    state.append_audit([linked, title], retention_days=30)
    state.append_audit([score, opted_out], retention_days=30)  # same run, same instant, later call
    state.append_audit([later], retention_days=30)

    assert state.audit_trail("p-1") == [linked, title, score, opted_out, later]
    assert state.audit_trail("p-other") == []


def test_audit_entries_expire_after_the_retention(dynamo: DynamoTables, state: DynamoSyncState) -> None:
    state.append_audit([audit(NOON, "linked")], retention_days=30)

    (item,) = dynamo.client.query(
        TableName=dynamo.state,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "audit#p-1"}},
    )["Items"]
    assert int(item["expires_at"]["N"]) == int((NOON + timedelta(days=30)).timestamp())


# --------------------------------------------------------------------------- error list


def error(
    record_id: str,
    at: datetime,
    *,
    direction: Direction = Direction.OUTBOUND,
    failure: Failure | None = None,
    prospect_id: str | None = "p-1",
) -> SyncError:
    return SyncError(
        direction=direction,
        operation="update",
        sobject="Lead",
        record_id=record_id,
        failure=failure
        or Failure(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Title is too fancy", ("Title",), ErrorCategory.VALIDATION
        ),
        at=at,
        prospect_id=prospect_id,
    )


def test_an_error_reported_again_counts_its_attempts_and_keeps_the_latest_failure(
    dynamo: DynamoTables, state: DynamoSyncState
) -> None:
    locked = Failure("UNABLE_TO_LOCK_ROW", "row locked", (), ErrorCategory.TRANSIENT)
    state.record_errors([error("00Q1", NOON)])

    state.record_errors([error("00Q1", NOON + timedelta(minutes=2), failure=locked, prospect_id=None)])

    (entry,) = state.open_errors(Direction.OUTBOUND)
    assert entry == SyncError(
        direction=Direction.OUTBOUND,
        operation="update",
        sobject="Lead",
        record_id="00Q1",
        failure=locked,
        at=NOON + timedelta(minutes=2),
        prospect_id=None,
        attempts=2,
    )
    item = raw_item(dynamo, "error#outbound", "Lead#00Q1")
    assert item["first_at"]["S"].startswith("2026-11-22T12:00:00")
    assert item["state"]["S"] == ErrorState.RETRYING.value


def test_open_errors_list_every_field_of_each_direction(state: DynamoSyncState) -> None:
    outbound = error("00Q1", NOON)
    inbound = error("00Q2", NOON, direction=Direction.INBOUND)

    state.record_errors([outbound, inbound])

    assert state.open_errors(Direction.OUTBOUND) == [outbound]
    assert state.open_errors(Direction.INBOUND) == [inbound]
    assert sorted(state.open_errors(), key=lambda e: e.record_id) == [outbound, inbound]


def test_a_resolved_error_leaves_the_list(state: DynamoSyncState) -> None:
    state.record_errors([error("00Q1", NOON), error("00Q2", NOON)])

    state.resolve_errors(Direction.OUTBOUND, [("Lead", "00Q1"), ("Lead", "00Q-never-failed")])

    assert [e.record_id for e in state.open_errors()] == ["00Q2"]


# --------------------------------------------------------------------------- runs


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


def test_the_last_run_is_the_newest(dynamo: DynamoTables, state: DynamoSyncState) -> None:
    assert state.last_run(Direction.OUTBOUND) is None
    newest = run("run-2", NOON + timedelta(minutes=2), outcome=RunOutcome.CUT_SHORT)

    state.save_run(run("run-1", NOON))
    state.save_run(newest)
    state.save_run(run("run-0", NOON - timedelta(minutes=2)))

    assert state.last_run(Direction.OUTBOUND) == newest
    assert state.last_run(Direction.INBOUND) is None
    item = raw_item(dynamo, "run#outbound", "2026-11-22T12:02:00.000000+00:00#run-2")
    assert int(item["expires_at"]["N"]) == int((newest.started_at + timedelta(days=90)).timestamp())
    assert item["outcome"] == {"S": "cut_short"}


def test_a_run_keeps_its_errors_by_category_and_the_api_usage_it_last_heard(state: DynamoSyncState) -> None:
    heard = replace(
        run("run-1", NOON),
        errors={"validation": 2, "duplicate": 1},
        api_usage=ApiUsage(used=4_210, limit=15_000),
    )
    silent = run("run-2", NOON + timedelta(minutes=5), outcome=RunOutcome.PAUSED)

    state.save_run(heard)
    assert state.last_run(Direction.OUTBOUND) == heard
    state.save_run(silent)
    assert state.last_run(Direction.OUTBOUND) == silent
    assert silent.api_usage is None and silent.errors == {}


def test_the_last_completed_run_is_kept_through_runs_that_did_not_complete(
    dynamo: DynamoTables, state: DynamoSyncState
) -> None:
    # GIVEN no run yet, THEN no completed run either
    assert state.last_completed_run(Direction.OUTBOUND) is None
    completed = run("run-1", NOON)
    state.save_run(completed)

    # WHEN runs over budget, paused, cut short and busy follow
    for minutes, outcome in enumerate(
        (RunOutcome.OVER_BUDGET, RunOutcome.PAUSED, RunOutcome.CUT_SHORT, RunOutcome.BUSY), start=1
    ):
        state.save_run(run(f"run-{minutes + 1}", NOON + timedelta(minutes=minutes), outcome=outcome))

    # THEN the last completed run is still the first, with everything it kept
    assert state.last_completed_run(Direction.OUTBOUND) == completed
    assert state.last_run(Direction.OUTBOUND) != completed
    # AND an inbound run that found nothing to do left inbound in step
    idle = replace(
        run("run-9", NOON + timedelta(minutes=9), outcome=RunOutcome.IDLE), direction=Direction.INBOUND
    )
    state.save_run(idle)
    assert state.last_completed_run(Direction.INBOUND) == idle
    assert state.last_completed_run(Direction.OUTBOUND) == completed
    # AND that item is not one of the runs of a period
    assert [r.run_id for r in state.runs_between(Direction.INBOUND, NOON, NOON + timedelta(hours=1))] == [
        "run-9"
    ]


def test_the_runs_of_a_period_are_those_that_started_in_it_oldest_first(state: DynamoSyncState) -> None:
    for minutes in (-1, 0, 30, 59, 60, 61):
        state.save_run(run(f"run-{minutes}", NOON + timedelta(minutes=minutes)))

    within = state.runs_between(Direction.OUTBOUND, NOON, NOON + timedelta(hours=1))

    assert [r.run_id for r in within] == ["run-0", "run-30", "run-59"]
    assert state.runs_between(Direction.INBOUND, NOON, NOON + timedelta(hours=1)) == []
