"""The REST resources: versions and resources, limits, describe, sObject rows and SOQL queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.wrappers import Response

from .errors import ApiError, RecordRefused, not_found
from .ids import is_well_formed
from .query import Queries
from .responses import Call, json_response, no_content
from .schema import SObjectType
from .store import Store
from .writes import ApiWriter

T = TypeVar("T")
Usage = Callable[[], tuple[int, int]]  # (used, max) of the daily API requests


class RestApi:
    def __init__(self, store: Store, writer: ApiWriter, queries: Queries, usage: Usage) -> None:
        self._store = store
        self._writer = writer
        self._queries = queries
        self._usage = usage

    def route(self, call: Call, method: str, parts: list[str]) -> Response | None:
        match method, parts:
            case "GET", []:
                return json_response({name: f"/services/data/v{call.version}/{name}" for name in _RESOURCES})
            case "GET", ["limits"]:
                return json_response(self._limits())
            case "GET", ["sobjects"]:
                return json_response(
                    {
                        "encoding": "UTF-8",
                        "maxBatchSize": 200,
                        "sobjects": [t.summary(call.version) for t in self._store.schema.values()],
                    }
                )
            case "GET", ["sobjects", name]:
                summary = self._sobject(name).summary(call.version)
                return json_response({"objectDescribe": summary, "recentItems": []})
            case "GET", ["sobjects", name, "describe"]:
                return json_response(self._sobject(name).describe(call.version))
            case "POST", ["sobjects", name]:
                return self._create(call, self._sobject(name))
            case "GET", ["sobjects", name, record_id]:
                return self._read(call, self._sobject(name), record_id)
            case "PATCH", ["sobjects", name, record_id]:
                return self._update(call, self._sobject(name), record_id)
            case "DELETE", ["sobjects", name, record_id]:
                self._target(self._sobject(name), record_id)
                _refused_as_request_error(lambda: self._writer.delete(record_id, call.user_id))
                return no_content()
            case "GET", ["sobjects", name, key_field, key_value]:
                sobject = self._sobject(name)
                found = _refused_as_request_error(lambda: self._store.match(sobject, key_field, key_value))
                if found is None:
                    raise not_found()
                return self._read(call, sobject, found)
            case "PATCH", ["sobjects", name, key_field, key_value]:
                return self._upsert(call, self._sobject(name), key_field, key_value)
            case "GET", ["query" | "queryAll" as resource]:
                text = call.request.args.get("q", "")
                include_deleted = resource == "queryAll"
                return json_response(
                    self._queries.first_page(
                        text,
                        include_deleted=include_deleted,
                        api_version=call.version,
                        batch_size=_batch_size(call.request.headers.get("Sforce-Query-Options", "")),
                    )
                )
            case "GET", ["query" | "queryAll", cursor]:
                return json_response(self._queries.next_page(cursor, call.version))
        return None

    def _limits(self) -> dict[str, Any]:
        used, limit = self._usage()
        return {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        }

    def _sobject(self, name: str) -> SObjectType:
        try:
            return self._store.sobject(name)
        except ApiError as exc:
            raise not_found() from exc

    def _target(self, sobject: SObjectType, record_id: str) -> dict[str, Any]:
        """The record a row resource names, or the 404 Salesforce gives for it."""
        if not is_well_formed(record_id):
            # Salesforce reads a path segment that is no Id as an external Id field name.
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
            )
        record = self._store.get(record_id)
        if record is None or record_id[:3] != sobject.key_prefix:
            raise not_found()
        if record["IsDeleted"]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _read(self, call: Call, sobject: SObjectType, record_id: str) -> Response:
        record = self._target(sobject, record_id)
        wanted = call.request.args.get("fields")
        names = [n.strip() for n in wanted.split(",")] if wanted else list(sobject.fields)
        fields = {}
        for name in names:
            definition = sobject.field(name)
            if definition is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobject.name}'")
            fields[definition.name] = record[definition.name]
        url = f"/services/data/v{call.version}/sobjects/{sobject.name}/{record['Id']}"
        return json_response({"attributes": {"type": sobject.name, "url": url}, **fields})

    def _create(self, call: Call, sobject: SObjectType) -> Response:
        values = call.json_object()
        values.pop("attributes", None)
        record_id = _refused_as_request_error(lambda: self._writer.create(sobject.name, values, call.user_id))
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    def _update(self, call: Call, sobject: SObjectType, record_id: str) -> Response:
        self._target(sobject, record_id)
        values = call.json_object()
        values.pop("attributes", None)
        _refused_as_request_error(lambda: self._writer.update(sobject.name, record_id, values, call.user_id))
        return no_content()

    def _upsert(self, call: Call, sobject: SObjectType, key_field: str, key_value: str) -> Response:
        values = call.json_object()
        values.pop("attributes", None)
        definition = sobject.field(key_field)
        if definition is not None and definition.type != "id":
            values.setdefault(definition.name, key_value)
        record_id, created = _refused_as_request_error(
            lambda: self._writer.upsert(sobject.name, key_field, key_value, values, call.user_id)
        )
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        return json_response(body, 201 if created else 200)


_RESOURCES = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")


def _refused_as_request_error(action: Callable[[], T]) -> T:
    """On a single-record resource, a refused record refuses the whole request."""
    try:
        return action()
    except RecordRefused as refused:
        raise ApiError.from_record(refused.error) from refused


def _batch_size(query_options: str) -> int | None:
    """`batchSize=N` of a `Sforce-Query-Options` header, kept within Salesforce's 200 to 2,000
    (an upper bound: `Queries` goes under it when the emulator's own page size is smaller)."""
    for option in query_options.split(","):
        name, _, value = option.strip().partition("=")
        if name == "batchSize" and value.strip().isdigit():
            return min(max(int(value), 200), 2000)
    return None
