"""Plain values to and from DynamoDB's typed form, as every store writes and reads them.

Numbers go as `Decimal` text and come back as `int` when integral, else `float`; datetimes go
as ISO-8601 strings in UTC with microseconds (so they sort in time order, which sort keys rely
on) and come back as those strings; top-level attributes whose value is None are left out.

Written out rather than through boto3's TypeSerializer/TypeDeserializer: every item of a sync
run passes here, and their generic type probing was a fifth of a run's CPU.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit: 400 KB, and DynamoDB counts 1 KB as 1,024 bytes."""


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
    """One plain value in DynamoDB's typed form (`{"S": ...}`, `{"M": ...}`, ...)."""
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
