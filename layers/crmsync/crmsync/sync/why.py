"""`GET /records/{id}/why`: one record's story (docs/guide/operating.md).

The id is a prospect id or a Salesforce Id. A Salesforce Id is read as Salesforce reads one: 15
case-sensitive characters, or 18 in any case (`domain.objects.salesforce_id`); it is looked up
through the record's claim, and an id that is no record's is then tried as a prospect id.

The answer: the prospect and the record it is linked to now (the link's status, origin, and the
prospect version inbound last dealt with); the link's history, read from the audit trail (each
record the prospect was linked to, from when, and the event that linked it: a match, a
conversion, a merge, a record created by an action) and, for a record whose link moved on after
Salesforce deleted it, the link kept as history; the timeline, every audit entry oldest first
(each field written, old → new, with the rule that decided it, the run and the time, and every
lifecycle event); and the record's entries on the error list.

What it costs, whatever the number of syncs: the link (one `BatchGetItem` by prospect, or two by
Salesforce Id: the claim, then the link), the prospect (one `BatchGetItem`), the audit trail (one
`Query` per megabyte: an item per run that touched the prospect, its field writes inside), and
the error list (one `Query` per direction). No Salesforce call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmsync.domain.audit import AuditRecord, ErrorState
from crmsync.domain.lifecycle import LinkStatus, StoredLink
from crmsync.domain.objects import salesforce_id
from crmsync.ports import AuditTrail, ErrorList, LinkStore, ProspectStore
from crmsync.sync.error_actions import entry_report


class UnknownRecord(LookupError):
    def __init__(self, record_id: str) -> None:
        super().__init__(
            f"{record_id!r} is neither a prospect nor a Salesforce record the connector knows: "
            "no link, no audit entry and no error list entry names it"
        )
        self.record_id = record_id


@dataclass(frozen=True)
class RecordHistory:
    links: LinkStore
    prospects: ProspectStore
    audit_trail: AuditTrail
    error_list: ErrorList

    def why(self, record_id: str) -> dict[str, Any]:
        """The record's story; raises `UnknownRecord` when nothing names it."""
        record_id = record_id.strip()
        asked, crm_id = self._link_of(record_id)
        current: StoredLink | None
        if asked is not None and asked.link.status is not LinkStatus.REPLACED:
            prospect_id, current = asked.link.prospect_id, asked
        else:
            prospect_id = asked.link.prospect_id if asked is not None else record_id
            current = self.links.by_prospect_ids([prospect_id]).get(prospect_id)
        audit = self.audit_trail.audit_trail(prospect_id)
        prospect = self.prospects.get_many([prospect_id]).get(prospect_id)
        canonical = salesforce_id(record_id)
        names = {record_id, prospect_id}
        names |= {each for each in (crm_id, canonical) if each}
        names |= {current.link.crm.id} if current is not None else set()
        errors = [
            entry
            for entry in self.error_list.listed_errors()
            if entry.state is not ErrorState.DISMISSED
            and (entry.error.record_id in names or entry.error.prospect_id == prospect_id)
        ]
        known = current is not None or asked is not None or bool(audit) or prospect is not None
        if not known and not errors:
            raise UnknownRecord(record_id)
        shown = asked or current
        salesforce: dict[str, str] | None
        if shown is not None:
            salesforce = {"object": shown.link.crm.object.value, "id": shown.link.crm.id}
        else:
            named = [entry.error for entry in errors if entry.error.record_id in (record_id, canonical)]
            salesforce = {"object": named[0].sobject, "id": named[0].record_id} if named else None
        # A Salesforce record only the error list knows (never linked) shows its prospect, if any.
        shown_prospect = (
            prospect_id if known else next((e.error.prospect_id for e in errors if e.error.prospect_id), None)
        )
        return {
            "prospect_id": shown_prospect,
            "prospect": None if prospect is None else {"version": prospect.version},
            "salesforce": salesforce,
            "link": None if current is None else _link_report(current),
            "link_history": _link_history(audit, asked if asked is not current else None),
            "timeline": [_timeline_entry(record) for record in audit],
            "open_errors": [entry_report(entry) for entry in errors],
        }

    def _link_of(self, record_id: str) -> tuple[StoredLink | None, str | None]:
        """The link of the Salesforce record `record_id` names (as history, for a record whose
        link moved on), and that record's Id; (None, None) when it names none."""
        canonical = salesforce_id(record_id)
        if canonical is None:
            return None, None
        found = self.links.by_crm_ids({canonical, record_id})
        for crm_id in (canonical, record_id):
            if crm_id in found:
                return found[crm_id], crm_id
        return None, None


def _link_report(stored: StoredLink) -> dict[str, Any]:
    link = stored.link
    return {
        "object": link.crm.object.value,
        "id": link.crm.id,
        "status": link.status.value,
        "origin": link.origin.value,
        "synced_version": stored.synced_version,
        "fields_kept": len(stored.snapshot),
    }


def _link_history(audit: list[AuditRecord], former: StoredLink | None) -> list[dict[str, Any]]:
    """Each record the prospect was linked to, in order, with the event that brought it."""
    history: list[dict[str, Any]] = []
    for record in audit:
        if history and history[-1]["id"] == record.crm_id:
            history[-1]["until"] = record.at.isoformat()
            continue
        history.append(
            {
                "object": record.crm_type,
                "id": record.crm_id,
                "from": record.at.isoformat(),
                "until": record.at.isoformat(),
                "event": record.event,
                "run_id": record.run_id,
            }
        )
    if former is not None:
        history.append(
            {
                "object": former.link.crm.object.value,
                "id": former.link.crm.id,
                "status": former.link.status.value,
                "event": "deleted in Salesforce, then replaced by another record at the marketing side's request",
            }
        )
    return history


def _timeline_entry(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": record.at.isoformat(),
        "run_id": record.run_id,
        "direction": record.direction.value,
        "object": record.crm_type,
        "record_id": record.crm_id,
        "event": record.event,
        "field": record.field,
        "side": record.side,
        "old": record.old,
        "new": record.new,
        "rule": record.rule,
    }
