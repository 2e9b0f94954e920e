"""Bulk API 2.0: the ingest and query job lifecycles, with CSV in and out."""

from __future__ import annotations

import csv
import io
from typing import Any

import requests

from local.salesforce_emulator import Emulator

from .conftest import API_VERSION, Client, assert_error

CSV_TYPE = {"Content-Type": "text/csv"}


def rows(response: requests.Response) -> list[dict[str, str]]:
    """The CSV's rows, read from its bytes as UTF-8 (Salesforce names no charset)."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def create_job(api: Client, operation: str, **extra: Any) -> dict[str, Any]:
    body = {"object": "Lead", "operation": operation, "contentType": "CSV", "lineEnding": "LF"} | extra
    response = api.request("POST", "jobs/ingest", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def run_job(api: Client, operation: str, data: str | bytes, **extra: Any) -> dict[str, Any]:
    job = create_job(api, operation, **extra)
    assert (
        api.request("PUT", f"jobs/ingest/{job['id']}/batches", data=data, headers=CSV_TYPE).status_code == 201
    )
    closed = api.request("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    info: dict[str, Any] = api.get(f"jobs/ingest/{job['id']}").json()
    return info


def test_an_insert_job_goes_open_then_complete_and_reports_per_record_results(
    emulator: Emulator, api: Client
) -> None:
    job = create_job(api, "insert")
    assert job["id"].startswith("750") and job["state"] == "Open" and job["jobType"] == "V2Ingest"
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    assert (job["object"], job["operation"], job["contentType"], job["lineEnding"]) == (
        "Lead",
        "insert",
        "CSV",
        "LF",
    )

    data = "LastName,Company,Email\nPat,Acme,pat@example.com\n,Acme,nameless@example.com\nSam,Acme,\n"
    assert (
        api.request("PUT", f"jobs/ingest/{job['id']}/batches", data=data, headers=CSV_TYPE).status_code == 201
    )
    api.request("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = api.get(f"jobs/ingest/{job['id']}").json()

    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 1)
    succeeded = rows(api.get(f"jobs/ingest/{job['id']}/successfulResults/"))
    failed = rows(api.get(f"jobs/ingest/{job['id']}/failedResults/"))
    unprocessed = api.get(f"jobs/ingest/{job['id']}/unprocessedrecords/")
    assert list(succeeded[0]) == ["sf__Id", "sf__Created", "LastName", "Company", "Email"]
    assert sorted((r["sf__Created"], r["LastName"], r["Email"]) for r in succeeded) == [
        ("true", "Pat", "pat@example.com"),
        ("true", "Sam", ""),
    ]
    assert failed == [
        {
            "sf__Id": "",
            "sf__Error": "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "LastName": "",
            "Company": "Acme",
            "Email": "nameless@example.com",
        }
    ]
    assert unprocessed.text.strip() == '"LastName","Company","Email"'
    assert {r["Id"] for r in emulator.records("Lead")} == {r["sf__Id"] for r in succeeded}


def test_na_clears_a_field_and_an_empty_cell_leaves_it(emulator: Emulator, api: Client) -> None:
    lead = emulator.insert("Lead", {"LastName": "Pat", "Company": "Acme", "Title": "CTO", "Phone": "123"})

    info = run_job(api, "update", f"Id,Title,Phone\n{lead},#N/A,\n")

    assert info["numberRecordsFailed"] == 0
    record = emulator.get(lead)
    assert record is not None and record["Title"] is None and record["Phone"] == "123"


def test_an_upsert_job_reports_created_true_or_false(emulator: Emulator, api: Client) -> None:
    emulator.insert("Lead", {"LastName": "Old", "Company": "Acme", "Crmsync_Key__c": "k-1"})

    info = run_job(
        api,
        "upsert",
        "Crmsync_Key__c,LastName,Company\nk-1,Old,Acme\nk-2,New,Acme\n",
        externalIdFieldName="Crmsync_Key__c",
    )

    assert info["externalIdFieldName"] == "Crmsync_Key__c"
    created = {
        r["Crmsync_Key__c"]: r["sf__Created"]
        for r in rows(api.get(f"jobs/ingest/{info['id']}/successfulResults"))
    }
    assert created == {"k-1": "false", "k-2": "true"}


def test_a_locked_row_fails_in_the_job_and_the_error_keeps_its_format(
    emulator: Emulator, api: Client
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Busy", "Company": "Acme"})
    emulator.faults.lock_records([lead], times=1)

    info = run_job(api, "update", f"Id,Title\n{lead},CFO\n")

    [failed] = rows(api.get(f"jobs/ingest/{info['id']}/failedResults"))
    assert failed["sf__Id"] == lead
    assert (
        failed["sf__Error"]
        == f"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: {lead}: --"
    )


def test_an_unknown_column_fails_the_job_and_leaves_its_records_unprocessed(api: Client) -> None:
    info = run_job(api, "insert", "LastName,Company,Shoe_Size__c\nPat,Acme,42\n")

    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Shoe_Size__c"
    assert rows(api.get(f"jobs/ingest/{info['id']}/unprocessedrecords")) == [
        {"LastName": "Pat", "Company": "Acme", "Shoe_Size__c": "42"}
    ]


def test_an_aborted_job_takes_no_upload_and_a_bad_job_is_refused(api: Client) -> None:
    job = create_job(api, "insert")
    aborted = api.request("PATCH", f"jobs/ingest/{job['id']}", json={"state": "Aborted"})
    upload = api.request("PUT", f"jobs/ingest/{job['id']}/batches", data="LastName\nX\n", headers=CSV_TYPE)

    assert aborted.json()["state"] == "Aborted"
    assert_error(upload, 400, "INVALIDJOBSTATE")
    assert_error(
        api.request("POST", "jobs/ingest", json={"object": "Shoe", "operation": "insert"}), 400, "INVALIDJOB"
    )
    assert_error(api.get("jobs/ingest/7508d0000000zzzAAA"), 404, "NOT_FOUND")
    assert api.request("DELETE", f"jobs/ingest/{job['id']}").status_code == 204


def test_every_bulk_request_counts_as_an_api_call(emulator: Emulator, api: Client) -> None:
    emulator.reset_counters()
    run_job(api, "insert", "LastName,Company\nPat,Acme\n")
    assert emulator.api_calls == 4
    assert [method for method, _ in emulator.call_log] == ["POST", "PUT", "PATCH", "GET"]


def test_a_query_job_pages_its_csv_results_with_locators(emulator: Emulator, api: Client) -> None:
    for n in range(5):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})

    created = api.request(
        "POST",
        "jobs/query",
        json={"operation": "query", "query": "SELECT Id, LastName, SystemModstamp FROM Lead"},
    )
    job = created.json()
    assert created.status_code == 200 and job["state"] == "UploadComplete" and job["jobType"] == "V2Query"
    assert api.get(f"jobs/query/{job['id']}").json()["state"] == "JobComplete"

    first = api.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 3})
    second = api.get(
        f"jobs/query/{job['id']}/results",
        params={"maxRecords": 3, "locator": first.headers["Sforce-Locator"]},
    )

    assert first.headers["Sforce-NumberOfRecords"] == "3" and second.headers["Sforce-NumberOfRecords"] == "2"
    assert second.headers["Sforce-Locator"] == "null"
    records = rows(first) + rows(second)
    assert [r["LastName"] for r in records] == [f"Lead {n}" for n in range(5)]
    assert records[0]["SystemModstamp"] == "2026-11-22T12:00:00.000Z"


def test_query_results_are_read_again_by_their_locator_and_only_with_the_jobs_api_version(
    emulator: Emulator, api: Client
) -> None:
    for n in range(3):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})
    job = api.request(
        "POST", "jobs/query", json={"operation": "query", "query": "SELECT Id FROM Lead"}
    ).json()
    first = api.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 2})
    locator = first.headers["Sforce-Locator"]

    again = [
        api.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 2, "locator": locator}) for _ in "ab"
    ]
    other_version = api.get(
        api.url(f"jobs/query/{job['id']}/results").replace(f"/v{API_VERSION}/", "/v61.0/")
    )

    assert again[0].content == again[1].content and again[0].headers["Sforce-NumberOfRecords"] == "1"
    assert other_version.status_code == 409


def test_results_are_utf8_csv_that_names_no_charset_in_no_set_order(emulator: Emulator, api: Client) -> None:
    # GIVEN an insert whose values are not ASCII, and one that holds a comma, a quote and a newline
    names = ["José", "山田", "Zoë 🚀", 'Smith, "Jr."\nthe second']
    data = "LastName,Company\n" + "".join(f'"{n.replace(chr(34), chr(34) * 2)}",Acme\n' for n in names)

    # WHEN the job has run
    info = run_job(api, "insert", data.encode("utf-8"))
    response = api.get(f"jobs/ingest/{info['id']}/successfulResults")

    # THEN the results are UTF-8 bytes served as plain `text/csv`, as Salesforce serves them: a
    # client going by HTTP's default charset (ISO-8859-1) misreads them
    assert response.headers["Content-Type"] == "text/csv"
    assert "José" not in response.text and "JosÃ©" in response.text
    succeeded = rows(response)
    assert sorted(r["LastName"] for r in succeeded) == sorted(names)
    assert {r["LastName"] for r in emulator.records("Lead")} == set(names)
    # AND not in the order of the upload, which Salesforce does not promise to keep
    assert [r["LastName"] for r in succeeded] != names
    assert {r["sf__Id"]: r["LastName"] for r in succeeded} == {
        r["Id"]: r["LastName"] for r in emulator.records("Lead")
    }


def test_a_job_past_the_daily_batch_allocation_writes_records_it_keeps_no_result_for(
    emulator: Emulator, api: Client
) -> None:
    emulator.faults.unrecorded_bulk_results(1)

    info = run_job(api, "insert", "LastName,Company\nPat,Acme\nSam,Acme\n")

    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 0)
    assert [r["LastName"] for r in rows(api.get(f"jobs/ingest/{info['id']}/successfulResults"))] == ["Pat"]
    assert sorted(r["LastName"] for r in emulator.records("Lead")) == ["Pat", "Sam"]
