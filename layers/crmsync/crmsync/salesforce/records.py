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
