"""Which prospect an unlinked CRM record belongs to, and the other way round
(docs/guide/matching.md).

In `email` mode there is one prospect per email: records and prospects meet by their trimmed,
lower-cased email, and a prospect that reaches Salesforce links to an existing record rather
than creating a duplicate. In `crm_id` mode several prospects may share an email, so the CRM
ID is the only key and an email never links anything.

The callers pass the candidates they found (by email or by CRM ID); these functions only
choose, and say why, so the choice can go to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.fields import is_blank
from crmsync.domain.objects import CrmObject


class MatchingMode(StrEnum):
    EMAIL = "email"
    CRM_ID = "crm_id"


def normalize_email(value: Any) -> str | None:
    """The match key of an email: trimmed, lower case; None when there is no email."""
    if is_blank(value) or not isinstance(value, str):
        return None
    return value.strip().lower()


@dataclass(frozen=True)
class CrmCandidate:
    id: str
    object: CrmObject
    email: str | None
    modified_at: datetime
    converted: bool = False
    linked: bool = False


@dataclass(frozen=True)
class ProspectCandidate:
    id: str
    email: str | None
    crm_id: str | None = None
    """The CRM ID the prospect carries without a link yet (imported with it, for instance)."""
    linked: bool = False


class MatchOutcome(StrEnum):
    LINK = "link"
    """Link to the existing record or prospect `Match.target_id`."""
    CREATE = "create"
    """Nothing to link to: create the counterpart."""
    REFUSE = "refuse"
    """Neither: linking or creating would break a rule; the case is reported."""


@dataclass(frozen=True)
class Match:
    outcome: MatchOutcome
    reason: str
    target_id: str | None = None


def rank_crm_candidates(candidates: Iterable[CrmCandidate]) -> list[CrmCandidate]:
    """Best first: a Contact or Person Account before a Lead, a non-converted Lead before a
    converted one, then the most recently modified. The Id breaks the last ties, so the same
    data always gives the same choice."""
    by_id = sorted(candidates, key=lambda c: c.id)
    newest_first = sorted(by_id, key=lambda c: c.modified_at, reverse=True)
    return sorted(newest_first, key=lambda c: (c.object is CrmObject.LEAD, c.converted))


def _why_first(chosen: CrmCandidate, runner_up: CrmCandidate) -> str:
    if (chosen.object is CrmObject.LEAD) != (runner_up.object is CrmObject.LEAD):
        return "a Contact or Person Account is preferred to a Lead"
    if chosen.converted != runner_up.converted:
        return "a Lead not converted is preferred to a converted one"
    if chosen.modified_at != runner_up.modified_at:
        return "it was modified most recently"
    return "equal otherwise, the lowest Id is taken"


def match_prospect_to_record(
    mode: MatchingMode, prospect: ProspectCandidate, records: Sequence[CrmCandidate]
) -> Match:
    """An unlinked prospect that must reach Salesforce: link to an existing record or create one.

    `records` are the records found by the prospect's email (`email` mode) or by the CRM ID it
    carries (`crm_id` mode).
    """
    email = normalize_email(prospect.email)
    if email is None:
        return Match(MatchOutcome.REFUSE, "a prospect with no email is never created in Salesforce")
    if mode is MatchingMode.CRM_ID:
        return _match_prospect_by_crm_id(prospect, records)
    same_email = [r for r in records if normalize_email(r.email) == email]
    if not same_email:
        return Match(MatchOutcome.CREATE, "no Salesforce record has this email")
    free = [r for r in same_email if not r.linked]
    if not free:
        return Match(
            MatchOutcome.REFUSE,
            f"every Salesforce record with this email ({', '.join(sorted(r.id for r in same_email))}) "
            "is linked to another prospect; creating one more would duplicate it",
        )
    ranked = rank_crm_candidates(free)
    chosen = ranked[0]
    if len(ranked) == 1:
        return Match(MatchOutcome.LINK, f"the only unlinked {chosen.object} with this email", chosen.id)
    others = ", ".join(f"{r.object} {r.id}" for r in ranked[1:])
    return Match(
        MatchOutcome.LINK,
        f"{chosen.object} {chosen.id} chosen over {others}: {_why_first(chosen, ranked[1])}",
        chosen.id,
    )


def _match_prospect_by_crm_id(prospect: ProspectCandidate, records: Sequence[CrmCandidate]) -> Match:
    if prospect.crm_id is None:
        return Match(MatchOutcome.CREATE, "crm_id matching: the prospect carries no CRM ID")
    record = next((r for r in records if r.id == prospect.crm_id), None)
    if record is None:
        return Match(MatchOutcome.REFUSE, f"the prospect's CRM ID {prospect.crm_id} is not in Salesforce")
    if record.linked:
        return Match(
            MatchOutcome.REFUSE, f"{record.object} {record.id} is already linked to another prospect"
        )
    return Match(MatchOutcome.LINK, f"crm_id matching: {record.object} {record.id}", record.id)


def match_record_to_prospect(
    mode: MatchingMode, record: CrmCandidate, prospects: Sequence[ProspectCandidate]
) -> Match:
    """An unlinked CRM record met in outbound sync: link to an existing prospect or create one.

    `prospects` are the prospects found by the record's email (`email` mode) or carrying its
    CRM ID (`crm_id` mode).
    """
    email = normalize_email(record.email)
    if email is None:
        return Match(MatchOutcome.REFUSE, f"{record.object} {record.id} has no email; a prospect needs one")
    if mode is MatchingMode.CRM_ID:
        carrying = [p for p in prospects if p.crm_id == record.id and not p.linked]
        if carrying:
            chosen = min(carrying, key=lambda p: p.id)
            return Match(
                MatchOutcome.LINK, f"crm_id matching: prospect {chosen.id} carries this CRM ID", chosen.id
            )
        return Match(MatchOutcome.CREATE, "crm_id matching: a new prospect carries this CRM ID")
    same_email = [p for p in prospects if normalize_email(p.email) == email]
    if not same_email:
        return Match(MatchOutcome.CREATE, "no prospect has this email")
    free = sorted((p for p in same_email if not p.linked), key=lambda p: p.id)
    if not free:
        # One prospect per email: a second prospect is not an option, and the linked one
        # stays with its record (a Lead converting to this Contact moves it, docs/guide/lifecycle.md).
        return Match(
            MatchOutcome.REFUSE,
            f"the prospect with this email ({same_email[0].id}) is linked to another Salesforce record",
        )
    return Match(MatchOutcome.LINK, f"prospect {free[0].id} has the same email", free[0].id)
