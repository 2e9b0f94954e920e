"""Outbound for Leads, Contacts and Person Accounts: read what the stores and Salesforce know
of a chunk of records (in a few batched calls), plan it in the core (`domain.outbound.people`),
and hand the plans to the applier."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from crmsync.config import Configuration
from crmsync.domain.matching import MatchingMode
from crmsync.domain.objects import CrmObject
from crmsync.domain.outbound import OutboundRules, PeopleChunk, plan_people
from crmsync.domain.outbound.people import (
    converted_accounts,
    ids_to_look_up,
    in_planning_order,
    unlinked_keys,
)
from crmsync.domain.prospect import Prospect
from crmsync.domain.records import SalesforceRecord
from crmsync.ports import CrmGateway, LinkStore, ProspectStore
from crmsync.sync.outbound.apply import PlanApplier
from crmsync.sync.outbound.reads import IDS_PER_QUERY


class People:
    def __init__(
        self,
        *,
        crm: CrmGateway,
        links: LinkStore,
        prospects: ProspectStore,
        configuration: Configuration,
        rules: OutboundRules,
        now: datetime,
        new_prospect_id: Callable[[], str],
        applier: PlanApplier,
        counts: Counter[str],
    ) -> None:
        self._crm = crm
        self._links = links
        self._prospects = prospects
        self._config = configuration
        self._rules = rules
        self._now = now
        self._new_prospect_id = new_prospect_id
        self._applier = applier
        self._counts = counts

    def apply(self, crm: CrmObject, records: Sequence[SalesforceRecord]) -> None:
        self._counts["read"] += len(records)
        for batch in in_planning_order(records):
            plans = plan_people(self._read(crm, batch), self._rules, self._now, self._new_prospect_id)
            self._applier.carry_out(crm.sobject, plans)

    def _read(self, crm: CrmObject, records: Sequence[SalesforceRecord]) -> PeopleChunk:
        links = self._links.by_crm_ids(ids_to_look_up(records))
        prospects = self._prospects.get_many({stored.link.prospect_id for stored in links.values()})
        person_accounts = self._person_accounts(converted_accounts(records, links))
        candidates = self._candidates(unlinked_keys(crm, records, links, self._rules.matching))
        linked_candidates = self._links.by_prospect_ids(
            {p.id for found in candidates.values() for p in found}
        )
        return PeopleChunk(
            object=crm,
            records=records,
            scope=self._config.outbound.scope.get(crm),
            links=links,
            prospects=prospects,
            candidates=candidates,
            linked_candidates=linked_candidates.keys(),
            person_accounts=person_accounts,
        )

    def _candidates(self, keys: set[str]) -> dict[str, list[Prospect]]:
        if not keys:
            return {}
        if self._rules.matching is MatchingMode.CRM_ID:
            return self._prospects.find_by_crm_ids(keys)
        return self._prospects.find_by_emails(keys)

    def _person_accounts(self, account_ids: Sequence[str]) -> frozenset[str]:
        """Which of these accounts are person accounts: one query per 200 (a SOQL `IN` list that
        fits a URL), and none for a chunk without a linked conversion."""
        if not self._config.objects.person_accounts:
            return frozenset()
        found: set[str] = set()
        for start in range(0, len(account_ids), IDS_PER_QUERY):
            rows = self._crm.find(
                "Account", ("IsPersonAccount",), "Id", account_ids[start : start + IDS_PER_QUERY]
            )
            found.update(row.id for row in rows if row.person_account)
        return frozenset(found)
