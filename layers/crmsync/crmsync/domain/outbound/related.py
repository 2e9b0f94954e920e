"""Records that are no person but reach prospects through their Contacts (docs/guide/lifecycle.md,
fields.md): a business Account's mapped fields go onto the prospects of its contacts, and an
Opportunity is attached to the prospects of its contacts. Both flow one way, Salesforce to
marketing, and only onto prospects whose contact has an active link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping, Side
from crmsync.domain.lifecycle import LinkChange, LinkStatus, StoredLink
from crmsync.domain.outbound.plans import RecordOutcome, RecordPlan
from crmsync.domain.plan import SideState, plan_field_sync
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import SalesforceRecord


def live_accounts(accounts: Sequence[SalesforceRecord]) -> dict[str, SalesforceRecord]:
    """Account id → account, for those not deleted: a deleted account has no fields to give."""
    return {account.id: account for account in accounts if not account.deleted}


def reached_through_contacts(
    rows: Sequence[SalesforceRecord], key_field: str, contact_field: str, links: Mapping[str, StoredLink]
) -> dict[str, list[StoredLink]]:
    """`key_field` value (an AccountId, an OpportunityId) → the active links of its contacts,
    from rows that pair the two (Contacts, OpportunityContactRoles) and the contacts' links."""
    found: dict[str, list[StoredLink]] = {}
    for row in rows:
        stored = links.get(str(row.get(contact_field)))
        if stored is not None and stored.link.status is LinkStatus.ACTIVE:
            found.setdefault(str(row[key_field]), []).append(stored)
    return found


def plan_account_fields(
    accounts: Mapping[str, SalesforceRecord],
    contacts: Mapping[str, Sequence[StoredLink]],
    prospects: Mapping[str, Prospect],
    mappings: Sequence[FieldMapping],
    conflict_winner: ConflictWinner,
) -> list[RecordPlan]:
    """One plan per prospect of a contact of `accounts` whose account fields changed. The
    account's pairs live in the contact link's snapshot beside the contact's own."""
    mapped = [m for m in mappings if m.behaviour is not Behaviour.NONE]
    keys = {m.key for m in mapped}
    plans: list[RecordPlan] = []
    for account_id, links in contacts.items():
        account = accounts[account_id]
        for stored in links:
            prospect = prospects.get(stored.link.prospect_id)
            if prospect is None:
                continue
            plan = plan_field_sync(
                mapped,
                conflict_winner,
                stored.snapshot,
                SideState(account, account.last_modified),
                SideState(prospect.fields, prospect.modified_at),
            )
            # Account fields only flow onto prospects (validated to be `salesforce`).
            snapshot = {**stored.snapshot, **{k: v for k, v in plan.snapshot.items() if k in keys}}
            writes = plan.prospect_writes
            prospect_change = (
                ProspectChange(replace(prospect, fields={**prospect.fields, **writes}), before=prospect)
                if writes
                else None
            )
            snapshot_change = (
                LinkChange(stored.link, snapshot, before=stored)
                if snapshot != dict(stored.snapshot)
                else None
            )
            if prospect_change is None and snapshot_change is None:
                continue
            plans.append(
                RecordPlan(
                    RecordOutcome.UPDATED,
                    stored.link.crm,
                    f"Account {account_id} fields",
                    prospect_change=prospect_change,
                    snapshot_change=snapshot_change,
                    field_audit=tuple(e for e in plan.audit if e.side is Side.MARKETING),
                )
            )
    return plans


def plan_opportunities(
    opportunities: Sequence[SalesforceRecord],
    contacts: Mapping[str, Sequence[StoredLink]],
    prospects: Mapping[str, Prospect],
    mapping: Sequence[FieldMapping],
) -> list[RecordPlan]:
    """One plan per prospect whose attached opportunities change: an opportunity of one of its
    contacts is attached (its mapped values, keyed without the `opportunity_` prefix) or, once
    deleted, taken off."""
    links: dict[str, StoredLink] = {}
    updated: dict[str, Prospect] = {}
    for opportunity in opportunities:
        for stored in contacts.get(opportunity.id, ()):
            prospect_id = stored.link.prospect_id
            links[prospect_id] = stored
            prospect = updated.get(prospect_id) or prospects.get(prospect_id)
            if prospect is None:
                continue
            attached = dict(prospect.opportunities)
            if opportunity.deleted:
                attached.pop(opportunity.id, None)
            else:
                attached[opportunity.id] = {
                    m.marketing_field.removeprefix("opportunity_"): opportunity.get(m.salesforce_field)
                    for m in mapping
                }
            if attached != dict(prospect.opportunities):
                updated[prospect_id] = replace(prospect, opportunities=attached)
    return [
        RecordPlan(
            RecordOutcome.OPPORTUNITY_ATTACHED,
            links[prospect_id].link.crm,
            "opportunities of the contact",
            prospect_change=ProspectChange(after, before=prospects[prospect_id]),
            events=("opportunities updated: " + ", ".join(sorted(after.opportunities)),),
        )
        for prospect_id, after in updated.items()
    ]
