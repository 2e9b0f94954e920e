"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete from CSV) and query jobs.

Jobs are processed at once when their upload is complete, so a client polling the job sees it
finished on its first look; everything else (states, CSV results, locators) follows the docs.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from .clock import Clock, format_datetime
from .errors import ApiError, RecordRefused, not_found
from .faults import Faults
from .ids import IdFactory
from .query import Queries
from .responses import CSV, Call, json_response, no_content
from .store import Store
from .writes import ApiWriter

NULL = "#N/A"  # a cell that sets the field to null; an empty cell leaves the field alone
_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_INGEST_OPERATIONS = ("insert", "update", "upsert", "delete")
_QUERY_OPERATIONS = ("query", "queryAll")
_FINISHED = ("JobComplete", "Aborted", "Failed")


@dataclass
class _Job:
    id: str
    operation: str
    object: str
    created_by: str
    created_date: str
    api_version: str
    column_delimiter: str
    line_ending: str
    state: str
    job_type: str
    system_modstamp: str = ""
    external_id_field: str | None = None
    error_message: str | None = None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp or self.created_date,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": self.job_type,
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


@dataclass
class _IngestJob(_Job):
    data: str | None = None
    columns: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    processed: int = 0
    failed: int = 0

    def info(self) -> dict[str, Any]:
        return super().info() | {
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "numberRecordsProcessed": self.processed,
            "numberRecordsFailed": self.failed,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }


@dataclass
class _QueryJob(_Job):
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return super().info() | {"numberRecordsProcessed": len(self.rows), "isPkChunkingSupported": True}


class BulkApi:
    def __init__(
        self,
        store: Store,
        writer: ApiWriter,
        queries: Queries,
        clock: Clock,
        ids: IdFactory,
        *,
        faults: Faults,
    ) -> None:
        self._store = store
        self._faults = faults
        self._writer = writer
        self._queries = queries
        self._clock = clock
        self._ids = ids
        self._ingest: dict[str, _IngestJob] = {}
        self._query: dict[str, _QueryJob] = {}

    def route(self, call: Call, method: str, parts: list[str]) -> Response | None:
        match method, parts:
            case "POST", ["jobs", "ingest"]:
                return json_response(self._create_ingest(call).info())
            case "POST", ["jobs", "query"]:
                return json_response(self._create_query(call))
            case "GET", ["jobs", "ingest" | "query" as kind]:
                records = [job.info() for job in self._jobs(kind).values()]
                return json_response({"done": True, "records": records, "nextRecordsUrl": None})
            case "GET", ["jobs", "ingest", job_id]:
                return json_response(self._job(self._ingest, job_id).info())
            case "GET", ["jobs", "query", job_id]:
                return json_response(self._job(self._query, job_id).info())
            case "PUT", ["jobs", "ingest", job_id, "batches"]:
                self._upload(self._job(self._ingest, job_id), call)
                return Response(status=201)
            case "PATCH", ["jobs", "ingest" | "query" as kind, job_id]:
                return json_response(self._set_state(call, kind, job_id))
            case "DELETE", ["jobs", "ingest" | "query" as kind, job_id]:
                jobs = self._jobs(kind)
                job = self._job(jobs, job_id)
                if job.state not in (*_FINISHED, "UploadComplete"):
                    raise ApiError(
                        400, "INVALIDJOBSTATE", f"Job {job_id} must be closed or aborted to be deleted"
                    )
                del jobs[job_id]
                return no_content()
            case "GET", ["jobs", "ingest", job_id, results]:
                return self._ingest_results(self._job(self._ingest, job_id), results)
            case "GET", ["jobs", "query", job_id, "results"]:
                return self._query_results(call, self._job(self._query, job_id))
        return None

    # --- ingest --------------------------------------------------------------------------------

    def _create_ingest(self, call: Call) -> _IngestJob:
        body = call.json_object()
        operation = str(body.get("operation", ""))
        if operation not in _INGEST_OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        sobject = self._job_object(str(body.get("object", "")))
        external_id = body.get("externalIdFieldName")
        if operation == "upsert":
            definition = sobject.field(str(external_id or ""))
            if definition is None or not (definition.external_id or definition.type == "id"):
                raise ApiError(
                    400, "INVALIDJOB", f"InvalidJob : External ID was blank or invalid: {external_id}"
                )
            external_id = definition.name
        job = _IngestJob(
            **self._job_fields(call, body, operation, sobject.name, "V2Ingest"),
            state="Open",
            external_id_field=external_id if operation == "upsert" else None,
        )
        self._ingest[job.id] = job
        return job

    def _upload(self, job: _IngestJob, call: Call) -> None:
        if job.state != "Open":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is not open for uploads: {job.state}")
        if job.data is not None:
            raise ApiError(
                400,
                "INVALIDJOBSTATE",
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the current "
                "Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
            )
        # "Files must be in UTF-8 format" (Bulk API 2.0 Developer Guide, Prepare CSV Files),
        # whatever charset the request names.
        job.data = call.request.get_data().decode("utf-8", errors="replace")

    def _set_state(self, call: Call, kind: str, job_id: str) -> dict[str, Any]:
        wanted = str(call.json_object().get("state", ""))
        job: _Job = self._job(self._jobs(kind), job_id)
        if wanted == "Aborted" and job.state not in _FINISHED:
            job.state = "Aborted"
        elif wanted == "UploadComplete" and isinstance(job, _IngestJob) and job.state == "Open":
            job.state = "UploadComplete"
            answer = job.info()  # Salesforce answers with the state just set; processing follows
            self._process(job, call.user_id)
            return answer
        else:
            raise ApiError(
                400,
                "INVALIDJOBSTATE",
                f"Cannot change the state of job {job_id} from {job.state} to {wanted}",
            )
        job.system_modstamp = format_datetime(self._clock())
        return job.info()

    def _process(self, job: _IngestJob, user_id: str) -> None:
        delimiter = _DELIMITERS[job.column_delimiter]
        rows = list(csv.reader(io.StringIO(job.data or ""), delimiter=delimiter))
        job.system_modstamp = format_datetime(self._clock())
        if not rows:
            job.state, job.error_message = "Failed", "InvalidBatch : No data uploaded"
            return
        job.columns, data = rows[0], rows[1:]
        sobject = self._store.sobject(job.object)
        unknown = [c for c in job.columns if sobject.field(c) is None]
        if unknown or len({c.lower() for c in job.columns}) < len(job.columns):
            problem = f"Field name not found : {unknown[0]}" if unknown else "Duplicate field name"
            job.state, job.error_message, job.unprocessed = "Failed", f"InvalidBatch : {problem}", data
            return
        names = list(self._store.canonical(sobject, dict.fromkeys(job.columns)))
        unrecorded = self._faults.next_unrecorded_results()
        for number, raw in enumerate(data):
            cells = raw + [""] * (len(names) - len(raw))
            values = {
                name: None if cell == NULL else cell
                for name, cell in zip(names, cells, strict=False)
                if cell != ""
            }
            named_id = str(values.get("Id") or "")
            recorded = number < len(data) - unrecorded
            job.processed += 1
            try:
                record_id, created = self._write(job, values, user_id)
            except RecordRefused as refused:
                job.failed += 1
                if recorded:
                    job.failures.append([named_id, refused.error.bulk_text(), *cells])
            else:
                if recorded:
                    job.successes.append([record_id, "true" if created else "false", *cells])
        job.state = "JobComplete"

    def _write(self, job: _IngestJob, values: dict[str, Any], user_id: str) -> tuple[str, bool]:
        if job.operation == "insert":
            return self._writer.create(job.object, values, user_id), True
        if job.operation == "upsert":
            key = str(job.external_id_field)
            return self._writer.upsert(job.object, key, values.get(key), values, user_id)
        record_id = values.pop("Id", None)
        if not record_id:
            raise RecordRefused("MISSING_ARGUMENT", f"Id not specified in an {job.operation} call", ["Id"])
        if job.operation == "update":
            self._writer.update(job.object, str(record_id), values, user_id)
        else:
            self._writer.delete(str(record_id), user_id)
        return str(record_id), False

    def _ingest_results(self, job: _IngestJob, results: str) -> Response:
        kind = results.lower()
        if kind == "successfulresults":
            header, rows = ["sf__Id", "sf__Created", *job.columns], job.successes
        elif kind == "failedresults":
            header, rows = ["sf__Id", "sf__Error", *job.columns], job.failures
        elif kind == "unprocessedrecords":
            header, rows = job.columns, job.unprocessed
        else:
            raise not_found()
        if job.state not in _FINISHED:
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is not finished: {job.state}")
        # "The order of records in the response is not guaranteed to match the ordering of
        # records in the original job data" (Get Job Successful Record Results, Get Job Failed
        # Record Results): the emulator lists them last first, so a client that relies on the
        # order shows it.
        return Response(_csv([header, *reversed(rows)], ",", "\n"), content_type=CSV)

    # --- query ---------------------------------------------------------------------------------

    def _create_query(self, call: Call) -> dict[str, Any]:
        body = call.json_object()
        operation = str(body.get("operation", "query"))
        if operation not in _QUERY_OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        selection = self._queries.select(str(body.get("query", "")), include_deleted=operation == "queryAll")
        if selection.count_only:
            raise ApiError(400, "API_ERROR", "FeatureNotEnabled : Aggregate queries are not supported")
        job = _QueryJob(
            **self._job_fields(call, body, operation, selection.sobject.name, "V2Query"),
            state="UploadComplete",
            header=list(selection.fields),
        )
        datetimes = {f for f in selection.fields if selection.sobject.fields[f].type == "datetime"}
        job.rows = [[_cell(row[f], f in datetimes) for f in selection.fields] for row in selection.rows]
        self._query[job.id] = job
        # The snapshot is taken now, so the client's first look finds the job complete; the
        # creation answer still shows the state Salesforce gives a new query job.
        answer = job.info()
        job.state = "JobComplete"
        return answer

    def _query_results(self, call: Call, job: _QueryJob) -> Response:
        # Bulk API 2.0 and Bulk API Developer Guide, "Get Results for a Query Job"
        # (developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm):
        # the job must be JobComplete; results are asked with the API version the job was made
        # with, or the call returns 409; `maxRecords` splits them into sets, each answered with
        # `Sforce-NumberOfRecords` and the next set's `Sforce-Locator` ("null" after the last);
        # a locator does not change while the job exists, so a set can be read again.
        if call.version != job.api_version:
            raise ApiError(
                409,
                "API_ERROR",
                f"Job {job.id} was created with API version {job.api_version}: ask its results with that version",
            )
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is not complete: {job.state}")
        locator = call.request.args.get("locator")
        offset = int(base64.b64decode(locator).decode()) if locator else 0
        limit = int(call.request.args.get("maxRecords") or len(job.rows) or 1)
        page = job.rows[offset : offset + limit]
        end = offset + len(page)
        next_locator = base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        response = Response(
            _csv([job.header, *page], _DELIMITERS[job.column_delimiter], _LINE_ENDINGS[job.line_ending]),
            content_type=CSV,
        )
        response.headers["Sforce-Locator"] = next_locator
        response.headers["Sforce-NumberOfRecords"] = str(len(page))
        return response

    # --- shared --------------------------------------------------------------------------------

    def _job_object(self, name: str) -> Any:
        try:
            return self._store.sobject(name)
        except ApiError as exc:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Unable to find object: {name}") from exc

    def _job_fields(
        self, call: Call, body: dict[str, Any], operation: str, sobject: str, job_type: str
    ) -> dict[str, Any]:
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        line_ending = str(body.get("lineEnding") or "LF")
        if delimiter not in _DELIMITERS or line_ending not in _LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", "InvalidJob : Invalid columnDelimiter or lineEnding")
        if str(body.get("contentType") or "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : Invalid contentType")
        return {
            "id": self._ids.new("750"),
            "operation": operation,
            "object": sobject,
            "created_by": call.user_id,
            "created_date": format_datetime(self._clock()),
            "api_version": call.version,
            "column_delimiter": delimiter,
            "line_ending": line_ending,
            "job_type": job_type,
        }

    def _jobs(self, kind: str) -> dict[str, Any]:
        return self._ingest if kind == "ingest" else self._query

    @staticmethod
    def _job(jobs: dict[str, Any], job_id: str) -> Any:
        if job_id not in jobs:
            raise not_found()
        return jobs[job_id]


def _cell(value: Any, is_datetime: bool) -> str:
    """Bulk query results render null as an empty cell and date-times in UTC with `Z`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_datetime:
        return str(value).replace("+0000", "Z")
    return str(value)


def _csv(rows: list[list[str]], delimiter: str, line_ending: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL)
    writer.writerows(rows)
    return buffer.getvalue()
