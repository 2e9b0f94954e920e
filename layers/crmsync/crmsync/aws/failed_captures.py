"""`FailedCaptures` on the stack's change capture failures queue and the prospects table's stream.

When InboundSyncFunction fails a batch of the prospects stream through all its retries, Lambda
discards the batch and sends the stream mapping's on-failure destination (this queue) an
invocation record. For a DynamoDB stream that record carries no stream record, only where the
batch lies in the stream (AWS Lambda Developer Guide, "Retaining discarded records for a
DynamoDB event source in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html), as in:

    {"requestContext": {"requestId": "…", "functionArn": "…", "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": 11},
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
     "version": "1.0", "timestamp": "2026-01-15T10:05:12.345Z",
     "DDBStreamBatchInfo": {"shardId": "shardId-…", "startSequenceNumber": "…", "endSequenceNumber": "…",
                            "approximateArrivalOfFirstRecord": "…", "approximateArrivalOfLastRecord": "…",
                            "batchSize": 100, "streamArn": "arn:aws:dynamodb:…:table/…/stream/…"}}

(the same fields as Powertools' `DynamoDBStreamLambdaOnFailureDestinationModel`; a sample is
events/inbound_sync/failed_capture_message.json). So the batch is
read back from the stream: `GetShardIterator` at the first sequence number, then `GetRecords`
until past the last, and the records go through change capture's own reading
(`read_stream_records`). Stream records live 24 hours: a batch no longer there
(`TrimmedDataAccessException`, or `ResourceNotFoundException` for a stream replaced since) is
`StreamRecordsGone`.

A message is an outside input and is read by one validator (`read_failure_message`): only
`DDBStreamBatchInfo`'s position is used, and it must name a shard of this stack's prospects
table's stream with sequence numbers in order. A message that does not is returned with why,
for the use case to list and delete; it never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from crmsync.aws.actions_queue import queue_error
from crmsync.aws.errors import client_failure, connection_failure
from crmsync.aws.prospect_stream import read_stream_records
from crmsync.domain.errors import QueueError, StoreError
from crmsync.ports import CapturedChanges, FailedCapture, StreamPosition, StreamRecordsGone

RECEIVE_BATCH = 10
"""SQS's most messages per `ReceiveMessage` (and per `DeleteMessageBatch`)."""
RECORDS_PER_READ = 1_000
"""DynamoDB Streams' most records per `GetRecords`."""
EMPTY_READS_AT_MOST = 3
"""`GetRecords` answers with no record in a row before a read stops short of the batch's end
(the records read are kept; reconciliation finds the rest)."""

_GONE_CODES = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException"})
_STREAM_TRANSIENT_CODES = frozenset(
    {"LimitExceededException", "ExpiredIteratorException", "ThrottlingException", "InternalServerError"}
)
_STREAM_PERMISSION_CODES = frozenset({"AccessDeniedException"})


# The message's shape: AWS Lambda Developer Guide, "Retaining discarded records for a DynamoDB
# event source in Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html):
# for a DynamoDB stream, `DDBStreamBatchInfo` locates the batch; no record is in the message.
def read_failure_message(message_id: str, receipt: str, body: Any, prospects_table: str) -> FailedCapture:
    """The batch position an on-failure message gives, or (no position) why it gives none."""
    try:
        document = json.loads(body) if isinstance(body, str) else None
    except ValueError as exc:
        return FailedCapture(message_id, receipt, None, f"the message is not JSON ({exc})")
    if not isinstance(document, Mapping):
        return FailedCapture(message_id, receipt, None, "the message must be a JSON object")
    info = document.get("DDBStreamBatchInfo")
    if not isinstance(info, Mapping):
        return FailedCapture(
            message_id,
            receipt,
            None,
            "DDBStreamBatchInfo: missing (not a DynamoDB stream's on-failure record)",
        )
    problems: list[str] = []
    stream_arn = info.get("streamArn")
    if not isinstance(stream_arn, str) or f":table/{prospects_table}/stream/" not in stream_arn:
        problems.append(
            f"DDBStreamBatchInfo.streamArn: not a stream of the prospects table {prospects_table}"
        )
    shard_id = info.get("shardId")
    if not isinstance(shard_id, str) or not shard_id.strip():
        problems.append("DDBStreamBatchInfo.shardId: must be a non-empty string")
    first, last = info.get("startSequenceNumber"), info.get("endSequenceNumber")
    for name, value in (("startSequenceNumber", first), ("endSequenceNumber", last)):
        if not isinstance(value, str) or not value.isdigit():
            problems.append(f"DDBStreamBatchInfo.{name}: must be a sequence number (digits)")
    if not problems and int(str(first)) > int(str(last)):
        problems.append("DDBStreamBatchInfo: startSequenceNumber is after endSequenceNumber")
    if problems:
        return FailedCapture(message_id, receipt, None, "; ".join(problems))
    return FailedCapture(
        message_id, receipt, StreamPosition(str(stream_arn), str(shard_id), str(first), str(last))
    )


class SqsFailedCaptures:
    def __init__(self, sqs: Any, queue_url: str, streams: Any, prospects_table: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._streams = streams
        self._prospects_table = prospects_table

    def receive(self, at_most: int) -> list[FailedCapture]:
        received: list[FailedCapture] = []
        while len(received) < at_most:
            # Short polls: an empty queue, the usual case, costs the run no wait; a message a
            # poll misses is taken by the next run.
            answer = self._call_sqs(
                self._sqs.receive_message,
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(RECEIVE_BATCH, at_most - len(received)),
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            received += [
                read_failure_message(
                    str(m.get("MessageId", "")),
                    str(m.get("ReceiptHandle", "")),
                    m.get("Body"),
                    self._prospects_table,
                )
                for m in messages
            ]
        return received

    def read(self, position: StreamPosition) -> CapturedChanges:
        last = int(position.last_sequence_number)
        records: list[Mapping[str, Any]] = []
        try:
            iterator = self._streams.get_shard_iterator(
                StreamArn=position.stream_arn,
                ShardId=position.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=position.first_sequence_number,
            ).get("ShardIterator")
            empty_reads = 0
            while iterator and empty_reads < EMPTY_READS_AT_MOST:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=RECORDS_PER_READ)
                page = answer.get("Records", [])
                within = [r for r in page if _sequence_number(r) <= last]
                records += within
                if len(within) < len(page):
                    break
                empty_reads = 0 if page else empty_reads + 1
                iterator = answer.get("NextShardIterator")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _GONE_CODES:
                raise StreamRecordsGone(f"{code}: {exc}") from exc
            raise StoreError(
                client_failure(
                    exc,
                    transient=_STREAM_TRANSIENT_CODES,
                    permission=_STREAM_PERMISSION_CODES,
                    configuration=frozenset(),
                )
            ) from exc
        except BotoCoreError as exc:
            raise StoreError(connection_failure(exc)) from exc
        return read_stream_records(records)

    def delete(self, captures: Sequence[FailedCapture]) -> None:
        for start in range(0, len(captures), RECEIVE_BATCH):
            chunk = captures[start : start + RECEIVE_BATCH]
            # An entry SQS fails to delete is received again and drained again: noting a change
            # twice is harmless, so the answer's `Failed` list needs no handling.
            self._call_sqs(
                self._sqs.delete_message_batch,
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": c.receipt} for n, c in enumerate(chunk)],
            )

    @staticmethod
    def _call_sqs(operation: Any, **request: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = operation(**request)
        except ClientError as exc:
            raise queue_error(exc) from exc
        except BotoCoreError as exc:
            raise QueueError(connection_failure(exc)) from exc
        return answer


def _sequence_number(record: Any) -> int:
    """A record's sequence number; one that cannot be read counts as within the batch (the
    reading of the records then refuses it if it is malformed)."""
    stream = record.get("dynamodb") if isinstance(record, Mapping) else None
    number = stream.get("SequenceNumber") if isinstance(stream, Mapping) else None
    return int(number) if isinstance(number, str) and number.isdigit() else 0
