"""The kinds of value a configuration document holds, for the models' fields
(`Annotated[int, WholeNumber(1, 59)]`).

Each reads one JSON value into the value the configuration keeps, or refuses it with the message
users have always had (`must be a whole number, not '2'`), and says in the JSON Schema what it
accepts. They read JSON as it is: no coercion (`"2"` is not 2, `1` is not true).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from crmsync.config.problems import (
    Problem,
    failed_keys,
    kind,
    message_of,
    problem,
    problems_error,
    validated_with,
)
from crmsync.config.values import Schedule, ScheduleUnit

E = TypeVar("E", bound=StrEnum)

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SCHEDULE = re.compile(r"^(\d+) (minute|minutes|hour|hours)$")
_HOURLY_SCHEDULES = (1, 2, 3, 4, 6, 8, 12)


class Kind:
    """A kind of value: `read` a JSON value or raise `problem(...)`; `json_schema` says what is
    accepted; `write` gives a value's JSON (for the defaults the schema shows)."""

    def read(self, value: Any) -> Any:
        raise NotImplementedError

    def json_schema(self) -> JsonSchemaValue:
        raise NotImplementedError

    def write(self, value: Any) -> Any:
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.read, serialization=core_schema.plain_serializer_function_ser_schema(self.write)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.json_schema()


@dataclass(frozen=True)
class WholeNumber(Kind):
    low: int
    high: int | None = None

    def read(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise problem(f"must be a whole number, not {kind(value)}")
        if value < self.low or (self.high is not None and value > self.high):
            bounds = f"from {self.low} to {self.high}" if self.high is not None else f"at least {self.low}"
            raise problem(f"must be {bounds}, not {value}")
        return value

    def json_schema(self) -> JsonSchemaValue:
        schema: JsonSchemaValue = {"type": "integer", "minimum": self.low}
        return schema | ({"maximum": self.high} if self.high is not None else {})


@dataclass(frozen=True)
class Flag(Kind):
    def read(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise problem(f"must be true or false, not {kind(value)}")
        return value

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Text(Kind):
    """A string with something in it, kept without its surrounding blanks; at most `longest`
    characters where Salesforce has a limit."""

    longest: int | None = None

    def read(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise problem(f"must be a non-empty string, not {kind(value)}")
        text = value.strip()
        if self.longest is not None and len(text) > self.longest:
            raise problem(f"must be at most {self.longest} characters (Salesforce's limit), not {len(text)}")
        return text

    def json_schema(self) -> JsonSchemaValue:
        schema: JsonSchemaValue = {"type": "string", "pattern": r"\S"}
        return schema | ({"maxLength": self.longest} if self.longest is not None else {})


@dataclass(frozen=True)
class ApiName(Text):
    """A Salesforce API name (a field's: `Email`, `Sync_To_Marketing__c`)."""

    def read(self, value: Any) -> str:
        name = super().read(value)
        if not _API_NAME.match(name):
            raise problem(f"{name!r} is not a Salesforce API name")
        return name

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "pattern": r"^\s*[A-Za-z][A-Za-z0-9_]*\s*$"}


@dataclass(frozen=True)
class SalesforceId(Kind):
    """A Salesforce record id of the object whose ids start with `prefix`; as a dictionary's key
    (`stripped=False`) it is taken exactly as written."""

    prefix: str
    what: str
    stripped: bool = True

    def read(self, value: Any) -> str:
        text = Text().read(value) if self.stripped else value
        if not isinstance(text, str) or not re.match(self._pattern, text):
            raise problem(f"is not {self.what} (15 or 18 characters starting with {self.prefix})")
        return text

    @property
    def _pattern(self) -> str:
        return rf"^{self.prefix}[A-Za-z0-9]{{12}}([A-Za-z0-9]{{3}})?$"

    def json_schema(self) -> JsonSchemaValue:
        pattern = (
            self._pattern.replace("^", r"^\s*").replace("$", r"\s*$") if self.stripped else self._pattern
        )
        return {"type": "string", "pattern": pattern}


class Choice(Kind, Generic[E]):
    """One of an enumeration's values, exactly as written. `aliases` are other connectors' names
    for a choice: the message gives the name used here. `offered` narrows what the JSON Schema
    offers where a model's rule refuses the others with a message of its own."""

    def __init__(
        self,
        choices: type[E],
        what: str,
        *,
        aliases: Mapping[str, E] | None = None,
        offered: Sequence[E] | None = None,
    ) -> None:
        self.choices = choices
        self.what = what
        self.aliases = dict(aliases or {})
        self.offered = tuple(offered or choices)

    def read(self, value: Any) -> E:
        if isinstance(value, str) and value.lower() in self.aliases:
            known_as = self.aliases[value.lower()]
            raise problem(f"unknown {self.what} {value!r}: here it is called '{known_as}'")
        try:
            return self.choices(value)
        except ValueError:
            expected = ", ".join(c.value for c in self.choices)
            raise problem(f"unknown {self.what} {kind(value)} (expected one of: {expected})") from None

    def write(self, value: Any) -> Any:
        return value.value if isinstance(value, StrEnum) else value

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "enum": [c.value for c in self.offered]}


@dataclass(frozen=True)
class ScheduleText(Kind):
    """Every 1 to 59 minutes, every 1, 2, 3, 4, 6, 8 or 12 hours, or daily, in words as in
    `"5 minutes"` (any case, singular or plural)."""

    def read(self, value: Any) -> Schedule:
        text = value.strip().lower() if isinstance(value, str) else ""
        if text == "daily":
            return Schedule(ScheduleUnit.DAILY)
        found = _SCHEDULE.match(text)
        if found is not None:
            every = int(found.group(1))
            if found.group(2).startswith("minute") and 1 <= every <= 59:
                return Schedule(ScheduleUnit.MINUTES, every)
            if found.group(2).startswith("hour") and every in _HOURLY_SCHEDULES:
                return Schedule(ScheduleUnit.HOURS, every)
        expected = "'N minutes' (1 to 59), 'N hours' (1, 2, 3, 4, 6, 8 or 12) or 'daily'"
        raise problem(f"unknown schedule {kind(value)} (expected {expected})")

    def write(self, value: Any) -> Any:
        return value.text if isinstance(value, Schedule) else value

    def json_schema(self) -> JsonSchemaValue:
        minutes = "0*([1-9]|[1-5][0-9])"
        hours = "0*(" + "|".join(str(h) for h in sorted(_HOURLY_SCHEDULES, reverse=True)) + ")"
        words = (
            f"{_any_case('daily')}|{minutes} {_any_case('minute')}{_any_case('s')}?|"
            f"{hours} {_any_case('hour')}{_any_case('s')}?"
        )
        return {
            "type": "string",
            "pattern": rf"^\s*({words})\s*$",
            "examples": ["2 minutes", "1 hour", "daily"],
        }


@dataclass(frozen=True)
class Moment(Kind):
    """An ISO date or date and time; UTC unless it says otherwise."""

    def read(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        raise problem(f"must be an ISO date or date and time (e.g. '2025-01-31'), not {kind(value)}")

    def write(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "examples": ["2025-01-31", "2025-01-31T09:00:00+01:00"]}


@dataclass(frozen=True)
class Shape:
    """A list or an object, said in words when the value is neither (`must be a list of field
    mappings, not an object`); `non_empty`: a list with at least one entry."""

    json_type: type[list[Any]] | type[dict[str, Any]]
    what: str
    non_empty: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        fits = isinstance(value, Mapping) if self.json_type is dict else isinstance(value, list | tuple)
        if self.non_empty and not (fits and value):
            raise problem(f"must be {self.what}")
        if not fits:
            raise problem(f"must be {self.what}, not {kind(value)}")
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        generated = handler(schema)
        return generated | ({"minItems": 1} if self.non_empty else {})


@dataclass(frozen=True)
class AcrossEntries:
    """A rule across a list's entries (no field mapped twice, no type listed twice): `check` is
    given the entries that read, as written, with their indexes, and answers the problems. The
    entries' own problems are reported beside them, so one edit fixes both."""

    check: Callable[[Sequence[tuple[int, Any]]], list[Problem]]
    unique_items: bool = False
    """Whether the JSON Schema can say it (`uniqueItems`): when entries repeat as a whole."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def _validate(self, value: Any, validate: Callable[[Any], Any]) -> Any:
        failure = None
        try:
            validated = validate(value)
        except ValidationError as exc:
            failure = exc
        if isinstance(value, list | tuple):
            failed = failed_keys(failure)
            problems = self.check(
                [(index, entry) for index, entry in enumerate(value) if index not in failed]
            )
            if problems:
                raise problems_error(problems, failure)
        if failure is not None:
            raise failure
        return validated

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        generated = handler(schema)
        return generated | ({"uniqueItems": True} if self.unique_items else {})


@dataclass(frozen=True)
class KeysAre:
    """An object whose keys are each of `kind` (a user id → ...); its values have their own."""

    kind: Kind

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._validate, handler(source))

    def _validate(self, value: Any, validate: Callable[[Any], Any]) -> Any:
        problems = []
        for key in value if isinstance(value, Mapping) else ():
            try:
                self.kind.read(key)
            except PydanticCustomError as refused:
                problems.append(Problem((str(key),), message_of(refused)))
        return validated_with(problems, lambda: validate(value))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(schema) | {"propertyNames": self.kind.json_schema()}


def _any_case(word: str) -> str:
    """A regular expression matching `word` in any case (JSON Schema patterns take no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)
