"""`CrmGateway` on simple-salesforce: incremental reads, batched writes, describe, limits.

One write path: sObject Collections (up to 200 records a call, `allOrNone=false`) below the
bulk threshold, Bulk API 2.0 at or above it; both sizes come with each write, from the
configuration's `batching`. Every failure leaves as a domain `Failure`, per record when
Salesforce reports it per record, as a `CrmError` when the whole request failed.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.util import call_salesforce

from crmsync.domain.errors import CrmError, Failure
from crmsync.domain.records import (
    ApiUsage,
    Batching,
    ChangePage,
    FieldDescription,
    ObjectDescription,
    SalesforceRecord,
    Watermark,
    WriteOperation,
    WriteResult,
)
from crmsync.domain.retry import RetryPolicy
from crmsync.ports import BulkQueryPage
from crmsync.salesforce import soql
from crmsync.salesforce.errors import TRANSLATED, failure_from_errors, translate
from crmsync.salesforce.records import read_csv_record, read_record
from crmsync.salesforce.session import SalesforceSession

COLLECTION_SIZE = 200
"""The most records Salesforce takes in one sObject Collections call."""
MAX_URI_AND_HEADERS_BYTES = 16_384
"""Salesforce refuses a request whose URI and headers together pass this (414 URI Too Long or
431 Request Header Fields Too Large; Salesforce Help, article 000386264)."""
HEADERS_ALLOWANCE_BYTES = 2_048
"""What a query's headers take at most: the bearer token, simple-salesforce's and requests'."""
QUERY_OPTIONS = "Sforce-Query-Options"
EXPIRED_CURSOR = "INVALID_QUERY_LOCATOR"
"""Salesforce's answer to a next page asked of a query cursor it no longer keeps."""
BULK_NULL = "#N/A"
T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_write(
    sobject: str,
    operation: WriteOperation,
    records: Sequence[Mapping[str, Any]],
    external_id_field: str | None,
) -> None:
    """Refuse a write request no Salesforce call should carry (a caller's mistake, not a
    record's failure): names that are not API names, an upsert without its external id, an
    update of a record without its Id."""
    soql.api_name(sobject)
    if operation is WriteOperation.UPSERT:
        if not external_id_field:
            raise ValueError("an upsert needs external_id_field")
        soql.api_name(external_id_field)
    if operation is WriteOperation.UPDATE and any(not r.get("Id") for r in records):
        raise ValueError("every record of an update needs its Id")


class SalesforceGateway:
    def __init__(
        self,
        session: SalesforceSession,
        *,
        api_version: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        bulk_poll_seconds: float = 2.0,
    ) -> None:
        self._session = session
        self._api_version = api_version
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._bulk_poll_seconds = bulk_poll_seconds
        self._sf: Salesforce | None = None
        self._types: dict[str, Mapping[str, str]] = {}
        """sObject → its fields' types, for typing Bulk API CSV (one describe per gateway)."""

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's daily API usage as of the last response, from `Sforce-Limit-Info`, with
        the time that response came."""
        return self._session.api_usage

    @property
    def api_calls(self) -> int:
        """Salesforce API requests this gateway made (logins excluded)."""
        return self._session.api_calls

    @property
    def api_calls_by_kind(self) -> dict[str, int]:
        """`api_calls` by kind (`session.api_call_kind`), and the logins (`login`)."""
        kinds = dict(self._session.calls_by_kind)
        if self._session.logins:
            kinds["login"] = self._session.logins
        return kinds

    @property
    def _client(self) -> Salesforce:
        if self._sf is None:
            token = self._session.token
            self._sf = Salesforce(
                instance_url=token.instance_url,
                session_id=token.access_token,
                session=self._session,
                version=self._api_version,
                object_pairs_hook=dict,
            )
        return self._sf

    def _call(self, action: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run one Salesforce request, retrying transient failures under the retry policy.

        A request that creates records is retried only when it certainly never reached
        Salesforce: replaying one that timed out after it was sent could create a duplicate.
        """
        attempt = 1
        while True:
            try:
                return action()
            except TRANSLATED as exc:
                error = translate(exc)
                replay_is_safe = idempotent or isinstance(exc, requests.ConnectTimeout)
                if not (replay_is_safe and self._retry.should_retry(error.failure, attempt)):
                    raise error from exc
                attempt += 1
                self._sleep(self._retry.delay_before(attempt))

    # --- reads -------------------------------------------------------------------------------

    def read_changes(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        until: datetime,
        *,
        include_deleted: bool = True,
        page_size: int | None = None,
    ) -> Iterator[ChangePage]:
        """Pages of records changed after `since` and before `until`, each record once, typed
        (`salesforce.records`).

        With `include_deleted`, one queryAll returns changes and deletions together (deleted
        records carry `IsDeleted` and, for merge losers, `MasterRecordId`), so an idle object
        costs one call. Each page's watermark may be stored as soon as the page is applied.
        `page_size` asks for pages of that many records (`Sforce-Query-Options`; the cursor
        keeps it for the next pages, and Salesforce may answer with fewer). A cursor that
        expires part way costs one more query, from the last record read.
        """
        wanted = [*fields, "IsDeleted"] if include_deleted else list(fields)
        headers = {QUERY_OPTIONS: f"batchSize={page_size}"} if page_size else {}

        def first_page(after: Watermark | None) -> dict[str, Any]:
            query = soql.changed_since(sobject, wanted, after, until)
            page: dict[str, Any] = self._call(
                lambda: self._client.query(query, include_deleted=include_deleted, headers=headers)
            )
            return page

        page = first_page(since)
        watermark = since
        while True:
            records = [read_record(record) for record in page["records"]]
            if records:
                last = records[-1]
                assert last.stamp is not None  # every record has one, and the query asks for it
                watermark = Watermark(last.stamp, last.id)
            yield ChangePage(records=records, watermark=watermark)
            if page.get("done", True):
                return
            next_url = page["nextRecordsUrl"]
            try:
                page = self._call(partial(self._client.query_more, next_url, identifier_is_url=True))
            except CrmError as error:
                if error.failure.code != EXPIRED_CURSOR:
                    raise
                # The cursor is gone (15 minutes unused, or the user opened ten newer ones) and
                # asking again cannot bring it back: query again after the last record read.
                # What was read stays behind the watermark; a record changed since the first
                # query has a newer stamp, so it comes later in this read or in the next one,
                # never not at all.
                page = first_page(watermark)

    def find(
        self, sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object]
    ) -> list[SalesforceRecord]:
        """Records whose `key_field` is one of `values` (values are quoted safely), typed: one
        query, or as few as keep each query's URI within what Salesforce accepts."""
        records: list[SalesforceRecord] = []
        room = MAX_URI_AND_HEADERS_BYTES - HEADERS_ALLOWANCE_BYTES - len(f"{self._client.base_url}query/?q=")
        for query in soql.where_in_batches(sobject, fields, key_field, values, max_encoded_length=room):
            records += map(read_record, self._call(partial(self._client.query_all, query))["records"])
        return records

    def describe(self, sobject: str) -> ObjectDescription:
        name = soql.api_name(sobject)
        data = self._call(lambda: getattr(self._client, name).describe())
        return ObjectDescription(
            name=data["name"],
            fields={
                f["name"]: FieldDescription(
                    name=f["name"],
                    type=f["type"],
                    length=int(f.get("length") or 0),
                    createable=bool(f.get("createable")),
                    updateable=bool(f.get("updateable")),
                    nillable=bool(f.get("nillable")),
                    calculated=bool(f.get("calculated")),
                    external_id=bool(f.get("externalId")),
                    label=str(f.get("label") or ""),
                )
                for f in data["fields"]
            },
        )

    def check_connection(self) -> ApiUsage:
        """One cheap call (`/limits`) that proves the login works and reports the API usage."""
        limits = self._call(self._client.limits)
        daily = limits["DailyApiRequests"]
        return ApiUsage(
            used=int(daily["Max"]) - int(daily["Remaining"]),
            limit=int(daily["Max"]),
            read_at=self._session.clock(),
        )

    # --- Bulk API 2.0 query (a resync) ------------------------------------------------------

    def start_query(self, sobject: str, fields: Sequence[str], since: datetime | None) -> str:
        """Create a Bulk API 2.0 query job (Bulk API 2.0 Developer Guide, "Create a Query Job":
        POST /jobs/query with `operation` and `query`); its id. Creating one twice only costs
        the second job, so a lost answer is asked again."""
        body = {
            "operation": "query",
            "query": soql.all_records(sobject, fields, since),
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        job = self._call(
            lambda: call_salesforce(
                url=f"{self._client.bulk2_url}query",
                method="POST",
                session=self._session,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                data=json.dumps(body),
            ).json()
        )
        return str(job["id"])

    def query_progress(self, job_id: str) -> tuple[bool, int | None]:
        """The job's state ("Get Information About a Query Job": UploadComplete, InProgress,
        JobComplete, Aborted, Failed) as whether its results are ready, and the records found
        (`numberRecordsProcessed`) once they are."""
        info = self._call(
            lambda: call_salesforce(
                url=f"{self._client.bulk2_url}query/{job_id}",
                method="GET",
                session=self._session,
                headers={"Accept": "application/json"},
            ).json()
        )
        state = str(info.get("state", ""))
        if state in ("Aborted", "Failed"):
            message = str(info.get("errorMessage") or f"the Bulk API query job is {state}")
            raise CrmError(Failure.of("BULK_QUERY_FAILED", f"{job_id}: {message}"))
        if state != "JobComplete":
            return False, None
        return True, int(info.get("numberRecordsProcessed") or 0)

    def query_page(self, job_id: str, sobject: str, locator: str | None, max_records: int) -> BulkQueryPage:
        """One page of a finished job's results ("Get Results for a Query Job": CSV, the next
        page's `Sforce-Locator` header, "null" after the last). The CSV is UTF-8 and comes as
        `text/csv` with no charset, so its bytes are decoded here (see `_ingest_results`); every
        row is typed by the object's describe, read once per gateway."""
        params: dict[str, Any] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator
        response = self._call(
            lambda: call_salesforce(
                url=f"{self._client.bulk2_url}query/{job_id}/results",
                method="GET",
                session=self._session,
                headers={"Accept": "text/csv"},
                params=params,
            )
        )
        types = self._field_types(sobject)
        rows = csv.DictReader(io.StringIO(response.content.decode("utf-8", errors="replace")))
        next_locator = response.headers.get("Sforce-Locator") or "null"
        return BulkQueryPage(
            records=[read_csv_record(row, types) for row in rows],
            next_locator=None if next_locator == "null" else next_locator,
        )

    def _field_types(self, sobject: str) -> Mapping[str, str]:
        if sobject not in self._types:
            self._types[sobject] = {name: f.type for name, f in self.describe(sobject).fields.items()}
        return self._types[sobject]

    # --- writes ------------------------------------------------------------------------------

    def write(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
        batching: Batching | None = None,
    ) -> list[WriteResult]:
        """Write `records`; one result per record, in order: sObject Collections calls of
        `batching.collection_size`, or one Bulk API 2.0 job from `batching.bulk_threshold`
        records on. Records that fail with a transient error (a locked row) are sent again
        under the retry policy; the rest keep their failure."""
        batching = batching or Batching()
        check_write(sobject, operation, records, external_id_field)
        if len(records) >= batching.bulk_threshold:
            return self._write_bulk(sobject, operation, records, external_id_field)

        results: list[WriteResult] = [WriteResult(record_id=None)] * len(records)
        pending = list(range(len(records)))
        attempt = 1
        while pending:
            for chunk in _chunks(pending, min(batching.collection_size, COLLECTION_SIZE)):
                chunk_results = self._write_collection(
                    sobject, operation, [records[i] for i in chunk], external_id_field
                )
                for index, result in zip(chunk, chunk_results, strict=True):
                    results[index] = result
            pending = [
                i
                for i in pending
                if (failure := results[i].failure) is not None and self._retry.should_retry(failure, attempt)
            ]
            if pending:
                attempt += 1
                self._sleep(self._retry.delay_before(attempt))
        return results

    def _write_collection(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
    ) -> list[WriteResult]:
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **record} for record in records],
        }
        if operation is WriteOperation.CREATE:
            method, path = "POST", "composite/sobjects"
        elif operation is WriteOperation.UPDATE:
            method, path = "PATCH", "composite/sobjects"
        else:
            method, path = "PATCH", f"composite/sobjects/{sobject}/{external_id_field}"
        response = self._call(
            lambda: self._client.restful(path, method=method, json=body),
            idempotent=operation is not WriteOperation.CREATE,
        )
        if not isinstance(response, list) or len(response) != len(records):
            raise CrmError(
                Failure.of("UNKNOWN_EXCEPTION", f"unexpected Collections response: {response!r}"[:500])
            )
        return [
            WriteResult(
                record_id=item.get("id") or record.get("Id"),
                failure=None if item.get("success") else failure_from_errors(item.get("errors")),
                created=bool(item.get("created", operation is WriteOperation.CREATE and item.get("success"))),
            )
            for item, record in zip(response, records, strict=True)
        ]

    def _write_bulk(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
    ) -> list[WriteResult]:
        columns = list(dict.fromkeys(key for record in records for key in record))
        rows = [{column: _bulk_cell(record.get(column, "")) for column in columns} for record in records]
        handler = getattr(self._client.bulk2, sobject)
        if operation is WriteOperation.CREATE:
            jobs = self._call(
                lambda: handler.insert(records=rows, wait=self._bulk_poll_seconds), idempotent=False
            )
        elif operation is WriteOperation.UPDATE:
            jobs = self._call(lambda: handler.update(records=rows, wait=self._bulk_poll_seconds))
        else:
            jobs = self._call(
                lambda: handler.upsert(
                    records=rows, external_id_field=external_id_field, wait=self._bulk_poll_seconds
                )
            )

        key_of = _bulk_row_key(operation, columns, external_id_field)
        waiting: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
        for index, row in enumerate(rows):
            waiting[key_of({column.lower(): cell for column, cell in row.items()})].append(index)
        results: list[WriteResult | None] = [None] * len(rows)

        def settle(job_id: str, kind: str, make: Callable[[dict[str, str]], WriteResult]) -> None:
            try:
                result_csv = self._ingest_results(job_id, kind)
            except CrmError:
                if operation is not WriteOperation.CREATE:
                    raise
                return  # the job ran: its records are reported as of unknown outcome below
            for result_row in csv.DictReader(io.StringIO(result_csv, newline="")):
                queue = waiting.get(key_of({name.lower(): cell for name, cell in result_row.items()}))
                if queue:
                    results[queue.popleft()] = make(result_row)

        for job in jobs:
            job_id = job["job_id"]
            failed = int(job["numberRecordsFailed"])
            processed = int(job["numberRecordsProcessed"])
            if processed > failed:
                settle(
                    job_id,
                    "successfulResults",
                    lambda row: WriteResult(
                        record_id=row["sf__Id"], created=row.get("sf__Created") == "true"
                    ),
                )
            if failed:
                settle(
                    job_id,
                    "failedResults",
                    lambda row: WriteResult(
                        record_id=row.get("sf__Id") or None, failure=_bulk_failure(row["sf__Error"])
                    ),
                )
            if processed < int(job["numberRecordsTotal"]):
                settle(
                    job_id,
                    "unprocessedrecords",
                    lambda row: WriteResult(
                        record_id=None,
                        failure=Failure.of("UNPROCESSED", "Bulk API job did not process this record"),
                    ),
                )
        missing = _missing_bulk_result(operation)
        return [result or WriteResult(record_id=None, failure=missing) for result in results]

    def _ingest_results(self, job_id: str, kind: str) -> str:
        """One of a finished ingest job's result CSVs, decoded from its bytes as UTF-8.

        Salesforce serves them as `text/csv` with no charset, so `requests` reads them as
        ISO-8859-1, and simple-salesforce's `get_*_records` return that reading (simple-salesforce
        issue #706, pull request #688). Salesforce's Bulk API 2.0 is UTF-8 throughout ("Files must
        be in UTF-8 format", Bulk API 2.0 Developer Guide, Prepare CSV Files). The bytes are taken
        rather than the text re-encoded: the re-encoding is exact only while the header names no
        charset and is `text/*`, and would garble the day Salesforce names one.
        """
        url = f"{self._client.bulk2_url}ingest/{job_id}/{kind}/"
        response = self._call(
            lambda: call_salesforce(
                url=url, method="GET", session=self._session, headers={"Accept": "text/csv"}
            )
        )
        # An undecodable byte spoils its own row's match only, not the whole job's results.
        return response.content.decode("utf-8", errors="replace")


def _bulk_row_key(
    operation: WriteOperation, columns: Sequence[str], external_id_field: str | None
) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
    """What ties a result row to the request row it reports on (rows keyed by lower-case names).

    Salesforce does not keep the upload's order in the results ("The order of records in the
    response is not guaranteed to match the ordering of records in the original job data", Get
    Job Successful Record Results), and each result row repeats the request row's cells. An
    update is known by its Id (the first 15 characters: the rest is a checksum of them), an
    upsert by its external id. An insert has neither, so it is known by all its cells: two
    request rows with the same cells would write the same record, so which of them gets which
    result does not matter.
    """
    if operation is WriteOperation.UPDATE:
        return lambda row: ((row.get("id") or row.get("sf__id") or "")[:15],)
    if operation is WriteOperation.UPSERT:
        assert external_id_field is not None
        key = external_id_field.lower()
        return lambda row: (row.get(key, ""),)
    names = [column.lower() for column in columns]
    return lambda row: tuple(row.get(name, "") for name in names)


def _missing_bulk_result(operation: WriteOperation) -> Failure:
    """The failure of a record the job's results do not mention (Salesforce keeps no results for
    batches past the daily batch allocation). Writing an update or an upsert again changes
    nothing, so it waits for the next run; an insert may have created its record, so it is not
    sent again automatically, where it could create a second one."""
    if operation is WriteOperation.CREATE:
        return Failure.of(
            "BULK_RESULT_MISSING",
            "Bulk API 2.0 returned no result for this record: it may have been created, so it is not "
            "sent again automatically (check Salesforce before retrying it)",
        )
    return Failure.of("UNKNOWN_EXCEPTION", "Bulk API 2.0 returned no result for this record")


def _bulk_cell(value: Any) -> str:
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bulk_failure(error: str) -> Failure:
    """Bulk API 2.0 reports `CODE:message:field1,field2 --`."""
    code, _, rest = error.partition(":")
    message, _, fields = rest.rstrip(" -").rpartition(":")
    if not message:
        message, fields = fields, ""
    return Failure.of(code.strip(), message.strip(), tuple(f.strip() for f in fields.split(",") if f.strip()))
