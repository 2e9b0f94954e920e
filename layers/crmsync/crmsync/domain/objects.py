"""The Salesforce objects crmsync reads and writes, and what each is called in Salesforce.

A Person Account is a person to the connector but an `Account` to Salesforce, with its email
in `PersonEmail`; a business Account is no person at all (its fields only ever sync one way
onto the prospects of its Contacts). Those rules live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class CrmObject(StrEnum):
    LEAD = "Lead"
    CONTACT = "Contact"
    PERSON_ACCOUNT = "PersonAccount"
    ACCOUNT = "Account"

    @property
    def sobject(self) -> str:
        """The Salesforce object that holds it: Person Accounts are Accounts."""
        return "Account" if self is CrmObject.PERSON_ACCOUNT else self.value

    @property
    def email_field(self) -> str | None:
        """The field holding a person's email; None for a business Account."""
        if self is CrmObject.ACCOUNT:
            return None
        return "PersonEmail" if self is CrmObject.PERSON_ACCOUNT else "Email"

    def email_of(self, values: Mapping[str, Any]) -> Any:
        """The email among a record's values, as read (None for a business Account)."""
        return values.get(self.email_field) if self.email_field else None

    @property
    def is_person(self) -> bool:
        """Whether a prospect can be linked to it."""
        return self is not CrmObject.ACCOUNT


PEOPLE: tuple[CrmObject, ...] = (CrmObject.LEAD, CrmObject.CONTACT, CrmObject.PERSON_ACCOUNT)
"""The objects a prospect can be linked to, in the order they are read."""
