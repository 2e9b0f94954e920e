"""The actions queue, the actions' claims, parked actions and change capture's failed batches:
the fakes and their adapters (SQS and DynamoDB on moto) hold the same contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.action_claims import IdempotencyActionClaims
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import IDEMPOTENCY_KEY, PROSPECTS_KEY
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import (
    ActionClaims,
    ActionQueue,
    CapturedChanges,
    Claim,
    FailedCaptures,
    ParkedAction,
    PendingChange,
    StreamPosition,
)

from local.aws_stack import LocalStack
from tests.contract.conftest import REGION, unique
from tests.fakes.clock import FakeClock
from tests.fakes.messaging import FakeActionClaims, FakeActionQueue, FakeFailedCaptures, FakeParkedActions

FAILED_CAPTURE_SAMPLE = (
    Path(__file__).resolve().parents[2] / "events" / "inbound_sync" / "failed_capture_message.json"
)

# ------------------------------------------------------------------ the actions queue


@dataclass
class Queue:
    queue: ActionQueue
    received: Callable[[], list[dict[str, Any]]]


@pytest.fixture(params=["fake", "sqs"])
def actions_queue(request: pytest.FixtureRequest) -> Queue:
    if request.param == "fake":
        fake = FakeActionQueue()
        return Queue(fake, lambda: [json.loads(body) for body in fake.take()])
    stack: LocalStack = request.getfixturevalue("aws")
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.resources["ActionsQueue"]

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]

    return Queue(bootstrap.actions_queue(), received)


def test_a_message_sent_is_received_as_the_json_object_it_was(actions_queue: Queue) -> None:
    message = {"action": "create_lead", "prospect_id": unique(), "nested": {"b": [1, 2.5, None]}}

    actions_queue.queue.send(message)

    assert actions_queue.received() == [message]


# ------------------------------------------------------------------ claims


@dataclass
class Claims:
    claims: ActionClaims
    clock: FakeClock


@pytest.fixture(params=["fake", "dynamodb"])
def claims(request: pytest.FixtureRequest) -> Claims:
    clock = FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    if request.param == "fake":
        return Claims(FakeActionClaims(clock), clock)
    request.getfixturevalue("aws")
    client = boto3.client("dynamodb", region_name=REGION)
    table = DynamoTable(client, bootstrap.settings().idempotency_table, IDEMPOTENCY_KEY)
    return Claims(IdempotencyActionClaims(table, clock=clock), clock)


def test_a_prospect_is_claimed_once_until_its_action_is_done_or_released(claims: Claims) -> None:
    prospect = unique()

    assert claims.claims.claim(prospect, 60_000) == Claim(claimed=True)
    assert claims.claims.claim(prospect, 60_000) == Claim(claimed=False), "another invocation has it"
    claims.claims.release(prospect)
    assert claims.claims.claim(prospect, 60_000) == Claim(claimed=True)

    claims.claims.complete(prospect, {"crm_id": "00Q1", "created": True})
    claims.clock.advance(minutes=59)
    assert claims.claims.claim(prospect, 60_000) == Claim(False, {"crm_id": "00Q1", "created": True})
    claims.clock.advance(minutes=2)
    assert claims.claims.claim(prospect, 60_000) == Claim(claimed=True), "a completed claim answers an hour"


def test_a_claim_left_by_an_invocation_that_died_lapses_at_its_deadline(claims: Claims) -> None:
    prospect = unique()
    assert claims.claims.claim(prospect, 30_000).claimed

    claims.clock.advance(seconds=29)
    assert not claims.claims.claim(prospect, 30_000).claimed
    claims.clock.advance(seconds=2)
    assert claims.claims.claim(prospect, 30_000).claimed


# ------------------------------------------------------------------ parked actions


@pytest.fixture(params=["fake", "dynamodb"])
def parked(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeParkedActions()
    request.getfixturevalue("aws")
    store = bootstrap.parked_actions()
    store.remove(store.waiting(1000))
    return store


def test_parked_actions_wait_oldest_first_once_each_until_removed(parked: Any) -> None:
    sent = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    first, second = (
        ParkedAction(unique("m"), json.dumps({"n": n}), sent + timedelta(seconds=n)) for n in (1, 2)
    )

    parked.park([second, first])
    parked.park([second])

    assert parked.waiting(10) == [first, second]
    assert parked.waiting(1) == [first]
    assert (parked.count(10), parked.count(1)) == (2, 1), "counted up to at most"
    parked.remove([first])
    assert parked.waiting(10) == [second]
    assert parked.count(10) == 1
    parked.remove([second])


# ------------------------------------------------------------------ failed batches


@dataclass
class Failed:
    captures: FailedCaptures
    send_malformed: Callable[[], None]
    send_batch: Callable[[str], None]
    """The on-failure message of a batch holding one marketing save of a new prospect."""


@pytest.fixture(params=["fake", "sqs"])
def failed(request: pytest.FixtureRequest) -> Failed:
    if request.param == "fake":
        fake = FakeFailedCaptures(FakeClock())

        def send_fake(prospect_id: str) -> None:
            position = StreamPosition("arn:stream", "shard-1", "1" * 21, "2" * 21)
            fake.batches[position] = CapturedChanges([PendingChange(prospect_id, 1)])
            fake.send(position)

        return Failed(fake, lambda: fake.send(None, "the message is not JSON"), send_fake)
    stack: LocalStack = request.getfixturevalue("aws")
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.resources["FailedCapturesQueue"]
    captures = bootstrap.failed_captures()
    assert captures is not None
    sqs.purge_queue(QueueUrl=url)
    marketing = DynamoProspectStore(
        DynamoTable(
            boto3.client("dynamodb", region_name=REGION), bootstrap.settings().prospects_table, PROSPECTS_KEY
        )
    )
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = stack.attribute("ProspectsTable", "StreamArn")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def send_real(prospect_id: str) -> None:
        # No email: no index item, so the save is the stream's last record alone.
        assert marketing.save([ProspectChange(Prospect(id=prospect_id))]) == []
        start = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        last = streams.get_records(ShardIterator=start["ShardIterator"])["Records"][-1]["dynamodb"][
            "SequenceNumber"
        ]
        document = json.loads(FAILED_CAPTURE_SAMPLE.read_text())
        document["DDBStreamBatchInfo"].update(
            streamArn=arn, shardId=shard, startSequenceNumber=last, endSequenceNumber=last
        )
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(document))

    return Failed(captures, lambda: sqs.send_message(QueueUrl=url, MessageBody="not json"), send_real)


def test_a_failed_batch_is_received_until_deleted_and_a_malformed_message_says_why(failed: Failed) -> None:
    prospect = unique()
    failed.send_malformed()
    failed.send_batch(prospect)

    received = failed.captures.receive(10)
    assert failed.captures.receive(10) == [], "received, a message is hidden for a while"

    malformed = next(r for r in received if r.position is None)
    assert "not JSON" in malformed.problem
    batch = next(r for r in received if r.position is not None)
    assert batch.position is not None
    assert failed.captures.read(batch.position) == CapturedChanges([PendingChange(prospect, 1)])
    failed.captures.delete(received)
    assert failed.captures.receive(10) == []
