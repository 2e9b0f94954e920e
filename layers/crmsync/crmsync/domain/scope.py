"""Which Salesforce records sync to the marketing platform: the outbound scope
(docs/guide/scope.md).

Changed records are read by modification stamp, whatever the scope, and judged here one by
one: that is how a record that leaves the scope is noticed (its prospect is marked out of
scope, never deleted). The criteria operators follow SOQL's meaning, so the same criteria
compiled into a query select the same records: text compares ignoring case, `not_equals`
holds for a blank field, and an ordering against a blank field never holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.fields import is_blank
from crmsync.domain.records import SalesforceRecord

CriterionValue = str | int | float | bool | None | tuple[str | int | float | bool, ...]


class Operator(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    GREATER_THAN = "greater_than"
    GREATER_OR_EQUAL = "greater_or_equal"
    LESS_THAN = "less_than"
    LESS_OR_EQUAL = "less_or_equal"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"

    @property
    def takes_list(self) -> bool:
        return self in (Operator.IN, Operator.NOT_IN)

    @property
    def orders(self) -> bool:
        return self in (
            Operator.GREATER_THAN,
            Operator.GREATER_OR_EQUAL,
            Operator.LESS_THAN,
            Operator.LESS_OR_EQUAL,
        )

    @property
    def matches_text(self) -> bool:
        return self in (Operator.CONTAINS, Operator.STARTS_WITH)


@dataclass(frozen=True)
class Criterion:
    field: str
    operator: Operator
    value: CriterionValue


@dataclass(frozen=True)
class NoRecords:
    pass


@dataclass(frozen=True)
class AllRecords:
    pass


@dataclass(frozen=True)
class CreatedAfter:
    """Records created at or after `since` ("all created from now on")."""

    since: datetime


@dataclass(frozen=True)
class Flagged:
    """Records whose checkbox `field` is ticked (by a flow or a process builder)."""

    field: str


@dataclass(frozen=True)
class MatchingCriteria:
    """Records meeting every criterion (AND)."""

    criteria: tuple[Criterion, ...]


OutboundScope = NoRecords | AllRecords | CreatedAfter | Flagged | MatchingCriteria


def in_scope(scope: OutboundScope, record: SalesforceRecord) -> bool:
    match scope:
        case NoRecords():
            return False
        case AllRecords():
            return True
        case CreatedAfter(since=since):
            return record.created is not None and record.created >= since
        case Flagged(field=field):
            # The configuration reader takes only a checkbox, which Salesforce sends as a bool.
            return record.get(field) is True
        case MatchingCriteria(criteria=criteria):
            return all(meets(criterion, record) for criterion in criteria)


def _checkbox(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _moment(value: Any) -> datetime | None:
    """A date or date-time, given as a criterion's literal or as Salesforce's text, as an aware
    datetime; a date is its midnight UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value.strip()[:4].isdigit():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _as_number(value: Any) -> float | None:
    """A number, from the REST API or from Bulk API CSV text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _comparable(record_value: Any, wanted: Any) -> tuple[Any, Any] | None:
    """Both values in the form the criterion's own value asks for, as a SOQL literal would:
    a checkbox, a number, a date or datetime, or else text without case. A criterion names any
    field, so the kind comes from its literal, as in SOQL, not from the record."""
    if isinstance(wanted, bool):
        return (_checkbox(record_value), wanted)
    if isinstance(wanted, int | float):
        number = _as_number(record_value)
        return None if number is None else (number, float(wanted))
    wanted_moment = _moment(wanted)
    record_moment = _moment(record_value)
    if wanted_moment is not None and record_moment is not None:
        return (record_moment, wanted_moment)
    return (str(record_value).strip().lower(), str(wanted).strip().lower())


def _equals(record_value: Any, wanted: Any) -> bool:
    if is_blank(record_value) or is_blank(wanted):
        return is_blank(record_value) and is_blank(wanted)
    pair = _comparable(record_value, wanted)
    return pair is not None and pair[0] == pair[1]


def _ordered(holds: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(record_value: Any, wanted: Any) -> bool:
        if is_blank(record_value):
            return False
        pair = _comparable(record_value, wanted)
        return pair is not None and holds(pair[0], pair[1])

    return compare


def _text(holds: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def compare(record_value: Any, wanted: Any) -> bool:
        if is_blank(record_value):
            return False
        return holds(str(record_value).strip().lower(), str(wanted).strip().lower())

    return compare


def _in(record_value: Any, wanted: Any) -> bool:
    return any(_equals(record_value, option) for option in wanted)


_OPERATOR_TABLE: Mapping[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQUALS: _equals,
    Operator.NOT_EQUALS: lambda value, wanted: not _equals(value, wanted),
    Operator.GREATER_THAN: _ordered(lambda a, b: a > b),
    Operator.GREATER_OR_EQUAL: _ordered(lambda a, b: a >= b),
    Operator.LESS_THAN: _ordered(lambda a, b: a < b),
    Operator.LESS_OR_EQUAL: _ordered(lambda a, b: a <= b),
    Operator.IN: _in,
    Operator.NOT_IN: lambda value, wanted: not _in(value, wanted),
    Operator.CONTAINS: _text(lambda text, part: part in text),
    Operator.STARTS_WITH: _text(lambda text, start: text.startswith(start)),
}


def meets(criterion: Criterion, record: Mapping[str, Any]) -> bool:
    return _OPERATOR_TABLE[criterion.operator](record.get(criterion.field), criterion.value)
