"""`ActionQueue` on the stack's SQS actions queue (a standard queue with a DLQ).

One `SendMessage` per accepted action; the body is the message as JSON (keys sorted). Duplicates
are possible (a retried send, a repeated delivery): the consumer carries an action out once per
`action_id`. botocore's standard retry mode retries throttling and 5xx answers; what still fails
leaves as a `QueueError` that says whether it is retryable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from crmsync.aws.errors import client_failure, connection_failure
from crmsync.domain.errors import QueueError

_PERMISSION_CODES = frozenset({"AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException"})
_CONFIGURATION_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidAddress",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "RequestThrottled",
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "KMS.ThrottlingException",
    }
)


class SqsActionQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: Mapping[str, Any]) -> None:
        body = json.dumps(dict(message), sort_keys=True, separators=(",", ":"))
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
        except ClientError as exc:
            raise queue_error(exc) from exc
        except BotoCoreError as exc:
            raise QueueError(connection_failure(exc)) from exc


def queue_error(exc: ClientError) -> QueueError:
    """An SQS client error as the `QueueError` of any of the stack's queues."""
    return QueueError(
        client_failure(
            exc,
            transient=_TRANSIENT_CODES,
            permission=_PERMISSION_CODES,
            configuration=_CONFIGURATION_CODES,
        )
    )
