"""The org's data rules, seen through the test helpers and the API alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from local.salesforce_emulator import Emulator, ManualClock
from local.salesforce_emulator.errors import RecordRefused

from .conftest import Client, client_for


def test_records_created_in_one_second_share_their_stamp(emulator: Emulator, clock: ManualClock) -> None:
    clock.advance(seconds=0.4)
    first = emulator.insert("Lead", {"LastName": "A", "Company": "Acme"})
    clock.advance(seconds=0.5)
    second = emulator.insert("Lead", {"LastName": "B", "Company": "Acme"})

    stamps = {emulator.get(i)["SystemModstamp"] for i in (first, second)}  # type: ignore[index]
    assert stamps == {"2026-11-22T12:00:00.000+0000"}
    assert first < second


def test_converting_a_lead_creates_its_account_and_contact(emulator: Emulator) -> None:
    lead = emulator.insert(
        "Lead",
        {
            "FirstName": "Pat",
            "LastName": "Lee",
            "Company": "Acme",
            "Email": "pat@acme.example",
            "Score__c": 12,
        },
    )

    account_id, contact_id = emulator.convert_lead(lead)

    converted = emulator.get(lead)
    contact = emulator.get(contact_id)
    assert converted is not None and contact is not None
    assert converted["IsConverted"] is True and converted["Status"] == "Closed - Converted"
    assert (converted["ConvertedAccountId"], converted["ConvertedContactId"]) == (account_id, contact_id)
    assert converted["ConvertedDate"] == "2026-11-22"
    assert (contact["Email"], contact["AccountId"], contact["Score__c"]) == (
        "pat@acme.example",
        account_id,
        12.0,
    )
    assert emulator.get(account_id)["Name"] == "Acme"  # type: ignore[index]
    with pytest.raises(RecordRefused, match="CANNOT_UPDATE_CONVERTED_LEAD"):
        emulator.update("Lead", lead, {"Title": "x"})


def test_merging_deletes_the_losers_and_points_their_children_at_the_master(emulator: Emulator) -> None:
    master = emulator.insert("Contact", {"LastName": "Keep"})
    loser = emulator.insert("Contact", {"LastName": "Lose"})
    task = emulator.insert("Task", {"Subject": "Call", "WhoId": loser})

    emulator.merge(master, [loser])

    merged = emulator.get(loser, include_deleted=True)
    assert merged is not None and merged["IsDeleted"] is True and merged["MasterRecordId"] == master
    assert emulator.get(loser) is None
    assert emulator.get(task)["WhoId"] == master  # type: ignore[index]


def test_undelete_brings_a_record_back(emulator: Emulator) -> None:
    lead = emulator.insert("Lead", {"LastName": "A", "Company": "Acme"})
    emulator.delete(lead)
    emulator.undelete(lead)
    assert emulator.get(lead)["IsDeleted"] is False  # type: ignore[index]


def test_person_accounts_need_a_last_name_and_carry_their_email(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(person_accounts=True)
    person = emulator.insert(
        "Account", {"FirstName": "Pat", "LastName": "Lee", "PersonEmail": "pat@example.com"}
    )
    business = emulator.insert("Account", {"Name": "Acme"})

    assert emulator.get(person)["IsPersonAccount"] is True and emulator.get(person)["Name"] == "Pat Lee"  # type: ignore[index]
    assert emulator.get(business)["IsPersonAccount"] is False  # type: ignore[index]
    with pytest.raises(RecordRefused, match=r"Required fields are missing: \[LastName\]"):
        emulator.insert("Account", {"FirstName": "Pat", "PersonEmail": "pat@example.com"})


def test_opportunities_tasks_and_contact_roles_follow_their_rules(emulator: Emulator) -> None:
    with pytest.raises(RecordRefused, match=r"\[Name, StageName, CloseDate\]"):
        emulator.insert("Opportunity", {"Amount": 10})
    contact = emulator.insert("Contact", {"LastName": "Lee"})
    deal = emulator.insert(
        "Opportunity", {"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2026-12-01"}
    )
    role = emulator.insert(
        "OpportunityContactRole", {"OpportunityId": deal, "ContactId": contact, "Role": "Decision Maker"}
    )
    task = emulator.insert("Task", {"Subject": "Email sent", "WhoId": contact, "Status": "Completed"})

    assert emulator.get(deal)["IsWon"] is True and emulator.get(deal)["CloseDate"] == "2026-12-01"  # type: ignore[index]
    assert emulator.get(role)["IsPrimary"] is False  # type: ignore[index]
    assert emulator.get(task)["IsClosed"] is True and emulator.get(task)["Priority"] == "Normal"  # type: ignore[index]
    with pytest.raises(RecordRefused, match="FIELD_INTEGRITY_EXCEPTION"):
        emulator.insert("Task", {"Subject": "x", "WhoId": deal})


def test_an_external_id_is_unique(emulator: Emulator) -> None:
    emulator.insert("Lead", {"LastName": "A", "Company": "Acme", "Crmsync_Key__c": "k"})
    with pytest.raises(RecordRefused, match="DUPLICATE_VALUE"):
        emulator.insert("Lead", {"LastName": "B", "Company": "Acme", "Crmsync_Key__c": "K"})


def test_users_are_records_but_not_writable_through_the_api(emulator: Emulator, api: Client) -> None:
    refused = api.request(
        "POST", "composite/sobjects", json={"records": [{"attributes": {"type": "User"}, "LastName": "X"}]}
    )
    assert refused.json()[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert "api@crmsync.example" in {u["Username"] for u in emulator.records("User")}
    assert client_for(emulator).get("limits").status_code == 200
