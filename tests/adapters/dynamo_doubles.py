"""What the DynamoDB store tests share: the tables of the stack, and stand-ins for DynamoDB
pushing back (throttling, conflicts) wrapped around the moto client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.tables import LINKS_KEY, PROSPECTS_KEY, STATE_KEY

REGION = "us-east-1"


def no_wait(seconds: float) -> None:
    """Retries without their waits: the tests check what is retried, not how long it takes."""


@dataclass(frozen=True)
class DynamoTables:
    """The stack's tables on moto; each `*_table` is the `DynamoTable` a store is given, on the
    real client or on `client` (a stand-in wrapped around it)."""

    client: Any
    links: str
    prospects: str
    state: str

    def links_table(self, client: Any = None) -> DynamoTable:
        return DynamoTable(client or self.client, self.links, LINKS_KEY, sleep=no_wait)

    def prospects_table(self, client: Any = None) -> DynamoTable:
        return DynamoTable(client or self.client, self.prospects, PROSPECTS_KEY, sleep=no_wait)

    def state_table(self, client: Any = None) -> DynamoTable:
        return DynamoTable(client or self.client, self.state, STATE_KEY, sleep=no_wait)


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


def partly_processed(client: Any, processed: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`BatchWriteItem` that writes the first `processed` requests of each table and leaves
    the rest unprocessed, as DynamoDB does when a partition is throttled."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        written = {table: writes[:processed] for table, writes in request["RequestItems"].items()}
        left = {table: writes[processed:] for table, writes in request["RequestItems"].items()}
        client.batch_write_item(RequestItems={table: w for table, w in written.items() if w})
        return {"UnprocessedItems": {table: w for table, w in left.items() if w}}

    return answer
