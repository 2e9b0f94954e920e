"""A configuration written back as the JSON document that reads into it again (what `GET /config`
shows before any document is loaded, and what a round trip is tested on)."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from crmsync.domain.actions import AutomationSettings
from crmsync.domain.activities import ActivityType
from crmsync.domain.lifecycle import Tags
from crmsync.domain.scope import AllRecords, CreatedAfter, Flagged, MatchingCriteria, NoRecords, OutboundScope

if TYPE_CHECKING:
    from crmsync.config.values import Configuration


def document_of(configuration: Configuration) -> dict[str, Any]:
    """The JSON document `Configuration.from_document` reads back into `configuration`."""
    c = configuration
    return {
        "version": c.version,
        "matching": c.matching.value,
        "conflict_winner": c.conflict_winner.value,
        "objects": {
            "lead": c.objects.leads,
            "contact": c.objects.contacts,
            "person_account": c.objects.person_accounts,
            "account_fields": c.objects.account_fields,
            "opportunities": c.objects.opportunities,
        },
        "mappings": {
            crm.value: [
                {
                    "marketing_field": m.marketing_field,
                    "salesforce_field": m.salesforce_field,
                    "behaviour": m.behaviour.value,
                    "sync_blanks": m.sync_blanks,
                }
                for m in entries
            ]
            for crm, entries in c.mappings.items()
        },
        "outbound": {
            "schedule": c.outbound.schedule.text,
            "scope": {crm.value: scope_document(scope) for crm, scope in c.outbound.scope.items()},
        },
        "inbound": {
            "every_minutes": c.inbound.every_minutes,
            "max_waiting_changes": c.inbound.max_waiting_changes,
            "create_unlinked": c.inbound.create_unlinked.value,
        },
        "owner": {"direction": c.owner.direction.value, "user_map": dict(c.owner.user_map)},
        "tags": {f.name: getattr(c.tags, f.name) for f in fields(Tags)},
        "batching": {
            "collection_size": c.batching.collection_size,
            "bulk_threshold": c.batching.bulk_threshold,
            "read_page_size": c.batching.read_page_size,
        },
        "activities": {"types": [kind.value for kind in ActivityType if kind in c.activities.types]},
        "automation": _automation_document(c.automation),
        "prospect_fields": {name: kind.value for name, kind in c.prospect_fields.custom.items()},
    }


def scope_document(scope: OutboundScope) -> str | dict[str, Any]:
    match scope:
        case NoRecords():
            return "none"
        case AllRecords():
            return "all"
        case CreatedAfter(since=since):
            return {"created_after": since.isoformat()}
        case Flagged(field=flag):
            return {"flagged": flag}
        case MatchingCriteria(criteria=criteria):
            return {
                "criteria": [
                    {
                        "field": c.field,
                        "operator": c.operator.value,
                        "value": list(c.value) if isinstance(c.value, tuple) else c.value,
                    }
                    for c in criteria
                ]
            }


def _automation_document(automation: AutomationSettings) -> dict[str, Any]:
    default = automation.default_account
    account = None
    if default is not None:
        account = {"id": default.id} if default.id is not None else {"name": default.name}
    return {
        "last_name_fallback": automation.last_name_fallback,
        "company_fallback": automation.company_fallback,
        "default_account": account,
        "external_id_field": automation.external_id_field,
    }
