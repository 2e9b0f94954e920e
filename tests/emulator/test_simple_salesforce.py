"""The real simple-salesforce client against the emulator mounted in process."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from local.salesforce_emulator import Emulator

from .conftest import password_login


@pytest.fixture
def sf(emulator: Emulator) -> Salesforce:
    session = requests.Session()
    emulator.mount(session)
    token = password_login(session, emulator.login_url).json()
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="62.0"
    )


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
