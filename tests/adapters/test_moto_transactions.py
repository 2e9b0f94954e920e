"""The test double's transactions (`local/moto_transactions.py`): all or nothing, and, as on
DynamoDB, a stream record for each item of a committed transaction and none for a cancelled one
(change capture reads the prospects table's stream)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION
from tests.local_aws import mocked_aws, stack_template


@dataclass
class Prospects:
    client: Any
    table: str
    stream_arn: str

    def put(self, prospect_id: str, *, only_if_new: bool = False) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {"prospect_id": {"S": prospect_id}, "email_key": {"S": f"{prospect_id}@example.com"}},
        }
        if only_if_new:
            put["ConditionExpression"] = "attribute_not_exists(prospect_id)"
        return {"Put": put}

    def stream_records(self) -> list[dict[str, Any]]:
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        records: list[dict[str, Any]] = []
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records += streams.get_records(ShardIterator=iterator)["Records"]
        return records

    def ids(self) -> set[str]:
        items = self.client.scan(TableName=self.table)["Items"]
        return {item["prospect_id"]["S"] for item in items}


@pytest.fixture
def prospects(monkeypatch: pytest.MonkeyPatch) -> Iterator[Prospects]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        yield Prospects(
            client=boto3.client("dynamodb", region_name=REGION),
            table=stack.resources["ProspectsTable"],
            stream_arn=stack.attribute("ProspectsTable", "StreamArn"),
        )


def test_a_committed_transaction_writes_a_stream_record_per_item(prospects: Prospects) -> None:
    prospects.client.transact_write_items(TransactItems=[prospects.put("p-1"), prospects.put("p-2")])

    records = prospects.stream_records()
    assert [(r["eventName"], r["dynamodb"]["Keys"]["prospect_id"]["S"]) for r in records] == [
        ("INSERT", "p-1"),
        ("INSERT", "p-2"),
    ]


def test_a_cancelled_transaction_changes_nothing_and_writes_no_stream_record(prospects: Prospects) -> None:
    # GIVEN p-1 exists (one stream record)
    prospects.client.transact_write_items(TransactItems=[prospects.put("p-1")])

    # WHEN a transaction writes p-2 and p-3, then fails the condition on p-1
    with pytest.raises(ClientError) as cancelled:
        prospects.client.transact_write_items(
            TransactItems=[prospects.put("p-2"), prospects.put("p-3"), prospects.put("p-1", only_if_new=True)]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"

    # THEN neither the table nor the stream shows any of it
    assert prospects.ids() == {"p-1"}
    assert [r["dynamodb"]["Keys"]["prospect_id"]["S"] for r in prospects.stream_records()] == ["p-1"]

    # AND the next committed transaction's records follow on
    prospects.client.transact_write_items(TransactItems=[prospects.put("p-4")])
    assert [r["dynamodb"]["Keys"]["prospect_id"]["S"] for r in prospects.stream_records()] == ["p-1", "p-4"]
