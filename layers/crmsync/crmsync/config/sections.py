"""The document's smaller sections, each a model that reads into the value the configuration
keeps (`to_value`): objects, inbound, owner, tags, batching, activities, automation, and the
declared prospect fields. Their defaults are the values' own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import (
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    create_model,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from crmsync.config.kinds import (
    AcrossEntries,
    ApiName,
    Choice,
    Flag,
    KeysAre,
    Kind,
    SalesforceId,
    Shape,
    Text,
    WholeNumber,
)
from crmsync.config.problems import Problem, kind, message_of, problem, problems_error
from crmsync.config.section import COMMENT, COMMENTS_SCHEMA, Section
from crmsync.config.values import ActivitySettings, InboundSettings, OwnerDirection, OwnerSync, SyncedObjects
from crmsync.domain.actions import AutomationSettings, DefaultAccount
from crmsync.domain.activities import ActivityType
from crmsync.domain.inbound import CreateUnlinked
from crmsync.domain.lifecycle import Tags
from crmsync.domain.prospect_fields import BUILT_IN_FIELDS, FieldType, ProspectFields
from crmsync.domain.records import Batching

COLLECTION_LIMIT = 200
"""Records per sObject Collections call: Salesforce takes at most 200."""
QUERY_PAGE_RANGE = (200, 2000)
"""Records per SOQL page Salesforce lets a query ask for."""
LAST_NAME_LENGTH = 80  # Lead.LastName and Contact.LastName
COMPANY_LENGTH = 255  # Lead.Company and Account.Name
_PROSPECT_FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"

_OBJECTS = SyncedObjects()
_INBOUND = InboundSettings()
_OWNER = OwnerSync()
_BATCHING = Batching()
_AUTOMATION = AutomationSettings()


class Objects(Section):
    """Which objects sync."""

    lead: Annotated[bool, Flag()] = Field(default=_OBJECTS.leads, description="Leads sync.")
    contact: Annotated[bool, Flag()] = Field(default=_OBJECTS.contacts, description="Contacts sync.")
    person_account: Annotated[bool, Flag()] = Field(
        default=_OBJECTS.person_accounts,
        description="Person Accounts sync (an org with Person Accounts enabled).",
    )
    account_fields: Annotated[bool, Flag()] = Field(
        default=_OBJECTS.account_fields,
        description="The fields mappings.Account maps flow from a Contact's Account onto its prospect.",
    )
    opportunities: Annotated[bool, Flag()] = Field(
        default=_OBJECTS.opportunities,
        description="Opportunities sync one way, onto their Contacts' prospects.",
    )

    def to_value(self) -> SyncedObjects:
        return SyncedObjects(
            self.lead, self.contact, self.person_account, self.account_fields, self.opportunities
        )


class Inbound(Section):
    """How prospect changes go to Salesforce."""

    every_minutes: Annotated[int, WholeNumber(1, 59)] = _INBOUND.every_minutes
    max_waiting_changes: Annotated[int, WholeNumber(1)] = Field(
        default=_INBOUND.max_waiting_changes,
        description="An inbound run starts early once this many prospect changes are waiting.",
    )
    create_unlinked: Annotated[CreateUnlinked, Choice(CreateUnlinked, "create_unlinked setting")] = (
        _INBOUND.create_unlinked
    )

    def to_value(self) -> InboundSettings:
        return InboundSettings(self.every_minutes, self.max_waiting_changes, self.create_unlinked)


UserMap = Annotated[
    dict[str, Annotated[str, Text()]],
    Shape(dict, "an object of Salesforce user id → marketing user id"),
    KeysAre(SalesforceId("005", "a Salesforce user id", stripped=False)),
]


class Owner(Section):
    """Salesforce's OwnerId and the prospect's assigned user."""

    direction: Annotated[OwnerDirection, Choice(OwnerDirection, "owner direction")] = Field(
        default=_OWNER.direction,
        description="salesforce: Salesforce is the owner's master; two_way: either side.",
    )
    user_map: UserMap = Field(
        default_factory=dict, description="Salesforce user id → marketing user id, where emails do not match."
    )

    def to_value(self) -> OwnerSync:
        return OwnerSync(self.direction, dict(self.user_map))


class _TagsBase(Section):
    """Tags the connector puts on prospects; each its own."""

    @model_validator(mode="after")
    def _each_tag_its_own(self) -> Self:
        used_by: dict[str, str] = {}
        problems = []
        for name in type(self).model_fields:
            tag = getattr(self, name)
            earlier = used_by.setdefault(tag, name)
            if earlier != name:
                problems.append(Problem((name,), f"{tag!r} is already the tag of", sibling=earlier))
        if problems:
            raise problems_error(problems)
        return self

    def to_value(self) -> Tags:
        return Tags(**{name: getattr(self, name) for name in type(self).model_fields})


if TYPE_CHECKING:
    TagsSection = _TagsBase
else:  # a key per tag the connector puts on prospects
    TagsSection = create_model(
        "Tags",
        __base__=_TagsBase,
        **{tag.name: (Annotated[str, Text()], tag.default) for tag in fields(Tags)},
    )


class BatchingSection(Section):
    """How records go to and come from Salesforce in batches."""

    model_config = ConfigDict(title="Batching")

    collection_size: Annotated[int, WholeNumber(1, COLLECTION_LIMIT)] = _BATCHING.collection_size
    bulk_threshold: Annotated[int, WholeNumber(1)] = _BATCHING.bulk_threshold
    read_page_size: Annotated[int, WholeNumber(*QUERY_PAGE_RANGE)] = _BATCHING.read_page_size

    def to_value(self) -> Batching:
        return Batching(self.collection_size, self.bulk_threshold, self.read_page_size)


def _each_type_once(listed: Sequence[tuple[int, Any]]) -> list[Problem]:
    seen: set[Any] = set()
    problems = []
    for index, entry in listed:
        if entry in seen:
            problems.append(Problem((index,), f"'{entry}' is listed twice"))
        seen.add(entry)
    return problems


_ACTIVITY_TYPES = ", ".join(kind.value for kind in ActivityType)


class Activities(Section):
    """Which marketing activities become Salesforce Tasks."""

    types: Annotated[
        tuple[Annotated[ActivityType, Choice(ActivityType, "activity type")], ...],
        Shape(list, f"a list of activity types (any of: {_ACTIVITY_TYPES})"),
        AcrossEntries(_each_type_once, unique_items=True),
    ] = tuple(ActivityType)

    def to_value(self) -> ActivitySettings:
        return ActivitySettings(frozenset(self.types))


class AccountChoice(Section):
    """The Account a created Contact gets: one of `id` or `name`."""

    model_config = ConfigDict(
        title="Default Account",
        json_schema_extra={"oneOf": [{"required": ["id"]}, {"required": ["name"]}]},
    )

    id: Annotated[str | None, SalesforceId("001", "an Account id")] = Field(
        default=None, description="An Account's id."
    )
    name: Annotated[str | None, Text(COMPANY_LENGTH)] = Field(
        default=None, description="An Account's name: found, or created once."
    )


@dataclass(frozen=True)
class DefaultAccountKind(Kind):
    """`{"id": ...}`, `{"name": ...}` or null."""

    def read(self, value: Any) -> DefaultAccount | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) or len([k for k in value if not str(k).startswith(COMMENT)]) != 1:
            raise problem(
                f'must be an object with one of "id" (an Account id) or "name", or null, not {kind(value)}'
            )
        chosen = AccountChoice.model_validate(value)
        return DefaultAccount(id=chosen.id, name=chosen.name)

    def write(self, value: Any) -> Any:
        if isinstance(value, DefaultAccount):
            return {"id": value.id} if value.id is not None else {"name": value.name}
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(AccountChoice.__pydantic_core_schema__), {"type": "null"}]}


class Automation(Section):
    """How automation actions create records."""

    last_name_fallback: Annotated[str, Text(LAST_NAME_LENGTH)] = _AUTOMATION.last_name_fallback
    company_fallback: Annotated[str, Text(COMPANY_LENGTH)] = _AUTOMATION.company_fallback
    default_account: Annotated[DefaultAccount | None, DefaultAccountKind()] = _AUTOMATION.default_account
    external_id_field: Annotated[str, ApiName()] = _AUTOMATION.external_id_field

    def to_value(self) -> AutomationSettings:
        return AutomationSettings(
            self.last_name_fallback, self.company_fallback, self.default_account, self.external_id_field
        )


_FIELD_TYPE = Choice(FieldType, "prospect field type")


@dataclass(frozen=True)
class ProspectFieldDeclarations:
    """The prospect's custom fields, name → type. A name is letters, digits and `_`, not a
    built-in field's, and not another's in another case (names are case-sensitive, so that
    could only be a slip)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.read,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda declared: {name: kind.value for name, kind in declared.custom.items()}
            ),
        )

    def read(self, value: Any) -> ProspectFields:
        if not isinstance(value, Mapping):
            raise problem(f"must be an object of field name → type, not {kind(value)}")
        custom: dict[str, FieldType] = {}
        problems: list[Problem] = []
        taken = {name.lower(): name for name in BUILT_IN_FIELDS}
        for name, declared in value.items():
            if str(name).startswith(COMMENT):
                continue
            name_problem = self._name_problem(str(name), taken)
            if name_problem:
                problems.append(Problem((str(name),), name_problem))
                continue
            try:
                custom[str(name)] = _FIELD_TYPE.read(declared)
            except PydanticCustomError as refused:
                problems.append(Problem((str(name),), message_of(refused)))
        if problems:
            raise problems_error(problems)
        return ProspectFields(custom)

    @staticmethod
    def _name_problem(name: str, taken: dict[str, str]) -> str:
        if not re.match(_PROSPECT_FIELD_NAME, name):
            return "is not a field name (letters, digits and _, starting with a letter)"
        if name in BUILT_IN_FIELDS:
            return f"is a built-in prospect field ({BUILT_IN_FIELDS[name]}); declare only custom fields"
        earlier = taken.setdefault(name.lower(), name)
        return f"differs from the field {earlier!r} only in case" if earlier != name else ""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "object",
            "propertyNames": {
                "anyOf": [
                    {"pattern": "^//"},
                    {"pattern": _PROSPECT_FIELD_NAME, "not": {"enum": list(BUILT_IN_FIELDS)}},
                ]
            },
            "patternProperties": COMMENTS_SCHEMA,
            "additionalProperties": _FIELD_TYPE.json_schema(),
        }
