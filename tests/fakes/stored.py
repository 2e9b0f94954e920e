"""What a value looks like once a DynamoDB store has kept it and read it back, so that the fakes
hand the use cases what the real stores do rather than the very objects they were given.

The stores' rules (crmsync/aws/dynamo_table.py): numbers come back as `int` when whole, else
`float`; instants go as ISO-8601 strings in UTC with microseconds (read back by the store as
aware datetimes where it knows the attribute is an instant, as strings inside free-form maps);
tuples come back as lists, sets as sets; a top-level attribute that is None is not written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


def instant(moment: datetime) -> datetime:
    """An instant as a store reads it back: aware, in UTC, to the microsecond (a naive one
    counts as UTC, as `dynamo_table.iso` has it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """An instant as the stores write it (and sort keys order it)."""
    return instant(moment).isoformat(timespec="microseconds")


def stored(value: Any) -> Any:
    """`value` as it reads back from a DynamoDB attribute; TypeError for what DynamoDB cannot hold."""
    if value is None or isinstance(value, bool | str):
        return str(value) if isinstance(value, Enum) else value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"DynamoDB cannot store the number {value}")
        return int(number) if number == number.to_integral_value() else float(number)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stored(item) for item in value]
    if isinstance(value, set | frozenset):
        if not value:
            raise ValueError("DynamoDB cannot store an empty set")
        return {stored(item) for item in value}
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__}: {value!r}")


def json_text(value: Any) -> Any:
    """`value` kept as one JSON text attribute (a link's snapshot, an audit item's entries, a
    claim's result) and read back: what JSON cannot hold is written as its `str`."""
    return json.loads(json.dumps(value, default=str))
