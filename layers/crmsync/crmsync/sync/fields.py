"""`GET /fields/{object}`: the org's fields of an object, and how the configuration in force maps
each (docs/guide/operating.md): the help a mapping author needs. One describe call.

Objects: Lead, Contact, PersonAccount (the Account describe, with the Person Account mappings),
Account (its fields the account mapping may sync) and Opportunity (no field mapping: shown as
the org has them). Names are read without regard to case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmsync.domain.objects import CrmObject
from crmsync.ports import CrmGateway

if TYPE_CHECKING:
    from crmsync.config import Configuration

OPPORTUNITY = "Opportunity"
OBJECTS: dict[str, CrmObject | None] = {
    **{crm.value.lower(): crm for crm in CrmObject},
    OPPORTUNITY.lower(): None,
}


class UnknownObject(LookupError):
    def __init__(self, name: str) -> None:
        allowed = ", ".join([*(crm.value for crm in CrmObject), OPPORTUNITY])
        super().__init__(f"{name!r} is not an object the connector syncs: one of {allowed}")
        self.name = name


@dataclass(frozen=True)
class OrgFields:
    crm: Callable[[], CrmGateway]
    configuration: Callable[[], Configuration]

    def fields(self, name: str) -> dict[str, Any]:
        """The object's fields, each with its type, length, whether it can be written, and its
        mapping; raises `UnknownObject`, or `CrmError` when Salesforce cannot describe it."""
        key = name.strip().lower()
        if key not in OBJECTS:
            raise UnknownObject(name)
        crm = OBJECTS[key]
        shown = crm.value if crm is not None else OPPORTUNITY
        mappings = self.configuration().mappings.get(crm, ()) if crm is not None else ()
        mapped = {mapping.salesforce_field.lower(): mapping for mapping in mappings}
        description = self.crm().describe(crm.sobject if crm is not None else OPPORTUNITY)
        return {
            "object": shown,
            "fields": [
                {
                    "name": field.name,
                    "label": field.label,
                    "type": field.type,
                    "length": field.length,
                    "createable": field.createable,
                    "updateable": field.updateable,
                    "mapped": None
                    if (mapping := mapped.get(field.name.lower())) is None
                    else {
                        "marketing_field": mapping.marketing_field,
                        "behaviour": mapping.behaviour.value,
                        "sync_blanks": mapping.sync_blanks,
                    },
                }
                for field in sorted(description.fields.values(), key=lambda field: field.name)
            ],
        }
