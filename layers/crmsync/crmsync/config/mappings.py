"""The `mappings` section: per CRM object, the list of field mappings (a prospect field, a
Salesforce field and a behaviour), with the rules that tie a mapping's parts together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)

from crmsync.config.kinds import AcrossEntries, ApiName, Choice, Flag, Shape, Text
from crmsync.config.problems import Problem, problem, problems_error
from crmsync.config.section import DocumentContext, Section
from crmsync.config.values import OPPORTUNITY_MAPPING, default_mappings
from crmsync.domain.fields import Behaviour, FieldMapping
from crmsync.domain.objects import CrmObject

MARKETING_OWNED_FIELDS = ("score", "grade")
"""The marketing platform computes them: Salesforce may only receive them."""

BEHAVIOUR_ALIASES = {
    "pull": Behaviour.SALESFORCE,
    "push": Behaviour.MARKETING,
    "bidirectional": Behaviour.MOST_RECENT,
    "two_way": Behaviour.MOST_RECENT,
    "two-way": Behaviour.MOST_RECENT,
    "dont_sync": Behaviour.NONE,
}
"""Other connectors' names for the behaviours (docs/guide/fields.md): a user coming from them
is told the name used here instead of only a list."""

_ONE_WAY_ONTO_PROSPECTS = (Behaviour.SALESFORCE, Behaviour.NONE)


class FieldMappingEntry(Section):
    """A prospect field, a Salesforce field, and which side's value wins."""

    model_config = ConfigDict(
        title="Field mapping",
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"sync_blanks": {"const": True}}, "required": ["sync_blanks"]},
                    "then": {"properties": {"behaviour": {"enum": ["salesforce", "marketing"]}}},
                },
                {
                    "if": {
                        "properties": {"marketing_field": {"enum": list(MARKETING_OWNED_FIELDS)}},
                        "required": ["marketing_field"],
                    },
                    "then": {"properties": {"behaviour": {"enum": ["marketing", "none"]}}},
                },
            ]
        },
    )

    marketing_field: Annotated[str, Text()] = Field(
        description="A prospect field: a built-in one, or one declared under prospect_fields."
    )
    salesforce_field: Annotated[str, ApiName()] = Field(description="The Salesforce field's API name.")
    behaviour: Annotated[Behaviour, Choice(Behaviour, "behaviour", aliases=BEHAVIOUR_ALIASES)] = Field(
        description="Which side's value is written to the other."
    )
    sync_blanks: Annotated[bool, Flag()] = Field(
        default=False,
        description="A blank on the winning side erases the other side's value (one-way behaviours only).",
    )

    @field_validator("marketing_field")
    @classmethod
    def _a_field_prospects_have(cls, name: str, info: ValidationInfo) -> str:
        declared = info.context.prospect_fields if isinstance(info.context, DocumentContext) else None
        if declared is not None and declared.type_of(name) is None:
            closest = declared.closest(name)
            hint = f" (did you mean {closest!r}?)" if closest else ""
            raise problem(
                f"no prospect has a field {name!r}{hint}: use a built-in field or declare it under "
                "prospect_fields with its type"
            )
        return name

    @model_validator(mode="after")
    def _behaviour_fits(self) -> Self:
        problems = []
        if self.sync_blanks and not self.behaviour.is_one_way:
            problems.append(
                Problem(
                    ("sync_blanks",),
                    f"only the one-way behaviours (salesforce, marketing) copy blanks, not '{self.behaviour}'",
                )
            )
        problems += [Problem(("behaviour",), text) for text in self.behaviour_problems()]
        if problems:
            raise problems_error(problems)
        return self

    def behaviour_problems(self) -> list[str]:
        if self.marketing_field.lower() in MARKETING_OWNED_FIELDS and self.behaviour not in (
            Behaviour.MARKETING,
            Behaviour.NONE,
        ):
            return [
                f"{self.marketing_field} is owned by the marketing platform: use 'marketing', not '{self.behaviour}'"
            ]
        return []

    def to_value(self) -> FieldMapping:
        return FieldMapping(self.marketing_field, self.salesforce_field, self.behaviour, self.sync_blanks)


class AccountFieldMappingEntry(FieldMappingEntry):
    """A business Account's field, copied onto the prospects of its Contacts."""

    model_config = ConfigDict(title="Account field mapping")

    behaviour: Annotated[
        Behaviour,
        Choice(Behaviour, "behaviour", aliases=BEHAVIOUR_ALIASES, offered=_ONE_WAY_ONTO_PROSPECTS),
    ] = Field(description="Account fields only flow onto prospects: salesforce, or none.")

    def behaviour_problems(self) -> list[str]:
        problems = []
        if self.behaviour not in _ONE_WAY_ONTO_PROSPECTS:
            problems.append(
                f"account fields sync one way onto prospects: use 'salesforce' or 'none', not '{self.behaviour}'"
            )
        return problems + super().behaviour_problems()


def _each_field_mapped_once(entries: Sequence[tuple[int, Any]]) -> list[Problem]:
    """A Salesforce field, or a prospect field, mapped twice for one object (names compare
    without case, as Salesforce's do)."""
    problems = []
    for key, side in (("salesforce_field", "Salesforce"), ("marketing_field", "marketing")):
        seen: dict[str, int] = {}
        for index, entry in entries:
            name = str(entry[key]).strip()
            earlier = seen.setdefault(name.lower(), index)
            if earlier != index:
                problems.append(
                    Problem(
                        (index,),
                        f"duplicate mapping: {side} field {name!r} is already mapped at",
                        sibling=earlier,
                    )
                )
    return problems


def _mapped_when_synced(value: Any, validate: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Account fields switched on (`objects.account_fields`) with none mapped would do nothing."""
    context = info.context if isinstance(info.context, DocumentContext) else DocumentContext()
    if context.account_fields and isinstance(value, list | tuple) and not value:
        raise problem("objects.account_fields is on but no Account field is mapped")
    return validate(value)


def _mapping_list(crm: CrmObject) -> tuple[Any, Any]:
    """The field of `crm`'s mappings: a list of entries, by default the mapping of
    `values.default_mappings`."""
    entry = AccountFieldMappingEntry if crm is CrmObject.ACCOUNT else FieldMappingEntry
    entries: Any = Annotated[
        tuple[entry, ...],  # type: ignore[valid-type]
        Shape(list, "a list of field mappings"),
        AcrossEntries(_each_field_mapped_once),
    ]
    default = tuple(
        entry.model_construct(
            marketing_field=m.marketing_field,
            salesforce_field=m.salesforce_field,
            behaviour=m.behaviour,
            sync_blanks=m.sync_blanks,
        )
        for m in default_mappings()[crm]
    )
    if crm is CrmObject.ACCOUNT:
        # Validated when absent too, so switching account fields on without mapping one is refused.
        return Annotated[entries, WrapValidator(_mapped_when_synced)], Field(
            default=default, validate_default=True
        )
    return entries, Field(default=default)


class _MappingsBase(Section):
    """Per object (Lead, Contact, PersonAccount, Account), its field mappings: an object given
    here has exactly the mappings listed (the others keep their defaults)."""

    model_config = ConfigDict(title="Mappings")

    refused_keys: ClassVar[Mapping[str, str]] = {
        "Opportunity": (
            f"the opportunity mapping is fixed ({', '.join(m.salesforce_field for m in OPPORTUNITY_MAPPING)}) "
            "and cannot be changed"
        )
    }

    def to_value(self) -> dict[CrmObject, tuple[FieldMapping, ...]]:
        return {crm: tuple(entry.to_value() for entry in getattr(self, crm.value)) for crm in CrmObject}


if TYPE_CHECKING:
    Mappings = _MappingsBase
else:  # a key per CRM object
    Mappings = create_model(
        "Mappings", __base__=_MappingsBase, **{crm.value: _mapping_list(crm) for crm in CrmObject}
    )
