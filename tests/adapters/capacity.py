"""What DynamoDB would bill for the calls a test makes: a stand-in client that passes every call
to the real one (moto) and counts its read and write units by DynamoDB's on-demand rules, which
moto does not (its `ConsumedCapacity` is a placeholder).

The rules (Amazon DynamoDB Developer Guide: "DynamoDB item sizes and formats", "Read
consistency", "Capacity unit consumption", "Managing global secondary indexes"):
- a write costs one unit per KB (1,024 bytes, rounded up) of the larger of the item before and
  after; a delete of an item that is not there, or a write whose condition fails, still one;
  in a transaction every item costs twice that;
- a write also writes each global secondary index whose item it adds, removes or changes (a
  change of the index key is a removal and an addition), one unit per KB of the index item;
- a read costs one unit per 4 KB (rounded up) of what it reads, half for an eventually
  consistent one; a `BatchGetItem` counts each key as a `GetItem` (an absent item costs the
  minimum); a `Query` or `Scan` counts the items it reads, whatever it projects, per call.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_WRITE_KB = 1024
_READ_KB = 4096


def item_bytes(item: Mapping[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it, from its typed form."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(typed: Mapping[str, Any]) -> int:
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_bytes(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(value)
    if kind in ("SS", "BS"):
        return sum(len(v.encode()) if isinstance(v, str) else len(v) for v in value)
    if kind == "NS":
        return sum(_number_bytes(v) for v in value)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in value.items())
    raise TypeError(kind)


def _number_bytes(text: str) -> int:
    digits = len(Decimal(text).normalize().as_tuple().digits)
    return (digits + 1) // 2 + 1


@dataclass
class _Index:
    keys: tuple[str, ...]
    projection: str
    included: tuple[str, ...]

    def item(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """What the index holds of `item` (None: the item is not in the index)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*table_keys, *self.keys, *self.included}
        return {name: value for name, value in item.items() if name in kept}


@dataclass
class _Table:
    keys: tuple[str, ...]
    indexes: list[_Index]


@dataclass
class Units:
    """Read and write units counted so far, by operation."""

    reads: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)

    @property
    def read(self) -> float:
        return sum(self.reads.values())

    @property
    def write(self) -> int:
        return sum(self.writes.values())


class CapacityMeter:
    """The real client; each call's units are added to `units`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._tables: dict[str, _Table] = {}
        self.units = Units()

    def reset(self) -> Units:
        """The units counted so far; counting starts again from zero."""
        counted, self.units = self.units, Units()
        return counted

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)
        meter: Callable[..., Any] | None = getattr(self, f"_meter_{name}", None)
        if meter is None:
            return operation
        return lambda **request: meter(operation, request)

    # ------------------------------------------------------------------ reads

    def _meter_get_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        response = operation(**request)
        self.units.reads["GetItem"] += self._read_units(response.get("Item"), request.get("ConsistentRead"))
        return response

    def _meter_batch_get_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        response = operation(**request)
        for table, asked in request["RequestItems"].items():
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            unprocessed = {self._frozen_key(table, key) for key in left}
            for key in asked["Keys"]:
                frozen = self._frozen_key(table, key)
                if frozen in unprocessed:
                    continue
                # The item read whole: a projection does not lower what a read costs.
                whole = self._current(table, key)
                self.units.reads["BatchGetItem"] += self._read_units(whole, asked.get("ConsistentRead"))
        return response

    def _meter_query(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        return self._meter_read_many("Query", operation, request)

    def _meter_scan(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        return self._meter_read_many("Scan", operation, request)

    def _meter_read_many(self, name: str, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        response = operation(**request)
        table = request["TableName"]
        if request.get("Select") == "COUNT":
            read = response.get("Count", 0) * 100  # a count reads the items too: assume small ones
        else:
            items = response.get("Items", [])
            read = sum(item_bytes(self._current(table, item) or item) for item in items)
        factor = 1.0 if request.get("ConsistentRead") else 0.5
        self.units.reads[name] += max(1, math.ceil(read / _READ_KB)) * factor
        return response

    def _read_units(self, item: Mapping[str, Any] | None, consistent: bool | None) -> float:
        units = max(1, math.ceil(item_bytes(item) / _READ_KB))
        return units * (1.0 if consistent else 0.5)

    # ------------------------------------------------------------------ writes

    def _meter_put_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        return self._write("PutItem", self._key(request["TableName"], request["Item"]), operation, request)

    def _meter_update_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        return self._write("UpdateItem", request["Key"], operation, request)

    def _meter_delete_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        return self._write("DeleteItem", request["Key"], operation, request)

    def _meter_batch_write_item(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        def keys(table: str, writes: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                self._key(table, w["PutRequest"]["Item"] if "PutRequest" in w else w["DeleteRequest"]["Key"])
                for w in writes
            ]

        befores = {
            (table, self._frozen_key(table, key)): (key, self._current(table, key))
            for table, writes in request["RequestItems"].items()
            for key in keys(table, writes)
        }
        response = operation(**request)
        unprocessed = {
            (table, self._frozen_key(table, key))
            for table, writes in response.get("UnprocessedItems", {}).items()
            for key in keys(table, writes)
        }
        for (table, frozen), (key, before) in befores.items():
            if (table, frozen) not in unprocessed:
                self._count_write("BatchWriteItem", table, before, self._current(table, key), 1)
        return response

    def _meter_transact_write_items(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        touched = []
        for entry in request["TransactItems"]:
            ((kind, write),) = entry.items()
            table = write["TableName"]
            key = self._key(table, write["Item"]) if kind == "Put" else write["Key"]
            touched.append((table, key, self._current(table, key)))
        try:
            response = operation(**request)
        except Exception:
            # Cancelled: DynamoDB still bills the items it read to check their conditions.
            for _, _, before in touched:
                self.units.writes["TransactWriteItems (cancelled)"] += 2 * self._units(before, before)
            raise
        for table, key, before in touched:
            self._count_write("TransactWriteItems", table, before, self._current(table, key), 2)
        return response

    def _write(
        self, name: str, key: Mapping[str, Any], operation: Callable[..., Any], request: dict[str, Any]
    ) -> Any:
        """A single-item write: billed once, refused or not."""
        table = request["TableName"]
        before = self._current(table, key)
        try:
            response = operation(**request)
        except Exception:
            self.units.writes[f"{name} (refused)"] += self._units(before, before)
            raise
        self._count_write(name, table, before, self._current(table, key), 1)
        return response

    def _count_write(
        self,
        name: str,
        table: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        factor: int,
    ) -> None:
        self.units.writes[name] += factor * self._units(before, after)
        schema = self._schema(table)
        for index in schema.indexes:
            old, new = index.item(before, schema.keys), index.item(after, schema.keys)
            if old == new:
                continue
            moved = old is not None and new is not None and any(old[k] != new[k] for k in index.keys)
            for written in [old, new] if moved else [new if new is not None else old]:
                self.units.writes[f"{name} (index)"] += self._units(written, written)

    @staticmethod
    def _units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
        return max(1, math.ceil(max(item_bytes(before), item_bytes(after)) / _WRITE_KB))

    # ------------------------------------------------------------------ plumbing

    def _schema(self, table: str) -> _Table:
        if table not in self._tables:
            described = self._client.describe_table(TableName=table)["Table"]
            self._tables[table] = _Table(
                keys=tuple(k["AttributeName"] for k in described["KeySchema"]),
                indexes=[
                    _Index(
                        keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
                        projection=index["Projection"]["ProjectionType"],
                        included=tuple(index["Projection"].get("NonKeyAttributes", ())),
                    )
                    for index in described.get("GlobalSecondaryIndexes", [])
                ],
            )
        return self._tables[table]

    def _key(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self._schema(table).keys}

    def _frozen_key(self, table: str, item: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(item[name]) for name in self._schema(table).keys)

    def _current(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._client.get_item(
            TableName=table, Key=self._key(table, key), ConsistentRead=True
        ).get("Item")
        return item
