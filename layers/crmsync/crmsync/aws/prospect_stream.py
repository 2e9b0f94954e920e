"""Change capture from the prospects table's stream (NEW_AND_OLD_IMAGES): one reading of a
batch of stream records, for the records Lambda delivers and for those read back from the
stream after change capture gave up on them (`aws/failed_captures.py`).

A stream record is a prospect change to send to Salesforce unless it is:
- an index item's (`email#…`, `crm#…`: see aws/prospects.py);
- a removal (a prospect is deactivated, never deleted, by the marketing side);
- a version the connector saved itself (`written_by` is `CONNECTOR_WRITER` and `version`
  moved): outbound sync writing Salesforce's values, or the tag of an automation action. Sending
  those back would echo every outbound write to Salesforce.
The template's event filter drops the connector's own writes before the function is invoked;
this check is the same rule, kept for events that arrive unfiltered.

A record of another shape (not an object, an unknown `eventName`, a key or attribute of the
wrong type, no `NewImage`) is refused with what is wrong, and the prospect id when it can be
read: it goes to the error list, and the rest of the batch is noted. Failing the batch instead
would only have the stream deliver the same record again until it is discarded, and with it
every good change of the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.aws.prospects import CONNECTOR_WRITER, is_prospect_key
from crmsync.ports import CapturedChanges, PendingChange, RefusedChange

_CHANGES = ("INSERT", "MODIFY")
_REMOVAL = "REMOVE"


class _Refused(Exception):
    """A record of unexpected shape; the message says what is wrong."""


def read_stream_records(records: Any) -> CapturedChanges:
    """The prospect changes among a DynamoDB stream event's `Records`, and the records refused."""
    captured = CapturedChanges()
    if not isinstance(records, list):
        captured.refused.append(
            RefusedChange(None, "Records", f"a stream event's Records must be a list, not {_kind(records)}")
        )
        return captured
    for index, record in enumerate(records):
        reference = _reference(record, index)
        prospect_id: str | None = None
        try:
            if not isinstance(record, Mapping):
                raise _Refused(f"a stream record must be an object, not {_kind(record)}")
            event = record.get("eventName")
            if event == _REMOVAL:
                continue
            stream = record.get("dynamodb")
            if not isinstance(stream, Mapping):
                raise _Refused("dynamodb: missing, or not an object")
            keys = stream.get("Keys")
            if not isinstance(keys, Mapping):
                raise _Refused("dynamodb.Keys: missing, or not an object")
            prospect_id = _typed(keys, "prospect_id", "S", "dynamodb.Keys") or None
            if prospect_id is None:
                raise _Refused(
                    'dynamodb.Keys.prospect_id: missing; it must be a non-empty string ({"S": ...})'
                )
            if not is_prospect_key(prospect_id):
                continue
            if event not in _CHANGES:
                raise _Refused(f"eventName: must be INSERT, MODIFY or REMOVE, not {event!r}")
            change = _change(prospect_id, stream)
        except _Refused as refused:
            captured.refused.append(RefusedChange(prospect_id, reference, str(refused)))
            continue
        if change is not None:
            captured.changes.append(change)
    return captured


def _change(prospect_id: str, stream: Mapping[str, Any]) -> PendingChange | None:
    new = stream.get("NewImage")
    if not isinstance(new, Mapping):
        raise _Refused("dynamodb.NewImage: missing; the stream must carry new and old images")
    version = _version(new, "dynamodb.NewImage")
    if _typed(new, "written_by", "S", "dynamodb.NewImage") == CONNECTOR_WRITER:
        old = stream.get("OldImage")
        if old is not None and not isinstance(old, Mapping):
            raise _Refused("dynamodb.OldImage: not an object")
        if version != _version(old or {}, "dynamodb.OldImage"):
            return None
    return PendingChange(prospect_id, version)


def _typed(image: Mapping[str, Any], name: str, kind: str, where: str) -> Any:
    """The value of attribute `name`, which must be of DynamoDB type `kind`; None when absent."""
    typed = image.get(name)
    if typed is None:
        return None
    if not isinstance(typed, Mapping) or set(typed) != {kind}:
        raise _Refused(f'{where}.{name}: must be {{"{kind}": ...}}, not {_shown(typed)}')
    value = typed[kind]
    if not isinstance(value, str):
        raise _Refused(f"{where}.{name}: the {kind} value must be a string, not {_kind(value)}")
    return value


def _version(image: Mapping[str, Any], where: str) -> int:
    """A prospect's `version` (0 when absent, as the store reads it)."""
    text = _typed(image, "version", "N", where)
    if text is None:
        return 0
    if not text.isdigit():
        raise _Refused(f"{where}.version: must be a whole number, not {text!r}")
    return int(text)


def _reference(record: Any, index: int) -> str:
    """The record's sequence number (else its event id, else its place in the batch)."""
    if isinstance(record, Mapping):
        stream = record.get("dynamodb")
        if isinstance(stream, Mapping) and isinstance(stream.get("SequenceNumber"), str):
            return f"sequence number {stream['SequenceNumber']}"
        if isinstance(record.get("eventID"), str):
            return f"event {record['eventID']}"
    return f"record {index + 1} of its batch"


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
