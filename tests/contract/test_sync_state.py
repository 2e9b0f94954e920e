"""What the runs keep between them (`Leases`, `Watermarks`, `RetryList`, `UserDirectory`,
`AuditTrail`, `ErrorList`, `RunLog`): `FakeSyncState` and the state table hold the same contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.audit import AuditRecord, Direction, ErrorState, SyncError
from crmsync.domain.errors import Failure
from crmsync.domain.records import ApiUsage, Watermark
from crmsync.ports import RunOutcome, RunSummary, SalesforceUser

from tests.contract.conftest import unique
from tests.fakes.state import FakeSyncState

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


_ADAPTER_OF = {
    "acquire_lease": bootstrap.leases,
    "release_lease": bootstrap.leases,
    "watermark": bootstrap.watermarks,
    "save_watermark": bootstrap.watermarks,
    "records_to_retry": bootstrap.retry_list,
    "mark_for_retry": bootstrap.retry_list,
    "clear_retry": bootstrap.retry_list,
    "save_users": bootstrap.user_directory,
    "users": bootstrap.user_directory,
    "append_audit": bootstrap.audit_trail,
    "audit_trail": bootstrap.audit_trail,
    "record_errors": bootstrap.error_list,
    "resolve_errors": bootstrap.error_list,
    "open_errors": bootstrap.error_list,
    "listed_errors": bootstrap.error_list,
    "dismiss_errors": bootstrap.error_list,
    "note_retry_requested": bootstrap.error_list,
    "save_run": bootstrap.run_log,
    "last_run": bootstrap.run_log,
    "last_completed_run": bootstrap.run_log,
    "recent_runs": bootstrap.run_log,
    "runs_between": bootstrap.run_log,
    "last_scheduled_start": bootstrap.run_log,
    "save_scheduled_start": bootstrap.run_log,
}
"""Which of the state table's adapters answers each method, as the functions build them."""


class _StateTable:
    """The state table's seven adapters answering as the one object `FakeSyncState` is."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_ADAPTER_OF[name](), name)


@pytest.fixture(params=["fake", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Any:
    """Every protocol of the runs' bookkeeping on one object: the fake's, or the adapters'."""
    if request.param == "fake":
        return FakeSyncState()
    request.getfixturevalue("aws")
    return _StateTable()


def test_a_lease_is_one_holders_until_it_expires_or_is_given_back(state: Any) -> None:
    name = unique("lease")
    until = NOW + timedelta(minutes=5)

    assert state.acquire_lease(name, "run-1", NOW, until)
    assert not state.acquire_lease(name, "run-2", NOW + timedelta(minutes=4), until)
    assert state.acquire_lease(name, "run-1", NOW + timedelta(minutes=1), until), "its holder renews it"
    state.release_lease(name, "run-2")  # not theirs: nothing happens
    assert not state.acquire_lease(name, "run-2", NOW, until)
    assert state.acquire_lease(name, "run-2", until + timedelta(seconds=1), until + timedelta(minutes=5))
    state.release_lease(name, "run-2")
    assert state.acquire_lease(name, "run-3", NOW, until)


def test_a_watermark_reads_back_to_the_microsecond_in_utc(state: Any) -> None:
    key = unique("outbound#Lead")
    stamp = datetime(2026, 11, 22, 13, 0, 1, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert state.watermark(key) is None
    state.save_watermark(key, Watermark(stamp, "00Q1"))
    state.save_watermark(key, Watermark(stamp + timedelta(seconds=1), "00Q2"))

    assert state.watermark(key) == Watermark(stamp + timedelta(seconds=1), "00Q2")
    assert state.watermark(key).stamp.utcoffset() == timedelta(0)


def test_records_to_retry_are_kept_per_direction_and_object_until_cleared(state: Any) -> None:
    sobject = unique("Lead")
    state.mark_for_retry(Direction.OUTBOUND, sobject, ["00Q2", "00Q1", "00Q2"])
    state.mark_for_retry(Direction.OUTBOUND, sobject, ["00Q3"])

    assert state.records_to_retry(Direction.OUTBOUND)[sobject] == ["00Q1", "00Q2", "00Q3"]
    assert sobject not in state.records_to_retry(Direction.INBOUND)
    state.clear_retry(Direction.OUTBOUND, sobject, ["00Q1", "00Q3", "00Q9"])
    assert state.records_to_retry(Direction.OUTBOUND)[sobject] == ["00Q2"]


def test_users_keep_the_last_version_saved(state: Any) -> None:
    one, two = unique("005"), unique("005")
    state.save_users(
        [SalesforceUser(one, "a@example.com", "A"), SalesforceUser(two, None, "B", active=False)]
    )
    state.save_users([SalesforceUser(one, "a2@example.com", "A2")])

    users = state.users()
    assert (users[one], users[two]) == (
        SalesforceUser(one, "a2@example.com", "A2"),
        SalesforceUser(two, None, "B", active=False),
    )


def test_a_prospects_audit_trail_reads_back_oldest_first_its_values_as_json(state: Any) -> None:
    prospect = unique()
    later = NOW + timedelta(minutes=1)

    def entry(at: datetime, run: str, **fields: Any) -> AuditRecord:
        return AuditRecord(prospect, at, run, Direction.OUTBOUND, "Lead", "00Q1", **fields)

    state.append_audit([entry(later, "run-2", event="field synced", field="score", old=1, new=2.5)], 30)
    state.append_audit(
        [
            entry(NOW, "run-1", event="created"),
            entry(NOW, "run-1", event="field synced", field="closed", old=None, new=NOW),
        ],
        30,
    )

    assert state.audit_trail(prospect) == [
        entry(NOW, "run-1", event="created"),
        entry(NOW, "run-1", event="field synced", field="closed", old=None, new=str(NOW)),
        entry(later, "run-2", event="field synced", field="score", old=1, new=2.5),
    ]
    assert state.audit_trail(unique()) == []


def error(record_id: str, code: str = "INVALID_EMAIL_ADDRESS", **extra: Any) -> SyncError:
    return SyncError(
        direction=Direction.INBOUND,
        operation="update",
        sobject="Lead",
        record_id=record_id,
        failure=Failure.of(code, "refused", ("Email",)),
        at=NOW,
        **extra,
    )


def test_one_error_entry_per_record_and_direction_counting_its_attempts(state: Any) -> None:
    record, transient, exhausted = unique("00Q"), unique("00Q"), unique("00Q")
    state.record_errors([error(record, prospect_id="p-1"), error(transient, "UNABLE_TO_LOCK_ROW")])
    state.record_errors([error(record), error(exhausted, "UNABLE_TO_LOCK_ROW", retries_exhausted=True)])

    listed = {e.record_id: e for e in state.open_errors(Direction.INBOUND)}
    assert (listed[record].attempts, listed[record].prospect_id) == (2, None)
    assert listed[record].failure == Failure.of("INVALID_EMAIL_ADDRESS", "refused", ("Email",))
    assert listed[record].at == NOW
    assert not listed[transient].retries_exhausted and listed[exhausted].retries_exhausted
    assert record not in {e.record_id for e in state.open_errors(Direction.OUTBOUND)}
    assert record in {e.record_id for e in state.open_errors()}

    state.resolve_errors(Direction.INBOUND, [("Lead", record), ("Lead", unique("00Q"))])
    assert record not in {e.record_id for e in state.open_errors(Direction.INBOUND)}


def test_operators_see_each_entrys_first_failure_dismiss_it_or_ask_a_retry_until_it_fails_again(
    state: Any,
) -> None:
    dismissed, retried = unique("00Q"), unique("00Q")
    state.record_errors([error(dismissed), error(retried)])
    later = NOW + timedelta(hours=1)
    state.record_errors(
        [SyncError(Direction.INBOUND, "update", "Lead", dismissed, Failure.of("X", "again"), later)]
    )

    asked = [f"inbound#Lead#{dismissed}", f"inbound#Lead#{unique('00Q')}", "not a key"]
    assert state.dismiss_errors(asked, "a test Lead", "arn:me", NOW) == [f"inbound#Lead#{dismissed}"]
    assert state.note_retry_requested([f"inbound#Lead#{retried}"], "arn:you", later) == [
        f"inbound#Lead#{retried}"
    ]

    listed = {entry.error.record_id: entry for entry in state.listed_errors(Direction.INBOUND)}
    first = listed[dismissed]
    assert (first.first_seen, first.error.at, first.error.attempts, first.error.failure.code) == (
        NOW,
        later,
        2,
        "X",
    )
    assert (first.state, first.dismissed_reason, first.dismissed_by, first.dismissed_at) == (
        ErrorState.DISMISSED,
        "a test Lead",
        "arn:me",
        NOW,
    )
    second = listed[retried]
    assert (second.state, second.retry_requested_by, second.retry_requested_at) == (
        ErrorState.RETRYING,
        "arn:you",
        later,
    )
    assert dismissed in {e.record_id for e in state.open_errors(Direction.INBOUND)}, "runs still resolve it"

    # A new failure opens it again, without what operators noted
    state.record_errors([error(dismissed)])
    again = {entry.error.record_id: entry for entry in state.listed_errors(Direction.INBOUND)}[dismissed]
    assert (again.state, again.dismissed_reason, again.first_seen) == (ErrorState.OPEN, None, NOW)
    state.resolve_errors(Direction.INBOUND, [("Lead", dismissed), ("Lead", retried)])
    assert not {dismissed, retried} & {e.error.record_id for e in state.listed_errors()}


def test_the_last_completed_run_stays_while_later_runs_stop_and_the_recent_come_newest_first(
    state: Any,
) -> None:
    # Later than any other run of the module's table.
    start = datetime(2099, 6, 1, tzinfo=UTC)

    def run(run_id: str, minutes: int, outcome: RunOutcome) -> RunSummary:
        started = start + timedelta(minutes=minutes)
        return RunSummary(
            Direction.OUTBOUND,
            run_id,
            started,
            started + timedelta(seconds=3),
            outcome,
            {"read": 1},
            4,
            {"query": 3, "limits": 1},
        )

    completed = run(unique("run"), 0, RunOutcome.COMPLETED)
    state.save_run(completed)
    over, failed = run(unique("run"), 1, RunOutcome.OVER_BUDGET), run(unique("run"), 2, RunOutcome.FAILED)
    state.save_run(over)
    state.save_run(failed)

    assert state.last_completed_run(Direction.OUTBOUND) == completed
    assert state.recent_runs(Direction.OUTBOUND, 3) == [failed, over, completed]
    assert state.recent_runs(Direction.OUTBOUND, 1) == [failed]


def test_the_last_run_is_the_latest_started_and_scheduled_starts_are_kept_by_name(state: Any) -> None:
    # Later than any other run of the module's table, so the last of its direction.
    start = datetime(2099, 1, 1, tzinfo=UTC)

    def run(run_id: str, started: datetime) -> RunSummary:
        return RunSummary(
            Direction.INBOUND,
            run_id,
            started,
            started + timedelta(seconds=3),
            RunOutcome.COMPLETED,
            {"updated": 2},
            5,
        )

    state.save_run(run("later", start + timedelta(minutes=1)))
    state.save_run(run("earlier", start))
    assert state.last_run(Direction.INBOUND) == run("later", start + timedelta(minutes=1))

    name = unique("schedule")
    assert state.last_scheduled_start(name) is None
    state.save_scheduled_start(name, start)
    assert state.last_scheduled_start(name) == start


def test_the_runs_of_a_period_and_the_last_completed_run_keep_what_each_run_heard(state: Any) -> None:
    start = datetime(2098, 1, 1, tzinfo=UTC)  # a period no other test of the module's table writes in
    completed = RunSummary(
        Direction.OUTBOUND,
        unique("run"),
        start,
        start + timedelta(seconds=3),
        RunOutcome.COMPLETED,
        {"created": 2},
        5,
        errors={"validation": 1},
        api_usage=ApiUsage(4_210, 15_000),
    )
    over_budget = RunSummary(
        Direction.OUTBOUND,
        unique("run"),
        start + timedelta(minutes=1),
        start + timedelta(minutes=1, seconds=1),
        RunOutcome.OVER_BUDGET,
        {},
        1,
        api_usage=ApiUsage(9_000, 15_000),
    )

    state.save_run(completed)
    state.save_run(over_budget)

    # The last run saved that left its direction in step, whatever was saved after it
    assert state.last_completed_run(Direction.OUTBOUND) == completed
    # The runs that started in [since, until), oldest first, with their errors and API usage
    assert state.runs_between(Direction.OUTBOUND, start, start + timedelta(hours=1)) == [
        completed,
        over_budget,
    ]
    assert state.runs_between(Direction.OUTBOUND, start, start + timedelta(minutes=1)) == [completed]
    assert state.runs_between(Direction.INBOUND, start, start + timedelta(hours=1)) == []
