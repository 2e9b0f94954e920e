"""Batched writes through the gateway: Collections by 200, Bulk API 2.0 above the threshold."""

from __future__ import annotations

import pytest
from crmsync.domain.errors import CrmError, ErrorCategory
from crmsync.domain.records import Batching, WriteOperation
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


# Salesforce answers Bulk API 2.0 results as `text/csv` with no charset and in no set order; the
# emulator does the same. Values a user meets every day: accents, CJK, an emoji, and the CSV
# specials (a comma, a quote, a newline).
AWKWARD = ["José", "山田", "Zoë 🚀", 'Smith, "Jr."\nthe second']
BULK = Batching(bulk_threshold=1)


def test_bulk_creates_with_non_ascii_values_report_each_record_it_wrote(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Known", "Company": "Acme"})
    tasks = [{"WhoId": lead, "Subject": f"Visited {name}", "Description": name} for name in AWKWARD]
    tasks.append(dict(tasks[0]))  # two identical Tasks (the same page visited twice) are two Tasks

    task_results = gateway.write("Task", WriteOperation.CREATE, tasks, batching=BULK)
    account_results = gateway.write(
        "Account", WriteOperation.CREATE, [{"Name": name} for name in AWKWARD], batching=BULK
    )

    assert all(r.success and r.created for r in task_results + account_results)
    written = {r["Id"]: r for r in emulator.records("Task")}
    assert len(written) == len(tasks) == len({r.record_id for r in task_results})
    assert [written[str(r.record_id)]["Description"] for r in task_results] == [*AWKWARD, AWKWARD[0]]
    names = {r["Id"]: r["Name"] for r in emulator.records("Account")}
    assert [names[str(r.record_id)] for r in account_results] == AWKWARD


def test_bulk_updates_and_upserts_with_non_ascii_values_report_each_record(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    ids = [emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"}) for n in range(len(AWKWARD))]
    emulator.insert("Lead", {"LastName": "Old", "Company": "Acme", "Crmsync_Key__c": "p-0"})

    updated = gateway.write(
        "Lead",
        WriteOperation.UPDATE,
        [{"Id": i, "FirstName": name[:40]} for i, name in zip(ids, AWKWARD, strict=True)],
        batching=BULK,
    )
    upserted = gateway.write(
        "Lead",
        WriteOperation.UPSERT,
        [{"Crmsync_Key__c": f"p-{n}", "LastName": name, "Company": name} for n, name in enumerate(AWKWARD)],
        external_id_field="Crmsync_Key__c",
        batching=BULK,
    )

    assert [(r.success, r.record_id) for r in updated] == [(True, i) for i in ids]
    assert [emulator.get(i)["FirstName"] for i in ids] == AWKWARD
    assert all(r.success for r in upserted)
    assert [r.created for r in upserted] == [False, True, True, True]
    by_key = {r["Crmsync_Key__c"]: r for r in emulator.records("Lead") if r["Crmsync_Key__c"]}
    assert [by_key[f"p-{n}"]["Id"] for n in range(len(AWKWARD))] == [r.record_id for r in upserted]
    assert [by_key[f"p-{n}"]["LastName"] for n in range(len(AWKWARD))] == AWKWARD


def test_a_bulk_create_with_no_result_for_a_record_is_never_sent_again_blind(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    # GIVEN Salesforce keeps no result for the last record of a job (past the daily batch allocation)
    emulator.faults.unrecorded_bulk_results(1)

    results = gateway.write(
        "Lead",
        WriteOperation.CREATE,
        [{"LastName": n, "Company": "Acme"} for n in ("José", "Ana")],
        batching=BULK,
    )

    # THEN the record Salesforce wrote but did not report is a failure not retried automatically:
    # sending it again would make a second Lead
    assert results[0].success
    unknown = results[1].failure
    assert unknown is not None and not unknown.retryable
    assert (unknown.code, unknown.category) == ("BULK_RESULT_MISSING", ErrorCategory.VALIDATION)
    assert "may have been created" in unknown.message
    assert len(emulator.records("Lead")) == 2


def test_a_bulk_update_with_no_result_for_a_record_is_retried(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme"})
    emulator.faults.unrecorded_bulk_results(1)

    [result] = gateway.write("Lead", WriteOperation.UPDATE, [{"Id": lead, "Title": "CTO"}], batching=BULK)

    # Writing the same values again is harmless, so the record waits for the next run
    assert result.failure is not None and result.failure.retryable


def test_a_bulk_create_whose_results_cannot_be_read_is_never_sent_again_blind(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    # GIVEN the job runs, but reading its results fails longer than the retry budget
    emulator.faults.server_errors(count=3, status=503, path_containing="successfulResults")

    results = gateway.write(
        "Lead", WriteOperation.CREATE, [{"LastName": "José", "Company": "Acme"}], batching=BULK
    )

    # THEN the Lead, created, is reported as of unknown outcome rather than as worth sending again
    [result] = results
    assert result.failure is not None and result.failure.code == "BULK_RESULT_MISSING"
    assert not result.failure.retryable
    assert len(emulator.records("Lead")) == 1


def test_a_bulk_update_whose_results_cannot_be_read_fails_as_a_whole_and_is_retried(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme"})
    emulator.faults.server_errors(count=3, status=503, path_containing="successfulResults")

    with pytest.raises(CrmError) as failed:
        gateway.write("Lead", WriteOperation.UPDATE, [{"Id": lead, "Title": "CTO"}], batching=BULK)

    assert failed.value.retryable
