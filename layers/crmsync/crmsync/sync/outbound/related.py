"""Outbound for the records that reach prospects through their Contacts: business Account fields
and Opportunities. Each chunk: the contacts and their links read in batched calls, the plans
made in the core (`domain.outbound.related`), carried out by the applier."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from crmsync.config import OPPORTUNITY_MAPPING, Configuration
from crmsync.domain.lifecycle import StoredLink
from crmsync.domain.outbound.related import (
    live_accounts,
    plan_account_fields,
    plan_opportunities,
    reached_through_contacts,
)
from crmsync.domain.records import SalesforceRecord
from crmsync.ports import CrmGateway, LinkStore, ProspectStore
from crmsync.sync.outbound.apply import PlanApplier
from crmsync.sync.outbound.reads import account_mappings


class Related:
    def __init__(
        self,
        *,
        crm: CrmGateway,
        links: LinkStore,
        prospects: ProspectStore,
        configuration: Configuration,
        applier: PlanApplier,
        counts: Counter[str],
    ) -> None:
        self._crm = crm
        self._links = links
        self._prospects = prospects
        self._config = configuration
        self._applier = applier
        self._counts = counts

    def apply_account_fields(
        self,
        accounts: Sequence[SalesforceRecord],
        contacts: Mapping[str, Sequence[StoredLink]] | None = None,
    ) -> None:
        """The accounts' mapped fields onto the prospects of their contacts: every contact's, read
        from Salesforce, or those `contacts` gives (Account id → the links of some of its
        contacts: a manual sync of one Contact brings its own Account's fields alone)."""
        live = live_accounts(accounts)
        if not live:
            return
        self._counts["accounts"] += len(live)
        if contacts is None:
            contacts = self._contacts_of("Contact", ("Id", "AccountId"), "AccountId", "Id", live)
        prospects = self._prospects.get_many(
            {s.link.prospect_id for found in contacts.values() for s in found}
        )
        plans = plan_account_fields(
            live, contacts, prospects, account_mappings(self._config), self._config.conflict_winner
        )
        self._applier.carry_out("Contact", plans)

    def apply_opportunities(self, opportunities: Sequence[SalesforceRecord]) -> None:
        if not opportunities:
            return
        self._counts["opportunities"] += len(opportunities)
        contacts = self._contacts_of(
            "OpportunityContactRole",
            ("OpportunityId", "ContactId"),
            "OpportunityId",
            "ContactId",
            {o.id for o in opportunities},
        )
        prospects = self._prospects.get_many(
            {s.link.prospect_id for found in contacts.values() for s in found}
        )
        plans = plan_opportunities(opportunities, contacts, prospects, OPPORTUNITY_MAPPING)
        self._applier.carry_out("Contact", plans)

    def _contacts_of(
        self, sobject: str, fields: Sequence[str], key_field: str, contact_field: str, ids: Collection[str]
    ) -> dict[str, list[StoredLink]]:
        """`key_field` value (an AccountId, an OpportunityId) → the active links of its contacts,
        read from `sobject` rows pairing the two."""
        rows = self._crm.find(sobject, fields, key_field, sorted(ids))
        links = self._links.by_crm_ids({str(r[contact_field]) for r in rows if r.get(contact_field)})
        return reached_through_contacts(rows, key_field, contact_field, links)
