"""`CrmGateway` in process over the Salesforce emulator's org: no HTTP, no JSON, no login.

Why not a second model of Salesforce: the emulator already is one (records with their
`SystemModstamp`, required fields, email format, duplicate rules, conversions, merges, person
accounts, locked rows...), held to Salesforce by its own tests and to simple-salesforce by the
adapter tests. Going through it, a fake cannot disagree with the org the end-to-end tests meet.
Why not the real gateway on the mounted emulator: every call would pay for requests, JSON and
CSV, and the fake speaks the port, so service tests read what was asked of Salesforce as calls
(`calls`) rather than HTTP paths.

What it does as the real gateway does (tests/contract/test_crm_gateway.py holds it to that):
- reads: the SOQL the gateway sends (`crmsync.salesforce.soql`), answered by the emulator's own
  query engine, each record typed as the gateway types it (`salesforce.records.read_record`,
  so `find` and `ChangePage.records` hold `SalesforceRecord` values): changes in `(SystemModstamp, Id)` order with deletions, pages of
  `page_size` (at most 2,000), lookups split as the gateway splits them by URI length;
- writes: sObject Collections calls of `collection_size` below `bulk_threshold`, one Bulk API 2.0
  job from it on; records written through the emulator's API write path as the integration
  user, one result per record with the gateway's translation of each refusal; transient
  per-record failures (a locked row) sent again, as the gateway does, under the retry policy;
- failures on demand: the emulator's own faults (`org.faults`: server errors, locked rows),
  whole requests failed and retried as the gateway retries them; an org past its daily limit
  refuses with REQUEST_LIMIT_EXCEEDED;
- accounting: `api_calls` counts the requests the real gateway would make (a Bulk job is six,
  seven with failures), each spends one of the org's daily requests, and `api_usage` is the
  usage reported with the last answer, read at the connector's clock.
Not modelled (the adapter's own tests cover them): logins and expired sessions, expired query
cursors, Bulk results kept or lost, UTF-8 in Bulk results, request timeouts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from crmsync.domain.errors import CrmError
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
from crmsync.salesforce import soql
from crmsync.salesforce.errors import failure_from_errors
from crmsync.salesforce.gateway import check_write
from crmsync.salesforce.records import read_record
from crmsync.salesforce.session import api_call_kind

from local.salesforce_emulator import INSTANCE_URL, Emulator
from local.salesforce_emulator.errors import ApiError, RecordRefused, not_found
from local.salesforce_emulator.query import Queries
from local.salesforce_emulator.writes import ApiWriter

API_VERSION = "62.0"
INTEGRATION_USER = "integration@crmsync.example"
COLLECTION_SIZE = 200
QUERY_PAGE = 2_000
"""The most records a query page holds (the emulator's, and Salesforce's, largest batch)."""
BULK_JOB_REQUESTS = 6
"""What one Bulk API 2.0 job costs simple-salesforce: create, upload, close, two status polls,
the successful results; the failed results are one more."""
MAX_URI_AND_HEADERS_BYTES = 16_384
HEADERS_ALLOWANCE_BYTES = 2_048
_API_PATH = f"/services/data/v{API_VERSION}/"


@dataclass(frozen=True)
class CrmCall:
    """One thing asked of Salesforce: `kind` is query, next_page, find, collections, bulk,
    describe or limits; `records` how many records a write carried."""

    kind: str
    sobject: str = ""
    operation: WriteOperation | None = None
    records: int = 0


class FakeCrm:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        org_clock: Callable[[], datetime] | None = None,
        person_accounts: bool = False,
        daily_api_limit: int = 100_000,
        retry: RetryPolicy | None = None,
    ) -> None:
        """`clock` is the connector's (when a usage reading was taken); `org_clock` the org's
        (its records' stamps), `clock` itself when not given."""
        self.org = Emulator(
            clock=org_clock or clock, daily_api_limit=daily_api_limit, person_accounts=person_accounts
        )
        self._clock = clock
        self._limit = daily_api_limit
        self._retry = retry or RetryPolicy()
        # The emulator's store is what its APIs read and write; the fake goes the same ways.
        self._store = self.org._store
        self._writer = ApiWriter(self._store, self.org.faults)
        self._queries = Queries(self._store, QUERY_PAGE, self.org.clock, self.org.faults)
        self.user_id = self.org.add_user(INTEGRATION_USER, email=INTEGRATION_USER, last_name="Integration")
        self.calls: list[CrmCall] = []
        self.api_calls = 0
        self._calls_by_kind: Counter[str] = Counter()
        self.api_usage: ApiUsage | None = None

    @property
    def api_calls_by_kind(self) -> dict[str, int]:
        """`api_calls` by kind, as the gateway's session counts them (no login: the fake needs none)."""
        return dict(self._calls_by_kind)

    # ------------------------------------------------------------------ what a test reads

    def reset_counters(self) -> None:
        self.calls = []
        self.api_calls = 0
        self._calls_by_kind.clear()

    def writes(self) -> list[CrmCall]:
        return [call for call in self.calls if call.kind in ("collections", "bulk")]

    # ------------------------------------------------------------------ reads

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
        wanted = [*fields, "IsDeleted"] if include_deleted else list(fields)
        text = soql.changed_since(sobject, wanted, since, until)
        rows = self._request(
            "queryAll/" if include_deleted else "query/",
            CrmCall("query", sobject),
            lambda: self._queries.select(text, include_deleted=include_deleted).rows,
        )
        size = min(page_size or QUERY_PAGE, QUERY_PAGE)
        watermark = since
        start = 0
        while True:
            records = [read_record(row) for row in rows[start : start + size]]
            if records:
                last = records[-1]
                assert last.stamp is not None  # every record has one, and the query asks for it
                watermark = Watermark(last.stamp, last.id)
            yield ChangePage(records=records, watermark=watermark)
            start += size
            if start >= len(rows):
                return
            self._request("query/01g", CrmCall("next_page", sobject), lambda: None)

    def find(
        self, sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object]
    ) -> list[SalesforceRecord]:
        base_url = f"{INSTANCE_URL}{_API_PATH}"
        room = MAX_URI_AND_HEADERS_BYTES - HEADERS_ALLOWANCE_BYTES - len(f"{base_url}query/?q=")
        records: list[SalesforceRecord] = []
        for text in soql.where_in_batches(sobject, fields, key_field, values, max_encoded_length=room):
            rows = self._request("query/", CrmCall("find", sobject), partial(self._select, text))
            # simple-salesforce's query_all asks for every next page of a large answer.
            for _ in range(1, math.ceil(len(rows) / QUERY_PAGE)):
                self._request("query/01g", CrmCall("next_page", sobject), lambda: None)
            records += map(read_record, rows)
        return records

    def _select(self, text: str) -> list[dict[str, Any]]:
        return self._queries.select(text, include_deleted=False).rows

    def describe(self, sobject: str) -> ObjectDescription:
        name = soql.api_name(sobject)

        def describe() -> ObjectDescription:
            try:
                definition = self._store.sobject(name)
            except ApiError as exc:
                raise not_found() from exc
            return ObjectDescription(
                name=definition.name,
                fields={
                    f.name: FieldDescription(
                        name=f.name,
                        type=description["type"],
                        length=int(description.get("length") or 0),
                        createable=bool(description.get("createable")),
                        updateable=bool(description.get("updateable")),
                        nillable=bool(description.get("nillable")),
                        calculated=bool(description.get("calculated")),
                        external_id=bool(description.get("externalId")),
                    )
                    for f in definition.fields.values()
                    for description in [f.describe()]
                },
            )

        return self._request(f"sobjects/{name}/describe", CrmCall("describe", name), describe)

    def check_connection(self) -> ApiUsage:
        def limits() -> ApiUsage:
            return ApiUsage(used=self.org.daily_api_usage, limit=self._limit, read_at=self._clock())

        return self._request("limits/", CrmCall("limits"), limits)

    # ------------------------------------------------------------------ writes

    def write(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
        batching: Batching | None = None,
    ) -> list[WriteResult]:
        batching = batching or Batching()
        check_write(sobject, operation, records, external_id_field)
        if len(records) >= batching.bulk_threshold:
            return self._write_bulk(sobject, operation, records, external_id_field)

        results: list[WriteResult] = [WriteResult(record_id=None)] * len(records)
        pending = list(range(len(records)))
        attempt = 1
        size = min(batching.collection_size, COLLECTION_SIZE)
        while pending:
            for start in range(0, len(pending), size):
                chunk = pending[start : start + size]
                written = self._request(
                    "composite/sobjects",
                    CrmCall("collections", sobject, operation, len(chunk)),
                    partial(
                        self._write_all, sobject, operation, [records[i] for i in chunk], external_id_field
                    ),
                    idempotent=operation is not WriteOperation.CREATE,
                )
                for index, result in zip(chunk, written, strict=True):
                    results[index] = result
            pending = [
                i
                for i in pending
                if (failure := results[i].failure) is not None and self._retry.should_retry(failure, attempt)
            ]
            attempt += 1
        return results

    def _write_bulk(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
    ) -> list[WriteResult]:
        results = self._request(
            "jobs/ingest",
            CrmCall("bulk", sobject, operation, len(records)),
            lambda: self._write_all(sobject, operation, records, external_id_field),
            idempotent=operation is not WriteOperation.CREATE,
        )
        # The rest of the job's requests: upload, close, polls, results.
        for _ in range(BULK_JOB_REQUESTS - 1 + any(not r.success for r in results)):
            self._request("jobs/ingest/750", None, lambda: None)
        return results

    def _write_all(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None,
    ) -> list[WriteResult]:
        """The records written one by one through the emulator's API write path, in one
        request: a record refused is that record's alone, a request refused is all of them."""
        definition = self._store.sobject(sobject)
        values = [self._store.canonical(definition, dict(record)) for record in records]
        results = []
        self._store.begin()
        try:
            for record in values:
                try:
                    results.append(
                        self._write_one(definition.name, operation, dict(record), external_id_field)
                    )
                except RecordRefused as refused:
                    results.append(
                        WriteResult(
                            record_id=_record_id(record, operation),
                            failure=failure_from_errors([refused.error.as_json()]),
                        )
                    )
        except Exception:
            self._store.rollback()
            raise
        self._store.commit()
        return results

    def _write_one(
        self, sobject: str, operation: WriteOperation, record: dict[str, Any], external_id_field: str | None
    ) -> WriteResult:
        if operation is WriteOperation.CREATE:
            return WriteResult(self._writer.create(sobject, record, self.user_id), created=True)
        if operation is WriteOperation.UPDATE:
            record_id = str(record.pop("Id"))
            self._writer.update(sobject, record_id, record, self.user_id)
            stored = self._store.get(record_id)
            return WriteResult(str(stored["Id"]) if stored is not None else record_id)
        assert external_id_field is not None
        key = self._store.sobject(sobject).field(external_id_field)
        key_value = record.get(key.name) if key is not None else None
        record_id, created = self._writer.upsert(sobject, external_id_field, key_value, record, self.user_id)
        return WriteResult(record_id, created=created)

    # ------------------------------------------------------------------ one request

    def _request(
        self,
        path: str,
        call: CrmCall | None,
        answer: Callable[[], Any],
        *,
        idempotent: bool = True,
    ) -> Any:
        """One API request as the org answers it, retried as the gateway retries it."""
        attempt = 1
        while True:
            try:
                return self._send(_API_PATH + path, call, answer)
            except CrmError as error:
                if not (idempotent and self._retry.should_retry(error.failure, attempt)):
                    raise
                attempt += 1

    def _send(self, path: str, call: CrmCall | None, answer: Callable[[], Any]) -> Any:
        with self.org._lock:
            self.api_calls += 1
            self._calls_by_kind[
                api_call_kind("POST" if call is not None and call.operation else "GET", path)
            ] += 1
            if call is not None:
                self.calls.append(call)
            try:
                fault = self.org.faults.next_server_error(path)
                if fault is not None:
                    raise fault
                if self.org.daily_api_usage >= self._limit:
                    raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                self.org.spend_daily_api(1)
                return answer()
            except ApiError as exc:
                raise CrmError(failure_from_errors(exc.body(), exc.status)) from exc
            finally:
                self.api_usage = ApiUsage(self.org.daily_api_usage, self._limit, read_at=self._clock())


def _record_id(record: Mapping[str, Any], operation: WriteOperation) -> str | None:
    """What a refused record's result names: its Id, for an update (the gateway keeps it)."""
    return str(record["Id"]) if operation is WriteOperation.UPDATE and record.get("Id") else None
