"""Bulk API 2.0 query jobs through the gateway: a resync's reads."""

from __future__ import annotations

import pytest
from crmsync.domain.errors import CrmError
from crmsync.salesforce.gateway import SalesforceGateway

from local.salesforce_emulator import Emulator, ManualClock

FIELDS = (
    "Email",
    "LastName",
    "Marketing_Score__c",
    "HasOptedOutOfEmail",
    "Title",
    "LastModifiedDate",
    "SystemModstamp",
)


def read_all(gateway: SalesforceGateway, job_id: str, page_size: int) -> list[list[str]]:
    pages, locator = [], None
    while True:
        page = gateway.query_page(job_id, "Lead", locator, page_size)
        pages.append([record.id for record in page.records])
        locator = page.next_locator
        if locator is None:
            return pages


def test_a_query_jobs_records_read_as_the_rest_api_reads_them(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    # GIVEN Leads with a number, a checkbox, a blank and a date-time
    ids = [
        emulator.insert(
            "Lead",
            {
                "LastName": f"Ünïcode {n}",
                "Company": "Acme",
                "Email": f"l{n}@example.com",
                "Marketing_Score__c": 10 + n,
                "HasOptedOutOfEmail": n == 1,
            },
        )
        for n in range(5)
    ]

    # WHEN they are read by a query job, in pages of 2
    job_id = gateway.start_query("Lead", FIELDS, None)
    ready, total = gateway.query_progress(job_id)
    pages = read_all(gateway, job_id, 2)

    # THEN every record comes once, a page at a time
    assert (ready, total) == (True, 5)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(record_id for page in pages for record_id in page) == sorted(ids)

    # AND each record is the one the REST API gives, value for value, type for type
    by_rest = {record.id: record for record in gateway.find("Lead", FIELDS, "Id", ids)}
    page = gateway.query_page(job_id, "Lead", None, 10)
    for record in page.records:
        rest = by_rest[record.id]
        assert dict(record) == {name: rest[name] for name in record}
        assert {name: type(value) for name, value in record.items()} == {
            name: type(rest[name]) for name in record
        }
        assert (record.modified_at, record.stamp) == (rest.modified_at, rest.stamp)


def test_a_query_changed_since_reads_only_records_changed_at_or_after_it(
    emulator: Emulator, gateway: SalesforceGateway, clock: ManualClock
) -> None:
    emulator.insert("Lead", {"LastName": "Old", "Company": "Acme"})
    clock.advance(minutes=5)
    since = clock()
    new = emulator.insert("Lead", {"LastName": "New", "Company": "Acme"})

    job_id = gateway.start_query("Lead", ("LastName",), since)

    assert [r.id for r in gateway.query_page(job_id, "Lead", None, 10).records] == [new]


def test_a_query_salesforce_refuses_is_a_crm_error(gateway: SalesforceGateway) -> None:
    with pytest.raises(CrmError):
        gateway.start_query("Lead", ("No_Such_Field__c",), None)
