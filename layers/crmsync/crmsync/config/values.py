"""The connector configuration as the rest of the code uses it: frozen values, with the
defaults the guide documents (docs/guide/: matching, field mappings and the conflict rule, owner,
scope, schedules and batching, automation, tags).

Reading a document into these values is `Configuration.from_document` (`config.document`, on
pydantic models: imported only by what reads a document); writing one back is `to_document`
(`config.writer`); checking one against the org's describe is `validate_against`
(`config.org_check`). None of those three is imported here until it is called, so code that
only holds a configuration (and the intake, which holds none) starts without pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from crmsync.domain.actions import AutomationSettings
from crmsync.domain.activities import ActivityType
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.inbound import CreateUnlinked
from crmsync.domain.lifecycle import Tags
from crmsync.domain.matching import MatchingMode
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.prospect_fields import ProspectFields
from crmsync.domain.records import Batching, ObjectDescription
from crmsync.domain.scope import AllRecords, OutboundScope

MAX_VERSION = 9_999_999_999
"""The highest version: every version loaded is kept under a sort key of 10 digits
(`aws/config_store.py`), which orders versions only while they fit in it."""

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


def default_mappings() -> dict[CrmObject, tuple[FieldMapping, ...]]:
    """A person's email and names both ways on every person object, and a few more fields on
    Leads and Contacts; no Account field (docs/guide/fields.md)."""

    def two_way(crm: CrmObject, *more: tuple[str, str]) -> tuple[FieldMapping, ...]:
        person = (("email", str(crm.email_field)), ("first_name", "FirstName"), ("last_name", "LastName"))
        return tuple(FieldMapping(m, s, Behaviour.MOST_RECENT) for m, s in (*person, *more))

    return {
        CrmObject.LEAD: two_way(
            CrmObject.LEAD, ("company", "Company"), ("job_title", "Title"), ("phone", "Phone")
        ),
        CrmObject.CONTACT: two_way(CrmObject.CONTACT, ("job_title", "Title"), ("phone", "Phone")),
        CrmObject.PERSON_ACCOUNT: two_way(CrmObject.PERSON_ACCOUNT, ("phone", "Phone")),
        CrmObject.ACCOUNT: (),
    }


@dataclass(frozen=True)
class Configuration:
    """One version of the connector configuration; `default()` is the one in force before any
    is loaded."""

    version: int
    matching: MatchingMode = MatchingMode.EMAIL
    conflict_winner: ConflictWinner = ConflictWinner.SALESFORCE
    objects: SyncedObjects = field(default_factory=SyncedObjects)
    mappings: Mapping[CrmObject, tuple[FieldMapping, ...]] = field(default_factory=default_mappings)
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
        from crmsync.config.document import read_document

        return read_document(document)

    def to_document(self) -> dict[str, Any]:
        """The JSON document `from_document` reads back into an equal configuration."""
        from crmsync.config.writer import document_of

        return document_of(self)

    def sobjects_to_describe(self) -> frozenset[str]:
        """The Salesforce objects `validate_against` checks (`org_check.sobjects_to_describe`)."""
        from crmsync.config.org_check import sobjects_to_describe

        return sobjects_to_describe(self)

    def validate_against(self, describes: Mapping[str, ObjectDescription]) -> None:
        """Refuse mapped or scope fields the org's describe (sObject name → description) says
        do not exist, or that a behaviour writing to Salesforce could not write
        (`org_check.check_against`)."""
        from crmsync.config.org_check import check_against

        check_against(self, describes)
