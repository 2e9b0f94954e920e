"""sObject Collections (`/composite/sobjects`): up to 200 records a request, one result per record
in input order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from .errors import ApiError, RecordError, RecordRefused
from .responses import Call, json_response
from .store import Store
from .writes import ApiWriter

MAX_RECORDS = 200
_ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


@dataclass
class _Item:
    """One record of the request on its way to its result."""

    sobject: str
    values: dict[str, Any]
    record_id: str | None = None
    error: RecordError | None = None
    created: bool | None = None

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.record_id is not None:
            result["id"] = self.record_id
        result["success"] = self.error is None
        result["errors"] = [] if self.error is None else [self.error.as_json()]
        if self.created is not None and self.error is None:
            result["created"] = self.created
        return result


class CollectionsApi:
    def __init__(self, store: Store, writer: ApiWriter) -> None:
        self._store = store
        self._writer = writer

    def route(self, call: Call, method: str, parts: list[str]) -> Response | None:
        match method, parts:
            case "POST", ["composite", "sobjects"]:
                return self._write(call, None, lambda item: self._create(call, item), creating=True)
            case "PATCH", ["composite", "sobjects"]:
                return self._write(call, None, lambda item: self._update(call, item))
            case "PATCH", ["composite", "sobjects", sobject, key_field]:
                return self._write(call, sobject, lambda item: self._upsert(call, item, key_field))
            case "DELETE", ["composite", "sobjects"]:
                return self._delete(call)
            case "GET", ["composite", "sobjects", sobject]:
                return self._retrieve(call, sobject)
        return None

    def _write(
        self, call: Call, path_sobject: str | None, write: Callable[[_Item], None], *, creating: bool = False
    ) -> Response:
        body = call.json_object()
        records = body.get("records")
        if not isinstance(records, list):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must have a 'records' list")
        _check_size(len(records))
        # Salesforce reads the whole body before writing anything: an unknown field refuses the
        # request, not just its record.
        items = [self._item(record, path_sobject) for record in records]
        self._apply(items, write, all_or_none=body.get("allOrNone") is True, creating=creating)
        return json_response([item.result() for item in items])

    def _item(self, record: Any, path_sobject: str | None) -> _Item:
        if not isinstance(record, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each element of 'records' must be an object")
        values = dict(record)
        attributes = values.pop("attributes", None) or {}
        sobject = path_sobject or attributes.get("type")
        if not sobject:
            return _Item("", values, error=RecordError("INVALID_TYPE", "Must send a concrete entity type."))
        try:
            definition = self._store.sobject(sobject)
        except ApiError as exc:
            return _Item(sobject, values, error=RecordError(exc.error_code, exc.message))
        return _Item(definition.name, self._store.canonical(definition, values))

    def _create(self, call: Call, item: _Item) -> None:
        item.record_id = self._writer.create(item.sobject, item.values, call.user_id)

    def _update(self, call: Call, item: _Item) -> None:
        record_id = item.values.pop("Id", None)
        if not record_id:
            raise RecordRefused("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        item.record_id = str(record_id)
        self._writer.update(item.sobject, item.record_id, item.values, call.user_id)
        item.record_id = self._canonical_id(item.record_id)

    def _upsert(self, call: Call, item: _Item, key_field: str) -> None:
        definition = self._store.sobject(item.sobject).field(key_field)
        key_value = item.values.get(definition.name) if definition is not None else None
        item.record_id, item.created = self._writer.upsert(
            item.sobject, key_field, key_value, item.values, call.user_id
        )

    def _delete(self, call: Call) -> Response:
        ids = [i for i in call.request.args.get("ids", "").split(",") if i]
        _check_size(len(ids))
        all_or_none = call.request.args.get("allOrNone", "false").lower() == "true"
        items = [_Item("", {}, record_id=record_id) for record_id in ids]
        self._apply(items, lambda item: self._delete_one(call, item), all_or_none=all_or_none)
        return json_response([item.result() for item in items])

    def _delete_one(self, call: Call, item: _Item) -> None:
        self._writer.delete(str(item.record_id), call.user_id)
        item.record_id = self._canonical_id(str(item.record_id))

    def _apply(
        self, items: list[_Item], write: Callable[[_Item], None], *, all_or_none: bool, creating: bool = False
    ) -> None:
        """Write each item that has no error yet; with `all_or_none`, one failure undoes them all."""
        self._store.begin()
        try:
            for item in items:
                if item.error is None:
                    try:
                        write(item)
                    except RecordRefused as refused:
                        item.error = refused.error
        except Exception:
            self._store.rollback()  # a refused request leaves nothing half written
            raise
        if not (all_or_none and any(item.error for item in items)):
            self._store.commit()
            return
        self._store.rollback()
        for item in items:
            if item.error is None:
                item.error = _ROLLED_BACK
                if creating or item.created:
                    item.record_id = None  # that record no longer exists

    def _retrieve(self, call: Call, sobject_name: str) -> Response:
        sobject = self._store.sobject(sobject_name)
        ids = [i for i in call.request.args.get("ids", "").split(",") if i]
        _check_size(len(ids))
        names = [n for n in call.request.args.get("fields", "").split(",") if n]
        fields = self._store.canonical(sobject, dict.fromkeys(names))
        results: list[dict[str, Any] | None] = []
        for record_id in ids:
            record = self._store.get(record_id)
            if record is None or record["IsDeleted"] or record_id[:3] != sobject.key_prefix:
                results.append(None)
                continue
            url = f"/services/data/v{call.version}/sobjects/{sobject.name}/{record['Id']}"
            results.append(
                {"attributes": {"type": sobject.name, "url": url}, **{f: record[f] for f in fields}}
            )
        return json_response(results)

    def _canonical_id(self, record_id: str) -> str:
        record = self._store.get(record_id)
        return str(record["Id"]) if record is not None else record_id


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
