"""The fields a prospect may have, each with a type: the built-in ones every prospect store
knows, plus the custom ones a configuration declares (`prospect_fields`).

A field mapping names a prospect field; one that no prospect has would do nothing, so the
configuration refuses it, and refuses a mapping between a prospect field and a Salesforce field
whose values cannot fit each other. The marketing platform's ingest checks prospects against the
same declaration, so what a mapping reads is what the platform may write.

A value of each type, as a prospect holds it (JSON): `text` a string, `number` a number,
`boolean` true or false, `date` an ISO date string (`2026-11-22`), `datetime` an ISO instant
with its offset (`2026-11-22T12:00:00Z`); any of them may be null (blank).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


BUILT_IN_FIELDS: Mapping[str, FieldType] = MappingProxyType(
    {
        # the person
        "email": FieldType.TEXT,
        "salutation": FieldType.TEXT,
        "first_name": FieldType.TEXT,
        "last_name": FieldType.TEXT,
        "job_title": FieldType.TEXT,
        "department": FieldType.TEXT,
        "phone": FieldType.TEXT,
        "mobile": FieldType.TEXT,
        "fax": FieldType.TEXT,
        # the address
        "address_one": FieldType.TEXT,
        "address_two": FieldType.TEXT,
        "city": FieldType.TEXT,
        "state": FieldType.TEXT,
        "postal_code": FieldType.TEXT,
        "country": FieldType.TEXT,
        # the company
        "company": FieldType.TEXT,
        "website": FieldType.TEXT,
        "company_industry": FieldType.TEXT,
        "company_employees": FieldType.NUMBER,
        "company_annual_revenue": FieldType.NUMBER,
        # marketing
        "source": FieldType.TEXT,
        "lead_status": FieldType.TEXT,
        "score": FieldType.NUMBER,
        "grade": FieldType.TEXT,
        "opted_out": FieldType.BOOLEAN,
        "do_not_email": FieldType.BOOLEAN,
        "do_not_call": FieldType.BOOLEAN,
        "notes": FieldType.TEXT,
    }
)
"""Every prospect store's fields (the built-in store's, and what a platform plugged in behind
`ProspectStore` maps its own onto)."""

_TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "encryptedstring",
        "time",
        "id",
        "reference",
    }
)
SALESFORCE_TYPES: Mapping[FieldType, frozenset[str]] = MappingProxyType(
    {
        FieldType.TEXT: _TEXT_TYPES,
        FieldType.NUMBER: frozenset({"int", "double", "currency", "percent", "long"}),
        FieldType.BOOLEAN: frozenset({"boolean"}),
        FieldType.DATE: frozenset({"date"}),
        FieldType.DATETIME: frozenset({"datetime"}),
    }
)
"""The Salesforce field types (describe's `type`) each prospect field type maps onto. A mapping
may move values both ways, so the kinds must match: a text value does not fit a Salesforce
number, date or checkbox (Salesforce refuses the write), and a Salesforce number, date or
checkbox value does not fit a text prospect field (the platform's own writes to it would be
refused). Ids and references are text. Compound fields (address, location) and files (base64)
fit no prospect field; a type not listed here is left to Salesforce to judge."""
_FIT_NO_FIELD = frozenset({"address", "location", "base64"})


def fits(prospect_type: FieldType, salesforce_type: str) -> bool:
    """Whether a prospect field of `prospect_type` and a Salesforce field of `salesforce_type`
    can be mapped onto each other."""
    if salesforce_type in SALESFORCE_TYPES[prospect_type]:
        return True
    known = _FIT_NO_FIELD.union(*SALESFORCE_TYPES.values())
    return salesforce_type not in known


@dataclass(frozen=True)
class ProspectFields:
    """The fields a prospect may have: the built-in ones and `custom` (name → type)."""

    custom: Mapping[str, FieldType] = field(default_factory=dict)

    def type_of(self, name: str) -> FieldType | None:
        """The field's type; None when no prospect has such a field."""
        return BUILT_IN_FIELDS.get(name) or self.custom.get(name)

    def closest(self, name: str) -> str | None:
        """The declared field `name` most likely meant (a typo, another case), if any is close."""
        declared = {known.lower(): known for known in (*BUILT_IN_FIELDS, *self.custom)}
        found = difflib.get_close_matches(name.lower(), declared, n=1, cutoff=0.7)
        return declared[found[0]] if found else None
