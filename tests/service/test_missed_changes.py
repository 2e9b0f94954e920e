"""The catch-up on changes change capture missed (the batches it gave up on, and reconciliation),
on fakes: what it notes, what it leaves for the next run when a queue, a stream or a table
cannot be read now. Reading a batch back from the real stream is tests/functions' and tests/adapters'."""

from __future__ import annotations

from datetime import timedelta

import pytest
from crmsync.domain.audit import Direction
from crmsync.domain.errors import ErrorCategory, Failure, QueueError, StoreError
from crmsync.ports import CapturedChanges, PendingChange, StreamPosition
from crmsync.sync.missed_changes import CatchUp

from tests.fakes.connector import FakeConnector
from tests.service.test_inbound import CONFIGURATION, edit, synced_leads

POSITION = StreamPosition(
    "arn:aws:dynamodb:us-east-1:123456789012:table/p/stream/1", "shard-1", "1" * 21, "9" * 21
)
UNAVAILABLE = Failure("ServiceUnavailable", "try again", category=ErrorCategory.TRANSIENT)


@pytest.fixture
def inbound(connector: FakeConnector) -> FakeConnector:
    connector.configure(CONFIGURATION)
    return connector


def catch_up(connector: FakeConnector, *, reconciliation: bool = True) -> CatchUp:
    options = {} if reconciliation else {"reconciliation_items_per_run": 0}
    return connector.inbound(**options).catch_up_missed_changes()


def lost_scores(connector: FakeConnector, count: int) -> list[PendingChange]:
    """`count` synced Leads whose prospects marketing scored while change capture could not note
    them: what their batch's records say."""
    lead_ids = synced_leads(connector, count)
    edit(connector, lead_ids, score=30)
    return connector.marketing.captured().changes  # read by no one: the batch was given up on


def test_a_batch_the_stream_cannot_give_back_now_stays_queued_and_is_read_back_by_a_later_run(
    inbound: FakeConnector,
) -> None:
    # GIVEN a batch change capture gave up on, whose stream cannot be read for now
    inbound.failed_captures.batches[POSITION] = CapturedChanges(lost_scores(inbound, 3))
    inbound.failed_captures.send(POSITION)
    inbound.failed_captures.read_failure = lambda: StoreError(UNAVAILABLE)

    # WHEN the scheduled run catches up
    unread = catch_up(inbound, reconciliation=False)

    # THEN the batch is counted as unread and stays on its queue; nothing is noted yet
    assert unread.counts == {"failed_batches_unread": 1}
    assert any("not read" in problem for problem in unread.problems)
    assert inbound.failed_captures.waiting() == 1
    assert inbound.pending.all() == {}

    # WHEN the stream answers again and the message is received again (its visibility over)
    inbound.failed_captures.read_failure = None
    inbound.later(minutes=6)
    drained = catch_up(inbound, reconciliation=False)

    # THEN the batch is read back, its changes noted, and the message deleted
    assert drained.counts == {"failed_batches_drained": 1, "changes_recovered": 3}
    assert len(inbound.pending.all()) == 3
    assert inbound.failed_captures.waiting() == 0
    assert inbound.run_inbound().counts == {"updated": 3}


def test_a_message_that_gives_no_batch_is_listed_and_deleted_and_a_gone_batch_is_counted(
    inbound: FakeConnector,
) -> None:
    inbound.failed_captures.send(
        None, "DDBStreamBatchInfo: missing (not a DynamoDB stream's on-failure record)"
    )
    inbound.failed_captures.send(POSITION)  # no records to read back: past the stream's 24 hours

    found = catch_up(inbound, reconciliation=False)

    assert found.counts == {"failed_batches_malformed": 1, "failed_batches_expired": 1}
    (error,) = inbound.state.open_errors(Direction.INBOUND)
    assert (error.sobject, error.operation, error.failure.code) == (
        "StreamBatch",
        "capture",
        "MALFORMED_FAILED_BATCH",
    )
    assert "DDBStreamBatchInfo: missing" in error.failure.message
    assert inbound.failed_captures.waiting() == 0


def test_a_queue_or_a_table_that_cannot_be_read_now_leaves_its_part_for_the_next_run(
    inbound: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN prospects marketing scored whose changes the stream never delivered
    lost = lost_scores(inbound, 2)

    # WHEN the failed batches' queue cannot be received from, THEN reconciliation still finds them
    def unreachable(at_most: int) -> list[object]:
        raise QueueError(UNAVAILABLE)

    monkeypatch.setattr(inbound.failed_captures, "receive", unreachable)
    found = catch_up(inbound)
    assert any(problem.startswith("failed batches not drained") for problem in found.problems)
    assert found.counts["reconciliation_found"] == 2
    assert inbound.pending.all() == {change.prospect_id: change.version for change in lost}

    # WHEN the prospects table cannot be scanned, THEN that is reported and nothing is lost
    def unavailable(after: str | None, limit: int) -> object:
        raise StoreError(UNAVAILABLE)

    monkeypatch.setattr(inbound.prospects, "scan", unavailable)
    later = catch_up(inbound)
    assert any(problem.startswith("reconciliation not done") for problem in later.problems)
    assert len(inbound.pending.all()) == 2


def test_reconciliation_goes_round_the_prospects_a_share_per_run_and_says_how_long_a_round_took(
    inbound: FakeConnector,
) -> None:
    # GIVEN 3 synced prospects (9 items with their email and CRM id index entries), one scored by
    # marketing unseen by change capture, and runs reading 4 items each, two minutes apart
    lead_ids = synced_leads(inbound, 3)
    edit(inbound, lead_ids[:1], score=5)
    inbound.marketing.captured()

    runs = []
    for _ in range(3):
        runs.append(inbound.inbound(reconciliation_items_per_run=4).catch_up_missed_changes())
        inbound.later(minutes=2)

    # THEN the three runs read every item once between them, found the one change, and the last
    # says how long the round took
    assert [run.counts["reconciliation_read"] for run in runs] == [4, 4, 1]
    assert sum(run.counts.get("reconciliation_found", 0) for run in runs) == 1
    assert [run.round_took for run in runs] == [None, None, timedelta(minutes=4)]
    assert len(inbound.pending.all()) == 1
