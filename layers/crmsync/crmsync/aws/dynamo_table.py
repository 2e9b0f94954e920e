"""The one way the stores reach DynamoDB: `DynamoTable`, a table on the low-level client, with
batched reads and writes, transactions that say which of their changes were refused, and the
translation of every client failure into a `StoreError` (no store catches botocore's errors).

Retries: botocore already retries throttled and failed (5xx) calls, and dropped connections,
on its own. What it cannot retry is partial success or a cancelled transaction: the keys a
`BatchGetItem` left unprocessed, the items a `BatchWriteItem` left unprocessed, a transaction
cancelled because one of its items conflicted with another transaction or was throttled, a
write that met a transaction in progress. Those are retried here under the connector's one
retry policy; whatever still fails leaves as a `StoreError` that says whether it is retryable.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from crmsync.aws.dynamo_values import decode_item, encode_item, to_attribute
from crmsync.aws.dynamo_wire import EncodedRequests
from crmsync.aws.errors import client_failure, connection_failure
from crmsync.domain.errors import ErrorCategory, Failure, StoreError
from crmsync.domain.retry import RetryPolicy

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACTION_ITEM_LIMIT = 100
TRANSACTION_SIZE_BUDGET = 3_500_000
"""DynamoDB refuses a transaction over 4 MB; this budget leaves room for the rough estimate."""

DYNAMO_RETRY = RetryPolicy(max_attempts=6, base_delay_seconds=0.05, max_delay_seconds=1.0)
"""Short waits: DynamoDB's throttling and conflicts clear within milliseconds to a second."""

_CONDITION_FAILED = "ConditionalCheckFailedException"
_TRANSACTION_CANCELLED = "TransactionCanceledException"
_TRANSACTION_CONFLICT = "TransactionConflictException"
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        _TRANSACTION_CONFLICT,
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_PERMISSION_CODES = frozenset(
    {"AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"}
)
_CONFIGURATION_CODES = frozenset({"ResourceNotFoundException"})
# Cancellation reasons (one per item of a cancelled transaction): the condition of the item
# failed; nothing went wrong with the item; or the item could not be written just now.
_REASON_CONDITION = "ConditionalCheckFailed"
_REASON_NONE = "None"
_REASON_CONFLICT = "TransactionConflict"
_TRANSIENT_REASONS = frozenset({_REASON_CONFLICT, "ThrottlingError", "ProvisionedThroughputExceeded"})
_SINGLE_WRITES = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}
"""A transaction item's kind → the client's call that makes the same write alone."""


Change = TypeVar("Change")
T = TypeVar("T")

# Compact, and the same as the exchange's (`dynamo_wire`): a transaction item's text is its size
# and, through the exchange, part of the body sent.
_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


class ConditionFailed(Exception):
    """A single-item write was not made because its condition did not hold."""


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expression:
    """An expression with its `#name` and `:value` placeholders (values plain, not typed)."""

    text: str
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None


def assignments(values: Mapping[str, Any], prefix: str = "set") -> Expression:
    """`#set0 = :set0, #set1 = :set1, ...` for an update's SET clause. Every attribute name goes
    through a placeholder, so none can clash with DynamoDB's reserved words (status, state...)."""
    names = {f"#{prefix}{i}": name for i, name in enumerate(values)}
    placeholders = {f":{prefix}{i}": value for i, value in enumerate(values.values())}
    text = ", ".join(f"#{prefix}{i} = :{prefix}{i}" for i in range(len(values)))
    return Expression(text, names, placeholders)


def key_equals(name: str, value: Any) -> Expression:
    """`<name> = <value>`: the key condition of a query on one partition."""
    return Expression("#key = :key", {"#key": name}, {":key": value})


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class TransactWrite:
    """One item of a transaction: the key it touches and the request as `TransactItems` wants it."""

    key: tuple[str, ...]
    request: Mapping[str, Any]

    @cached_property
    def text(self) -> str:
        """The request as JSON, written once: for its size, then as part of the body sent
        (`exchange_wire_json`). `encode_item` lets nothing JSON cannot hold into a request."""
        return _JSON.encode(self.request)

    @property
    def size(self) -> int:
        """A rough upper bound of the bytes DynamoDB counts for this item (type tags included)."""
        return len(self.text)


@dataclass(frozen=True)
class TransactionUnit(Generic[Change]):
    """The writes that carry out one change: all of them are applied, or none."""

    change: Change
    writes: Sequence[TransactWrite]


class DynamoTable:
    """One table on the low-level client. `key_names` are its key attributes (hash, then range)."""

    def __init__(
        self,
        client: Any,
        name: str,
        key_names: Sequence[str],
        *,
        retry: RetryPolicy = DYNAMO_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.name = name
        self._key_names = tuple(key_names)
        self._retry = retry
        self._sleep = sleep

    # ------------------------------------------------------------------ single items

    def get(self, key: Mapping[str, Any], *, consistent: bool = True) -> dict[str, Any] | None:
        response = self._call(
            self._client.get_item, TableName=self.name, Key=encode_item(key), ConsistentRead=consistent
        )
        item = response.get("Item")
        return decode_item(item) if item else None

    def put(self, item: Mapping[str, Any], condition: Expression | None = None) -> None:
        """Raises `ConditionFailed` when `condition` does not hold."""
        self._call(self._client.put_item, **self._request(item=item, condition=condition))

    def update(self, key: Mapping[str, Any], update: Expression, condition: Expression | None = None) -> None:
        """Raises `ConditionFailed` when `condition` does not hold."""
        self._call(self._client.update_item, **self._request(key=key, update=update, condition=condition))

    def delete(self, key: Mapping[str, Any], condition: Expression | None = None) -> None:
        """Raises `ConditionFailed` when `condition` does not hold."""
        self._call(self._client.delete_item, **self._request(key=key, condition=condition))

    def query(
        self,
        key_condition: Expression,
        *,
        consistent: bool = False,
        newest_first: bool = False,
        limit: int | None = None,
        index: str | None = None,
    ) -> list[dict[str, Any]]:
        """The items matching `key_condition`, in sort key order, every page read (or `limit`);
        on the secondary index `index` when given (never consistent)."""
        request = self._query_request(key_condition, consistent=consistent, index=index)
        request["ScanIndexForward"] = not newest_first
        if limit is not None:
            request["Limit"] = limit
        items: list[dict[str, Any]] = []
        while True:
            response = self._call(self._client.query, **request)
            items += [decode_item(item) for item in response.get("Items", [])]
            last_key = response.get("LastEvaluatedKey")
            if not last_key or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            request["ExclusiveStartKey"] = last_key

    def count(self, key_condition: Expression, *, at_most: int, consistent: bool = False) -> int:
        """How many items match `key_condition`, counted up to `at_most`; no item is returned."""
        request = self._query_request(key_condition, consistent=consistent, index=None)
        request["Select"] = "COUNT"
        total = 0
        while total < at_most:
            request["Limit"] = at_most - total
            response = self._call(self._client.query, **request)
            total += int(response.get("Count", 0))
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return min(total, at_most)

    def scan(
        self,
        limit: int,
        after: Mapping[str, Any] | None = None,
        *,
        attributes: Sequence[str] | None = None,
        index: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` items of the whole table (or of its secondary index `index`) in its own
        order, from after the key `after` (None: the start), eventually consistent, only their
        `attributes` when given; and the key to go on after (None: the end). A call returns at
        most 1 MB, so a large `limit` may take several; the read capacity is the whole items'
        whatever `attributes` says."""
        request: dict[str, Any] = {"TableName": self.name, **_projection(attributes)}
        if index is not None:
            request["IndexName"] = index
        if after is not None:
            request["ExclusiveStartKey"] = encode_item(after)
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            request["Limit"] = limit - len(items)
            response = self._call(self._client.scan, **request)
            items += [decode_item(item) for item in response.get("Items", [])]
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return items, None
            request["ExclusiveStartKey"] = last_key
        return items, decode_item(request["ExclusiveStartKey"])

    def _query_request(
        self, key_condition: Expression, *, consistent: bool, index: str | None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition.text,
            "ConsistentRead": consistent,
        }
        if index is not None:
            request["IndexName"] = index
        if key_condition.names:
            request["ExpressionAttributeNames"] = dict(key_condition.names)
        if key_condition.values:
            request["ExpressionAttributeValues"] = encode_item(key_condition.values)
        return request

    # ------------------------------------------------------------------ batches

    def get_many(
        self,
        keys: Iterable[Mapping[str, Any]],
        *,
        consistent: bool = True,
        attributes: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The items that exist among `keys`, in no particular order (`BatchGetItem`, 100 keys a
        call; the keys DynamoDB leaves unprocessed are asked again after a short wait); only
        their `attributes` when given."""
        unique = list({self._key_of(key): encode_item(key) for key in keys}.values())
        items: list[dict[str, Any]] = []
        for chunk in chunks(unique, BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.name: {"Keys": list(chunk), "ConsistentRead": consistent, **_projection(attributes)}
            }
            attempt = 1
            while True:
                response = self._call(self._client.batch_get_item, RequestItems=request)
                items += [decode_item(item) for item in response.get("Responses", {}).get(self.name, [])]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._wait_to_retry(
                    Failure("UnprocessedKeys", "DynamoDB left keys unread", category=ErrorCategory.TRANSIENT),
                    attempt,
                )
                attempt += 1
        return items

    def write_many(
        self, puts: Iterable[Mapping[str, Any]] = (), deletes: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        """Unconditional puts and deletes (`BatchWriteItem`, 25 a call; unprocessed items are
        sent again after a short wait). Each item is written or not on its own: a failure part
        way leaves the earlier calls applied, so callers use it only for idempotent writes."""
        requests = [{"PutRequest": {"Item": encode_item(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": encode_item(key)}} for key in deletes]
        for chunk in chunks(requests, BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self.name: list(chunk)}
            attempt = 1
            while True:
                response = self._call(self._client.batch_write_item, RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                self._wait_to_retry(
                    Failure(
                        "UnprocessedItems", "DynamoDB left items unwritten", category=ErrorCategory.TRANSIENT
                    ),
                    attempt,
                )
                attempt += 1

    # ------------------------------------------------------------------ transactions

    def put_write(self, item: Mapping[str, Any], condition: Expression | None = None) -> TransactWrite:
        return TransactWrite(self._key_of(item), {"Put": self._request(item=item, condition=condition)})

    def update_write(
        self, key: Mapping[str, Any], update: Expression, condition: Expression | None = None
    ) -> TransactWrite:
        return TransactWrite(
            self._key_of(key), {"Update": self._request(key=key, update=update, condition=condition)}
        )

    def delete_write(self, key: Mapping[str, Any], condition: Expression | None = None) -> TransactWrite:
        return TransactWrite(self._key_of(key), {"Delete": self._request(key=key, condition=condition)})

    def transact(self, units: Sequence[TransactionUnit[Change]]) -> list[Change]:
        """Apply each unit whole or not at all, several units to a `TransactWriteItems` call, in
        the given order; returns the changes of the units whose condition failed.

        A transaction holds at most 100 items, about 4 MB, and never two items on one key, so a
        unit that touches a key of the transaction being filled starts the next one (it may
        depend on the earlier change, as a record freed and then claimed again). A transaction
        that would carry a single item is a plain conditional write instead (`PutItem`,
        `UpdateItem`, `DeleteItem`): one item is whole on its own, and DynamoDB bills a
        transaction's items twice. A `StoreError` part way leaves the writes before it applied:
        every change is whole either way, and the versions tell a later read which ones were.

        Independent single-item units are still packed a hundred to a transaction: a call costs
        about a millisecond of CPU and a round trip, and a write apiece would multiply a sync
        run's CPU several times over (docs/ARCHITECTURE.md, "DynamoDB: one table helper")."""
        refused: list[Change] = []
        for batch in self._pack(units):
            if len(batch) == 1 and len(batch[0].writes) == 1:
                if not self._write_alone(batch[0].writes[0]):
                    refused.append(batch[0].change)
            else:
                refused += self._commit(batch)
        return refused

    def _pack(self, units: Sequence[TransactionUnit[Change]]) -> Iterator[list[TransactionUnit[Change]]]:
        batch: list[TransactionUnit[Change]] = []
        keys: set[tuple[str, ...]] = set()
        size = 0
        for unit in units:
            unit_keys = {write.key for write in unit.writes}
            if len(unit_keys) != len(unit.writes):
                raise ValueError(f"one change writes the same item twice: {unit.change!r}")
            unit_size = sum(write.size for write in unit.writes)
            if batch and (
                keys & unit_keys
                or len(keys) + len(unit_keys) > TRANSACTION_ITEM_LIMIT
                or size + unit_size > TRANSACTION_SIZE_BUDGET
            ):
                yield batch
                batch, keys, size = [], set(), 0
            batch.append(unit)
            keys |= unit_keys
            size += unit_size
        if batch:
            yield batch

    def _write_alone(self, write: TransactWrite) -> bool:
        """One write as a plain call; False when its condition did not hold."""
        ((kind, request),) = write.request.items()
        try:
            self._call(getattr(self._client, _SINGLE_WRITES[kind]), **request)
        except ConditionFailed:
            return False
        return True

    def _commit(self, batch: list[TransactionUnit[Change]]) -> list[Change]:
        """One transaction. When DynamoDB cancels it, every item was rolled back and the
        cancellation reasons say, item by item, why: units whose condition failed are refused
        and the others sent again; conflicts and throttling are waited out first."""
        refused: list[Change] = []
        pending = batch
        attempt = 1
        while pending:
            try:
                self._client.transact_write_items(
                    TransactItems=EncodedRequests([write for unit in pending for write in unit.writes]),
                    # The token turns botocore's resend after a lost response into a no-op, not a
                    # second attempt that would fail its own conditions and read as refused.
                    ClientRequestToken=uuid.uuid4().hex,
                )
                return refused
            except ClientError as exc:
                if _code(exc) != _TRANSACTION_CANCELLED:
                    raise _store_error(exc) from exc
                cancelled = exc
            except BotoCoreError as exc:
                raise _connection_error(exc) from exc

            reasons = [
                reason.get("Code", _REASON_NONE)
                for reason in cancelled.response.get("CancellationReasons", [])
            ]
            reasons_by_unit = self._reasons_by_unit(pending, reasons)
            every_reason = set().union(*reasons_by_unit)
            unexpected = every_reason - _TRANSIENT_REASONS - {_REASON_NONE, _REASON_CONDITION}
            if unexpected:
                raise StoreError(
                    Failure(_TRANSACTION_CANCELLED, f"{', '.join(sorted(unexpected))}: {_message(cancelled)}")
                )
            refused += [
                unit.change
                for unit, why in zip(pending, reasons_by_unit, strict=True)
                if _REASON_CONDITION in why
            ]
            pending = [
                unit
                for unit, why in zip(pending, reasons_by_unit, strict=True)
                if _REASON_CONDITION not in why
            ]
            if _REASON_CONDITION in every_reason and not every_reason & _TRANSIENT_REASONS:
                continue  # the rest were rolled back only because of the refused: send them now
            self._wait_to_retry(
                Failure(_TRANSACTION_CANCELLED, _message(cancelled), category=ErrorCategory.TRANSIENT),
                attempt,
            )
            attempt += 1
        return refused

    @staticmethod
    def _reasons_by_unit(units: Sequence[TransactionUnit[Change]], reasons: Sequence[str]) -> list[set[str]]:
        """The cancellation reasons of each unit (DynamoDB gives one per item, in item order).
        Missing reasons count as a conflict: waiting and trying again is the safe reading."""
        by_unit: list[set[str]] = []
        position = 0
        for unit in units:
            codes = set(reasons[position : position + len(unit.writes)])
            if len(reasons) < position + len(unit.writes):
                codes.add(_REASON_CONFLICT)
            by_unit.append(codes)
            position += len(unit.writes)
        return by_unit

    # ------------------------------------------------------------------ plumbing

    def _request(
        self,
        *,
        item: Mapping[str, Any] | None = None,
        key: Mapping[str, Any] | None = None,
        update: Expression | None = None,
        condition: Expression | None = None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self.name}
        if item is not None:
            request["Item"] = encode_item(item)
        if key is not None:
            request["Key"] = encode_item(key)
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        for expression, field in ((update, "UpdateExpression"), (condition, "ConditionExpression")):
            if expression is not None:
                request[field] = expression.text
                names.update(expression.names or {})
                values.update(expression.values or {})
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = {
                name: to_attribute(value) for name, value in values.items()
            }
        return request

    def _key_of(self, item: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple([str(item[name]) for name in self._key_names])

    def _call(self, operation: Callable[..., dict[str, Any]], **request: Any) -> dict[str, Any]:
        """One call; a write that met a transaction in progress is tried again (botocore does not)."""
        attempt = 1
        while True:
            try:
                return operation(**request)
            except ClientError as exc:
                if _code(exc) == _CONDITION_FAILED:
                    raise ConditionFailed(_message(exc)) from exc
                error = _store_error(exc)
                if _code(exc) != _TRANSACTION_CONFLICT or not self._retry.should_retry(
                    error.failure, attempt
                ):
                    raise error from exc
            except BotoCoreError as exc:
                raise _connection_error(exc) from exc
            self._sleep(self._retry.delay_before(attempt + 1))
            attempt += 1

    def _wait_to_retry(self, failure: Failure, attempt: int) -> None:
        """Wait before attempt `attempt + 1`, or raise when the policy says to stop."""
        if not self._retry.should_retry(failure, attempt):
            raise StoreError(failure)
        self._sleep(self._retry.delay_before(attempt + 1))


def _projection(attributes: Sequence[str] | None) -> dict[str, Any]:
    """A request's `ProjectionExpression` for `attributes`, every name through a placeholder."""
    if attributes is None:
        return {}
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def _store_error(exc: ClientError) -> StoreError:
    return StoreError(
        client_failure(
            exc,
            transient=_TRANSIENT_CODES,
            permission=_PERMISSION_CODES,
            configuration=_CONFIGURATION_CODES,
        )
    )


def _connection_error(exc: BotoCoreError) -> StoreError:
    return StoreError(connection_failure(exc))
