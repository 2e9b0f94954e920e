"""SOQL as the emulator understands it: the subset a connector sends (one object, a flat select
list or COUNT(), WHERE, ORDER BY, LIMIT, OFFSET), parsed by hand and evaluated against the
store's records with Salesforce's comparison rules.

Records are mappings keyed by canonical API names holding None, str, bool, int or float, with
date-times as Salesforce renders them (`2026-11-22T12:00:00.000+0000`) and dates as
`2026-11-22`. The parser knows no schema: names are checked against describe by the caller,
and a value's type is read from the literal it is compared with.
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal, TypeAlias

Scalar: TypeAlias = str | int | float | bool | date | datetime | None


class SoqlError(Exception):
    """A query Salesforce would refuse; `error_code` is the REST error's `errorCode`."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def _malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


# --- values --------------------------------------------------------------------------------------

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):?(\d{2}))"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# Every record is compared against the same literal, and a page sorts thousands of stamps.
@lru_cache(maxsize=65536)
def _parse_datetime(text: str) -> datetime | None:
    """An instant in SOQL's or Salesforce's rendering (a zone is required), or None."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, zone_hours, zone_minutes = match.groups()
    offset = timedelta(hours=int(zone_hours or 0), minutes=int(zone_minutes or 0))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        ).astimezone(UTC)
    except ValueError:
        return None


def _parse_date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _is_id_field(path: str) -> bool:
    """Salesforce names its Id and standard lookup fields `Id`/`...Id` (OwnerId, MasterRecordId).
    Ids are case-sensitive and the emulator's sort in ASCII order, so they must not be folded."""
    return path.rsplit(".", 1)[-1].lower().endswith("id")


def _text_key(path: str) -> Callable[[str], str]:
    return _id_key if _is_id_field(path) else str.casefold


def _id_key(value: str) -> str:
    # The 18-character form only adds a suffix derived from the first 15 characters, so a
    # 15-character literal names the same record.
    return value[:15] if len(value) == 18 and value.isalnum() else value


def _sign(left: Any, right: Any) -> int:
    return int(left > right) - int(left < right)


def _compare(path: str, actual: Any, literal: Scalar) -> int | None:
    """-1, 0 or 1 as `actual` is below, equal to or above `literal`; None when the two cannot be
    compared (either is null, or their types differ: Salesforce would have refused the query)."""
    if actual is None or literal is None:
        return None
    if isinstance(literal, bool) or isinstance(actual, bool):
        both_bool = isinstance(literal, bool) and isinstance(actual, bool)
        return _sign(actual, literal) if both_bool else None
    if isinstance(literal, datetime):
        moment = _parse_datetime(actual) if isinstance(actual, str) else None
        return None if moment is None else _sign(moment, literal)
    if isinstance(literal, date):
        day = _parse_date(actual) if isinstance(actual, str) else None
        return None if day is None else _sign(day, literal)
    if isinstance(literal, str):
        key = _text_key(path)
        return _sign(key(actual), key(literal)) if isinstance(actual, str) else None
    return _sign(actual, literal) if isinstance(actual, int | float) else None


def _equal(path: str, actual: Any, literal: Scalar) -> bool:
    if literal is None:
        return actual is None
    return _compare(path, actual, literal) == 0


def _lookup(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    folded = name.casefold()
    for key, value in record.items():
        if key.casefold() == folded:
            return value
    return None


def resolve(record: Mapping[str, Any], path: str) -> Any:
    """The value of a field or relationship path (`Owner.Email`), names matched case-insensitively;
    None when any step is missing, as Salesforce returns for an empty lookup."""
    value: Any = record
    for name in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = _lookup(value, name)
    return value


# --- conditions ----------------------------------------------------------------------------------


class Condition(ABC):
    @abstractmethod
    def matches(self, record: Mapping[str, Any]) -> bool: ...

    @abstractmethod
    def fields(self) -> Iterator[str]: ...


_RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Comparison(Condition):
    field: str
    operator: str  # one of = != < <= > >=; `<>` is read as `!=`
    value: Scalar

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = resolve(record, self.field)
        if self.operator == "=":
            return _equal(self.field, actual, self.value)
        if self.operator == "!=":
            return not _equal(self.field, actual, self.value)
        order = _compare(self.field, actual, self.value)
        return order is not None and _RELATIONS[self.operator](order, 0)

    def fields(self) -> Iterator[str]:
        yield self.field


@dataclass(frozen=True)
class InList(Condition):
    field: str
    values: tuple[Scalar, ...]
    negated: bool  # NOT IN, which like `!=` keeps the records whose value is null

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = resolve(record, self.field)
        return any(_equal(self.field, actual, value) for value in self.values) != self.negated

    def fields(self) -> Iterator[str]:
        yield self.field


@dataclass(frozen=True)
class Like(Condition):
    field: str
    pattern: re.Pattern[str]

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = resolve(record, self.field)
        return isinstance(actual, str) and self.pattern.fullmatch(actual) is not None

    def fields(self) -> Iterator[str]:
        yield self.field


@dataclass(frozen=True)
class Not(Condition):
    condition: Condition

    def matches(self, record: Mapping[str, Any]) -> bool:
        return not self.condition.matches(record)

    def fields(self) -> Iterator[str]:
        return self.condition.fields()


@dataclass(frozen=True)
class And(Condition):
    conditions: tuple[Condition, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        return all(c.matches(record) for c in self.conditions)

    def fields(self) -> Iterator[str]:
        for condition in self.conditions:
            yield from condition.fields()


@dataclass(frozen=True)
class Or(Condition):
    conditions: tuple[Condition, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        return any(c.matches(record) for c in self.conditions)

    def fields(self) -> Iterator[str]:
        for condition in self.conditions:
            yield from condition.fields()


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool
    nulls_last: bool  # Salesforce's default: NULLS FIRST ascending, NULLS LAST descending


def _sort_key(item: OrderItem) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    # `list.sort(reverse=True)` keeps ties in input order, so one key serves both directions;
    # only the nulls' rank has to flip with the direction.
    null_rank = 0 if item.nulls_last == item.descending else 2
    text_key = _text_key(item.field)

    def key(record: Mapping[str, Any]) -> tuple[Any, ...]:
        value = resolve(record, item.field)
        if value is None:
            return (null_rank,)
        if isinstance(value, bool | int | float):
            return (1, 0, value)
        text = str(value)
        moment = _parse_datetime(text)
        return (1, 1, moment) if moment is not None else (1, 2, text_key(text))

    return key


@dataclass(frozen=True)
class Query:
    sobject: str
    fields: tuple[str, ...]  # empty for SELECT COUNT()
    count_only: bool
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None

    def referenced_fields(self) -> set[str]:
        """Every field named in the query, as written (callers check them against describe)."""
        names = set(self.fields)
        if self.where is not None:
            names.update(self.where.fields())
        names.update(item.field for item in self.order_by)
        return names

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self.where is None or self.where.matches(record)

    def sort(self, records: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        ordered = list(records)
        for item in reversed(self.order_by):
            ordered.sort(key=_sort_key(item), reverse=item.descending)
        return ordered

    def apply(self, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        selected = self.sort([record for record in records if self.matches(record)])
        start = self.offset or 0
        return selected[start : None if self.limit is None else start + self.limit]


def parse(text: str) -> Query:
    return _Parser(text).query()


# --- tokens --------------------------------------------------------------------------------------

_Kind = Literal["name", "string", "number", "datetime", "date", "symbol", "end"]


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # as written; for a string, what lies between the quotes
    value: Scalar = None


_SPACE = re.compile(r"\s+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'", re.DOTALL)
# Wide enough to take in a whole malformed date-time, so the error names all of it.
_TEMPORAL = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[0-9:.+\-Z]*)?")
# Exponents are not SOQL, but format_soql renders small and large floats with one (`1e-05`).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SYMBOL = re.compile(r"<>|!=|<=|>=|[=<>(),]")
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = _skip_space(text, 0)
    while position < len(text):
        token, position = _next_token(text, position)
        tokens.append(token)
        position = _skip_space(text, position)
    tokens.append(_Token("end", "<EOF>"))
    return tokens


def _skip_space(text: str, position: int) -> int:
    space = _SPACE.match(text, position)
    return space.end() if space else position


def _next_token(text: str, position: int) -> tuple[_Token, int]:
    if text[position] == "'":
        string = _STRING.match(text, position)
        if string is None:
            raise _malformed("mismatched character '<EOF>' expecting '''")
        raw = string.group(1)
        return _Token("string", raw, _unescape(raw)), string.end()
    if temporal := _TEMPORAL.match(text, position):
        return _temporal(temporal.group()), temporal.end()
    if number := _NUMBER.match(text, position):
        written = number.group()
        is_integer = written.lstrip("+-").isdigit()
        return _Token("number", written, int(written) if is_integer else float(written)), number.end()
    if name := _NAME.match(text, position):
        return _Token("name", name.group()), name.end()
    if symbol := _SYMBOL.match(text, position):
        return _Token("symbol", symbol.group()), symbol.end()
    raise _malformed(f"unexpected token: '{text[position]}'")


def _temporal(written: str) -> _Token:
    if "T" in written:
        moment = _parse_datetime(written)
        if moment is not None:
            return _Token("datetime", written, moment)
    elif (day := _parse_date(written)) is not None:
        return _Token("date", written, day)
    raise _malformed(f"unexpected token: '{written}'")


def _characters(raw: str) -> Iterator[tuple[str, bool]]:
    """The characters of a string literal, each flagged if it was written escaped."""
    characters = iter(raw)
    for character in characters:
        if character != "\\":
            yield character, False
            continue
        escaped = next(characters)  # the tokenizer only admits a backslash with a successor
        if escaped in "%_":
            yield escaped, True
        elif escaped in _ESCAPES:
            yield _ESCAPES[escaped], True
        else:
            raise _malformed(
                f"Invalid string literal '{raw}'. Illegal character sequence '\\{escaped}' in string literal."
            )


def _unescape(raw: str) -> str:
    # `\%` and `\_` mean a literal % or _ only to LIKE; elsewhere they stand for themselves.
    return "".join("\\" + c if escaped and c in "%_" else c for c, escaped in _characters(raw))


def _like_pattern(raw: str) -> re.Pattern[str]:
    wildcards = {"%": ".*", "_": "."}
    regex = "".join(
        wildcards[c] if c in wildcards and not escaped else re.escape(c) for c, escaped in _characters(raw)
    )
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


# --- parser --------------------------------------------------------------------------------------

# Salesforce's reserved words: never a field or object name.
_RESERVED = frozenset(
    [
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FIRST",
        "FROM",
        "GROUP",
        "HAVING",
        "IN",
        "INCLUDES",
        "LAST",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "WHERE",
        "WITH",
    ]
)
_CONSTANTS: dict[str, Scalar] = {"TRUE": True, "FALSE": False, "NULL": None}
_OPERATORS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._position = 0

    def query(self) -> Query:
        self._keyword("SELECT")
        fields, count_only = self._select_list()
        self._keyword("FROM")
        sobject = self._name()
        where = self._condition() if self._accept("WHERE") else None
        order_by: tuple[OrderItem, ...] = ()
        if self._accept("ORDER"):
            self._keyword("BY")
            order_by = self._order_by()
        limit = self._count() if self._accept("LIMIT") else None
        offset = self._count() if self._accept("OFFSET") else None
        if self._peek().kind != "end":
            raise self._unexpected()
        return Query(sobject, fields, count_only, where, order_by, limit, offset)

    # --- clauses

    def _select_list(self) -> tuple[tuple[str, ...], bool]:
        if self._at("COUNT") and self._tokens[self._position + 1] == _Token("symbol", "("):
            self._position += 2
            self._symbol(")")
            return (), True
        fields = [self._name()]
        while self._accept_symbol(","):
            fields.append(self._name())
        seen: set[str] = set()
        for field in fields:
            if field.casefold() in seen:
                raise _malformed(f"duplicate field selected: {field}")
            seen.add(field.casefold())
        return tuple(fields), False

    def _order_by(self) -> tuple[OrderItem, ...]:
        items = [self._order_item()]
        while self._accept_symbol(","):
            items.append(self._order_item())
        return tuple(items)

    def _order_item(self) -> OrderItem:
        field = self._name()
        descending = self._accept("DESC")
        if not descending:
            self._accept("ASC")
        nulls_last = descending
        if self._accept("NULLS"):
            if self._accept("LAST"):
                nulls_last = True
            else:
                self._keyword("FIRST")
                nulls_last = False
        return OrderItem(field, descending, nulls_last)

    def _count(self) -> int:
        token = self._peek()
        if token.kind != "number" or not token.text.isdigit():
            raise self._unexpected()
        self._position += 1
        return int(token.text)

    # --- conditions

    def _condition(self) -> Condition:
        # Salesforce demands parentheses to mix AND with OR: a chain takes one kind of joiner,
        # and a different one is left over for the caller to refuse as an unexpected token.
        first = self._unary()
        for joiner, combine in (("AND", And), ("OR", Or)):
            if self._at(joiner):
                parts = [first]
                while self._accept(joiner):
                    parts.append(self._unary())
                return combine(tuple(parts))
        return first

    def _unary(self) -> Condition:
        if self._accept("NOT"):
            return Not(self._unary())
        if self._accept_symbol("("):
            condition = self._condition()
            self._symbol(")")
            return condition
        return self._comparison()

    def _comparison(self) -> Condition:
        field = self._name()
        token = self._peek()
        if token.kind == "symbol" and token.text in _OPERATORS:
            self._position += 1
            return Comparison(field, _OPERATORS[token.text], self._value())
        if self._accept("LIKE"):
            pattern = self._peek()
            if pattern.kind != "string":
                raise self._unexpected()
            self._position += 1
            return Like(field, _like_pattern(pattern.text))
        negated = self._accept("NOT")
        if negated or self._at("IN"):
            self._keyword("IN")
            return InList(field, self._value_list(), negated)
        raise self._unexpected()

    def _value_list(self) -> tuple[Scalar, ...]:
        self._symbol("(")
        values = [self._value()]
        while self._accept_symbol(","):
            values.append(self._value())
        self._symbol(")")
        return tuple(values)

    def _value(self) -> Scalar:
        token = self._peek()
        if token.kind in ("string", "number", "datetime", "date"):
            value = token.value
        elif token.kind == "name" and token.text.upper() in _CONSTANTS:
            value = _CONSTANTS[token.text.upper()]
        else:
            raise self._unexpected()
        self._position += 1
        return value

    # --- tokens

    def _peek(self) -> _Token:
        return self._tokens[self._position]

    def _unexpected(self) -> SoqlError:
        return _malformed(f"unexpected token: '{self._peek().text}'")

    def _at(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind == "name" and token.text.upper() == keyword

    def _accept(self, keyword: str) -> bool:
        if self._at(keyword):
            self._position += 1
            return True
        return False

    def _keyword(self, keyword: str) -> None:
        if not self._accept(keyword):
            raise self._unexpected()

    def _accept_symbol(self, symbol: str) -> bool:
        token = self._peek()
        if token.kind == "symbol" and token.text == symbol:
            self._position += 1
            return True
        return False

    def _symbol(self, symbol: str) -> None:
        if not self._accept_symbol(symbol):
            raise self._unexpected()

    def _name(self) -> str:
        token = self._peek()
        if token.kind != "name" or token.text.upper() in _RESERVED:
            raise self._unexpected()
        self._position += 1
        return token.text
