"""sObject Collections: one SaveResult per record, in input order, partial success by default."""

from __future__ import annotations

from typing import Any

from local.salesforce_emulator import Emulator

from .conftest import Client, assert_error


def lead(n: int, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": f"Lead {n}", "Company": "Acme"} | fields


def post(api: Client, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    response = api.request("POST", "composite/sobjects", json={"allOrNone": all_or_none, "records": records})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_answers_one_result_per_record_in_order(emulator: Emulator, api: Client) -> None:
    results = post(api, [lead(0), {"attributes": {"type": "Lead"}, "Company": "Acme"}, lead(2, Email="bad")])

    assert set(results[0]) == {"id", "success", "errors"}
    assert results[0]["success"] is True and results[0]["errors"] == []
    assert results[0]["id"].startswith("00Q") and len(results[0]["id"]) == 18
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert results[2]["errors"] == [
        {
            "statusCode": "INVALID_EMAIL_ADDRESS",
            "message": "Email: invalid email address: bad",
            "fields": ["Email"],
        }
    ]
    assert [r["Id"] for r in emulator.records("Lead")] == [results[0]["id"]]


def test_all_or_none_rolls_every_record_back(emulator: Emulator, api: Client) -> None:
    results = post(api, [lead(0), lead(1, Title="x" * 129)], all_or_none=True)

    assert results[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[1]["errors"][0]["message"] == f"Title: data value too large: {'x' * 129} (max length=128)"
    assert emulator.records("Lead") == []


def test_more_than_200_records_or_an_unknown_field_refuse_the_whole_request(
    emulator: Emulator, api: Client
) -> None:
    too_many = api.request("POST", "composite/sobjects", json={"records": [lead(n) for n in range(201)]})
    unknown = api.request("POST", "composite/sobjects", json={"records": [lead(0), lead(1, Shoe_Size__c=42)]})

    assert_error(too_many, 400, "EXCEEDED_ID_LIMIT")
    assert_error(unknown, 400, "INVALID_FIELD", "No such column 'Shoe_Size__c' on sobject of type Lead")
    assert emulator.records("Lead") == []


def test_a_record_without_a_type_fails_alone(api: Client) -> None:
    results = post(api, [{"LastName": "X", "Company": "Acme"}, lead(1)])
    assert results[0]["errors"][0] == {
        "statusCode": "INVALID_TYPE",
        "message": "Must send a concrete entity type.",
        "fields": [],
    }
    assert results[1]["success"] is True


def test_update_sets_and_clears_fields_and_names_each_failure(emulator: Emulator, api: Client) -> None:
    first = emulator.insert("Lead", {"LastName": "A", "Company": "Acme", "Title": "CTO"})
    gone = emulator.insert("Lead", {"LastName": "B", "Company": "Acme"})
    emulator.delete(gone)

    response = api.request(
        "PATCH",
        "composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": first, "Title": None, "Score__c": 7},
                {"attributes": {"type": "Lead"}, "Id": gone, "Title": "x"},
                {"attributes": {"type": "Lead"}, "Title": "no id"},
                {"attributes": {"type": "Lead"}, "Id": first, "SystemModstamp": "2020-01-01T00:00:00Z"},
            ],
        },
    )

    results = response.json()
    assert results[0] == {"id": first, "success": True, "errors": []}
    assert results[1] == {
        "id": gone,
        "success": False,
        "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
    }
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[3]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert results[3]["errors"][0]["fields"] == ["SystemModstamp"]
    record = emulator.get(first)
    assert record is not None and record["Title"] is None and record["Score__c"] == 7.0


def test_a_locked_row_fails_with_unable_to_lock_row_until_the_lock_is_spent(
    emulator: Emulator, api: Client
) -> None:
    busy = emulator.insert("Lead", {"LastName": "Busy", "Company": "Acme"})
    emulator.faults.lock_records([busy], times=1)
    body = {"records": [{"attributes": {"type": "Lead"}, "Id": busy, "Title": "CFO"}]}

    first = api.request("PATCH", "composite/sobjects", json=body).json()
    second = api.request("PATCH", "composite/sobjects", json=body).json()

    assert first[0]["errors"] == [
        {
            "statusCode": "UNABLE_TO_LOCK_ROW",
            "message": f"unable to obtain exclusive access to this record or 1 records: {busy}",
            "fields": [],
        }
    ]
    assert second[0]["success"] is True


def test_upsert_by_external_id_reports_created_per_record(emulator: Emulator, api: Client) -> None:
    existing = emulator.insert("Lead", {"LastName": "Old", "Company": "Acme", "Crmsync_Key__c": "k-1"})

    response = api.request(
        "PATCH",
        "composite/sobjects/Lead/Crmsync_Key__c",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "Crmsync_Key__c": "K-1", "Title": "Updated"},
                {
                    "attributes": {"type": "Lead"},
                    "Crmsync_Key__c": "k-2",
                    "LastName": "New",
                    "Company": "Acme",
                },
                {"attributes": {"type": "Lead"}, "Title": "no key"},
            ],
        },
    )

    results = response.json()
    assert results[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert results[1]["created"] is True and results[1]["success"] is True
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    updated = emulator.get(existing)
    assert updated is not None and updated["Title"] == "Updated"


def test_delete_by_ids_answers_per_id(emulator: Emulator, api: Client) -> None:
    one = emulator.insert("Lead", {"LastName": "One", "Company": "Acme"})

    response = api.request(
        "DELETE", "composite/sobjects", params={"ids": f"{one},00Q8d0000000zzzAAA", "allOrNone": "false"}
    )

    results = response.json()
    assert results[0] == {"id": one, "success": True, "errors": []}
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["statusCode"] in ("INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID")
    assert emulator.get(one) is None and emulator.get(one, include_deleted=True) is not None


def test_duplicate_rule_blocks_a_second_record_with_the_same_email(emulator: Emulator, api: Client) -> None:
    emulator.enable_duplicate_rule("Lead")
    emulator.insert("Lead", {"LastName": "A", "Company": "Acme", "Email": "pat@example.com"})

    results = post(api, [lead(1, Email="PAT@example.com"), lead(2, Email="other@example.com")])

    assert results[0]["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"
    assert results[1]["success"] is True


def test_delete_with_all_or_none_keeps_every_record_when_one_fails(emulator: Emulator, api: Client) -> None:
    one = emulator.insert("Lead", {"LastName": "One", "Company": "Acme"})
    gone = emulator.insert("Lead", {"LastName": "Gone", "Company": "Acme"})
    emulator.delete(gone)

    results = api.request(
        "DELETE", "composite/sobjects", params={"ids": f"{one},{gone}", "allOrNone": "true"}
    ).json()

    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert emulator.get(one) is not None


def test_retrieve_returns_the_asked_fields_or_null_per_id(emulator: Emulator, api: Client) -> None:
    one = emulator.insert("Lead", {"LastName": "One", "Company": "Acme"})

    response = api.get(
        "composite/sobjects/Lead", params={"ids": f"{one},{one[:3]}8d00000000zzz", "fields": "lastname"}
    )

    assert response.json() == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{one}"},
            "LastName": "One",
        },
        None,
    ]
