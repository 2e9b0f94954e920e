"""Batched writes through the gateway: Collections by 200, Bulk API 2.0 above the threshold."""

from __future__ import annotations

from crmsync.domain.errors import ErrorCategory
from crmsync.domain.records import WriteOperation
from crmsync.salesforce.gateway import SalesforceGateway

from local.salesforce_emulator import Emulator


def leads(count: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"LastName": f"Lead {n}", "Company": "Acme", "Email": f"lead{n}@acme.example"}
        for n in range(start, start + count)
    ]


def test_450_records_through_collections_cost_exactly_3_calls(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    records = leads(450)
    records[7] = {"Company": "Acme", "Email": "no-last-name@acme.example"}
    records[300] = {"LastName": "Bad Email", "Company": "Acme", "Email": "not-an-email"}
    emulator.reset_counters()

    results = gateway.write("Lead", WriteOperation.CREATE, records)

    assert emulator.api_calls == 3
    assert len(results) == 450
    assert sum(r.success for r in results) == 448
    missing, invalid = results[7].failure, results[300].failure
    assert missing is not None and (missing.code, missing.fields) == ("REQUIRED_FIELD_MISSING", ("LastName",))
    assert (
        "LastName" in missing.message
        and missing.category is ErrorCategory.VALIDATION
        and not missing.retryable
    )
    assert invalid is not None and (invalid.code, invalid.fields) == ("INVALID_EMAIL_ADDRESS", ("Email",))
    created = {r.record_id for r in results if r.success}
    assert created == {lead["Id"] for lead in emulator.records("Lead")}


def test_updates_and_upserts_report_per_record_results(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    first = emulator.insert("Lead", {"LastName": "First", "Company": "Acme", "Crmsync_Key__c": "p-1"})
    converted = emulator.insert("Lead", {"LastName": "Converted", "Company": "Acme"})
    emulator.convert_lead(converted)

    updated = gateway.write(
        "Lead",
        WriteOperation.UPDATE,
        [{"Id": first, "Title": "CTO", "Score__c": 42}, {"Id": converted, "Title": "CEO"}],
    )
    upserted = gateway.write(
        "Lead",
        WriteOperation.UPSERT,
        [
            {"Crmsync_Key__c": "p-1", "Grade__c": "A"},
            {"Crmsync_Key__c": "p-2", "LastName": "New", "Company": "Acme"},
        ],
        external_id_field="Crmsync_Key__c",
    )

    assert updated[0].success and emulator.get(first)["Title"] == "CTO"
    assert updated[1].failure is not None and updated[1].failure.code == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert [(r.success, r.created) for r in upserted] == [(True, False), (True, True)]
    assert emulator.get(first)["Grade__c"] == "A"


def test_a_blank_value_clears_the_field(emulator: Emulator, gateway: SalesforceGateway) -> None:
    lead = emulator.insert("Lead", {"LastName": "Blank", "Company": "Acme", "Title": "CTO"})
    [result] = gateway.write("Lead", WriteOperation.UPDATE, [{"Id": lead, "Title": None}])
    assert result.success and emulator.get(lead)["Title"] is None


def test_5000_records_go_through_bulk_api_2(emulator: Emulator, gateway: SalesforceGateway) -> None:
    records = leads(5000)
    records[4321] = {"LastName": "Too long " + "x" * 90, "Company": "Acme"}
    emulator.reset_counters()

    results = gateway.write("Lead", WriteOperation.CREATE, records)

    paths = [path for _, path in emulator.call_log]
    assert not any("composite" in path for path in paths)
    assert any(path.endswith("/jobs/ingest") or path.endswith("/jobs/ingest/") for path in paths)
    assert emulator.api_calls <= 10
    assert sum(r.success for r in results) == 4999
    too_long = results[4321].failure
    assert too_long is not None and (too_long.code, too_long.fields) == ("STRING_TOO_LONG", ("LastName",))
    by_email = {lead["Email"]: lead["Id"] for lead in emulator.records("Lead")}
    assert all(results[n].record_id == by_email[f"lead{n}@acme.example"] for n in (0, 1999, 4999))


def test_bulk_updates_can_clear_fields(emulator: Emulator, gateway: SalesforceGateway) -> None:
    ids = [
        r.record_id
        for r in gateway.write("Lead", WriteOperation.CREATE, [{**r, "Title": "CTO"} for r in leads(2000)])
    ]
    results = gateway.write(
        "Lead", WriteOperation.UPDATE, [{"Id": i, "Title": None, "Score__c": 7} for i in ids]
    )
    assert all(r.success for r in results)
    sample = emulator.get(str(ids[1234]))
    assert sample["Title"] is None and sample["Score__c"] == 7
