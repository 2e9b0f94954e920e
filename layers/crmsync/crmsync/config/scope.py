"""The `outbound` section: how often Salesforce changes are read, and which records of each
person object sync (`none`, `all`, created after a date, flagged by a checkbox, or meeting
criteria)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, JsonValue, create_model, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from crmsync.config.kinds import ApiName, Choice, Kind, Moment, ScheduleText, Shape
from crmsync.config.problems import Problem, kind, problem, problems_error
from crmsync.config.section import COMMENT, Section
from crmsync.config.values import OutboundSettings, Schedule
from crmsync.config.writer import scope_document
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.scope import (
    AllRecords,
    CreatedAfter,
    Criterion,
    CriterionValue,
    Flagged,
    MatchingCriteria,
    NoRecords,
    Operator,
    OutboundScope,
)

_OUTBOUND = OutboundSettings()
_SCALAR: JsonSchemaValue = {"type": ["string", "number", "boolean"]}


def _value_schemas() -> list[JsonValue]:
    """What each operator compares with, for an editor (`_value_problem` is the rule)."""

    def when(test: Any, value: JsonSchemaValue) -> JsonSchemaValue:
        operators = [o.value for o in Operator if test(o)]
        return {
            "if": {"properties": {"operator": {"enum": operators}}, "required": ["operator"]},
            "then": {"properties": {"value": value}},
        }

    return [
        when(lambda o: o.takes_list, {"type": "array", "minItems": 1, "items": _SCALAR}),
        when(lambda o: o.matches_text, {"type": "string", "pattern": r"\S"}),
        when(lambda o: o.orders, {"type": ["number", "string"]}),
        when(
            lambda o: not (o.takes_list or o.matches_text or o.orders),
            {"type": ["string", "number", "boolean", "null"]},
        ),
    ]


class CriterionEntry(Section):
    """A condition on a Salesforce field; text compares ignoring case, as in SOQL."""

    model_config = ConfigDict(title="Condition", json_schema_extra={"allOf": _value_schemas()})

    field: Annotated[str, ApiName()] = Field(description="The Salesforce field's API name.")
    operator: Annotated[Operator, Choice(Operator, "operator")]
    value: Any = Field(
        description="What the field is compared with: a list for in and not_in, text for contains and "
        "starts_with, a number, date or text to order by, else a single value or null."
    )

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Self:
        text = _value_problem(self.operator, self.value)
        if text:
            raise problems_error([Problem(("value",), text)])
        return self

    def to_value(self) -> Criterion:
        value: CriterionValue = tuple(self.value) if isinstance(self.value, list | tuple) else self.value
        return Criterion(self.field, self.operator, value)


def _value_problem(operator: Operator, value: Any) -> str:
    def scalar(item: Any) -> bool:
        return isinstance(item, str | int | float | bool)

    if operator.takes_list:
        if isinstance(value, list | tuple) and value and all(scalar(item) for item in value):
            return ""
        return f"'{operator}' needs a non-empty list of values, not {kind(value)}"
    if operator.matches_text:
        return (
            ""
            if isinstance(value, str) and value.strip()
            else f"'{operator}' needs some text, not {kind(value)}"
        )
    if operator.orders:
        if scalar(value) and not isinstance(value, bool):
            return ""
        return f"'{operator}' needs a number, a date or some text, not {kind(value)}"
    return (
        ""
        if value is None or scalar(value)
        else f"'{operator}' needs a single value (or null), not {kind(value)}"
    )


class ScopeChoice(Section):
    """One of created_after, flagged or criteria."""

    model_config = ConfigDict(
        title="Scope",
        json_schema_extra={
            "oneOf": [{"required": [key]} for key in ("created_after", "flagged", "criteria")]
        },
    )

    created_after: Annotated[datetime | None, Moment()] = Field(
        default=None,
        description="Records created at or after this ISO date or date and time (UTC unless it says otherwise).",
    )
    flagged: Annotated[str | None, ApiName()] = Field(
        default=None, description="Records whose checkbox field is ticked."
    )
    criteria: Annotated[
        tuple[CriterionEntry, ...],
        Shape(list, "a non-empty list of {field, operator, value} conditions", True),
    ] = Field(default=(), description="Records meeting every condition.")

    def to_value(self) -> OutboundScope:
        if self.created_after is not None:
            return CreatedAfter(self.created_after)
        if self.flagged is not None:
            return Flagged(self.flagged)
        return MatchingCriteria(tuple(c.to_value() for c in self.criteria))


_SCOPES = ("none", "all", "created_after", "flagged", "criteria")


@dataclass(frozen=True)
class ScopeKind(Kind):
    """`"none"`, `"all"`, or an object with one of created_after, flagged, criteria."""

    def read(self, value: Any) -> OutboundScope:
        if value == "none":
            return NoRecords()
        if value == "all":
            return AllRecords()
        if not isinstance(value, Mapping) or len([k for k in value if not str(k).startswith(COMMENT)]) != 1:
            raise problem(
                f"unknown scope {kind(value)} (expected 'none', 'all', or an object with one of: "
                f"{', '.join(_SCOPES[2:])})"
            )
        return ScopeChoice.model_validate(value).to_value()

    def write(self, value: Any) -> Any:
        return scope_document(value)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "enum": list(_SCOPES[:2])},
                handler(ScopeChoice.__pydantic_core_schema__),
            ]
        }


class _ScopeBase(Section):
    """Per person object (Lead, Contact, PersonAccount), which of its records sync."""

    def to_value(self) -> dict[CrmObject, OutboundScope]:
        return {crm: getattr(self, crm.value) for crm in PEOPLE}


if TYPE_CHECKING:
    ScopeSection = _ScopeBase
else:
    ScopeSection = create_model(
        "OutboundScope",
        __base__=_ScopeBase,
        **{crm.value: (Annotated[OutboundScope, ScopeKind()], _OUTBOUND.scope[crm]) for crm in PEOPLE},
    )


class Outbound(Section):
    """How Salesforce changes reach the marketing platform."""

    schedule: Annotated[Schedule, ScheduleText()] = _OUTBOUND.schedule
    scope: ScopeSection = Field(default_factory=ScopeSection)

    def to_value(self) -> OutboundSettings:
        return OutboundSettings(self.schedule, self.scope.to_value())
