"""What a DynamoDB call costs on an on-demand table, counted as DynamoDB bills it: read and write
request units per call, from the request, the answer, and the items as they were before the
call and are after it. moto's `ReturnConsumedCapacity` answers placeholders, so the bench counts
the units itself (`local.bench.meter` feeds this module from moto's own tables).

The rules, from the Amazon DynamoDB Developer Guide:
- Item size: the sum of the lengths of attribute names and values, a string's UTF-8 bytes, a
  number's one byte per two significant digits plus one, a binary value's raw bytes, one byte
  for a boolean or null, a list or map 3 bytes plus its elements (a map's keys count as names)
  and 1 byte per element, a set the sum of its elements ("DynamoDB item sizes and formats",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
- Writes: ceil(item size / 1 KB) units per item written; a put that replaces an item or an
  update is billed on the larger of the item before and after; a delete on the deleted item;
  a write whose condition fails still costs, 1 unit for an item that does not exist and the
  item's size otherwise; `BatchWriteItem` bills each item as its own put or delete. Reads:
  ceil(size / 4 KB) units per item, strongly consistent; half for eventually consistent; an
  item that does not exist still costs 1 (0.5); `BatchGetItem` bills each item as its own
  `GetItem`; `Query` and `Scan` bill the total size of the items they evaluate (before any
  filter, whatever the projection asks for) rounded up to 4 KB, per call
  ("Managing throughput settings on provisioned tables", capacity unit consumption for reads
  and writes, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ProvisionedThroughput.html;
  on-demand bills request units by the same rules,
  https://aws.amazon.com/dynamodb/pricing/on-demand/).
- Transactions: two underlying reads or writes of every item, one to prepare and one to
  commit, and the capacity is consumed even when the transaction is cancelled ("Capacity
  management for transactions",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html). A
  cancelled transaction's items are billed here as failed conditional writes, twice; a
  `ConditionCheck` item as a write of the item it checks, twice.
- Global secondary indexes: each index whose projected item a write changes bills its own
  write units on the index entry's size: one write to put an item that now has the index's
  keys, one to delete one that no longer has them, two when an index key changes, one when only
  projected attributes change, none when the item is in the index neither before nor after
  ("Provisioned throughput considerations for Global Secondary Indexes", write capacity units,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html). An index is
  written once per table write, a transaction's too. Index queries are eventually consistent
  and bill the index entries' sizes.

Items are in DynamoDB's typed form (`{"S": "..."}`, `{"N": "1"}`, ...), as the API carries them.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Item = Mapping[str, Mapping[str, Any]]
"""An item in DynamoDB's typed form: attribute name → typed value."""

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4 * 1024
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"


# --------------------------------------------------------------------------- sizes


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def attribute_size(value: Mapping[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(element).encode()) for element in content)
    if kind == "NS":
        return sum(number_size(str(element)) for element in content)
    if kind == "BS":
        return sum(len(base64.b64decode(element)) for element in content)
    if kind == "L":
        return 3 + sum(attribute_size(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + attribute_size(element) + 1 for name, element in content.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def number_size(text: str) -> int:
    """One byte per two significant digits (leading and trailing zeros trimmed), plus one."""
    digits = Decimal(text).normalize().as_tuple().digits
    return (len(digits) + 1) // 2 + 1


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# --------------------------------------------------------------------------- table shapes


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str
    """ALL, KEYS_ONLY or INCLUDE."""
    included: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    """The partition key's name, then the sort key's if it has one."""
    indexes: tuple[Index, ...] = ()

    @classmethod
    def from_description(cls, table: Mapping[str, Any]) -> TableShape:
        """From `DescribeTable`'s `Table`."""
        indexes = tuple(
            Index(
                name=index["IndexName"],
                keys=_key_names(index["KeySchema"]),
                projection=index.get("Projection", {}).get("ProjectionType", "ALL"),
                included=frozenset(index.get("Projection", {}).get("NonKeyAttributes", [])),
            )
            for index in table.get("GlobalSecondaryIndexes") or []
        )
        return cls(table["TableName"], _key_names(table["KeySchema"]), indexes)

    def key_of(self, item: Item) -> dict[str, Any]:
        return {name: item[name] for name in self.keys if name in item}

    def index(self, name: str) -> Index:
        return next(index for index in self.indexes if index.name == name)

    def entry(self, index: Index, item: Item | None) -> Item | None:
        """`item` as `index` holds it, or None when the item is not in the index (it lacks one
        of the index's keys)."""
        if item is None or any(name not in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return item
        kept = {*self.keys, *index.keys, *(index.included if index.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}

    def kind(self, item_or_key: Item) -> str:
        """What sort of item this is, by its partition key: the value's prefix up to its first
        `#` ("audit#", "prospect#"), a value that is one plain word ("config", "users"), or else
        the key's name less an `_id` ("prospect" for `prospect_id`)."""
        name = self.keys[0]
        value = item_or_key.get(name, {}).get("S")
        if isinstance(value, str):
            prefix, hashed, _ = value.partition("#")
            if hashed and len(prefix) <= 24:
                return f"{prefix}#"
            if not hashed and value.isalpha() and value.islower() and len(value) <= 16:
                return value
        return name.removesuffix("_id")


def _key_names(schema: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    hash_keys = [key["AttributeName"] for key in schema if key["KeyType"] == "HASH"]
    range_keys = [key["AttributeName"] for key in schema if key["KeyType"] == "RANGE"]
    return (*hash_keys, *range_keys)


def key_text(key: Mapping[str, Any]) -> str:
    """A key as text, the same for the same key however its attributes are ordered."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- one call


@dataclass(frozen=True)
class Charge:
    """Units one call billed to one item kind of one table (or of one of its indexes)."""

    table: str
    kind: str
    index: str | None = None
    read_units: float = 0.0
    write_units: float = 0.0
    transactional: bool = False


@dataclass
class Call:
    """A DynamoDB call as the meter saw it. `items` holds, by table and key (`key_text`), each
    item the call writes or reads by key: `before` the call and `after` it (None: no such
    item). `evaluated` holds the items a `Query` or `Scan` evaluated, whole (before any filter
    or projection)."""

    operation: str
    request: Mapping[str, Any]
    response: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    before: Mapping[tuple[str, str], Item | None] = field(default_factory=dict)
    after: Mapping[tuple[str, str], Item | None] = field(default_factory=dict)
    evaluated: Sequence[Item] = ()


WriteOp = tuple[str, str, Mapping[str, Any], Item | None]
"""(table, action, key, item written or None): one item a write call puts, updates, deletes or
checks. The action is Put, Update, Delete or ConditionCheck."""


def writes_of(operation: str, request: Mapping[str, Any], shapes: Mapping[str, TableShape]) -> list[WriteOp]:
    """The items a write call names, in its order (nothing for a read)."""
    if operation == "PutItem":
        table = request["TableName"]
        return [(table, "Put", shapes[table].key_of(request["Item"]), request["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], operation.removesuffix("Item"), request["Key"], None)]
    if operation == "BatchWriteItem":
        ops: list[WriteOp] = []
        for table, requests in request["RequestItems"].items():
            for entry in requests:
                if "PutRequest" in entry:
                    item = entry["PutRequest"]["Item"]
                    ops.append((table, "Put", shapes[table].key_of(item), item))
                else:
                    ops.append((table, "Delete", entry["DeleteRequest"]["Key"], None))
        return ops
    if operation == "TransactWriteItems":
        ops = []
        for entry in request["TransactItems"]:
            (action, detail), *_ = entry.items()
            table = detail["TableName"]
            if action == "Put":
                ops.append((table, action, shapes[table].key_of(detail["Item"]), detail["Item"]))
            else:
                ops.append((table, action, detail["Key"], None))
        return ops
    return []


def reads_of(operation: str, request: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The items a read call asks for by key: (table, key)."""
    if operation == "GetItem":
        return [(request["TableName"], request["Key"])]
    if operation == "BatchGetItem":
        return [(table, key) for table, asked in request["RequestItems"].items() for key in asked["Keys"]]
    if operation == "TransactGetItems":
        return [(entry["Get"]["TableName"], entry["Get"]["Key"]) for entry in request["TransactItems"]]
    return []


def charges(call: Call, shapes: Mapping[str, TableShape]) -> list[Charge]:
    """What `call` billed, per table, item kind and index."""
    operation, request = call.operation, call.request
    if operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
        return _write_charges(call, shapes)
    if operation in ("GetItem", "BatchGetItem", "TransactGetItems"):
        return _read_charges(call, shapes)
    if operation in ("Query", "Scan"):
        shape = shapes[request["TableName"]]
        index = shape.index(request["IndexName"]) if "IndexName" in request else None
        entries = [shape.entry(index, item) if index else item for item in call.evaluated]
        size = sum(item_size(entry) for entry in entries)
        consistent = bool(request.get("ConsistentRead")) and index is None
        kind = shape.kind(call.evaluated[0]) if call.evaluated else _asked_kind(shape, request)
        units = read_units(size, consistent=consistent)
        return [Charge(shape.name, kind, index.name if index else None, read_units=units)]
    return []


def _write_charges(call: Call, shapes: Mapping[str, TableShape]) -> list[Charge]:
    transactional = call.operation == "TransactWriteItems"
    times = 2 if transactional else 1
    failed = call.error in (CONDITION_FAILED, TRANSACTION_CANCELLED)
    if call.error is not None and not failed:
        return []  # refused before anything was read or written (a validation error, say)
    unprocessed = {
        (table, key_text(_request_key(shapes[table], entry)))
        for table, entries in call.response.get("UnprocessedItems", {}).items()
        for entry in entries
    }
    billed: list[Charge] = []
    for table, action, key, written in writes_of(call.operation, call.request, shapes):
        shape, text = shapes[table], key_text(key)
        if (table, text) in unprocessed:
            continue
        before = call.before.get((table, text))
        kind = shape.kind(key)
        if failed or action == "ConditionCheck":
            # Nothing written: a failed condition costs the item's size, 1 unit if absent.
            size = max(item_size(before), item_size(written)) if before is not None else 0
            billed.append(
                Charge(table, kind, write_units=times * write_units(size), transactional=transactional)
            )
            continue
        after = call.after.get((table, text))
        size = item_size(before) if action == "Delete" else max(item_size(before), item_size(after))
        billed.append(Charge(table, kind, write_units=times * write_units(size), transactional=transactional))
        billed += _index_charges(shape, kind, before, None if action == "Delete" else after)
    return billed


def _index_charges(shape: TableShape, kind: str, before: Item | None, after: Item | None) -> list[Charge]:
    billed = []
    for index in shape.indexes:
        old, new = shape.entry(index, before), shape.entry(index, after)
        if old is None and new is None:
            continue
        if old is None or new is None:
            units = write_units(item_size(old if new is None else new))
        elif any(old[name] != new[name] for name in index.keys):
            units = write_units(item_size(old)) + write_units(item_size(new))
        elif old != new:
            units = write_units(max(item_size(old), item_size(new)))
        else:
            continue
        billed.append(Charge(shape.name, kind, index.name, write_units=units))
    return billed


def _read_charges(call: Call, shapes: Mapping[str, TableShape]) -> list[Charge]:
    request = call.request
    transactional = call.operation == "TransactGetItems"
    unprocessed = {
        (table, key_text(key))
        for table, asked in call.response.get("UnprocessedKeys", {}).items()
        for key in asked.get("Keys", [])
    }
    billed = []
    for table, key in reads_of(call.operation, request):
        if (table, key_text(key)) in unprocessed:
            continue
        if call.operation == "BatchGetItem":
            consistent = bool(request["RequestItems"][table].get("ConsistentRead"))
        else:
            consistent = transactional or bool(request.get("ConsistentRead"))
        units = read_units(item_size(call.before.get((table, key_text(key)))), consistent=consistent)
        billed.append(
            Charge(
                table,
                shapes[table].kind(key),
                read_units=units * (2 if transactional else 1),
                transactional=transactional,
            )
        )
    return billed


def _request_key(shape: TableShape, entry: Mapping[str, Any]) -> Mapping[str, Any]:
    if "PutRequest" in entry:
        return shape.key_of(entry["PutRequest"]["Item"])
    key: Mapping[str, Any] = entry["DeleteRequest"]["Key"]
    return key


def _asked_kind(shape: TableShape, request: Mapping[str, Any]) -> str:
    """A query that found nothing: the kind of the partition it asked for, from the first
    string its key condition compares with."""
    for value in (request.get("ExpressionAttributeValues") or {}).values():
        if "S" in value:
            return shape.kind({shape.keys[0]: value})
    return shape.keys[0]


# --------------------------------------------------------------------------- a tally


@dataclass
class Tally:
    """Units summed by (table, kind, index, transactional), and requests by service and
    operation (SQS, Secrets Manager, DynamoDB Streams: what bills per request)."""

    units: dict[tuple[str, str, str | None, bool], list[float]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def add(self, billed: Iterable[Charge]) -> None:
        for charge in billed:
            key = (charge.table, charge.kind, charge.index, charge.transactional)
            sums = self.units.setdefault(key, [0.0, 0.0])
            sums[0] += charge.read_units
            sums[1] += charge.write_units

    def count(self, request: str) -> None:
        self.requests[request] = self.requests.get(request, 0) + 1

    @property
    def read_units(self) -> float:
        return sum(sums[0] for sums in self.units.values())

    @property
    def write_units(self) -> float:
        return sum(sums[1] for sums in self.units.values())

    def writers(self, label: Callable[[str, str, str | None], str]) -> list[tuple[str, float]]:
        """Write units by `label(table, kind, index)`, the most first."""
        return self._by(label, 1)

    def readers(self, label: Callable[[str, str, str | None], str]) -> list[tuple[str, float]]:
        """Read units by `label(table, kind, index)`, the most first."""
        return self._by(label, 0)

    def _by(self, label: Callable[[str, str, str | None], str], column: int) -> list[tuple[str, float]]:
        by_label: dict[str, float] = {}
        for (table, kind, index, _), sums in self.units.items():
            if sums[column]:
                name = label(table, kind, index)
                by_label[name] = by_label.get(name, 0.0) + sums[column]
        return sorted(by_label.items(), key=lambda pair: -pair[1])

    @property
    def transactional_write_units(self) -> float:
        return sum(sums[1] for (_, _, _, transactional), sums in self.units.items() if transactional)

    def as_json(self) -> dict[str, Any]:
        return {
            "units": [[*key, *sums] for key, sums in self.units.items()],
            "requests": self.requests,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        tally = cls(requests=dict(data["requests"]))
        for table, kind, index, transactional, read, written in data["units"]:
            tally.units[(table, kind, index, transactional)] = [read, written]
        return tally
