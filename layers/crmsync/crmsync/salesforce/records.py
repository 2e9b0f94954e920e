"""Salesforce records as the connector reads them: typed once, here, at the gateway's edge.

Every record the gateway returns (`read_changes`, `find`) goes through `read_record`, and
nothing after it parses a Salesforce value again. The fields the connector reads itself are
typed by a fixed table (Salesforce's own names; no describe call, so no API call): instants
as aware datetimes, checkboxes as `bool`, Ids as text. The other fields keep the values
Salesforce's REST API gave (already text, numbers and `bool`s; dates and date-times as its
ISO text): mappings carry them to prospects and snapshots and back to Salesforce unchanged,
so a value written back is exactly the one Salesforce sent (`SalesforceRecord`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crmsync.domain.records import SalesforceRecord


def read_record(raw: Mapping[str, Any]) -> SalesforceRecord:
    """The record Salesforce sent (a REST API record, its `attributes` left out), typed."""
    get = raw.get
    record = SalesforceRecord(
        raw,
        id=_id(get("Id")) or "",
        stamp=instant(get("SystemModstamp")),
        last_modified=instant(get("LastModifiedDate")),
        created=instant(get("CreatedDate")),
        deleted=checkbox(get("IsDeleted")),
        converted=checkbox(get("IsConverted")),
        person_account=checkbox(get("IsPersonAccount")),
        active=checkbox(get("IsActive")),
        master_record_id=_id(get("MasterRecordId")),
        converted_contact_id=_id(get("ConvertedContactId")),
        converted_account_id=_id(get("ConvertedAccountId")),
    )
    record.pop("attributes", None)
    return record


def instant(value: Any) -> datetime | None:
    """A Salesforce date-time (`2026-11-22T23:34:42.000+0000`) as an aware datetime (a date is
    its midnight UTC); None for null or anything else."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, datetime):
        parsed = value
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def checkbox(value: Any) -> bool:
    """A ticked checkbox: `true` from the REST API (a Bulk API CSV would say "true")."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _id(value: Any) -> str | None:
    return str(value) if value else None


_CSV_NUMBERS = frozenset({"double", "currency", "percent"})


def read_csv_record(row: Mapping[str, str], types: Mapping[str, str]) -> SalesforceRecord:
    """A Bulk API 2.0 query result row (every cell text), typed as the REST API would have sent
    it, by the describe's field `types` (name → type): an empty cell is null, a checkbox a
    `bool`, a number a number, a date-time in the REST API's form
    (`2026-11-22T23:34:42.000+0000`, where the CSV says `...Z`). So a value read by a resync
    compares equal to the same value read by a run, and nothing moves for being read another way."""
    values: dict[str, Any] = {}
    for name, cell in row.items():
        kind = types.get(name, "string")
        if cell == "":
            values[name] = None
        elif kind == "boolean":
            values[name] = checkbox(cell)
        elif kind == "int":
            values[name] = int(cell)
        elif kind in _CSV_NUMBERS:
            number = float(cell)
            values[name] = int(number) if number.is_integer() and "." not in cell else number
        elif kind == "datetime" and cell.endswith("Z"):
            values[name] = cell[:-1] + "+0000"
        else:
            values[name] = cell
    return read_record(values)
