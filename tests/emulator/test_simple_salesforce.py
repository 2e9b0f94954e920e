"""The real simple-salesforce client against the emulator mounted in process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from local.salesforce_emulator import Emulator, ManualClock
from local.salesforce_emulator.ids import to_18

from .conftest import password_login


def client_of(emulator: Emulator) -> Salesforce:
    session = requests.Session()
    emulator.mount(session)
    token = password_login(session, emulator.login_url).json()
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="62.0"
    )


@pytest.fixture
def sf(emulator: Emulator) -> Salesforce:
    return client_of(emulator)


def test_sobject_rows_describe_and_limits(emulator: Emulator, sf: Salesforce) -> None:
    created = sf.Lead.create({"LastName": "Lee", "Company": "Acme", "Email": "lee@acme.example"})
    assert sf.Lead.update(created["id"], {"Title": "CTO"}) == 204
    assert sf.Lead.upsert("Crmsync_Key__c/k-1", {"LastName": "Key", "Company": "Acme"}) == 201
    assert sf.Lead.upsert("Crmsync_Key__c/k-1", {"Title": "CEO"}) == 200

    assert sf.Lead.get(created["id"])["Title"] == "CTO"
    assert sf.Lead.get_by_custom_id("Crmsync_Key__c", "k-1")["Title"] == "CEO"
    assert {f["name"] for f in sf.Lead.describe()["fields"]} >= {"Email", "Crmsync_Key__c"}
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(created["id"])
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.create({"LastName": "No company"})
    assert refused.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_queries_page_through_query_more(make_emulator: object) -> None:
    emulator = make_emulator(query_batch_size=3)  # type: ignore[operator]
    session = requests.Session()
    emulator.mount(session)
    token = password_login(session, emulator.login_url).json()
    sf = Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="62.0"
    )
    ids = [emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"}) for n in range(7)]
    emulator.delete(ids[0])

    live = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY Id")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Lead ORDER BY Id", include_deleted=True)

    assert [r["Id"] for r in live["records"]] == ids[1:] and live["totalSize"] == 6
    assert [r["IsDeleted"] for r in everything["records"]] == [True] + [False] * 6
    assert emulator.api_calls == 2 + 3


def test_bulk_2_insert_and_query(emulator: Emulator, sf: Salesforce) -> None:
    results = sf.bulk2.Lead.insert(
        records=[{"LastName": f"Bulk {n}", "Company": "Acme"} for n in range(5)], wait=0
    )

    assert results[0]["numberRecordsProcessed"] == 5 and results[0]["numberRecordsFailed"] == 0
    pages = list(sf.bulk2.Lead.query("SELECT Id, LastName FROM Lead", max_records=2, wait=0))
    assert len(pages) == 3
    assert len(emulator.records("Lead")) == 5


def test_a_person_account_has_a_hidden_person_contact_that_follows_its_edits(
    make_emulator: Callable[..., Emulator], clock: ManualClock
) -> None:
    emulator = make_emulator(person_accounts=True)
    sf = client_of(emulator)

    # WHEN a person account is created through the API
    account_id = sf.Account.create(
        {"FirstName": "Mary", "LastName": "Jackson", "PersonEmail": "mary@example.com"}
    )["id"]

    # THEN Salesforce made its person contact, named by PersonContactId, marked IsPersonAccount
    account = sf.Account.get(account_id)
    contact = sf.Contact.get(account["PersonContactId"])
    assert account["IsPersonAccount"] is True
    assert (contact["IsPersonAccount"], contact["AccountId"]) == (True, account_id)
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == (
        "Mary",
        "Jackson",
        "mary@example.com",
    )
    business = sf.Account.create({"Name": "Acme"})["id"]
    assert sf.Account.get(business)["PersonContactId"] is None

    # AND an edit of the account's person fields is the contact's too, with a new stamp on both
    clock.advance(seconds=5)
    sf.Account.update(account_id, {"PersonEmail": "mary.jackson@example.com", "FirstName": "May"})
    edited = sf.Contact.get(account["PersonContactId"])
    assert (edited["FirstName"], edited["Email"]) == ("May", "mary.jackson@example.com")
    assert (
        edited["SystemModstamp"] == sf.Account.get(account_id)["SystemModstamp"] != contact["SystemModstamp"]
    )


def test_a_lead_converted_into_a_person_account_names_it_and_its_person_contact(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(person_accounts=True)
    sf = client_of(emulator)
    lead = sf.Lead.create(
        {
            "FirstName": "José",
            "LastName": "Núñez",
            "Company": "Self",
            "Email": "jose@example.com",
            "Phone": "+34 600",
        }
    )["id"]

    account_id, contact_id = emulator.convert_lead(lead, person_account=True)

    converted = sf.Lead.get(lead)
    account = sf.Account.get(account_id)
    assert (converted["ConvertedAccountId"], converted["ConvertedContactId"]) == (account_id, contact_id)
    assert account["IsPersonAccount"] is True and account["PersonContactId"] == contact_id
    assert (account["FirstName"], account["LastName"], account["PersonEmail"], account["Phone"]) == (
        "José",
        "Núñez",
        "jose@example.com",
        "+34 600",
    )
    assert sf.Contact.get(contact_id)["IsPersonAccount"] is True
    assert sf.query(f"SELECT Id FROM Contact WHERE AccountId = '{account_id}'")["totalSize"] == 1

    # AND a Lead converted into an existing person account gets that account's person contact
    second = sf.Lead.create({"LastName": "Núñez", "Company": "Self"})["id"]
    assert emulator.convert_lead(second, account_id=account_id) == (account_id, contact_id)


def test_a_request_whose_uri_passes_16384_bytes_is_refused_before_the_api_counts_it(
    emulator: Emulator, sf: Salesforce
) -> None:
    ids = [emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"}) for n in range(3)]
    many = ids + [to_18(f"00Q8dZ{n:09d}") for n in range(700)]  # ~19 kB of URI once quoted
    emulator.reset_counters()

    with pytest.raises(SalesforceGeneralError) as refused:
        sf.query_all(format_soql("SELECT Id FROM Lead WHERE Id IN {}", many))
    fitting = sf.query_all(format_soql("SELECT Id FROM Lead WHERE Id IN {}", many[:300]))

    assert refused.value.status == 414
    assert emulator.api_calls == 1  # only the query that fitted reached the API
    assert {r["Id"] for r in fitting["records"]} == set(ids)


def test_an_upsert_by_external_id_does_not_match_a_record_in_the_recycle_bin(
    emulator: Emulator, sf: Salesforce
) -> None:
    deleted = sf.Lead.create({"LastName": "Gone", "Company": "Acme", "Crmsync_Key__c": "p-1"})["id"]
    sf.Lead.delete(deleted)

    assert sf.Lead.upsert("Crmsync_Key__c/p-1", {"LastName": "Back", "Company": "Acme"}) == 201

    created = sf.Lead.get_by_custom_id("Crmsync_Key__c", "p-1")
    assert created["Id"] != deleted and created["LastName"] == "Back"
    gone = emulator.get(deleted, include_deleted=True)
    assert gone is not None and gone["IsDeleted"] and gone["LastName"] == "Gone"
