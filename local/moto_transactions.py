"""moto's `TransactWriteItems`, all-or-nothing without copying whole tables.

moto 5 backs up a transaction by deep-copying the whole table once per item of the
transaction, so one transaction of 100 items over a table of 20,000 items copies two million
items: a run that links 10,000 records would take hours on moto, while DynamoDB's cost does
not grow with the table. This keeps moto's own transaction logic (conditions, one operation
per item, cancellation reasons) and only changes how it undoes a cancelled transaction: it
remembers the items the transaction touches and puts them back. The tests of the link and
prospect stores show cancelled transactions leaving nothing behind through this path.

Streams: DynamoDB writes a committed transaction's stream records and never any for a cancelled
one. moto writes a record as each item is applied (its restored table copy used to take them
back); here they are held until the transaction commits, and a cancelled transaction's records,
and those of the undo, are dropped (tests/adapters/test_moto_transactions.py).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamShard, Table

_original = DynamoDBBackend.transact_write_items
# The table class is briefly told to "copy" as itself; one transaction at a time keeps that
# from reaching another thread's deepcopy.
_lock = threading.Lock()


def _shared(table: Table, memo: dict[int, Any]) -> Table:
    return table


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _lock:
        touched = []
        shards: dict[str, StreamShard] = {}
        for entry in transact_items:
            _, operation = next(iter(entry.items()))
            table_name = operation.get("TableName")
            if table_name not in self.tables:
                continue
            table = self.tables[table_name]
            if table.stream_shard is not None:
                shards[table_name] = table.stream_shard
            key = operation.get("Key") or _key_of(table, operation.get("Item", {}))
            if key is None:
                continue
            touched.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
        held: list[tuple[StreamShard, Item | None, Item | None]] = []
        for shard in shards.values():
            shard.add = _holding(shard, held)  # type: ignore[method-assign]
        Table.__deepcopy__ = _shared  # type: ignore[attr-defined]
        try:
            _original(self, transact_items)
        except (TransactionCanceledException, MultipleTransactionsException, MockValidationException):
            for table_name, key, before in reversed(touched):
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            held.clear()
            raise
        finally:
            del Table.__deepcopy__  # type: ignore[attr-defined]
            for shard in shards.values():
                del shard.add
        for shard, old, new in held:  # committed: its records, in the order its items were applied
            shard.add(old, new)


def _holding(
    shard: StreamShard, held: list[tuple[StreamShard, Item | None, Item | None]]
) -> Callable[[Item | None, Item | None], None]:
    def hold(old: Item | None, new: Item | None) -> None:
        held.append((shard, old, new))

    return hold


def _key_of(table: Table, item: dict[str, Any]) -> dict[str, Any] | None:
    if table.hash_key_attr not in item:
        return None
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None and table.range_key_attr in item:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def install() -> None:
    """Use the item-level undo for every moto DynamoDB backend in this process (idempotent)."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
