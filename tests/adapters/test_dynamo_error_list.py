"""The error list on moto: one entry per record and direction, until it syncs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crmsync.aws.error_list import DynamoErrorList
from crmsync.domain.audit import Direction, ErrorState, SyncError
from crmsync.domain.errors import ErrorCategory, Failure

from tests.adapters.capacity import CapacityMeter
from tests.adapters.dynamo_doubles import CountingClient, DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def errors(dynamo: DynamoTables) -> DynamoErrorList:
    return DynamoErrorList(dynamo.state_table())


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
    dynamo: DynamoTables, errors: DynamoErrorList
) -> None:
    locked = Failure("UNABLE_TO_LOCK_ROW", "row locked", (), ErrorCategory.TRANSIENT)
    errors.record_errors([error("00Q1", NOON)])

    errors.record_errors([error("00Q1", NOON + timedelta(minutes=2), failure=locked, prospect_id=None)])

    (entry,) = errors.open_errors(Direction.OUTBOUND)
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
    item = dynamo.state_table().get({"pk": "error#outbound", "sk": "Lead#00Q1"})
    assert item is not None
    assert item["first_at"].startswith("2026-11-22T12:00:00")
    assert item["state"] == ErrorState.RETRYING.value


def test_open_errors_list_every_field_of_each_direction(errors: DynamoErrorList) -> None:
    outbound = error("00Q1", NOON)
    inbound = error("00Q2", NOON, direction=Direction.INBOUND)

    errors.record_errors([outbound, inbound])

    assert errors.open_errors(Direction.OUTBOUND) == [outbound]
    assert errors.open_errors(Direction.INBOUND) == [inbound]
    assert sorted(errors.open_errors(), key=lambda e: e.record_id) == [outbound, inbound]


def test_a_resolved_error_leaves_the_list(errors: DynamoErrorList) -> None:
    errors.record_errors([error("00Q1", NOON), error("00Q2", NOON)])

    errors.resolve_errors(Direction.OUTBOUND, [("Lead", "00Q1"), ("Lead", "00Q-never-failed")])

    assert [e.record_id for e in errors.open_errors()] == ["00Q2"]


def test_resolving_records_that_never_failed_deletes_nothing(dynamo: DynamoTables) -> None:
    """An automation action resolves both kinds of record it may have failed as; a delete of an
    entry that is not there costs a write unit all the same, so none is sent."""
    DynamoErrorList(dynamo.state_table()).record_errors([error("p-2", NOON, direction=Direction.INBOUND)])
    meter = CapacityMeter(dynamo.client)
    counting = CountingClient(meter)
    errors = DynamoErrorList(dynamo.state_table(counting))

    errors.resolve_errors(Direction.INBOUND, [("Lead", "p-1"), ("Contact", "p-1")])

    assert counting.calls == {"batch_get_item": 1}
    assert meter.units.writes == {}
    assert meter.units.reads == {"BatchGetItem": 2.0}, "two consistent reads of absent keys"

    errors.resolve_errors(Direction.INBOUND, [("Lead", "p-2"), ("Contact", "p-2")])

    assert meter.units.writes == {"BatchWriteItem": 1}, "only the entry there is deleted"
    assert errors.open_errors() == []


def test_operators_see_first_and_last_seen_dismiss_with_a_reason_and_ask_a_retry(
    errors: DynamoErrorList,
) -> None:
    errors.record_errors([error("00Q1", NOON), error("00Q2", NOON, direction=Direction.INBOUND)])
    errors.record_errors([error("00Q1", NOON + timedelta(hours=1))])

    dismissed = errors.dismiss_errors(
        ["outbound#Lead#00Q1", "outbound#Lead#00Q404", "nonsense"], "test data", "arn:me", NOON
    )
    retried = errors.note_retry_requested(["inbound#Lead#00Q2"], "arn:you", NOON)

    assert (dismissed, retried) == (["outbound#Lead#00Q1"], ["inbound#Lead#00Q2"])
    listed = {entry.error.key: entry for entry in errors.listed_errors()}
    first = listed["outbound#Lead#00Q1"]
    assert (first.first_seen, first.error.at, first.error.attempts) == (NOON, NOON + timedelta(hours=1), 2)
    assert (first.state, first.dismissed_reason, first.dismissed_by, first.dismissed_at) == (
        ErrorState.DISMISSED,
        "test data",
        "arn:me",
        NOON,
    )
    second = listed["inbound#Lead#00Q2"]
    assert (second.state, second.retry_requested_by, second.retry_requested_at) == (
        ErrorState.RETRYING,
        "arn:you",
        NOON,
    )
    # Runs still see every entry, to resolve it when the record syncs
    assert len(errors.open_errors()) == 2


def test_a_record_that_fails_again_reopens_its_entry_without_the_operators_notes(
    errors: DynamoErrorList,
) -> None:
    errors.record_errors([error("00Q1", NOON)])
    errors.dismiss_errors(["outbound#Lead#00Q1"], "looked at it", "arn:me", NOON)

    errors.record_errors([error("00Q1", NOON + timedelta(hours=1))])

    [entry] = errors.listed_errors(Direction.OUTBOUND)
    assert (entry.state, entry.dismissed_reason, entry.dismissed_at, entry.error.attempts) == (
        ErrorState.OPEN,
        None,
        None,
        2,
    )
