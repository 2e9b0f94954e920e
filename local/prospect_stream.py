"""The prospects table's stream on moto, read the way Lambda's event source mapping reads it
for InboundSyncFunction: from the position it had when created (`LATEST`), in order, handed
over as Lambda events of up to `batch_size` records. Tests and `make demo` feed these events to
the inbound handler, so change capture runs on real stream records, not hand-made ones.

The template's FilterCriteria are not applied here: the handler's own check is the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from local.aws_stack import LocalStack


class ProspectStream:
    def __init__(self, stack: LocalStack, *, endpoint_url: str | None = None, batch_size: int = 100) -> None:
        self._arn = stack.attribute("ProspectsTable", "StreamArn")
        self._client = boto3.client("dynamodbstreams", region_name=stack.region, endpoint_url=endpoint_url)
        self._batch_size = batch_size
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        self._iterators: dict[str, str | None] = {
            shard["ShardId"]: self._client.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for shard in shards
        }

    def events(self) -> list[dict[str, Any]]:
        """Every record written since the last call, as Lambda events (oldest first)."""
        records: list[dict[str, Any]] = []
        for shard in self._iterators:
            while position := self._iterators[shard]:
                response = self._client.get_records(ShardIterator=position, Limit=1000)
                records += [self._as_delivered(record) for record in response["Records"]]
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
