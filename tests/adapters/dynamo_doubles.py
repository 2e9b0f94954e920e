"""What the DynamoDB store tests share: the tables of the stack, and stand-ins for DynamoDB
pushing back (throttling, conflicts) wrapped around the moto client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

REGION = "us-east-1"


@dataclass(frozen=True)
class DynamoTables:
    client: Any
    links: str
    prospects: str
    state: str


class CountingClient:
    """The real client, counting the calls made through it by operation name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self._client, name)


class PushingBackClient:
    """The real client, except that the next `times` calls of `operation` get `answer` (which
    returns a response or raises) instead of reaching the table."""

    def __init__(
        self, client: Any, operation: str, times: int, answer: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> None:
        self._client = client
        self._operation = operation
        self.remaining = times
        self._answer = answer

    def __getattr__(self, name: str) -> Any:
        if name == self._operation and self.remaining > 0:
            self.remaining -= 1
            return lambda **request: self._answer(request)
        return getattr(self._client, name)


def nothing_processed(request: dict[str, Any]) -> dict[str, Any]:
    """`BatchGetItem` throttled as a whole: every key comes back unprocessed."""
    return {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}


def transaction_cancelled_by(reason: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`TransactWriteItems` cancelled, with `reason` given for its first item."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        reasons = [{"Code": "None"} for _ in request["TransactItems"]]
        reasons[0] = {"Code": reason, "Message": f"{reason} on the first item"}
        response: Any = {  # botocore's shape of the error, as DynamoDB sends it
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": reasons,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        raise ClientError(response, "TransactWriteItems")

    return answer
