"""`QueueDepths` on the stack's SQS queues: how many messages wait in each, for the status.

One `GetQueueAttributes` call per queue (`ApproximateNumberOfMessages`: the messages visible,
not those a consumer holds now). SQS counts approximately, as its name says; a queue that cannot
be read is reported as unknown (None) with the rest, never in the way of the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class SqsQueueDepths:
    def __init__(self, client: Any, queue_urls: Mapping[str, str]) -> None:
        """`queue_urls`: the name the status gives each queue → its URL (empty: not in this
        stack; reported as None)."""
        self._client = client
        self._queue_urls = dict(queue_urls)

    def depths(self) -> dict[str, int | None]:
        return {name: self._depth(url) for name, url in self._queue_urls.items()}

    def _depth(self, url: str) -> int | None:
        if not url:
            return None
        try:
            answer = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
        except (ClientError, BotoCoreError):
            return None
        return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
