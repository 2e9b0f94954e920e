"""What happens to prospects and links when Salesforce records appear, convert, leave the scope,
are deleted, restored or merged (docs/guide/lifecycle.md, with the scope rules of scope.md and
the matching of matching.md).

Each function takes what the outbound run knows about one record and returns one
`LifecycleDecision`; the run carries it out. When a link moves (conversion, merge) it keeps
its snapshot: the pairs both records map merge against what the prospect last agreed to, so
the surviving record's values win where they differ and the prospect's unsynced edits still go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from crmsync.domain.matching import (
    CrmCandidate,
    MatchingMode,
    MatchOutcome,
    ProspectCandidate,
    match_record_to_prospect,
)
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import Snapshot


@dataclass(frozen=True)
class Tags:
    """Tag names the connector puts on prospects (docs/guide/lifecycle.md lists them with
    their defaults)."""

    created_from_lead: str = "created-from-salesforce-lead"
    created_from_contact: str = "created-from-salesforce-contact"
    lead_converted_to_contact: str = "salesforce-lead-converted-to-contact"
    added_to_salesforce_lead: str = "added-to-salesforce-lead"
    added_to_salesforce_contact: str = "added-to-salesforce-contact"
    merged_in_salesforce: str = "salesforce-record-merged"
    """A prospect whose record was merged or converted into one that has a prospect of its own."""

    def created_from(self, crm_object: CrmObject) -> str:
        # A Person Account is Salesforce's contact for a person, so it carries the contact tag.
        return self.created_from_lead if crm_object is CrmObject.LEAD else self.created_from_contact


class LinkStatus(StrEnum):
    ACTIVE = "active"
    OUT_OF_SCOPE = "out_of_scope"
    """The record left the outbound scope: it stops syncing, the prospect stays."""
    CRM_DELETED = "crm_deleted"
    MERGED = "merged"
    """The record was merged or converted into one that already had its own prospect."""
    REPLACED = "replaced"
    """History, never a prospect's current link: the record was deleted in Salesforce, and the
    prospect, reactivated, was linked to another record at the marketing side's request
    (docs/guide/actions.md). The record stays claimed by the prospect, so restoring it from the recycle bin
    neither links it a second time nor makes a second prospect of it."""


class LinkOrigin(StrEnum):
    """Which side made the link: it decides whether the outbound scope applies
    (docs/guide/scope.md)."""

    SALESFORCE = "salesforce"
    """A record that came in through the outbound scope (or matched a prospect there)."""
    MARKETING = "marketing"
    """A record the marketing side asked for (automation action, create_unlinked): it syncs
    both ways from then on, whatever the outbound scope says."""


@dataclass(frozen=True)
class CrmRef:
    """A Salesforce record a prospect is (or can be) linked to: a person, never a business
    Account."""

    object: CrmObject
    id: str

    def __post_init__(self) -> None:
        if not self.object.is_person:
            raise ValueError(f"a prospect is never linked to {self.object.value} {self.id}")


@dataclass(frozen=True)
class Link:
    prospect_id: str
    crm: CrmRef
    status: LinkStatus = LinkStatus.ACTIVE
    origin: LinkOrigin = LinkOrigin.SALESFORCE


@dataclass(frozen=True)
class StoredLink:
    """A link as the link store holds it: the link, the snapshot of its last sync (the base of
    the three-way merge) and the store's optimistic lock."""

    link: Link
    snapshot: Snapshot = field(default_factory=dict)
    version: int = 0
    synced_version: int = 0
    """The prospect version whose marketing changes inbound has dealt with (sent, found in
    step, or listed as failed), or the one the link was made with. 0: none recorded (a link
    saved before crmsync kept it), which reads as "not known to be in step"."""


@dataclass(frozen=True)
class LinkChange:
    """Save `after` (with `snapshot`) in place of `before` (None: a new link). When `after`
    points at another record than `before`, the link moves: the old record is freed and the
    new one claimed, both or neither. With `keep_history`, the old record is not freed: it stays
    the prospect's, and its link is kept as history (`LinkStatus.REPLACED`), in the same write."""

    after: Link
    snapshot: Snapshot
    before: StoredLink | None = None
    keep_history: bool = False
    synced_version: int | None = None
    """The link's new `StoredLink.synced_version`; None keeps the stored one."""


def relink_deleted(stored: StoredLink, to: CrmRef, snapshot: Snapshot) -> LinkChange:
    """The prospect of a link whose record was deleted in Salesforce, reactivated since, is
    linked to `to`, a record made or found at the marketing side's request (docs/guide/actions.md). Another
    record replaces the deleted one, whose link is kept as history; the deleted record itself,
    found restored, is simply linked again."""
    if stored.link.status is not LinkStatus.CRM_DELETED:
        raise ValueError(f"only a link whose record was deleted is relinked, not a {stored.link.status} one")
    after = Link(stored.link.prospect_id, to, LinkStatus.ACTIVE, LinkOrigin.MARKETING)
    if to == stored.link.crm:
        return LinkChange(after=after, snapshot=stored.snapshot, before=stored)
    return LinkChange(after=after, snapshot=snapshot, before=stored, keep_history=True)


class LifecycleAction(StrEnum):
    NOTHING = "nothing"
    CREATE_PROSPECT = "create_prospect"
    LINK_PROSPECT = "link_prospect"
    """Link the record to an existing prospect."""
    MOVE_LINK = "move_link"
    """Point the prospect's link at another record (conversion, merge)."""
    SET_LINK_STATUS = "set_link_status"
    REPORT = "report"
    """Nothing is changed; the case goes to the report for a person to look at."""


@dataclass(frozen=True)
class LifecycleDecision:
    action: LifecycleAction
    reason: str
    prospect_id: str | None = None
    """The prospect concerned; None for a prospect still to be created."""
    crm: CrmRef | None = None
    """The record the prospect is linked to once the decision is carried out."""
    link_status: LinkStatus | None = None
    add_tags: frozenset[str] = frozenset()
    remove_tags: frozenset[str] = frozenset()
    deactivate_prospect: bool = False
    reported: bool = False
    """Whether the case also goes to the report (it needs a person's eye)."""


def decide_unlinked_record(
    record: CrmCandidate,
    record_in_scope: bool,
    mode: MatchingMode,
    prospects: Sequence[ProspectCandidate],
    tags: Tags,
) -> LifecycleDecision:
    """A record with no link, met in outbound sync: create a tagged prospect, link an existing
    one, or leave it. Converted Leads never start a link; their Contact does."""
    crm = CrmRef(record.object, record.id)
    if record.converted:
        return LifecycleDecision(LifecycleAction.NOTHING, "a converted Lead is never synced", crm=crm)
    if not record_in_scope:
        return LifecycleDecision(LifecycleAction.NOTHING, "not in the outbound scope", crm=crm)
    match = match_record_to_prospect(mode, record, prospects)
    if match.outcome is MatchOutcome.LINK:
        return LifecycleDecision(
            LifecycleAction.LINK_PROSPECT,
            match.reason,
            prospect_id=match.target_id,
            crm=crm,
            link_status=LinkStatus.ACTIVE,
        )
    if match.outcome is MatchOutcome.CREATE:
        return LifecycleDecision(
            LifecycleAction.CREATE_PROSPECT,
            match.reason,
            crm=crm,
            link_status=LinkStatus.ACTIVE,
            add_tags=frozenset({tags.created_from(record.object)}),
        )
    return LifecycleDecision(LifecycleAction.REPORT, match.reason, crm=crm, reported=True)


def decide_scope_change(link: Link, record_in_scope: bool) -> LifecycleDecision:
    """A linked record that left the scope stops syncing (its prospect stays); one that comes
    back resumes. Deleted or merged links are not the scope's business, nor are links the
    marketing side asked for."""
    if link.origin is LinkOrigin.MARKETING:
        return LifecycleDecision(
            LifecycleAction.NOTHING,
            "linked at the marketing side's request: the outbound scope does not apply",
            prospect_id=link.prospect_id,
            crm=link.crm,
        )
    if link.status is LinkStatus.ACTIVE and not record_in_scope:
        return LifecycleDecision(
            LifecycleAction.SET_LINK_STATUS,
            "the record left the outbound scope; its prospect is kept",
            prospect_id=link.prospect_id,
            crm=link.crm,
            link_status=LinkStatus.OUT_OF_SCOPE,
        )
    if link.status is LinkStatus.OUT_OF_SCOPE and record_in_scope:
        return LifecycleDecision(
            LifecycleAction.SET_LINK_STATUS,
            "the record is back in the outbound scope",
            prospect_id=link.prospect_id,
            crm=link.crm,
            link_status=LinkStatus.ACTIVE,
        )
    return LifecycleDecision(
        LifecycleAction.NOTHING, "scope unchanged", prospect_id=link.prospect_id, crm=link.crm
    )


def lead_converted_into(
    contact_id: str | None, account_id: str | None, *, account_is_person_account: bool
) -> CrmRef | None:
    """The record a converted Lead's person lives on as, from the Lead's `ConvertedContactId`
    and `ConvertedAccountId`: the record its link follows.

    A conversion fills `ConvertedAccountId` with the account and `ConvertedContactId` with the
    contact it created or was given (Lead fields, and LeadConvertResult's `accountId` and
    `contactId`, SOAP API Developer Guide; Change Events for Lead Conversion). A Lead converted
    "to an account and a person account instead of a contact" (convertLead()) therefore names the
    person account and its person contact, the hidden Contact Salesforce creates with every
    person account and names in `Account.PersonContactId` (Person Account Record Types). That
    Contact is synced as its Person Account and never linked, so the link follows the account.
    Otherwise it follows the Contact; a business account alone is no person to follow.
    """
    if account_id and account_is_person_account:
        return CrmRef(CrmObject.PERSON_ACCOUNT, account_id)
    if contact_id:
        return CrmRef(CrmObject.CONTACT, contact_id)
    return None


def decide_lead_conversion(
    link: Link, converted_to: CrmRef, prospect_of_converted_to: str | None, tags: Tags
) -> LifecycleDecision:
    """A linked Lead was converted into `converted_to` (its Contact or Person Account, as
    `lead_converted_into` tells), whose own link, if any, is `prospect_of_converted_to`. The
    prospect follows the person; the Lead is never written again either way."""
    return _hand_over_link(
        link,
        to=converted_to,
        prospect_of_target=prospect_of_converted_to,
        event=f"Lead {link.crm.id} was converted into {converted_to.object} {converted_to.id}",
        add_tags=frozenset({tags.lead_converted_to_contact}),
        remove_tags=frozenset({tags.created_from_contact}),
        merged_tag=tags.merged_in_salesforce,
    )


def decide_deletion(
    link: Link, master: CrmRef | None, prospect_of_master: str | None, tags: Tags
) -> LifecycleDecision:
    """A linked record was deleted. Deleted alone: its prospect is deactivated, never deleted.
    Merged away (deleted with a `MasterRecordId`): the link goes to the surviving record,
    unless that record already has a prospect of its own."""
    if master is None:
        return LifecycleDecision(
            LifecycleAction.SET_LINK_STATUS,
            f"{link.crm.object} {link.crm.id} was deleted in Salesforce",
            prospect_id=link.prospect_id,
            crm=link.crm,
            link_status=LinkStatus.CRM_DELETED,
            deactivate_prospect=True,
        )
    return _hand_over_link(
        link,
        to=master,
        prospect_of_target=prospect_of_master,
        event=f"{link.crm.object} {link.crm.id} was merged into {master.id}",
        merged_tag=tags.merged_in_salesforce,
    )


def _hand_over_link(
    link: Link,
    *,
    to: CrmRef,
    prospect_of_target: str | None,
    event: str,
    merged_tag: str,
    add_tags: frozenset[str] = frozenset(),
    remove_tags: frozenset[str] = frozenset(),
) -> LifecycleDecision:
    """The person behind `link` now lives on as `to` (conversion, merge). The link moves there,
    unless `to` already has a prospect of its own: two prospects are never silently merged,
    the old link is closed, its prospect tagged as merged, and the case reported."""
    if prospect_of_target == link.prospect_id:
        return LifecycleDecision(
            LifecycleAction.NOTHING, f"already followed: {event}", prospect_id=link.prospect_id, crm=to
        )
    if prospect_of_target is not None:
        return LifecycleDecision(
            LifecycleAction.SET_LINK_STATUS,
            f"{event}, which is already linked to prospect {prospect_of_target}",
            prospect_id=link.prospect_id,
            crm=link.crm,
            link_status=LinkStatus.MERGED,
            add_tags=frozenset({merged_tag}),
            reported=True,
        )
    return LifecycleDecision(
        LifecycleAction.MOVE_LINK,
        event,
        prospect_id=link.prospect_id,
        crm=to,
        link_status=LinkStatus.ACTIVE,
        add_tags=add_tags,
        remove_tags=remove_tags,
    )


def decide_undelete(link: Link) -> LifecycleDecision:
    """A record restored from the recycle bin relinks. Its prospect stays inactive until the
    marketing side reactivates it (docs/guide/lifecycle.md: only a form fill or a re-import brings it
    back)."""
    if link.status is not LinkStatus.CRM_DELETED:
        return LifecycleDecision(
            LifecycleAction.NOTHING, "the link was not deleted", prospect_id=link.prospect_id, crm=link.crm
        )
    return LifecycleDecision(
        LifecycleAction.SET_LINK_STATUS,
        f"{link.crm.object} {link.crm.id} was restored in Salesforce",
        prospect_id=link.prospect_id,
        crm=link.crm,
        link_status=LinkStatus.ACTIVE,
    )
