"""The one reader of JSON that comes from outside: `POST /actions` and `PUT /config` bodies,
actions queue messages, and the configuration file `crmsync config push` sends.

Python's `json.loads` accepts more than JSON (RFC 8259) allows, and fails in ways no caller
can tell from a bad input. This reader refuses, each time with a `JsonInputError` whose
problems start with the path of the value at fault (`mappings.Lead[3].behaviour: ...`) or
with the name of the whole input (`body: ...`):
- duplicate keys in an object: `json.loads` keeps the last silently, so `{"behaviour":
  "marketing", "behaviour": "salesforce"}` would load a mapping its author may not have meant;
- `NaN`, `Infinity` and `-Infinity`, numbers too large for a float (`1e400` reads as
  infinity) and integers of more than `MAX_DIGITS` digits: nothing DynamoDB or Salesforce
  can store;
- nesting deeper than `MAX_DEPTH`: `json.loads` recurses once per level and ends in a
  `RecursionError` a few thousand levels down; the depth is measured first, without recursing;
- `\\ud800`-style escapes that leave half of a surrogate pair alone: such a string has no
  UTF-8 form, the form DynamoDB stores and Salesforce takes, so it would fail later, and with
  it the request of every record it travels with;
- bytes that are not UTF-8, the one encoding JSON exchanged between systems may use.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects accepted (DynamoDB's own limit for a nested
attribute). A configuration document needs 5 levels, an action 1."""

MAX_DIGITS = 38
"""The most digits an integer may have: DynamoDB's precision for a number."""

# A string, skipped whole (an unterminated one runs to the end, so no position is scanned
# twice), or a bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonInputError(ValueError):
    """The input is not JSON the connector accepts; `problems` lists why, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def read_json(data: str | bytes, what: str = "body") -> Any:
    """The value `data` holds, or `JsonInputError` when it is not strict JSON. `what` names
    the input in problems about it as a whole (`body: is not JSON (...)`)."""
    text = _text(data, what)
    _check_depth(text, what)
    # By the object's id; the object is kept too, so its id cannot be reused by another.
    duplicates: dict[int, tuple[dict[str, Any], list[str]]] = {}

    def object_from(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) < len(pairs):
            counts = Counter(key for key, _ in pairs)
            duplicates[id(value)] = (value, sorted(key for key, count in counts.items() if count > 1))
        return value

    try:
        value = json.loads(
            text, object_pairs_hook=object_from, parse_constant=_constant, parse_float=_float, parse_int=_int
        )
    except _NotStorable as exc:
        raise JsonInputError([f"{what}: {exc}"]) from None
    except ValueError as exc:  # JSONDecodeError
        raise JsonInputError([f"{what}: is not JSON ({exc})"]) from None
    except RecursionError:  # the depth check keeps it from happening; never let it escape
        raise JsonInputError([f"{what}: is nested more than {MAX_DEPTH} levels deep"]) from None
    check_text = _SURROGATE_ESCAPE.search(text) is not None
    if duplicates or check_text:
        problems = list(_problems_within(value, what, duplicates, check_text))
        if problems:
            raise JsonInputError(problems)
    return value


def json_type(value: Any) -> str:
    """A value's JSON kind as a message names it: `an object`, `an array`, `a number`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _text(data: str | bytes, what: str) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonInputError(
                [
                    f"{what}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "JSON is sent as UTF-8"
                ]
            ) from None
    lone = _SURROGATE.search(data)
    if lone is not None:  # only a string a program built can hold one: no bytes decode to it
        raise JsonInputError([f"{what}: is not Unicode text (a lone surrogate at offset {lone.start()})"])
    return data


def _check_depth(text: str, what: str) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` before parsing. Strings are skipped whole, so a
    bracket inside one does not count; text that is no JSON at all is left for the parser."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in {"[", "{"}:
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonInputError(
                    [f"{what}: is nested more than {MAX_DEPTH} levels deep (at offset {match.start()})"]
                )
        elif token in {"]", "}"}:
            depth -= 1


class _NotStorable(ValueError):
    """A number JSON or DynamoDB has no room for."""


def _constant(name: str) -> Any:
    raise _NotStorable(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotStorable(f"the number {_shortened(text)} is too large (beyond a 64-bit float)")
    return number


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _NotStorable(f"the number {_shortened(text)} has more than {MAX_DIGITS} digits")
    return int(text)


def _shortened(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} characters)"


def _problems_within(
    value: Any, what: str, duplicates: dict[int, tuple[dict[str, Any], list[str]]], check_text: bool
) -> Iterator[str]:
    """Duplicate keys and lone surrogates, each with its path, in document order. A walk with
    its own stack: the depth is bounded already, but it needs no recursion either way."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key in duplicates.get(id(item), (item, []))[1]:
                yield f"{_join(path, key)}: appears more than once in one object (duplicate keys are refused)"
            for key in item:
                if check_text and _SURROGATE.search(key):
                    yield f"{_join(path, ascii(key))}: the key is not Unicode text (a lone surrogate)"
            pending.extend((_join(path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend(
                (f"{path or what}[{index}]", child) for index, child in reversed(list(enumerate(item)))
            )
        elif check_text and isinstance(item, str) and _SURROGATE.search(item):
            yield f"{path or what}: is not Unicode text (a \\u escape leaves half of a surrogate pair alone)"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
