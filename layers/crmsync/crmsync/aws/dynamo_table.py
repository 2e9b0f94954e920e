"""What the DynamoDB stores share: plain values to and from DynamoDB's typed form, batched reads
and writes, and transactions that say which of their changes were refused.

Values: numbers go as `Decimal` and come back as `int` when integral, else `float`; datetimes go
as ISO-8601 strings in UTC with microseconds (so they sort in time order, which sort keys rely
on) and come back as those strings; top-level attributes whose value is None are left out.

Retries: botocore already retries throttled and failed (5xx) calls, and dropped connections,
on its own. What it cannot retry is partial success or a cancelled transaction: the keys a
`BatchGetItem` left unprocessed, the items a `BatchWriteItem` left unprocessed, a transaction
cancelled because one of its items conflicted with another transaction or was throttled, a
write that met a transaction in progress. Those are retried here under the connector's one
retry policy; whatever still fails leaves as a `StoreError` that says whether it is retryable.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from crmsync.aws.errors import client_failure, connection_failure
from crmsync.domain.errors import ErrorCategory, Failure, StoreError
from crmsync.domain.retry import RetryPolicy

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACTION_ITEM_LIMIT = 100
MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit: 400 KB, and DynamoDB counts 1 KB as 1,024 bytes."""
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


Change = TypeVar("Change")
T = TypeVar("T")


class ConditionFailed(Exception):
    """A single-item write was not made because its condition did not hold."""


# --------------------------------------------------------------------------- values


def utc_now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=256)
def iso(moment: datetime) -> str:
    """An instant as stored: ISO-8601 in UTC with microseconds (a naive datetime counts as UTC).

    Remembered: a run stamps its every item with the same few instants (its start, the
    records' `SystemModstamp` seconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, rounded up, as DynamoDB's TTL wants them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value in DynamoDB's typed form (`{"S": ...}`, `{"M": ...}`, ...).

    Written out rather than through boto3's TypeSerializer: every item of a sync run passes
    here, and the serializer's generic type probing was a fifth of the run's CPU."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int:
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB cannot store the number {value}")
        return {"N": repr(value)}  # repr: the shortest text that reads back as the same float
    if kind is dict or isinstance(value, Mapping):
        return {"M": {str(key): to_attribute(item) for key, item in value.items()}}
    if kind is list or isinstance(value, (list, tuple)):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, str):  # a StrEnum
        return {"S": str(value)}
    if isinstance(value, bool):
        return {"BOOL": bool(value)}
    if isinstance(value, int):  # an IntEnum
        return {"N": str(int(value))}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"DynamoDB cannot store the number {value}")
        return {"N": str(value)}
    if isinstance(value, datetime):
        return {"S": iso(value)}
    if isinstance(value, date):
        return {"S": value.isoformat()}
    if isinstance(value, (set, frozenset)):
        return _typed_set(value)
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__}: {value!r}")


def _typed_set(values: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if not values:
        raise ValueError("DynamoDB cannot store an empty set")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(str(v) for v in values)}
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values):
        return {"NS": [to_attribute(v)["N"] for v in values]}
    raise TypeError(f"DynamoDB sets hold only strings or only numbers: {values!r}")


def encode_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An item in DynamoDB's typed form; attributes whose value is None are left out."""
    return {name: to_attribute(value) for name, value in values.items() if value is not None}


def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: from_attribute(value) for name, value in item.items()}


def from_attribute(typed: Mapping[str, Any]) -> Any:
    """A plain value from DynamoDB's typed form; numbers come back as int when whole, else float."""
    ((kind, value),) = typed.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "M":
        return {key: from_attribute(item) for key, item in value.items()}
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {_number(number) for number in value}
    if kind == "B":
        return _binary(value)
    if kind == "BS":
        return {_binary(item) for item in value}
    raise TypeError(f"unknown DynamoDB type {kind}")


def _binary(value: bytes | str) -> bytes:
    """Bytes as botocore parses them, or base64 as DynamoDB sends them (`exchange_wire_json`)."""
    return base64.b64decode(value) if isinstance(value, str) else value


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def item_size(item: Mapping[str, Any]) -> int:
    """The bytes DynamoDB counts for an item of scalar attributes, by its documented rules
    ("DynamoDB item sizes and formats", Amazon DynamoDB Developer Guide): per attribute, its
    name in UTF-8 plus its value: a string's UTF-8 bytes, a number's one byte per two
    significant digits plus one, a boolean one byte. Attributes that are None are not written."""
    size = 0
    for name, value in item.items():
        if value is None:
            continue
        if isinstance(value, str):
            value_size = len(value.encode())
        elif isinstance(value, bool):
            value_size = 1
        elif isinstance(value, int | float | Decimal):
            value_size = (len(Decimal(str(value)).normalize().as_tuple().digits) + 1) // 2 + 1
        else:
            raise TypeError(f"item_size counts scalar attributes only, not {type(value).__name__}")
        size += len(name.encode()) + value_size
    return size


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


# --------------------------------------------------------------------------- wire form

_WIRE_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
)
_WIRE_BODY = "crmsync_wire_body"
_WIRE_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def exchange_wire_json(client: Any) -> None:
    """Have `client` send the item operations' parameters as their JSON body, as written, and
    hand back their successful responses' JSON as DynamoDB wrote it.

    `DynamoTable` builds and reads DynamoDB's wire form itself (typed values, strings,
    numbers, booleans), yet botocore walks every value against the operation's model to
    serialize a request and again to parse a response, and evaluates the endpoint rules'
    JMESPath over every parameter: half of a sync run's CPU. Three of botocore's client
    events take that over: before the parameters are built they are written as JSON and
    botocore is handed only the table names (the endpoint rules route a table named by ARN
    to its account); before the call the JSON becomes the body; before a successful
    response is parsed its JSON is taken as the result and botocore parses an empty body
    (adding `ResponseMetadata`). Endpoint, signing, retries and errors stay botocore's. A
    request JSON cannot write (bytes for a binary attribute) goes botocore's own way; a
    binary attribute read comes back base64 encoded, as DynamoDB sends it (`from_attribute`
    decodes it). Registering again is a no-op.

    Only for a client made with `parameter_validation=False` (a validating client would check
    the reduced parameters it is handed and refuse them) and used through `DynamoTable`."""
    events = client.meta.events
    for operation in _WIRE_OPERATIONS:
        for event, handler in (
            ("provide-client-params", _write_parameters),
            ("before-call", _send_written),
            ("before-parse", _take_response),
        ):
            events.register(
                f"{event}.dynamodb.{operation}", handler, unique_id=f"{_WIRE_BODY}-{event}-{operation}"
            )


def _write_parameters(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> dict[str, Any] | None:
    try:
        context[_WIRE_BODY] = _wire_body(params).encode()
    except TypeError:
        return None
    return _table_names(model.name, params)


def _wire_body(params: Mapping[str, Any]) -> str:
    """The parameters as JSON; a transaction's items from the texts `TransactWrite` wrote once
    (for its size) when they come as `EncodedRequests`."""
    texts = getattr(params.get("TransactItems"), "texts", None)
    if texts is None:
        return _WIRE_JSON.encode(params)
    others = _WIRE_JSON.encode({name: value for name, value in params.items() if name != "TransactItems"})
    return f'{{"TransactItems":[{",".join(texts)}]{"," + others[1:] if others != "{}" else "}"}'


def _table_names(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters reduced to the table names they name, in the operation's shape."""
    if operation == "TransactWriteItems":
        tables = dict.fromkeys(
            request["TableName"] for item in params.get("TransactItems", ()) for request in item.values()
        )
        return {"TransactItems": [{"ConditionCheck": {"TableName": table}} for table in tables]}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        nothing: dict[str, Any] | list[Any] = {} if operation == "BatchGetItem" else []
        return {"RequestItems": dict.fromkeys(params.get("RequestItems", {}), nothing)}
    return {"TableName": params["TableName"]} if "TableName" in params else {}


def _send_written(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_WIRE_BODY, None)
    if body is not None:
        params["body"] = body


def _take_response(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if response_dict["status_code"] < 300 and response_dict["body"]:
        customized_response_dict.update(json.loads(response_dict["body"]))
        response_dict["body"] = b"{}"


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
        return _WIRE_JSON.encode(self.request)

    @property
    def size(self) -> int:
        """A rough upper bound of the bytes DynamoDB counts for this item (type tags included)."""
        return len(self.text)


class EncodedRequests(list[Mapping[str, Any]]):
    """A transaction's `TransactItems` that also carries their JSON texts, so the body sent is
    joined from them instead of being written a second time. botocore sees a plain list."""

    def __init__(self, writes: Sequence[TransactWrite]) -> None:
        super().__init__(write.request for write in writes)
        self.texts = [write.text for write in writes]


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
        depend on the earlier change, as a record freed and then claimed again). A `StoreError`
        part way leaves the transactions before it applied: every change is whole either way,
        and the versions tell a later read which ones were."""
        refused: list[Change] = []
        for batch in self._pack(units):
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
