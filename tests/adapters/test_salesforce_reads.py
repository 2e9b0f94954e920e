"""Incremental reads through the gateway: every changed record exactly once, in pages."""

from __future__ import annotations

from collections import Counter

from crmsync.salesforce.gateway import SalesforceGateway

from local.salesforce_emulator import Emulator, ManualClock


def seed_leads(emulator: Emulator, clock: ManualClock, count: int, per_second: int) -> list[str]:
    """`count` leads, `per_second` of them sharing each SystemModstamp."""
    ids = []
    for n in range(count):
        if n and n % per_second == 0:
            clock.advance(seconds=1)
        ids.append(
            emulator.insert(
                "Lead", {"LastName": f"Lead {n}", "Company": "Acme", "Email": f"lead{n}@acme.example"}
            )
        )
    clock.advance(seconds=2)
    return ids


def test_a_read_of_5000_changed_records_sharing_stamps_returns_each_exactly_once_across_pages(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    ids = seed_leads(emulator, clock, 5200, per_second=1100)
    emulator.reset_counters()

    pages = list(gateway.read_changes("Lead", ["Email", "LastName"], None, clock.now()))

    seen = Counter(record["Id"] for page in pages for record in page.records)
    assert set(seen) == set(ids)
    assert max(seen.values()) == 1
    assert [len(page.records) for page in pages] == [2000, 2000, 1200]
    assert emulator.api_calls == 3
    last = pages[-1].records[-1]
    assert pages[-1].watermark is not None and pages[-1].watermark.last_id == last["Id"]


def test_records_changed_while_a_read_is_under_way_are_picked_up_by_the_next_read(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    ids = seed_leads(emulator, clock, 4500, per_second=1000)
    reading = gateway.read_changes("Lead", ["Email"], None, clock.now())
    first = next(reading)
    already_read, not_yet_read = ids[:3], ids[-3:]
    for record_id in [*already_read, *not_yet_read]:
        emulator.update("Lead", record_id, {"Title": "Changed mid-read"})
    rest = list(reading)

    first_read = Counter(r["Id"] for page in [first, *rest] for r in page.records)
    assert set(first_read) == set(ids) and max(first_read.values()) == 1

    clock.advance(seconds=2)
    watermark = rest[-1].watermark
    second_read = [
        r["Id"]
        for page in gateway.read_changes("Lead", ["Title"], watermark, clock.now())
        for r in page.records
    ]
    assert sorted(second_read) == sorted([*already_read, *not_yet_read])


def test_a_query_cursor_that_expires_mid_read_is_queried_again_from_the_last_record_read(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    # GIVEN 450 Leads read in pages of 200, and a cursor that expires after the first page
    # (unused for 15 minutes, or released when the integration user opened ten newer ones)
    ids = seed_leads(emulator, clock, 450, per_second=150)
    emulator.reset_counters()
    emulator.faults.expire_query_cursors(after_pages=0)

    # WHEN the records are read
    pages = list(gateway.read_changes("Lead", ["Email"], None, clock.now(), page_size=200))

    # THEN the dead cursor's next page was asked once, the query asked again from the last record
    # read, and paged on from there: every record once, the last watermark at the last one
    seen = Counter(record["Id"] for page in pages for record in page.records)
    assert set(seen) == set(ids) and max(seen.values()) == 1
    asked = [path.rsplit("/", 2)[1] if path.endswith("/") else "next page" for _, path in emulator.call_log]
    assert asked == ["queryAll", "next page", "queryAll", "next page"]
    assert gateway.api_calls == 4
    assert pages[-1].watermark is not None and pages[-1].watermark.last_id == sorted(ids[300:])[-1]


def test_a_record_stamped_in_the_current_second_waits_for_the_next_read(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    """A second still going on may get more records with the same stamp and a lower Id; reading
    it now would let those slip behind the watermark, so reads stop before it."""
    settled = emulator.insert("Lead", {"LastName": "Settled", "Company": "Acme"})
    clock.advance(seconds=1)
    emulator.insert("Lead", {"LastName": "Now", "Company": "Acme"})

    read = [r["Id"] for page in gateway.read_changes("Lead", [], None, clock.now()) for r in page.records]

    assert read == [settled]


def test_an_idle_object_costs_one_call_and_keeps_its_watermark(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    seed_leads(emulator, clock, 10, per_second=10)
    pages = list(gateway.read_changes("Lead", [], None, clock.now()))
    watermark = pages[-1].watermark
    emulator.reset_counters()
    clock.advance(seconds=120)

    idle = list(gateway.read_changes("Lead", [], watermark, clock.now()))

    assert emulator.api_calls == 1
    assert [page.records for page in idle] == [[]]
    assert idle[0].watermark == watermark


def test_deleted_and_merged_records_come_back_in_the_same_read(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    master, loser, gone = seed_leads(emulator, clock, 3, per_second=3)
    watermark = list(gateway.read_changes("Lead", [], None, clock.now()))[-1].watermark
    emulator.merge(master, [loser])
    emulator.delete(gone)
    clock.advance(seconds=2)

    changed = {
        r["Id"]: r
        for page in gateway.read_changes("Lead", ["MasterRecordId"], watermark, clock.now())
        for r in page.records
    }

    assert changed[loser]["IsDeleted"] is True and changed[loser]["MasterRecordId"] == master
    assert changed[gone]["IsDeleted"] is True and changed[gone]["MasterRecordId"] is None
    assert changed[master]["IsDeleted"] is False


def test_emails_with_quotes_are_matched_literally_never_as_soql(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    obrien = emulator.insert(
        "Lead", {"LastName": "O'Brien", "Company": "Acme", "Email": "o'brien@example.com"}
    )
    emulator.insert("Lead", {"LastName": "Other", "Company": "Acme", "Email": "other@example.com"})

    found = gateway.find("Lead", ["Email"], "Email", ["o'brien@example.com", "x' OR Name != '"])

    assert [r["Id"] for r in found] == [obrien]


def test_describe_reports_which_fields_the_connector_may_write(gateway: SalesforceGateway) -> None:
    lead = gateway.describe("Lead")
    assert lead.fields["Email"].updateable
    assert lead.fields["LastName"].createable and not lead.fields["LastName"].nillable
    assert not lead.fields["SystemModstamp"].updateable
    assert lead.fields["Full_Name__c"].calculated and not lead.fields["Full_Name__c"].updateable
    assert lead.fields["Crmsync_Key__c"].external_id


def test_check_connection_reports_the_daily_api_usage(emulator: Emulator, gateway: SalesforceGateway) -> None:
    usage = gateway.check_connection()
    assert usage.limit == 100_000
    assert usage.used == emulator.api_calls
    assert gateway.api_usage is not None and gateway.api_usage.limit == 100_000


def test_records_come_typed_once_and_their_values_as_salesforce_sent_them(
    emulator: Emulator, clock: ManualClock, gateway: SalesforceGateway
) -> None:
    # GIVEN a Lead merged into another (deleted, with its survivor named)
    survivor = emulator.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Acme", "Email": "ada@acme.example"}
    )
    merged = emulator.insert("Lead", {"LastName": "Lovelace", "Company": "Acme", "Email": "ada@acme.example"})
    emulator.merge(survivor, [merged])
    clock.advance(seconds=2)

    # WHEN the changes are read, and the survivor found by id
    (page,) = gateway.read_changes("Lead", ["Email", "LastModifiedDate", "MasterRecordId"], None, clock.now())
    (found,) = gateway.find("Lead", ["Email", "LastModifiedDate", "IsDeleted"], "Id", [survivor])

    # THEN what the connector reads itself is typed: instants aware, checkboxes bools, Ids text
    by_id = {record.id: record for record in page.records}
    gone = by_id[merged]
    assert gone.deleted is True and gone.master_record_id == survivor
    assert gone.stamp is not None and gone.stamp.tzinfo is not None
    assert gone.modified_at == gone.last_modified and gone.last_modified.utcoffset().total_seconds() == 0
    assert page.watermark.stamp == page.records[-1].stamp
    assert found.id == survivor and found.deleted is False and found.converted is False
    # AND every field keeps the value Salesforce sent: what mappings carry to prospects and back
    assert isinstance(found["LastModifiedDate"], str) and found["LastModifiedDate"].endswith("+0000")
    assert found["Email"] == "ada@acme.example" and found["IsDeleted"] is False
    assert "attributes" not in found
