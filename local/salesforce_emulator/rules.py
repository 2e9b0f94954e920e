"""Turning an incoming value into what the org stores for a field, or the error Salesforce gives.

Values arrive as JSON (REST, Collections) or as CSV text (Bulk API 2.0); both go through here
so the two paths refuse the same values with the same codes and messages.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .clock import format_datetime, parse_datetime
from .errors import RecordRefused
from .ids import is_well_formed, to_18
from .schema import TEXT_TYPES, FieldDef

# Salesforce's check is permissive about the local part (quotes and apostrophes are allowed)
# and strict about there being one @ and a dotted domain.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def coerce(definition: FieldDef, value: Any) -> Any:
    """The stored form of `value` for `definition`; None (or an empty string) clears the field."""
    if value is None or value == "":
        return None
    kind = definition.type
    if kind in TEXT_TYPES:
        return _text(definition, value)
    if kind == "boolean":
        return _boolean(definition, value)
    if kind in ("double", "currency", "percent"):
        return _number(definition, value, float)
    if kind == "int":
        return _number(definition, value, int)
    if kind == "date":
        return _date(definition, value)
    if kind == "datetime":
        return _datetime(definition, value)
    if kind in ("reference", "id"):
        return _reference(definition, value)
    raise AssertionError(f"no rule for field type {kind}")


def _wrong_type(definition: FieldDef, value: Any) -> RecordRefused:
    return RecordRefused(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{definition.name}: value not of required type: {value}",
        [definition.name],
    )


def _text(definition: FieldDef, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise _wrong_type(definition, value)
    if definition.type == "email":
        text = text.strip()
        if not _EMAIL.match(text):
            raise RecordRefused(
                "INVALID_EMAIL_ADDRESS",
                f"{definition.name}: invalid email address: {text}",
                [definition.name],
            )
    # Salesforce counts characters as Java does, in UTF-16 code units: a character outside the
    # Basic Multilingual Plane (an emoji, some kanji) counts as two ("Surrogate Pair Characters
    # Are Treated as Two Characters", Salesforce Help, article 005166849).
    if definition.length and len(text.encode("utf-16-le")) // 2 > definition.length:
        raise RecordRefused(
            "STRING_TOO_LONG",
            f"{definition.name}: data value too large: {text} (max length={definition.length})",
            [definition.name],
        )
    return text


def _boolean(definition: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _wrong_type(definition, value)


def _number(definition: FieldDef, value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, bool):
        raise _wrong_type(definition, value)
    try:
        number = float(value) if isinstance(value, str) else value
        if not isinstance(number, int | float):
            raise TypeError
        if kind is int:
            if number != int(number):
                raise ValueError
            return int(number)
        return float(number)
    except (TypeError, ValueError) as exc:
        raise _wrong_type(definition, value) from exc


def _date(definition: FieldDef, value: Any) -> str:
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError as exc:
        raise _wrong_type(definition, value) from exc


def _datetime(definition: FieldDef, value: Any) -> str:
    try:
        return format_datetime(parse_datetime(str(value)))
    except ValueError as exc:
        raise _wrong_type(definition, value) from exc


def _reference(definition: FieldDef, value: Any) -> str:
    if not isinstance(value, str) or not is_well_formed(value):
        raise RecordRefused(
            "MALFORMED_ID", f"{definition.name}: id value of incorrect type: {value}", [definition.name]
        )
    return to_18(value)
