"""What applies the records of each object the configuration syncs, however they were read: a
run's incremental reads (`sync.py`), a manual sync of one record (`sync/manual.py`), a resync's
Bulk API pages (`sync/resync/`). All of them plan in the core and carry out through one applier,
so a record gets the same rules, audit entries and error list entries whichever way it came.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crmsync.config import Configuration, OwnerDirection
from crmsync.domain.objects import PEOPLE, CrmObject, object_of
from crmsync.domain.outbound import OutboundRules
from crmsync.domain.owner import owner_map
from crmsync.domain.records import SalesforceRecord
from crmsync.ports import (
    CrmGateway,
    LinkStore,
    PendingChanges,
    ProspectStore,
    RetryList,
    SalesforceUser,
    StateStore,
    UserDirectory,
    Watermarks,
)
from crmsync.sync.cursor import ChangeCursor
from crmsync.sync.outbound.apply import PlanApplier
from crmsync.sync.outbound.people import People
from crmsync.sync.outbound.reads import (
    OPPORTUNITY_FIELDS,
    ObjectRead,
    account_fields,
    person_fields,
    reads_account,
)
from crmsync.sync.outbound.related import Related
from crmsync.sync.run import ReportStore, RunContext


@dataclass(frozen=True)
class OutboundStores:
    """What outbound planning keeps and reads besides Salesforce."""

    links: LinkStore
    prospects: ProspectStore
    watermarks: Watermarks
    retry_list: RetryList
    user_directory: UserDirectory
    connector: StateStore
    reports: ReportStore
    pending: PendingChanges | None
    """Where prospects wait for the inbound run (None: nothing is noted)."""


def outbound_rules(config: Configuration, users: Iterable[SalesforceUser]) -> OutboundRules:
    """The configuration's rules for one record's outbound decision, with the owner map the
    Salesforce users make."""
    return OutboundRules(
        matching=config.matching,
        conflict_winner=config.conflict_winner,
        tags=config.tags,
        mappings={crm: config.mappings.get(crm, ()) for crm in PEOPLE},
        owner_emails=owner_map(((u.id, u.email, u.active) for u in users), config.owner.user_map),
        owner_two_way=config.owner.direction is OwnerDirection.TWO_WAY,
    )


@dataclass(frozen=True)
class ObjectAppliers:
    """The people and related-record appliers of one run (or one manual sync, one resync step),
    sharing its applier, cursor and counts."""

    people: People
    related: Related
    applier: PlanApplier


def object_appliers(
    *,
    crm: CrmGateway,
    stores: OutboundStores,
    configuration: Configuration,
    rules: OutboundRules,
    context: RunContext,
    cursor: ChangeCursor,
    counts: Counter[str],
    new_prospect_id: Callable[[], str],
) -> ObjectAppliers:
    applier = PlanApplier(
        links=stores.links,
        prospects=stores.prospects,
        pending=stores.pending,
        cursor=cursor,
        reports=stores.reports,
        context=context,
        counts=counts,
    )
    people = People(
        crm=crm,
        links=stores.links,
        prospects=stores.prospects,
        configuration=configuration,
        rules=rules,
        now=context.now,
        new_prospect_id=new_prospect_id,
        applier=applier,
        counts=counts,
    )
    related = Related(
        crm=crm,
        links=stores.links,
        prospects=stores.prospects,
        configuration=configuration,
        applier=applier,
        counts=counts,
    )
    return ObjectAppliers(people=people, related=related, applier=applier)


def object_reads(configuration: Configuration, appliers: ObjectAppliers) -> list[ObjectRead]:
    """The objects the configuration syncs, in the order a run reads them, each with its fields
    and what applies a chunk of its records."""
    config = configuration
    people, related = appliers.people, appliers.related

    def apply(sobject: str) -> Callable[[Sequence[SalesforceRecord]], None]:
        held = [crm for crm in CrmObject if crm.sobject == sobject and config.objects.syncs(crm)]

        def apply_chunk(records: Sequence[SalesforceRecord]) -> None:
            by_object: dict[CrmObject | None, list[SalesforceRecord]] = {}
            for record in records:
                by_object.setdefault(object_of(sobject, person_account=record.person_account), []).append(
                    record
                )
            for crm in held:
                if crm.is_person:
                    people.apply(crm, by_object.get(crm, []))
                else:
                    related.apply_account_fields(by_object.get(crm, []))

        return apply_chunk

    objects = config.objects
    reads: list[ObjectRead] = []
    if objects.leads:
        reads.append(ObjectRead("Lead", person_fields(config, CrmObject.LEAD), apply("Lead")))
    if objects.contacts:
        reads.append(ObjectRead("Contact", person_fields(config, CrmObject.CONTACT), apply("Contact")))
    if reads_account(config):
        reads.append(ObjectRead("Account", account_fields(config), apply("Account")))
    if objects.opportunities:
        reads.append(ObjectRead("Opportunity", OPPORTUNITY_FIELDS, related.apply_opportunities))
    return reads


def read_of(configuration: Configuration, appliers: ObjectAppliers, sobject: str) -> ObjectRead | None:
    """The read of `sobject` among `object_reads` (None: the configuration does not sync it)."""
    return next((read for read in object_reads(configuration, appliers) if read.sobject == sobject), None)
