"""Field mappings, their sync behaviours, and how two field values are compared
(docs/guide/fields.md).

A mapping pairs one marketing field with one Salesforce field and says which side's value
wins. Values are compared the way a person reads them: surrounding spaces do not count, an
empty string is the same as no value, and email addresses ignore case. So "Ann@X.com " on one
side and "ann@x.com" on the other are already in step and cost no write.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any


class Side(StrEnum):
    SALESFORCE = "salesforce"
    MARKETING = "marketing"


class Behaviour(StrEnum):
    """The rows of the behaviour table (docs/guide/fields.md)."""

    SALESFORCE = "salesforce"
    MARKETING = "marketing"
    PREFER_SALESFORCE_UNLESS_BLANK = "prefer_salesforce_unless_blank"
    PREFER_MARKETING_UNLESS_BLANK = "prefer_marketing_unless_blank"
    MOST_RECENT = "most_recent"
    NONE = "none"

    @property
    def writes_salesforce(self) -> bool:
        """Whether this behaviour can ever write the Salesforce field (so Salesforce must let us)."""
        return self not in (Behaviour.SALESFORCE, Behaviour.NONE)

    @property
    def writes_marketing(self) -> bool:
        return self not in (Behaviour.MARKETING, Behaviour.NONE)

    @property
    def is_one_way(self) -> bool:
        """`sync_blanks` only means something for the strictly one-way behaviours (docs/guide/fields.md)."""
        return self in (Behaviour.SALESFORCE, Behaviour.MARKETING)


class ConflictWinner(StrEnum):
    """Who wins when both sides changed the same `most_recent` field since the last sync."""

    SALESFORCE = "salesforce"
    MARKETING = "marketing"
    LATEST_TIMESTAMP = "latest_timestamp"


@dataclass(frozen=True)
class FieldMapping:
    marketing_field: str
    salesforce_field: str
    behaviour: Behaviour
    sync_blanks: bool = False

    @cached_property
    def key(self) -> str:
        """The name of this pair in a link's snapshot. It names both fields, so remapping one
        side starts that field afresh instead of merging against another field's history."""
        return f"{self.salesforce_field}={self.marketing_field}"

    @cached_property
    def holds_email(self) -> bool:
        return _names_an_email(self.salesforce_field) or _names_an_email(self.marketing_field)


def _names_an_email(field_name: str) -> bool:
    bare = field_name.lower().removesuffix("__c").rstrip("_")
    return bare.endswith("email")


def is_blank(value: Any) -> bool:
    """None, an empty string and a string of spaces are all "no value"."""
    return value is None or (isinstance(value, str) and not value.strip())


def normalized(value: Any, *, email: bool = False) -> Any:
    """The value as it is compared: stripped, blanks as None, email addresses in lower case."""
    if is_blank(value):
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped.lower() if email else stripped
    return value


def same_value(left: Any, right: Any, *, email: bool = False) -> bool:
    return bool(normalized(left, email=email) == normalized(right, email=email))
