"""Change capture from the prospects table's stream (NEW_AND_OLD_IMAGES).

A stream record is a prospect change to send to Salesforce unless it is:
- an index item's (`email#…`, `crm#…`: see aws/prospects.py);
- a removal (a prospect is deactivated, never deleted, by the marketing side);
- a version the connector saved itself (`written_by` is `CONNECTOR_WRITER` and `version`
  moved): outbound sync writing Salesforce's values, or the tag of an automation action. Sending
  those back would echo every outbound write to Salesforce.
The template's event filter drops the connector's own writes before the function is invoked;
this check is the same rule, kept for events that arrive unfiltered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmsync.aws.dynamo_table import from_attribute
from crmsync.aws.prospects import CONNECTOR_WRITER, is_prospect_key
from crmsync.ports import PendingChange


def pending_changes(records: Iterable[Mapping[str, Any]]) -> list[PendingChange]:
    """The prospect changes among a DynamoDB stream event's `Records`."""
    changes: list[PendingChange] = []
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        stream = record.get("dynamodb", {})
        prospect_id = from_attribute(stream.get("Keys", {}).get("prospect_id", {"S": ""}))
        if not prospect_id or not is_prospect_key(prospect_id):
            continue
        new = stream.get("NewImage", {})
        old = stream.get("OldImage", {})
        version = _version(new)
        if _attribute(new, "written_by") == CONNECTOR_WRITER and version != _version(old):
            continue
        changes.append(PendingChange(prospect_id, version))
    return changes


def _attribute(image: Mapping[str, Any], name: str) -> Any:
    typed = image.get(name)
    return from_attribute(typed) if typed else None


def _version(image: Mapping[str, Any]) -> int:
    value = _attribute(image, "version")
    return int(value) if value is not None else 0
