"""The CRM-object vocabulary: where each object lives in Salesforce and which are people."""

from __future__ import annotations

import pytest
from crmsync.domain.lifecycle import CrmRef
from crmsync.domain.objects import PEOPLE, CrmObject


@pytest.mark.parametrize(
    ("crm", "sobject", "email_field"),
    [
        (CrmObject.LEAD, "Lead", "Email"),
        (CrmObject.CONTACT, "Contact", "Email"),
        (CrmObject.PERSON_ACCOUNT, "Account", "PersonEmail"),
        (CrmObject.ACCOUNT, "Account", None),
    ],
)
def test_each_object_names_its_salesforce_object_and_email_field(
    crm: CrmObject, sobject: str, email_field: str | None
) -> None:
    assert (crm.sobject, crm.email_field) == (sobject, email_field)


def test_a_person_accounts_email_is_read_from_person_email_and_a_business_account_has_none() -> None:
    values = {"Email": "contact@example.com", "PersonEmail": "mary@example.com"}

    assert CrmObject.PERSON_ACCOUNT.email_of(values) == "mary@example.com"
    assert CrmObject.CONTACT.email_of(values) == "contact@example.com"
    assert CrmObject.ACCOUNT.email_of(values) is None


def test_the_people_are_the_objects_a_prospect_can_be_linked_to() -> None:
    assert PEOPLE == (CrmObject.LEAD, CrmObject.CONTACT, CrmObject.PERSON_ACCOUNT)
    assert [crm for crm in CrmObject if crm.is_person] == list(PEOPLE)


def test_a_record_reference_is_never_to_a_business_account() -> None:
    with pytest.raises(ValueError, match="never linked to Account 001A"):
        CrmRef(CrmObject.ACCOUNT, "001A")
