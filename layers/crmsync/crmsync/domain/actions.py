"""What carrying out one automation action means (docs/guide/actions.md, matching.md): link an
existing CRM record, create one, find it already done, or refuse with a clear error.

An action is read once, from the queue message or the `POST /actions` body, into `Action`.
`decide_action` takes what the stores and Salesforce know about one action's prospect
(`ActionFacts`: its link, the CRM records found by its email or by the CRM ID it carries) and
returns one `ActionDecision`; the use case (`sync/actions/`) carries it out in batches, and
`domain.action_results` says what each action came to and what users see of it. One CRM record
per prospect: a prospect that is already linked gets nothing new, whatever the action asks.

A record created for a prospect carries the prospect id in the configured external-id field
(`AutomationSettings.external_id_field`) and is written with an upsert on that field, so a
retry after a crash between "Salesforce created it" and "the link was saved" finds and reuses
it instead of creating a second one.

A prospect whose record was deleted in Salesforce is inactive (docs/guide/lifecycle.md) and
refused (`DELETED_IN_CRM`) until the marketing side reactivates it; then an action gives it a
record again, created or (in `email` mode) found, which replaces the deleted one
(docs/guide/actions.md). Salesforce's upsert does not match a record in the recycle bin, so the
new record can carry the same external-id value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.fields import Behaviour, FieldMapping, is_blank
from crmsync.domain.lifecycle import CrmRef, Link, LinkStatus, StoredLink
from crmsync.domain.matching import (
    CrmCandidate,
    MatchingMode,
    MatchOutcome,
    ProspectCandidate,
    match_prospect_to_record,
)
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot, Snapshot
from crmsync.domain.prospect import Prospect
from crmsync.domain.records import SalesforceRecord

EXTERNAL_ID_FIELD = "Crmsync_Key__c"
"""The default external-id field stamped on created records: a unique, case-sensitive External
ID text field the user adds to Lead and Contact (README, Salesforce setup)."""

COMPANY_FIELD = "company"
"""The prospect field holding its company when no Lead mapping names one."""


class ActionKind(StrEnum):
    CREATE_LEAD = "create_lead"
    CREATE_CONTACT = "create_contact"

    @property
    def creates(self) -> CrmObject:
        return CrmObject.LEAD if self is ActionKind.CREATE_LEAD else CrmObject.CONTACT


@dataclass(frozen=True)
class DefaultAccount:
    """The Account a created Contact gets when its prospect names no company: an Account id,
    or a name (found, or created once)."""

    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class AutomationSettings:
    """The configuration's `automation` section."""

    last_name_fallback: str = "[not provided]"
    """LastName of a created Lead or Contact whose prospect has none (Salesforce requires one)."""
    company_fallback: str = "[not provided]"
    """Company of a created Lead whose prospect has none (Salesforce requires one)."""
    default_account: DefaultAccount | None = None
    external_id_field: str = EXTERNAL_ID_FIELD


@dataclass(frozen=True)
class Action:
    """One automation action, as accepted (`sync/actions_intake.py`) and as read from its queue
    message: the one shape it has from its acceptance to its outcome."""

    action_id: str
    kind: ActionKind
    prospect_id: str
    idempotency_key: str | None = None
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class AutomationRules:
    """The parts of the configuration an action's decision needs."""

    matching: MatchingMode
    mappings: Mapping[CrmObject, Sequence[FieldMapping]]
    synced: frozenset[CrmObject]
    """The objects the connector syncs (`objects.lead`, `objects.contact`, ...)."""
    settings: AutomationSettings = field(default_factory=AutomationSettings)

    @property
    def company_field(self) -> str:
        """The prospect field a Lead's Company comes from; it also names a Contact's Account."""
        for mapping in self.mappings.get(CrmObject.LEAD, ()):
            if mapping.salesforce_field.lower() == "company" and mapping.behaviour is not Behaviour.NONE:
                return mapping.marketing_field
        return COMPANY_FIELD


@dataclass(frozen=True)
class FoundRecord:
    """A CRM record found by the prospect's email (`email` mode) or CRM ID (`crm_id` mode)."""

    candidate: CrmCandidate
    external_id: str | None = None
    """Its external-id field's value: the id of the prospect it was created for, if any."""


class Decision(StrEnum):
    ALREADY_LINKED = "already_linked"
    LINK = "link"
    CREATE = "create"
    REFUSE = "refuse"


@dataclass(frozen=True)
class NewRecord:
    """A Lead or Contact to upsert on the external-id field. A Contact's Account is one of
    `account_id` (known) or `account_name` (to find or create)."""

    object: CrmObject
    values: Mapping[str, Any]
    snapshot: Snapshot
    account_id: str | None = None
    account_name: str | None = None


@dataclass(frozen=True)
class ActionDecision:
    decision: Decision
    reason: str
    crm: CrmRef | None = None
    """The record linked (LINK, ALREADY_LINKED)."""
    new_record: NewRecord | None = None
    failure: Failure | None = None
    replaces: CrmRef | None = None
    """The prospect's record deleted in Salesforce that the record linked or created replaces."""


def refuse(code: str, message: str, category: ErrorCategory = ErrorCategory.VALIDATION) -> ActionDecision:
    return ActionDecision(Decision.REFUSE, message, failure=Failure(code, message, category=category))


@dataclass(frozen=True)
class ActionFacts:
    """What is known about one action: its prospect (None: unknown), the prospect's link (None:
    unlinked), and the records found for it (by email in `email` mode, by the CRM ID it carries
    in `crm_id` mode), each `linked` when a prospect has it."""

    action: Action
    prospect: Prospect | None
    stored_link: StoredLink | None = None
    found: Sequence[FoundRecord] = ()

    @property
    def link(self) -> Link | None:
        return self.stored_link.link if self.stored_link is not None else None

    @property
    def deleted_link(self) -> Link | None:
        """The prospect's link, when its record was deleted in Salesforce."""
        link = self.link
        return link if link is not None and link.status is LinkStatus.CRM_DELETED else None

    @property
    def claim_key(self) -> str:
        return claim_key(self.action.prospect_id, self.link)

    def match_key(self, matching: MatchingMode) -> str | None:
        """What records are found for it by: the email (`email` mode) or the CRM ID the
        prospect carries (`crm_id` mode); None when it has none."""
        if self.prospect is None:
            return None
        return self.prospect.crm_id if matching is MatchingMode.CRM_ID else self.prospect.email_key


def found_record(
    crm: CrmObject, record: SalesforceRecord, external_id_field: str, *, linked: bool
) -> FoundRecord:
    """A record found for an action, as the decision weighs it."""
    email = crm.email_of(record)
    return FoundRecord(
        CrmCandidate(
            id=record.id,
            object=crm,
            email=email if isinstance(email, str) else None,
            modified_at=record.last_modified or _NEVER,
            converted=record.converted,
            linked=linked,
        ),
        external_id=record.get(external_id_field),
    )


def found_key(found: FoundRecord, matching: MatchingMode) -> str:
    """The match key a found record answers (`ActionFacts.match_key`)."""
    candidate = found.candidate
    return candidate.id if matching is MatchingMode.CRM_ID else (candidate.email or "").strip().lower()


def claim_key(prospect_id: str, link: Link | None) -> str:
    """The business key an action's exactly-once claim is taken on: the prospect (one CRM
    record per prospect). A prospect whose record was deleted gets a record again (docs/guide/actions.md), so
    that one is claimed apart, under the deleted record's id: the claim of its first record may
    still answer "done, with the record now deleted"."""
    if link is not None and link.status is LinkStatus.CRM_DELETED:
        return f"{prospect_id} replacing {link.crm.id}"
    return prospect_id


def settle_without_salesforce(facts: ActionFacts, rules: AutomationRules) -> ActionDecision | None:
    """The decision when it needs nothing from Salesforce (unknown prospect, already linked, no
    email, object not synced); None when Salesforce must be asked for candidate records."""
    action, prospect, link = facts.action, facts.prospect, facts.link
    if prospect is None:
        return refuse(
            "UNKNOWN_PROSPECT", f"prospect {action.prospect_id!r} does not exist", ErrorCategory.NOT_FOUND
        )
    if facts.deleted_link is not None:
        if not prospect.active:
            deleted = facts.deleted_link.crm
            return refuse(
                "DELETED_IN_CRM",
                f"{deleted.object} {deleted.id}, the prospect's record, was deleted in Salesforce and "
                "the prospect is inactive since: reactivate it on the marketing side (a form fill, "
                "a re-import), then ask again",
                ErrorCategory.NOT_FOUND,
            )
    elif link is not None:
        return ActionDecision(
            Decision.ALREADY_LINKED,
            f"the prospect is already linked to {link.crm.object} {link.crm.id}: one CRM record per prospect",
            crm=link.crm,
        )
    if prospect.email_key is None:
        return refuse(
            "PROSPECT_WITHOUT_EMAIL",
            f"prospect {prospect.id!r} has no email; a prospect without an email is never created in Salesforce",
        )
    wanted = action.kind.creates
    if wanted not in rules.synced:
        return refuse(
            "OBJECT_NOT_SYNCED",
            f"{action.kind} asks for a {wanted}, but the connector does not sync {wanted}s "
            f"(objects.{wanted.value.lower()} is off)",
            ErrorCategory.CONFIGURATION,
        )
    return None


def decide_action(facts: ActionFacts, rules: AutomationRules) -> ActionDecision:
    """What to do for one action."""
    decision = _decide(facts, rules)
    deleted = facts.deleted_link
    if (
        deleted is not None
        and decision.decision in (Decision.LINK, Decision.CREATE)
        and decision.crm != deleted.crm
    ):
        return replace(decision, replaces=deleted.crm)
    return decision


def _decide(facts: ActionFacts, rules: AutomationRules) -> ActionDecision:
    settled = settle_without_salesforce(facts, rules)
    if settled is not None:
        return settled
    action, prospect, found, deleted = facts.action, facts.prospect, facts.found, facts.deleted_link
    assert prospect is not None
    usable = [
        record
        for record in found
        # A converted Lead is never written again (docs/guide/lifecycle.md): linking one would sync nothing.
        if not record.candidate.converted and record.candidate.object in rules.synced
    ]
    if deleted is not None:
        restored = next((r.candidate for r in usable if r.candidate.id == deleted.crm.id), None)
        if restored is not None:
            return ActionDecision(
                Decision.LINK,
                f"{restored.object} {restored.id}, deleted in Salesforce, is back from the recycle bin",
                crm=deleted.crm,
            )
        if rules.matching is MatchingMode.CRM_ID and prospect.crm_id in (None, deleted.crm.id):
            # The CRM ID the prospect carries is the deleted record's: no key to match by.
            return _create(
                action,
                prospect,
                rules,
                f"its {deleted.crm.object} {deleted.crm.id} was deleted in Salesforce",
            )
    earlier = [r.candidate for r in usable if r.external_id == prospect.id and not r.candidate.linked]
    if earlier:
        chosen = min(earlier, key=lambda c: c.id)
        return ActionDecision(
            Decision.LINK,
            f"{chosen.object} {chosen.id} was created for this prospect by an earlier attempt "
            f"(its {rules.settings.external_id_field} is the prospect id)",
            crm=CrmRef(chosen.object, chosen.id),
        )
    match = match_prospect_to_record(
        rules.matching,
        ProspectCandidate(id=prospect.id, email=prospect.email, crm_id=prospect.crm_id),
        [r.candidate for r in usable],
    )
    if match.outcome is MatchOutcome.LINK:
        assert match.target_id is not None
        chosen = next(r.candidate for r in usable if r.candidate.id == match.target_id)
        return ActionDecision(Decision.LINK, match.reason, crm=CrmRef(chosen.object, chosen.id))
    if match.outcome is MatchOutcome.REFUSE:
        return refuse("NOT_LINKABLE", match.reason, ErrorCategory.DUPLICATE)
    return _create(action, prospect, rules, match.reason)


def decide_actions(batch: Sequence[ActionFacts], rules: AutomationRules) -> list[ActionDecision]:
    """The decisions of a batch, one per action (one action per prospect), in order. In `email`
    mode two prospects of a batch sharing an email would create two records with one email; the
    first creates it, the others are refused (one prospect per email, docs/guide/matching.md)."""
    decisions: list[ActionDecision] = []
    created_by_email: dict[str, str] = {}
    for facts in batch:
        decision = decide_action(facts, rules)
        if decision.decision is Decision.CREATE and rules.matching is MatchingMode.EMAIL:
            assert facts.prospect is not None and facts.prospect.email_key is not None
            first = created_by_email.setdefault(facts.prospect.email_key, facts.prospect.id)
            if first != facts.prospect.id:
                decision = refuse(
                    "DUPLICATE_EMAIL",
                    f"prospect {first!r} has the same email and is created in Salesforce by the "
                    "same batch; in email matching there is one prospect per email",
                    ErrorCategory.DUPLICATE,
                )
        decisions.append(decision)
    return decisions


def _create(action: Action, prospect: Prospect, rules: AutomationRules, why: str) -> ActionDecision:
    crm = action.kind.creates
    settings = rules.settings
    mappings = [m for m in rules.mappings.get(crm, ()) if m.behaviour is not Behaviour.NONE]
    values: dict[str, Any] = {
        m.salesforce_field: prospect.fields[m.marketing_field]
        for m in mappings
        # Only what a field's behaviour lets the marketing side write (docs/guide/fields.md).
        if m.behaviour.writes_salesforce and not is_blank(prospect.fields.get(m.marketing_field))
    }
    present = {name.lower() for name in values}
    if "email" not in present:
        values["Email"] = prospect.email  # the match key (docs/guide/matching.md), mapped or not
    if "lastname" not in present:
        values["LastName"] = settings.last_name_fallback
    company = prospect.fields.get(rules.company_field)
    company_name = None if is_blank(company) else str(company).strip()
    if crm is CrmObject.LEAD and "company" not in present:
        values["Company"] = company_name or settings.company_fallback
    values[settings.external_id_field] = prospect.id

    account_id = account_name = None
    if crm is CrmObject.CONTACT:
        default = settings.default_account
        if company_name is not None:
            account_name = company_name
        elif default is not None and default.id is not None:
            account_id = default.id
        elif default is not None and default.name is not None:
            account_name = default.name
        else:
            return refuse(
                "NO_ACCOUNT_FOR_CONTACT",
                f"prospect {prospect.id!r} names no company ({rules.company_field}) and no "
                "automation.default_account is configured; a Contact needs an Account",
                ErrorCategory.CONFIGURATION,
            )
    written = {name.lower(): value for name, value in values.items()}
    snapshot = {
        m.key: FieldSnapshot(
            salesforce=written.get(m.salesforce_field.lower()),
            marketing=prospect.fields.get(m.marketing_field),
        )
        for m in mappings
    }
    return ActionDecision(
        Decision.CREATE,
        why,
        new_record=NewRecord(crm, values, snapshot, account_id=account_id, account_name=account_name),
    )


def account_key(name: str) -> str:
    """Account names compare trimmed and without case, as SOQL compares them."""
    return name.strip().casefold()


def choose_account(accounts: Collection[SalesforceRecord]) -> str:
    """The Account a name stands for when several share it: the oldest, then the lowest Id,
    so every batch picks the same one."""
    oldest = min(accounts, key=lambda a: (a.created or _NEVER, a.id))
    return oldest.id


_NEVER = datetime.min.replace(tzinfo=UTC)
