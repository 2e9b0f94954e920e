"""The stream batches change capture gave up on: their on-failure messages (SQS on moto), read by
one validator, and their records read back from the prospects table's real stream (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from crmsync.aws.failed_captures import SqsFailedCaptures, read_failure_message
from crmsync.aws.prospects import CONNECTOR_WRITER, DynamoProspectStore
from crmsync.domain.errors import StoreError
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import CapturedChanges, PendingChange, StreamPosition, StreamRecordsGone

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION, DynamoTables
from tests.local_aws import stack_template

pytest_plugins = ["tests.adapters.conftest_dynamo"]

SAMPLE = Path(__file__).resolve().parents[2] / "events" / "inbound_sync" / "failed_capture_message.json"
SAMPLE_TABLE = "crmsync-ProspectsTable-1A2B3C"


@dataclass
class Stream:
    failed: SqsFailedCaptures
    sqs: Any
    queue_url: str
    arn: str
    shard_id: str
    marketing: DynamoProspectStore
    connector: DynamoProspectStore

    def sequence_numbers(self) -> list[str]:
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        start = streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON"
        )
        records = streams.get_records(ShardIterator=start["ShardIterator"])["Records"]
        return [r["dynamodb"]["SequenceNumber"] for r in records]


@pytest.fixture
def stream(dynamo: DynamoTables) -> Iterator[Stream]:
    stack = create_stack(stack_template(), region=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = stack.attribute("ProspectsTable", "StreamArn")
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    queue_url = stack.resources["FailedCapturesQueue"]
    yield Stream(
        failed=SqsFailedCaptures(sqs, queue_url, streams, dynamo.prospects),
        sqs=sqs,
        queue_url=queue_url,
        arn=arn,
        shard_id=shard_id,
        marketing=DynamoProspectStore(dynamo.prospects_table()),
        connector=DynamoProspectStore(dynamo.prospects_table(), writer=CONNECTOR_WRITER),
    )


def sample_message() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    return document


# --------------------------------------------------------------------------- the message


def test_the_sample_message_gives_the_position_of_its_batch() -> None:
    read = read_failure_message("m-1", "r-1", json.dumps(sample_message()), SAMPLE_TABLE)

    assert read.problem == ""
    assert read.position == StreamPosition(
        stream_arn=sample_message()["DDBStreamBatchInfo"]["streamArn"],
        shard_id="shardId-00000001768471300000-1a2b3c4d",
        first_sequence_number="111",
        last_sequence_number="112",
    )


def with_batch_info(**changes: Any) -> str:
    document = sample_message()
    document["DDBStreamBatchInfo"] = {**document["DDBStreamBatchInfo"], **changes}
    return json.dumps(document)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "the message is not JSON"),
        ("[1, 2]", "the message must be a JSON object"),
        (json.dumps({"requestContext": {}}), "DDBStreamBatchInfo: missing"),
        (
            with_batch_info(streamArn="arn:aws:dynamodb:us-east-1:123456789012:table/Other/stream/2026"),
            f"streamArn: not a stream of the prospects table {SAMPLE_TABLE}",
        ),
        (with_batch_info(shardId=""), "shardId: must be a non-empty string"),
        (with_batch_info(startSequenceNumber=111), "startSequenceNumber: must be a sequence number"),
        (with_batch_info(endSequenceNumber=None), "endSequenceNumber: must be a sequence number"),
        (with_batch_info(startSequenceNumber="120"), "startSequenceNumber is after endSequenceNumber"),
    ],
)
def test_a_message_that_gives_no_usable_position_says_why(body: str, problem: str) -> None:
    read = read_failure_message("m-1", "r-1", body, SAMPLE_TABLE)

    assert read.position is None
    assert problem in read.problem


def test_messages_are_received_read_and_deleted(stream: Stream) -> None:
    good = with_batch_info(streamArn=stream.arn, shardId=stream.shard_id)
    for body in (good, "not json"):
        stream.sqs.send_message(QueueUrl=stream.queue_url, MessageBody=body)

    received = stream.failed.receive(10)
    stream.failed.delete(received)

    assert sorted(bool(r.position) for r in received) == [False, True]
    assert stream.failed.receive(10) == []


# --------------------------------------------------------------------------- the records


def test_a_batch_is_read_back_from_the_stream_between_its_first_and_last_records(stream: Stream) -> None:
    # GIVEN four prospects saved by the marketing side, one then saved by the connector
    made = [Prospect(id=f"p-{n}", fields={"email": f"p{n}@example.com"}) for n in range(4)]
    assert stream.marketing.save([ProspectChange(p) for p in made]) == []
    (p2,) = stream.connector.get_many(["p-2"]).values()
    assert stream.connector.save([ProspectChange(Prospect(id="p-2", fields={"x": 1}, version=1), p2)]) == []
    numbers = stream.sequence_numbers()  # each prospect and its email index item, then p-2 again

    # WHEN the batch from p-1's record to the connector's save of p-2 is read back
    first = numbers[2]
    captured = stream.failed.read(StreamPosition(stream.arn, stream.shard_id, first, numbers[-1]))

    # THEN p-1, p-2 and p-3 are changes; index items and the connector's own save are not
    assert captured == CapturedChanges([PendingChange(f"p-{n}", 1) for n in (1, 2, 3)])


def test_a_batch_of_a_stream_that_is_no_more_is_gone(stream: Stream) -> None:
    # The stream of a table deleted since (moto finds a stream by its table).
    gone = stream.arn.replace(":table/crmsync-local-ProspectsTable/", ":table/crmsync-old-ProspectsTable/")

    with pytest.raises(StreamRecordsGone, match="ResourceNotFoundException"):
        stream.failed.read(StreamPosition(gone, stream.shard_id, "1" * 21, "2" * 21))


POSITION = StreamPosition(
    "arn:aws:dynamodb:us-east-1:123456789012:table/crmsync-ProspectsTable/stream/2026-01-15T10:00:00.000",
    "shardId-00000001768471300000-1a2b3c4d",
    "1" * 21,
    "2" * 21,
)


def test_a_batch_past_the_streams_24_hours_is_gone() -> None:
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(streams) as stubbed:
        stubbed.add_client_error(
            "get_shard_iterator", "TrimmedDataAccessException", "the records are beyond the trim horizon"
        )
        failed = SqsFailedCaptures(None, "", streams, "crmsync-ProspectsTable")

        with pytest.raises(StreamRecordsGone, match="TrimmedDataAccessException"):
            failed.read(POSITION)


def test_a_stream_that_cannot_be_read_now_is_a_retryable_store_error() -> None:
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(streams) as stubbed:
        stubbed.add_client_error("get_shard_iterator", "LimitExceededException", "slow down")
        failed = SqsFailedCaptures(None, "", streams, "crmsync-ProspectsTable")

        with pytest.raises(StoreError) as raised:
            failed.read(POSITION)

    assert raised.value.failure.retryable
