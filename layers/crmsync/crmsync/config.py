"""The connector configuration: one versioned JSON document (docs/guide/: matching, field
mappings and the conflict rule, owner, scope, schedules and batching, automation, tags).

`Configuration.from_document` turns the document into frozen values and refuses anything it
does not understand, naming the entry: `mappings.Lead[3].behaviour: unknown behaviour
'sometimes' (expected one of: ...)`. Every problem of a document is reported at once, so one
edit fixes them all. A missing section or key takes its default; a key nobody reads (a typo)
is refused. Keys starting with `//` are comments and are ignored.

The prospect fields a mapping names must be declared: built in, or under `prospect_fields`
with a type (`domain.prospect_fields`); a mapping of a field no prospect has would do nothing.

`Configuration.validate_against` then checks the mapping against the org's describe results:
a field Salesforce does not have, that it will not let the connector write, or whose type the
prospect field's cannot fit, is refused here and not at the first failed write
(docs/guide/fields.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from crmsync.domain.actions import AutomationSettings, DefaultAccount
from crmsync.domain.activities import ActivityType
from crmsync.domain.errors import ConfigurationError
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.inbound import CreateUnlinked
from crmsync.domain.lifecycle import Tags
from crmsync.domain.matching import MatchingMode
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.prospect_fields import (
    BUILT_IN_FIELDS,
    SALESFORCE_TYPES,
    FieldType,
    ProspectFields,
    fits,
)
from crmsync.domain.records import Batching, FieldDescription, ObjectDescription
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

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PROSPECT_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SALESFORCE_USER_ID = re.compile(r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
_SALESFORCE_ACCOUNT_ID = re.compile(r"^001[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
_LAST_NAME_LENGTH = 80  # Lead.LastName and Contact.LastName
_COMPANY_LENGTH = 255  # Lead.Company and Account.Name
_SCHEDULE = re.compile(r"^(\d+) (minute|minutes|hour|hours)$")
_HOURLY_SCHEDULES = (1, 2, 3, 4, 6, 8, 12)
_MARKETING_OWNED_FIELDS = ("score", "grade")
_COLLECTION_LIMIT = 200
_CREATED_BY_ACTIONS = ("Lead", "Contact")
_QUERY_PAGE_RANGE = (200, 2000)
MAX_VERSION = 9_999_999_999
"""The highest version: every version loaded is kept under a sort key of 10 digits
(`aws/config_store.py`), which orders versions only while they fit in it."""

# Other connectors' names for the behaviours (docs/guide/fields.md): a user coming from
# them gets told the name used here instead of only a list.
_BEHAVIOUR_ALIASES = {
    "pull": Behaviour.SALESFORCE,
    "push": Behaviour.MARKETING,
    "bidirectional": Behaviour.MOST_RECENT,
    "two_way": Behaviour.MOST_RECENT,
    "two-way": Behaviour.MOST_RECENT,
    "dont_sync": Behaviour.NONE,
}


OPPORTUNITY_MAPPING: tuple[FieldMapping, ...] = tuple(
    FieldMapping(marketing, salesforce, Behaviour.SALESFORCE)
    for marketing, salesforce in (
        ("opportunity_name", "Name"),
        ("opportunity_amount", "Amount"),
        ("opportunity_stage", "StageName"),
        ("opportunity_close_date", "CloseDate"),
    )
)
"""Opportunities sync one way, Salesforce → marketing, on this fixed mapping
(docs/guide/lifecycle.md)."""


class OwnerDirection(StrEnum):
    SALESFORCE = "salesforce"
    TWO_WAY = "two_way"


class ScheduleUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAILY = "daily"


@dataclass(frozen=True)
class Schedule:
    """Every 1 to 59 minutes, every 1, 2, 3, 4, 6, 8 or 12 hours, or daily
    (docs/guide/schedules.md)."""

    unit: ScheduleUnit
    every: int = 1

    @property
    def text(self) -> str:
        """As written in the document: "2 minutes", "1 hour", "daily"."""
        if self.unit is ScheduleUnit.DAILY:
            return "daily"
        unit = self.unit.value if self.every > 1 else self.unit.value.removesuffix("s")
        return f"{self.every} {unit}"

    @property
    def interval(self) -> timedelta:
        """How long after the start of the last run the next one is due ("daily": 24 hours
        after it, not at a time of day)."""
        if self.unit is ScheduleUnit.DAILY:
            return timedelta(days=1)
        if self.unit is ScheduleUnit.HOURS:
            return timedelta(hours=self.every)
        return timedelta(minutes=self.every)


@dataclass(frozen=True)
class SyncedObjects:
    leads: bool = True
    contacts: bool = True
    person_accounts: bool = False
    account_fields: bool = False
    opportunities: bool = False

    def syncs(self, crm: CrmObject) -> bool:
        return {
            CrmObject.LEAD: self.leads,
            CrmObject.CONTACT: self.contacts,
            CrmObject.PERSON_ACCOUNT: self.person_accounts,
            CrmObject.ACCOUNT: self.account_fields,
        }[crm]


@dataclass(frozen=True)
class OwnerSync:
    """Salesforce `OwnerId` ↔ the prospect's assigned user. Users are matched by email unless
    `user_map` (Salesforce user id → marketing user id) says otherwise."""

    direction: OwnerDirection = OwnerDirection.SALESFORCE
    user_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundSettings:
    schedule: Schedule = Schedule(ScheduleUnit.MINUTES, 2)
    scope: Mapping[CrmObject, OutboundScope] = field(
        default_factory=lambda: dict.fromkeys(PEOPLE, AllRecords())
    )


@dataclass(frozen=True)
class InboundSettings:
    every_minutes: int = 2
    max_waiting_changes: int = 100
    """An inbound run starts early once this many prospect changes are waiting."""
    create_unlinked: CreateUnlinked = CreateUnlinked.NEVER

    @property
    def interval(self) -> timedelta:
        """How long after the start of the last scheduled inbound run the next one is due."""
        return timedelta(minutes=self.every_minutes)


@dataclass(frozen=True)
class ActivitySettings:
    """Which marketing activities become Salesforce Tasks (docs/guide/activities.md): every type
    by default."""

    types: frozenset[ActivityType] = frozenset(ActivityType)


def _default_mappings() -> dict[CrmObject, tuple[FieldMapping, ...]]:
    def two_way(*pairs: tuple[str, str]) -> tuple[FieldMapping, ...]:
        return tuple(FieldMapping(m, s, Behaviour.MOST_RECENT) for m, s in pairs)

    person = (("email", "Email"), ("first_name", "FirstName"), ("last_name", "LastName"))
    return {
        CrmObject.LEAD: two_way(*person, ("company", "Company"), ("job_title", "Title"), ("phone", "Phone")),
        CrmObject.CONTACT: two_way(*person, ("job_title", "Title"), ("phone", "Phone")),
        CrmObject.PERSON_ACCOUNT: two_way(
            ("email", "PersonEmail"),
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("phone", "Phone"),
        ),
        CrmObject.ACCOUNT: (),
    }


@dataclass(frozen=True)
class Configuration:
    version: int
    matching: MatchingMode = MatchingMode.EMAIL
    conflict_winner: ConflictWinner = ConflictWinner.SALESFORCE
    objects: SyncedObjects = field(default_factory=SyncedObjects)
    mappings: Mapping[CrmObject, tuple[FieldMapping, ...]] = field(default_factory=_default_mappings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    owner: OwnerSync = field(default_factory=OwnerSync)
    tags: Tags = field(default_factory=Tags)
    batching: Batching = field(default_factory=Batching)
    activities: ActivitySettings = field(default_factory=ActivitySettings)
    automation: AutomationSettings = field(default_factory=AutomationSettings)
    prospect_fields: ProspectFields = field(default_factory=ProspectFields)

    @classmethod
    def default(cls) -> Configuration:
        return cls(version=1)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Configuration:
        """The configuration a JSON document describes; raises `InvalidConfiguration` (a
        `ConfigurationError`) listing every bad entry by its path."""
        return _DocumentReader().configuration(document)

    def to_document(self) -> dict[str, Any]:
        """The JSON document `from_document` reads back into an equal configuration."""
        return {
            "version": self.version,
            "matching": self.matching.value,
            "conflict_winner": self.conflict_winner.value,
            "objects": {
                "lead": self.objects.leads,
                "contact": self.objects.contacts,
                "person_account": self.objects.person_accounts,
                "account_fields": self.objects.account_fields,
                "opportunities": self.objects.opportunities,
            },
            "mappings": {
                mapped.value: [
                    {
                        "marketing_field": m.marketing_field,
                        "salesforce_field": m.salesforce_field,
                        "behaviour": m.behaviour.value,
                        "sync_blanks": m.sync_blanks,
                    }
                    for m in entries
                ]
                for mapped, entries in self.mappings.items()
            },
            "outbound": {
                "schedule": self.outbound.schedule.text,
                "scope": {crm.value: _scope_document(s) for crm, s in self.outbound.scope.items()},
            },
            "inbound": {
                "every_minutes": self.inbound.every_minutes,
                "max_waiting_changes": self.inbound.max_waiting_changes,
                "create_unlinked": self.inbound.create_unlinked.value,
            },
            "owner": {"direction": self.owner.direction.value, "user_map": dict(self.owner.user_map)},
            "tags": {f.name: getattr(self.tags, f.name) for f in fields(Tags)},
            "batching": {
                "collection_size": self.batching.collection_size,
                "bulk_threshold": self.batching.bulk_threshold,
                "read_page_size": self.batching.read_page_size,
            },
            "activities": {"types": [kind.value for kind in ActivityType if kind in self.activities.types]},
            "automation": _automation_document(self.automation),
            "prospect_fields": {name: kind.value for name, kind in self.prospect_fields.custom.items()},
        }

    def sobjects_to_describe(self) -> frozenset[str]:
        """The Salesforce objects `validate_against` checks: those whose fields this
        configuration maps or filters its scope on, Opportunity when it syncs them, and Lead and
        Contact always (automation actions create them, stamping the external id field); other
        objects it does not sync are left out (their describe would cost API calls for nothing)."""
        names = {
            mapped.sobject
            for mapped, entries in self.mappings.items()
            if entries and self.objects.syncs(mapped)
        }
        names |= {
            crm.sobject
            for crm, scope in self.outbound.scope.items()
            if isinstance(scope, Flagged | MatchingCriteria) and self.objects.syncs(crm)
        }
        if self.objects.opportunities:
            names.add("Opportunity")
        names |= set(_CREATED_BY_ACTIONS)
        return frozenset(names)

    def validate_against(self, describes: Mapping[str, ObjectDescription]) -> None:
        """Refuse mapped or scope fields the org's describe (sObject name → description) says
        do not exist, or that a behaviour writing to Salesforce could not write."""
        problems: list[str] = []
        for mapped, entries in self.mappings.items():
            if not self.objects.syncs(mapped) or not entries:
                continue
            described = _described_fields(describes, mapped.sobject, f"mappings.{mapped.value}", problems)
            if described is None:
                continue
            for index, mapping in enumerate(entries):
                path = f"mappings.{mapped.value}[{index}]"
                problem = _field_problem(mapped.sobject, mapping, described)
                if problem:
                    problems.append(f"{path}.salesforce_field: {problem}")
                    continue
                problem = _type_problem(mapped.sobject, mapping, described, self.prospect_fields)
                if problem:
                    problems.append(f"{path}: {problem}")
        for crm, scope in self.outbound.scope.items():
            if self.objects.syncs(crm):
                _check_scope_fields(describes, crm, scope, problems)
        if self.objects.opportunities:
            described = _described_fields(describes, "Opportunity", "objects.opportunities", problems)
            missing = [
                m.salesforce_field
                for m in OPPORTUNITY_MAPPING
                if m.salesforce_field.lower() not in (described or {})
            ]
            if described is not None and missing:
                problems.append(f"objects.opportunities: Opportunity has no field {', '.join(missing)}")
        for sobject in _CREATED_BY_ACTIONS:
            if sobject in describes:
                problem = _external_id_problem(
                    sobject, self.automation.external_id_field, _lower_case_fields(describes[sobject])
                )
                if problem:
                    problems.append(f"automation.external_id_field: {problem}")
        if problems:
            raise InvalidConfiguration(problems)


class InvalidConfiguration(ConfigurationError):
    """Every problem found in a configuration, each naming its entry."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            listed = "\n".join(f"- {problem}" for problem in self.problems)
            message = f"{len(self.problems)} problems in the configuration:\n{listed}"
        super().__init__(message)


class StaleConfigurationVersion(ConfigurationError):
    """A configuration whose version is not above the one in force: versions only go up, so
    the status always says which document the connector runs, and an older copy pushed by
    mistake cannot replace a newer one."""

    def __init__(self, offered: int, current: int) -> None:
        self.offered = offered
        self.current = current
        super().__init__(
            f"version: {offered} is not newer than the configuration in force (version {current}); "
            f"raise it above {current}"
        )


class ConfigurationTooLarge(ConfigurationError):
    """A configuration the store cannot hold: each version is kept whole in one DynamoDB item,
    and an item holds at most 400 KB."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"configuration: is {size:,} bytes as stored (compact JSON, UTF-8); at most {limit:,} "
            "bytes are accepted (DynamoDB's 400 KB item limit, less the version and timestamps "
            "kept beside it): shorten it, for example its comments"
        )


def _scope_document(scope: OutboundScope) -> str | dict[str, Any]:
    match scope:
        case NoRecords():
            return "none"
        case AllRecords():
            return "all"
        case CreatedAfter(since=since):
            return {"created_after": since.isoformat()}
        case Flagged(field=flag):
            return {"flagged": flag}
        case MatchingCriteria(criteria=criteria):
            return {
                "criteria": [
                    {
                        "field": c.field,
                        "operator": c.operator.value,
                        "value": list(c.value) if isinstance(c.value, tuple) else c.value,
                    }
                    for c in criteria
                ]
            }


def _automation_document(automation: AutomationSettings) -> dict[str, Any]:
    default = automation.default_account
    account = None
    if default is not None:
        account = {"id": default.id} if default.id is not None else {"name": default.name}
    return {
        "last_name_fallback": automation.last_name_fallback,
        "company_fallback": automation.company_fallback,
        "default_account": account,
        "external_id_field": automation.external_id_field,
    }


def _described_fields(
    describes: Mapping[str, ObjectDescription], sobject: str, path: str, problems: list[str]
) -> dict[str, FieldDescription] | None:
    """The describe of `sobject` by lower-case field name (API names ignore case)."""
    description = describes.get(sobject)
    if description is None:
        problems.append(f"{path}: no describe of {sobject} to check the fields against")
        return None
    return _lower_case_fields(description)


def _lower_case_fields(description: ObjectDescription) -> dict[str, FieldDescription]:
    return {name.lower(): described for name, described in description.fields.items()}


def _external_id_problem(sobject: str, name: str, described: Mapping[str, FieldDescription]) -> str:
    """What keeps `name` from being the field automation actions stamp with the prospect id on
    create (and upsert on, so a retried action finds the record it created)."""
    found = described.get(name.lower())
    if found is None:
        return (
            f"{sobject} has no field {name!r}; automation actions stamp it with the prospect id on create, "
            "so a retried action finds its record: create it (Text, External ID, Unique) or name another"
        )
    if not found.external_id:
        return f"{sobject}.{found.name} is not an External ID field; an upsert needs one"
    if not (found.createable and found.updateable):
        return f"{sobject}.{found.name} is not createable and updateable for the connector"
    return ""


def _field_problem(sobject: str, mapping: FieldMapping, described: Mapping[str, FieldDescription]) -> str:
    found = described.get(mapping.salesforce_field.lower())
    if found is None:
        return f"{sobject} has no field {mapping.salesforce_field!r}"
    if not mapping.behaviour.writes_salesforce:
        return ""
    if found.calculated:
        return (
            f"{sobject}.{found.name} is a formula field; behaviour '{mapping.behaviour}' writes to it, "
            "use 'salesforce' or 'none'"
        )
    refused = [
        what
        for what, allowed in (("updateable", found.updateable), ("createable", found.createable))
        if not allowed
    ]
    if refused:
        return (
            f"{sobject}.{found.name} is not {' or '.join(refused)} for the connector; behaviour "
            f"'{mapping.behaviour}' writes to it, use 'salesforce' or 'none'"
        )
    return ""


def _type_problem(
    sobject: str, mapping: FieldMapping, described: Mapping[str, FieldDescription], declared: ProspectFields
) -> str:
    """What keeps the prospect field and the Salesforce field of a mapping that moves values
    from fitting each other's values (`domain.prospect_fields.SALESFORCE_TYPES`)."""
    found = described.get(mapping.salesforce_field.lower())
    kind = declared.type_of(mapping.marketing_field)
    if mapping.behaviour is Behaviour.NONE or found is None or kind is None or fits(kind, found.type):
        return ""
    fitting = ", ".join(sorted(SALESFORCE_TYPES[kind]))
    return (
        f"prospect field {mapping.marketing_field!r} is {kind} but {sobject}.{found.name} is "
        f"{found.type}: their values do not fit each other (a {kind} prospect field maps onto "
        f"Salesforce fields of type {fitting})"
    )


def _check_scope_fields(
    describes: Mapping[str, ObjectDescription], crm: CrmObject, scope: OutboundScope, problems: list[str]
) -> None:
    if not isinstance(scope, Flagged | MatchingCriteria):
        return
    path = f"outbound.scope.{crm.value}"
    sobject = crm.sobject
    described = _described_fields(describes, sobject, path, problems)
    if described is None:
        return
    if isinstance(scope, Flagged):
        found = described.get(scope.field.lower())
        if found is None:
            problems.append(f"{path}.flagged: {sobject} has no field {scope.field!r}")
        elif found.type != "boolean":
            problems.append(f"{path}.flagged: {sobject}.{found.name} is a {found.type}, not a checkbox")
        return
    for index, criterion in enumerate(scope.criteria):
        if criterion.field.lower() not in described:
            problems.append(f"{path}.criteria[{index}].field: {sobject} has no field {criterion.field!r}")


_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _DocumentReader:
    """Reads one document, collecting every problem with its path instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- generic readers: each returns None (after noting a problem) when the value is bad --

    def section(self, value: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem(path or "configuration", f"must be an object, not {_kind(value)}")
            return None
        unknown = "unknown key" if path else "unknown top-level key"
        for key in value:
            if not isinstance(key, str) or (key not in allowed and not key.startswith("//")):
                self.problem(_join(path, str(key)), f"{unknown} (expected one of: {', '.join(allowed)})")
        return value

    def choice(self, value: Any, path: str, choices: type[_E], what: str) -> _E | None:
        try:
            return choices(value)
        except ValueError:
            expected = ", ".join(c.value for c in choices)
            self.problem(path, f"unknown {what} {_kind(value)} (expected one of: {expected})")
            return None

    def integer(self, value: Any, path: str, low: int, high: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be a whole number, not {_kind(value)}")
            return None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            self.problem(path, f"must be {bounds}, not {value}")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, not {_kind(value)}")
            return None
        return value

    def text(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string, not {_kind(value)}")
            return None
        return value.strip()

    def api_name(self, value: Any, path: str) -> str | None:
        name = self.text(value, path)
        if name is not None and not _API_NAME.match(name):
            self.problem(path, f"{name!r} is not a Salesforce API name")
            return None
        return name

    def required(
        self, section: Mapping[str, Any], key: str, path: str, read: Callable[[Any, str], _T | None]
    ) -> _T | None:
        if key not in section:
            self.problem(_join(path, key), "is required")
            return None
        return read(section[key], _join(path, key))

    # -- the document --

    def configuration(self, document: Mapping[str, Any]) -> Configuration:
        top_level = [f.name for f in fields(Configuration)]
        root = self.section(document, "", top_level)
        default = Configuration.default()
        if root is None:
            raise InvalidConfiguration(self.problems)
        version = None
        if "version" not in root:
            self.problem("version", "is required (a whole number, raised on every change)")
        else:
            version = self.integer(root["version"], "version", 1, MAX_VERSION)
        matching = self.choice(
            root.get("matching", default.matching.value), "matching", MatchingMode, "matching mode"
        )
        conflict_winner = self.choice(
            root.get("conflict_winner", default.conflict_winner.value),
            "conflict_winner",
            ConflictWinner,
            "conflict winner",
        )
        objects = self.objects(root.get("objects", {}))
        prospect_fields = self.prospect_fields(root.get("prospect_fields", {}))
        mappings = self.mappings(root.get("mappings", {}), default.mappings, objects, prospect_fields)
        outbound = self.outbound(root.get("outbound", {}))
        inbound = self.inbound(root.get("inbound", {}))
        owner = self.owner(root.get("owner", {}))
        tags = self.tags(root.get("tags", {}))
        batching = self.batching(root.get("batching", {}))
        activities = self.activities(root.get("activities", {}))
        automation = self.automation(root.get("automation", {}))
        if self.problems:
            raise InvalidConfiguration(self.problems)
        assert version is not None and matching is not None and conflict_winner is not None
        return Configuration(
            version=version,
            matching=matching,
            conflict_winner=conflict_winner,
            objects=objects,
            mappings=mappings,
            outbound=outbound,
            inbound=inbound,
            owner=owner,
            tags=tags,
            batching=batching,
            activities=activities,
            automation=automation,
            prospect_fields=prospect_fields,
        )

    def prospect_fields(self, value: Any) -> ProspectFields:
        path = "prospect_fields"
        if not isinstance(value, Mapping):
            self.problem(path, f"must be an object of field name → type, not {_kind(value)}")
            return ProspectFields()
        custom: dict[str, FieldType] = {}
        # Field names are case-sensitive (a prospect's `Email` is not its `email`), so two that
        # differ only in case could only be a slip.
        taken = {name.lower(): name for name in BUILT_IN_FIELDS}
        for name, kind in value.items():
            if str(name).startswith("//"):
                continue
            entry_path = _join(path, str(name))
            if not _PROSPECT_FIELD_NAME.match(str(name)):
                self.problem(
                    entry_path, "is not a field name (letters, digits and _, starting with a letter)"
                )
                continue
            if name in BUILT_IN_FIELDS:
                self.problem(
                    entry_path,
                    f"is a built-in prospect field ({BUILT_IN_FIELDS[name]}); declare only custom fields",
                )
                continue
            earlier = taken.setdefault(name.lower(), name)
            if earlier != name:
                self.problem(entry_path, f"differs from the field {earlier!r} only in case")
                continue
            chosen = self.choice(kind, entry_path, FieldType, "prospect field type")
            if chosen is not None:
                custom[name] = chosen
        return ProspectFields(custom)

    def objects(self, value: Any) -> SyncedObjects:
        keys = {
            "lead": "leads",
            "contact": "contacts",
            "person_account": "person_accounts",
            "account_fields": "account_fields",
            "opportunities": "opportunities",
        }
        section = self.section(value, "objects", list(keys))
        if section is None:
            return SyncedObjects()
        chosen = {
            attribute: self.boolean(section[key], f"objects.{key}")
            for key, attribute in keys.items()
            if key in section
        }
        return SyncedObjects(**{name: flag for name, flag in chosen.items() if flag is not None})

    def mappings(
        self,
        value: Any,
        defaults: Mapping[CrmObject, tuple[FieldMapping, ...]],
        objects: SyncedObjects,
        declared: ProspectFields,
    ) -> dict[CrmObject, tuple[FieldMapping, ...]]:
        result = dict(defaults)
        if isinstance(value, Mapping) and "Opportunity" in value:
            fixed = ", ".join(m.salesforce_field for m in OPPORTUNITY_MAPPING)
            self.problem(
                "mappings.Opportunity", f"the opportunity mapping is fixed ({fixed}) and cannot be changed"
            )
            value = {k: v for k, v in value.items() if k != "Opportunity"}
        section = self.section(value, "mappings", [m.value for m in CrmObject])
        for key, entries in (section or {}).items():
            if key in {m.value for m in CrmObject}:
                result[CrmObject(key)] = self.object_mapping(CrmObject(key), entries, declared)
        if objects.account_fields and not result[CrmObject.ACCOUNT]:
            self.problem("mappings.Account", "objects.account_fields is on but no Account field is mapped")
        return result

    def object_mapping(
        self, mapped: CrmObject, entries: Any, declared: ProspectFields
    ) -> tuple[FieldMapping, ...]:
        path = f"mappings.{mapped.value}"
        if not isinstance(entries, list):
            self.problem(path, f"must be a list of field mappings, not {_kind(entries)}")
            return ()
        result: list[FieldMapping] = []
        seen_salesforce: dict[str, int] = {}
        seen_marketing: dict[str, int] = {}
        for index, entry in enumerate(entries):
            entry_path = _join(path, index)
            mapping = self.field_mapping(mapped, entry, entry_path, declared)
            if mapping is None:
                continue
            for field_name, seen, side in (
                (mapping.salesforce_field, seen_salesforce, "Salesforce"),
                (mapping.marketing_field, seen_marketing, "marketing"),
            ):
                earlier = seen.setdefault(field_name.lower(), index)
                if earlier != index:
                    self.problem(
                        entry_path,
                        f"duplicate mapping: {side} field {field_name!r} is already mapped at {path}[{earlier}]",
                    )
            result.append(mapping)
        return tuple(result)

    def field_mapping(
        self, mapped: CrmObject, entry: Any, path: str, declared: ProspectFields
    ) -> FieldMapping | None:
        keys = ("marketing_field", "salesforce_field", "behaviour", "sync_blanks")
        section = self.section(entry, path, keys)
        if section is None:
            return None
        marketing_field = self.required(section, "marketing_field", path, self.text)
        salesforce_field = self.required(section, "salesforce_field", path, self.api_name)
        behaviour = self.required(section, "behaviour", path, self.behaviour)
        sync_blanks = self.boolean(section.get("sync_blanks", False), _join(path, "sync_blanks"))
        if marketing_field is not None and declared.type_of(marketing_field) is None:
            closest = declared.closest(marketing_field)
            hint = f" (did you mean {closest!r}?)" if closest else ""
            self.problem(
                _join(path, "marketing_field"),
                f"no prospect has a field {marketing_field!r}{hint}: use a built-in field or declare it "
                "under prospect_fields with its type",
            )
        if marketing_field is None or salesforce_field is None or behaviour is None or sync_blanks is None:
            return None
        if sync_blanks and not behaviour.is_one_way:
            self.problem(
                _join(path, "sync_blanks"),
                f"only the one-way behaviours (salesforce, marketing) copy blanks, not '{behaviour}'",
            )
        if mapped is CrmObject.ACCOUNT and behaviour not in (Behaviour.SALESFORCE, Behaviour.NONE):
            self.problem(
                _join(path, "behaviour"),
                f"account fields sync one way onto prospects: use 'salesforce' or 'none', not '{behaviour}'",
            )
        if marketing_field.lower() in _MARKETING_OWNED_FIELDS and behaviour not in (
            Behaviour.MARKETING,
            Behaviour.NONE,
        ):
            self.problem(
                _join(path, "behaviour"),
                f"{marketing_field} is owned by the marketing platform: use 'marketing', not '{behaviour}'",
            )
        return FieldMapping(marketing_field, salesforce_field, behaviour, sync_blanks)

    def behaviour(self, value: Any, path: str) -> Behaviour | None:
        if isinstance(value, str) and value.lower() in _BEHAVIOUR_ALIASES:
            known_as = _BEHAVIOUR_ALIASES[value.lower()]
            self.problem(path, f"unknown behaviour {value!r}: here it is called '{known_as}'")
            return None
        return self.choice(value, path, Behaviour, "behaviour")

    def outbound(self, value: Any) -> OutboundSettings:
        default = OutboundSettings()
        section = self.section(value, "outbound", ("schedule", "scope"))
        if section is None:
            return default
        schedule = self.schedule(section["schedule"], "outbound.schedule") if "schedule" in section else None
        scope = dict(default.scope)
        scope_section = self.section(section.get("scope", {}), "outbound.scope", [c.value for c in PEOPLE])
        for key, raw in (scope_section or {}).items():
            if key in {c.value for c in PEOPLE}:
                parsed = self.scope(raw, f"outbound.scope.{key}")
                if parsed is not None:
                    scope[CrmObject(key)] = parsed
        return OutboundSettings(schedule=schedule or default.schedule, scope=scope)

    def schedule(self, value: Any, path: str) -> Schedule | None:
        expected = "'N minutes' (1 to 59), 'N hours' (1, 2, 3, 4, 6, 8 or 12) or 'daily'"
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
        self.problem(path, f"unknown schedule {_kind(value)} (expected {expected})")
        return None

    def scope(self, value: Any, path: str) -> OutboundScope | None:
        kinds = ("none", "all", "created_after", "flagged", "criteria")
        if value == "none":
            return NoRecords()
        if value == "all":
            return AllRecords()
        if not isinstance(value, Mapping) or len([k for k in value if not str(k).startswith("//")]) != 1:
            self.problem(
                path,
                f"unknown scope {_kind(value)} (expected 'none', 'all', or an object with one of: {', '.join(kinds[2:])})",
            )
            return None
        section = self.section(value, path, kinds[2:])
        if section is None:
            return None
        if "created_after" in section:
            since = self.moment(section["created_after"], _join(path, "created_after"))
            return CreatedAfter(since) if since is not None else None
        if "flagged" in section:
            flag = self.api_name(section["flagged"], _join(path, "flagged"))
            return Flagged(flag) if flag is not None else None
        if "criteria" in section:
            return self.criteria(section["criteria"], _join(path, "criteria"))
        return None

    def moment(self, value: Any, path: str) -> datetime | None:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        self.problem(path, f"must be an ISO date or date and time (e.g. '2025-01-31'), not {_kind(value)}")
        return None

    def criteria(self, value: Any, path: str) -> MatchingCriteria | None:
        if not isinstance(value, list) or not value:
            self.problem(path, "must be a non-empty list of {field, operator, value} conditions")
            return None
        parsed = [self.criterion(entry, _join(path, index)) for index, entry in enumerate(value)]
        kept = tuple(c for c in parsed if c is not None)
        return MatchingCriteria(kept) if len(kept) == len(parsed) else None

    def criterion(self, entry: Any, path: str) -> Criterion | None:
        section = self.section(entry, path, ("field", "operator", "value"))
        if section is None:
            return None
        field_name = self.required(section, "field", path, self.api_name)
        operator = self.required(section, "operator", path, self.operator)
        if "value" not in section:
            self.problem(_join(path, "value"), "is required")
        if field_name is None or operator is None or "value" not in section:
            return None
        known_problems = len(self.problems)
        value = self.criterion_value(operator, section["value"], _join(path, "value"))
        return Criterion(field_name, operator, value) if len(self.problems) == known_problems else None

    def operator(self, value: Any, path: str) -> Operator | None:
        return self.choice(value, path, Operator, "operator")

    def criterion_value(self, operator: Operator, value: Any, path: str) -> CriterionValue:
        def scalar(item: Any) -> bool:
            return isinstance(item, str | int | float | bool)

        accepted: CriterionValue = None
        if operator.takes_list:
            if isinstance(value, list) and value and all(scalar(item) for item in value):
                accepted = tuple(value)
            else:
                self.problem(path, f"'{operator}' needs a non-empty list of values, not {_kind(value)}")
        elif operator.matches_text:
            if isinstance(value, str) and value.strip():
                accepted = value
            else:
                self.problem(path, f"'{operator}' needs some text, not {_kind(value)}")
        elif operator.orders:
            if scalar(value) and not isinstance(value, bool):
                accepted = value
            else:
                self.problem(path, f"'{operator}' needs a number, a date or some text, not {_kind(value)}")
        elif value is None or scalar(value):
            accepted = value
        else:
            self.problem(path, f"'{operator}' needs a single value (or null), not {_kind(value)}")
        return accepted

    def inbound(self, value: Any) -> InboundSettings:
        default = InboundSettings()
        section = self.section(value, "inbound", ("every_minutes", "max_waiting_changes", "create_unlinked"))
        if section is None:
            return default
        every = self.integer(
            section.get("every_minutes", default.every_minutes), "inbound.every_minutes", 1, 59
        )
        waiting = self.integer(
            section.get("max_waiting_changes", default.max_waiting_changes), "inbound.max_waiting_changes", 1
        )
        create = self.choice(
            section.get("create_unlinked", default.create_unlinked.value),
            "inbound.create_unlinked",
            CreateUnlinked,
            "create_unlinked setting",
        )
        return InboundSettings(
            every_minutes=every or default.every_minutes,
            max_waiting_changes=waiting or default.max_waiting_changes,
            create_unlinked=create or default.create_unlinked,
        )

    def owner(self, value: Any) -> OwnerSync:
        section = self.section(value, "owner", ("direction", "user_map"))
        if section is None:
            return OwnerSync()
        direction = self.choice(
            section.get("direction", OwnerDirection.SALESFORCE.value),
            "owner.direction",
            OwnerDirection,
            "owner direction",
        )
        user_map: dict[str, str] = {}
        raw_map = section.get("user_map", {})
        if not isinstance(raw_map, Mapping):
            self.problem(
                "owner.user_map",
                f"must be an object of Salesforce user id → marketing user id, not {_kind(raw_map)}",
            )
            raw_map = {}
        for user_id, marketing_user in raw_map.items():
            path = f"owner.user_map.{user_id}"
            if not _SALESFORCE_USER_ID.match(str(user_id)):
                self.problem(path, "is not a Salesforce user id (15 or 18 characters starting with 005)")
            marketing = self.text(marketing_user, path)
            if marketing is not None:
                user_map[str(user_id)] = marketing
        return OwnerSync(direction=direction or OwnerDirection.SALESFORCE, user_map=user_map)

    def tags(self, value: Any) -> Tags:
        names = [f.name for f in fields(Tags)]
        section = self.section(value, "tags", names)
        if section is None:
            return Tags()
        chosen = {name: self.text(section[name], f"tags.{name}") for name in names if name in section}
        tags = Tags(**{name: tag for name, tag in chosen.items() if tag is not None})
        used_by: dict[str, str] = {}
        for name in names:
            tag = getattr(tags, name)
            earlier = used_by.setdefault(tag, name)
            if earlier != name:
                self.problem(f"tags.{name}", f"{tag!r} is already the tag of tags.{earlier}")
        return tags

    def batching(self, value: Any) -> Batching:
        default = Batching()
        section = self.section(value, "batching", ("collection_size", "bulk_threshold", "read_page_size"))
        if section is None:
            return default
        collection = self.integer(
            section.get("collection_size", default.collection_size),
            "batching.collection_size",
            1,
            _COLLECTION_LIMIT,
        )
        bulk = self.integer(
            section.get("bulk_threshold", default.bulk_threshold), "batching.bulk_threshold", 1
        )
        page = self.integer(
            section.get("read_page_size", default.read_page_size),
            "batching.read_page_size",
            *_QUERY_PAGE_RANGE,
        )
        return Batching(
            collection_size=collection or default.collection_size,
            bulk_threshold=bulk or default.bulk_threshold,
            read_page_size=page or default.read_page_size,
        )

    def activities(self, value: Any) -> ActivitySettings:
        section = self.section(value, "activities", ("types",))
        if section is None or "types" not in section:
            return ActivitySettings()
        path = "activities.types"
        listed = section["types"]
        if not isinstance(listed, list):
            known = ", ".join(kind.value for kind in ActivityType)
            self.problem(path, f"must be a list of activity types (any of: {known}), not {_kind(listed)}")
            return ActivitySettings()
        chosen: set[ActivityType] = set()
        for index, entry in enumerate(listed):
            kind = self.choice(entry, _join(path, index), ActivityType, "activity type")
            if kind in chosen:
                self.problem(_join(path, index), f"'{kind}' is listed twice")
            if kind is not None:
                chosen.add(kind)
        return ActivitySettings(types=frozenset(chosen))

    def automation(self, value: Any) -> AutomationSettings:
        default = AutomationSettings()
        keys = ("last_name_fallback", "company_fallback", "default_account", "external_id_field")
        section = self.section(value, "automation", keys)
        if section is None:
            return default
        last_name = self.bounded_text(
            section.get("last_name_fallback", default.last_name_fallback),
            "automation.last_name_fallback",
            _LAST_NAME_LENGTH,
        )
        company = self.bounded_text(
            section.get("company_fallback", default.company_fallback),
            "automation.company_fallback",
            _COMPANY_LENGTH,
        )
        external_id = self.api_name(
            section.get("external_id_field", default.external_id_field), "automation.external_id_field"
        )
        return AutomationSettings(
            last_name_fallback=last_name or default.last_name_fallback,
            company_fallback=company or default.company_fallback,
            default_account=self.default_account(section.get("default_account")),
            external_id_field=external_id or default.external_id_field,
        )

    def default_account(self, value: Any) -> DefaultAccount | None:
        path = "automation.default_account"
        if value is None:
            return None
        expected = 'an object with one of "id" (an Account id) or "name", or null'
        if not isinstance(value, Mapping) or len([k for k in value if not str(k).startswith("//")]) != 1:
            self.problem(path, f"must be {expected}, not {_kind(value)}")
            return None
        section = self.section(value, path, ("id", "name"))
        if section is None:
            return None
        if "id" in section:
            account_id = self.text(section["id"], _join(path, "id"))
            if account_id is not None and not _SALESFORCE_ACCOUNT_ID.match(account_id):
                self.problem(
                    _join(path, "id"), "is not an Account id (15 or 18 characters starting with 001)"
                )
                return None
            return DefaultAccount(id=account_id) if account_id is not None else None
        name = self.bounded_text(section.get("name"), _join(path, "name"), _COMPANY_LENGTH)
        return DefaultAccount(name=name) if name is not None else None

    def bounded_text(self, value: Any, path: str, longest: int) -> str | None:
        text = self.text(value, path)
        if text is not None and len(text) > longest:
            self.problem(path, f"must be at most {longest} characters (Salesforce's limit), not {len(text)}")
            return None
        return text


def _kind(value: Any) -> str:
    """How a bad value reads in a message: the value itself when short, else its JSON kind."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 40):
        return repr(value)
    return {"str": "a long string", "list": "a list", "dict": "an object"}.get(
        type(value).__name__, type(value).__name__
    )
