"""The prospects table's stream on moto, read the way Lambda's event source mapping reads it
for InboundSyncFunction: from the position it had when created (`LATEST`), in order, handed
over as Lambda events of up to `batch_size` records. Tests, `make demo` and `make bench` feed
these events to the inbound handler, so change capture runs on real stream records, not hand-made ones.

The template's FilterCriteria are applied when asked (`events(filtered=True)`: what reaches the
function, and so what it costs); otherwise every record is handed over, the handler's own check
being the same rule. The mapping's retries are not applied: a test that fails an event's every delivery asks for the
on-failure record Lambda would then send (`failure_record`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from local.runtime.aws import REGION

if TYPE_CHECKING:
    from crmsync.aws.prospects import DynamoProspectStore

    from local.aws_stack import LocalStack

CONNECTOR_WRITER = "crmsync"
"""What the connector's writes to the prospects table carry in `written_by` (template.yaml's
filter names it too)."""


def marketing_store() -> DynamoProspectStore:
    """The marketing platform's side of the prospects table: its saves are not marked as the
    connector's, so change capture sees them."""
    from crmsync import bootstrap
    from crmsync.aws.dynamo_table import DynamoTable
    from crmsync.aws.prospects import DynamoProspectStore
    from crmsync.aws.tables import PROSPECTS_KEY

    client = boto3.client("dynamodb")
    return DynamoProspectStore(DynamoTable(client, bootstrap.settings().prospects_table, PROSPECTS_KEY))


class ProspectStream:
    def __init__(
        self,
        stream_arn: str,
        *,
        region: str = REGION,
        endpoint_url: str | None = None,
        batch_size: int = 100,
    ) -> None:
        self._arn = stream_arn
        self._client = boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint_url)
        self._batch_size = batch_size
        self._shard_of: dict[str, str] = {}
        """Sequence number of each record handed over → its shard."""
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        self._iterators: dict[str, str | None] = {
            shard["ShardId"]: self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for shard in shards
        }

    @classmethod
    def of(
        cls, stack: LocalStack, *, endpoint_url: str | None = None, batch_size: int = 100
    ) -> ProspectStream:
        """The stream of `stack`'s ProspectsTable."""
        arn = stack.attribute("ProspectsTable", "StreamArn")
        return cls(arn, region=stack.region, endpoint_url=endpoint_url, batch_size=batch_size)

    def events(self, *, filtered: bool = False) -> list[dict[str, Any]]:
        """Every record written since the last call, as Lambda events (oldest first); only
        those that pass the template's FilterCriteria when `filtered`."""
        records: list[dict[str, Any]] = []
        for shard in self._iterators:
            while position := self._iterators[shard]:
                response = self._client.get_records(ShardIterator=position, Limit=1000)
                records += [
                    self._as_delivered(record)
                    for record in response["Records"]
                    if not filtered or passes_filter(record)
                ]
                self._shard_of.update({r["dynamodb"]["SequenceNumber"]: shard for r in response["Records"]})
                self._iterators[shard] = response.get("NextShardIterator")
                if not response["Records"]:
                    break
        return [
            {"Records": records[start : start + self._batch_size]}
            for start in range(0, len(records), self._batch_size)
        ]

    def _as_delivered(self, record: dict[str, Any]) -> dict[str, Any]:
        stream = dict(record["dynamodb"])
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": stream, "eventSourceARN": self._arn}

    def failure_record(self, event: dict[str, Any], *, invocations: int = 11) -> dict[str, Any]:
        """What Lambda sends the mapping's on-failure destination once it gives up on `event`
        (MaximumRetryAttempts 10: 11 invocations): where the batch lies, not its records, as
        the AWS Lambda Developer Guide documents it for DynamoDB streams
        (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)."""
        first, last = event["Records"][0]["dynamodb"], event["Records"][-1]["dynamodb"]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:crmsync-InboundSyncFunction",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_of[first["SequenceNumber"]],
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_arrival(first)),
                "approximateArrivalOfLastRecord": _iso(_arrival(last)),
                "batchSize": len(event["Records"]),
                "streamArn": self._arn,
            },
        }


def passes_filter(record: dict[str, Any]) -> bool:
    """InboundSyncFunction's FilterCriteria in template.yaml: an INSERT or MODIFY whose new
    image's `written_by` is not the connector's (a string other than "crmsync", or none)."""
    new_image = record["dynamodb"].get("NewImage", {})
    written_by = new_image.get("written_by", {}).get("S")
    return record.get("eventName") in ("INSERT", "MODIFY") and written_by != CONNECTOR_WRITER


def _arrival(stream_record: dict[str, Any]) -> datetime:
    created = stream_record.get("ApproximateCreationDateTime")
    return datetime.fromtimestamp(created, UTC) if isinstance(created, (int, float)) else datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
