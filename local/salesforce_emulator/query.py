"""SOQL as the REST query resources run it: validated against describe, answered in pages of
`batch_size` from a snapshot taken by the first call, like a Salesforce query cursor."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import soql
from .clock import Clock
from .errors import ApiError
from .faults import Faults
from .schema import Record, SObjectType
from .store import Store

# A query cursor (its locator names it in `nextRecordsUrl`) lives until 15 minutes pass without
# its next page being asked for, and a user keeps at most 10 open: opening an eleventh releases
# the oldest. Either way the next page is refused with 400 INVALID_QUERY_LOCATOR. (SOAP API
# Developer Guide, "QueryLocator" under query() and queryMore(); Salesforce Help knowledge
# article 000004410, "What does the Invalid Query Locator error mean?".) The emulator's one
# integration user makes the per-user limit a per-org one.
_OPEN_CURSORS = 10
_CURSOR_IDLE_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class Selection:
    """The rows a query selected: only the selected fields, in select order, canonical names."""

    sobject: SObjectType
    fields: tuple[str, ...]
    rows: list[Record]
    ids: list[str]
    count_only: bool


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    batch_size: int
    last_used: datetime


class Queries:
    def __init__(self, store: Store, batch_size: int, clock: Clock, faults: Faults) -> None:
        self._store = store
        self._batch_size = batch_size
        self._clock = clock
        self._faults = faults
        self._cursors: dict[str, _Cursor] = {}
        self._locators = itertools.count(1)

    def select(self, text: str, *, include_deleted: bool) -> Selection:
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            raise ApiError(400, exc.error_code, exc.message) from exc
        try:
            sobject = self._store.sobject(query.sobject)
        except ApiError as exc:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                "the describe call for the appropriate names.",
            ) from exc
        for name in sorted(query.referenced_fields()):
            if sobject.field(name) is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{sobject.name}'. If you are attempting to use a "
                    "custom field, be sure to append the '__c' after the custom field name. Please "
                    "reference your WSDL or the describe call for the appropriate names.",
                )
        candidates = [r for r in self._store.records(sobject.name) if include_deleted or not r["IsDeleted"]]
        fields = tuple(sobject.fields[_canonical(sobject, name)].name for name in query.fields)
        selected = query.apply(candidates)
        rows = [{name: record[name] for name in fields} for record in selected]
        return Selection(sobject, fields, rows, [str(r["Id"]) for r in selected], query.count_only)

    def first_page(
        self, text: str, *, include_deleted: bool, api_version: str, batch_size: int | None = None
    ) -> dict[str, Any]:
        selection = self.select(text, include_deleted=include_deleted)
        if selection.count_only:
            return {"totalSize": len(selection.rows), "done": True, "records": []}
        records = [
            {
                "attributes": {
                    "type": selection.sobject.name,
                    "url": f"{_sobjects(api_version)}/{selection.sobject.name}/{record_id}",
                },
                **row,
            }
            for record_id, row in zip(selection.ids, selection.rows, strict=True)
        ]
        locator = f"01g8d{next(self._locators):013d}"
        # Salesforce treats the asked size as an upper bound it may go under: the emulator's own
        # size stands in for its going under.
        self._cursors[locator] = _Cursor(
            records, min(batch_size or self._batch_size, self._batch_size), self._clock()
        )
        if len(self._cursors) > _OPEN_CURSORS:
            del self._cursors[next(iter(self._cursors))]
        return self._page(locator, 0, api_version)

    def next_page(self, cursor_url: str, api_version: str) -> dict[str, Any]:
        if self._faults.query_cursors_expire_now():
            self._cursors.clear()
        now = self._clock()
        for locator, cursor in list(self._cursors.items()):
            if now - cursor.last_used > _CURSOR_IDLE_LIFETIME:
                del self._cursors[locator]
        locator, _, offset = cursor_url.partition("-")
        if locator not in self._cursors or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self._cursors[locator].last_used = now
        return self._page(locator, int(offset), api_version)

    def _page(self, locator: str, offset: int, api_version: str) -> dict[str, Any]:
        cursor = self._cursors[locator]
        records, batch_size = cursor.records, cursor.batch_size
        end = offset + batch_size
        page: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if not page["done"]:
            # Documented: a queryAll's next page is named under /query/ too (both resources serve it).
            page["nextRecordsUrl"] = f"/services/data/v{api_version}/query/{locator}-{end}"
        page["records"] = records[offset:end]
        return page


def _sobjects(api_version: str) -> str:
    return f"/services/data/v{api_version}/sobjects"


def _canonical(sobject: SObjectType, name: str) -> str:
    definition = sobject.field(name)
    assert definition is not None  # checked against describe in `select`
    return definition.name
