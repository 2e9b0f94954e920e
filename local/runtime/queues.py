"""SQS on this machine: a queue drained (what a test reads off it), or read as Lambda's event
source mapping reads it for a function (batches handed over as SQS events, the messages the
function does not ask back deleted).

One receive loop serves both: SQS hands over at most 10 messages a call, so a batch is as many
calls as it takes, until the batch is full or the queue answers with none."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

SQS_MESSAGES_PER_CALL = 10
"""ReceiveMessage and DeleteMessageBatch take 10 messages at most."""


def receive(url: str, *, up_to: int, sqs: Any = None) -> list[dict[str, Any]]:
    """Up to `up_to` messages off queue `url` (not deleted: they come back after the queue's
    visibility timeout unless deleted), with their attributes."""
    sqs = sqs or boto3.client("sqs")
    batch: list[dict[str, Any]] = []
    while len(batch) < up_to:
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(SQS_MESSAGES_PER_CALL, up_to - len(batch)),
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        batch += messages
    return batch


def delete(url: str, messages: Sequence[Mapping[str, Any]], *, sqs: Any = None) -> None:
    sqs = sqs or boto3.client("sqs")
    for start in range(0, len(messages), SQS_MESSAGES_PER_CALL):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                for number, message in enumerate(messages[start : start + SQS_MESSAGES_PER_CALL])
            ],
        )


def drain(url: str, *, sqs: Any = None) -> list[dict[str, Any]]:
    """Every message on queue `url`, taken off it, oldest first as far as SQS keeps an order."""
    sqs = sqs or boto3.client("sqs")
    taken: list[dict[str, Any]] = []
    while batch := receive(url, up_to=SQS_MESSAGES_PER_CALL, sqs=sqs):
        delete(url, batch, sqs=sqs)
        taken += batch
    return taken


@dataclass
class Delivered:
    """One batch handed to the function: its messages, the function's answer, and the ids of
    the messages it asked back (`batchItemFailures`), which stay on the queue."""

    messages: list[dict[str, Any]]
    response: dict[str, Any]
    asked_back: set[str]


class EventSourceMapping:
    """Queue `url` feeding a function as Lambda's SQS event source mapping does: batches of up
    to `batch_size` messages, each an SQS event whose records follow `record_template` (a
    record of a sample event), the messages not asked back deleted once the function answers.

    Not applied: the mapping's batching window (it hands over what the queue holds at once), and
    redelivery after the visibility timeout (a message asked back stays out of sight for the
    queue's 420 s, longer than any local run)."""

    def __init__(
        self, url: str, record_template: Mapping[str, Any], *, batch_size: int = 100, sqs: Any = None
    ) -> None:
        self.url = url
        self._template = dict(record_template)
        self._batch_size = batch_size
        self._sqs = sqs or boto3.client("sqs")

    def deliver(self, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> list[Delivered]:
        """Hand every batch the queue holds to `handle` (the function, given an SQS event and
        answering with its `batchItemFailures`), until the queue answers with none."""
        delivered: list[Delivered] = []
        while batch := receive(self.url, up_to=self._batch_size, sqs=self._sqs):
            response = handle({"Records": [self._record(message) for message in batch]})
            asked_back = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
            delete(self.url, [m for m in batch if m["MessageId"] not in asked_back], sqs=self._sqs)
            delivered.append(Delivered(batch, response, asked_back))
        return delivered

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            **self._template,
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                **self._template.get("attributes", {}),
                **{
                    name: attributes[name]
                    for name in ("ApproximateReceiveCount", "SentTimestamp")
                    if name in attributes
                },
            },
        }
