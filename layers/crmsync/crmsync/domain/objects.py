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


def object_of(sobject: str, *, person_account: bool) -> CrmObject | None:
    """What a record of `sobject` is to the connector. An `Account` is a Person Account when
    `IsPersonAccount` says so, else a business Account; a person account's hidden Contact (a
    `Contact` with `IsPersonAccount`) is none of its own: it is synced as its Person Account."""
    if sobject == "Account":
        return CrmObject.PERSON_ACCOUNT if person_account else CrmObject.ACCOUNT
    if sobject == "Contact" and person_account:
        return None
    return CrmObject(sobject)


ID_PREFIXES: Mapping[str, CrmObject] = {
    "00Q": CrmObject.LEAD,
    "003": CrmObject.CONTACT,
    "001": CrmObject.PERSON_ACCOUNT,
}
"""The key prefix of each person object's Ids (the first three characters of every Salesforce
Id name its object): an Account Id, among the people, is a Person Account's."""


_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(text: str) -> str | None:
    """The 18-character form of a Salesforce Id given in either form, or None when `text` is
    none. A 15-character Id is case-sensitive and gains its suffix; an 18-character one may be
    typed in any case, since its suffix encodes which of the first 15 characters are capitals
    (Salesforce Help, "What is a Salesforce ID?"; the formula function CASESAFEID)."""
    if len(text) not in (15, 18) or not text.isascii() or not text.isalnum():
        return None
    if len(text) == 15:
        suffix = ""
        for start in (0, 5, 10):
            bits = sum(1 << i for i, char in enumerate(text[start : start + 5]) if char.isupper())
            suffix += _ID_SUFFIX[bits]
        return text + suffix
    chars = []
    for chunk, code in enumerate(text[15:].upper()):
        bits = _ID_SUFFIX.find(code)
        if bits < 0:
            return None
        for i, char in enumerate(text[chunk * 5 : chunk * 5 + 5]):
            upper = bool(bits >> i & 1)
            if upper and not char.isalpha():
                return None
            chars.append(char.upper() if upper else char.lower())
    return "".join(chars) + text[15:].upper()


def object_of_id(record_id: str) -> CrmObject | None:
    """The person object a Salesforce Id belongs to, by its prefix; None for any other."""
    return ID_PREFIXES.get(record_id[:3])


PEOPLE: tuple[CrmObject, ...] = (CrmObject.LEAD, CrmObject.CONTACT, CrmObject.PERSON_ACCOUNT)
"""The objects a prospect can be linked to, in the order they are read."""
