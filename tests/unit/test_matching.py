"""Matching in `email` and `crm_id` modes, and the ranking of several candidates
(docs/guide/matching.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crmsync.domain.matching import (
    CrmCandidate,
    Match,
    MatchingMode,
    MatchOutcome,
    ProspectCandidate,
    match_prospect_to_record,
    match_record_to_prospect,
    normalize_email,
    rank_crm_candidates,
)
from crmsync.domain.objects import CrmObject

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EMAIL = MatchingMode.EMAIL
CRM_ID = MatchingMode.CRM_ID


def record(
    record_id: str,
    crm_object: CrmObject = CrmObject.LEAD,
    *,
    email: str | None = "ann@example.com",
    minutes_ago: int = 0,
    converted: bool = False,
    linked: bool = False,
) -> CrmCandidate:
    return CrmCandidate(
        record_id, crm_object, email, NOON - timedelta(minutes=minutes_ago), converted, linked
    )


def prospect(
    prospect_id: str = "p1",
    email: str | None = "ann@example.com",
    *,
    crm_id: str | None = None,
    linked: bool = False,
) -> ProspectCandidate:
    return ProspectCandidate(prospect_id, email, crm_id, linked)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (" Ann@Example.COM ", "ann@example.com"),
        ("ann@example.com", "ann@example.com"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_emails_match_trimmed_and_without_case(raw: str | None, normalized: str | None) -> None:
    assert normalize_email(raw) == normalized


# -- email mode ---------------------------------------------------------------------------------


def test_email_mode_links_an_unlinked_record_to_the_prospect_with_the_same_email() -> None:
    match = match_record_to_prospect(EMAIL, record("00Q1", email=" ANN@example.com"), [prospect("p1")])
    assert (match.outcome, match.target_id) == (MatchOutcome.LINK, "p1")


def test_email_mode_creates_a_prospect_when_no_prospect_has_the_email() -> None:
    match = match_record_to_prospect(EMAIL, record("00Q1"), [prospect("p1", "bob@example.com")])
    assert match.outcome is MatchOutcome.CREATE


def test_email_mode_never_makes_a_second_prospect_for_an_email_linked_elsewhere() -> None:
    match = match_record_to_prospect(EMAIL, record("0031", CrmObject.CONTACT), [prospect("p1", linked=True)])
    assert match.outcome is MatchOutcome.REFUSE
    assert "p1" in match.reason


def test_a_record_without_email_gets_no_prospect_in_either_mode() -> None:
    for mode in MatchingMode:
        assert match_record_to_prospect(mode, record("00Q1", email=" "), []).outcome is MatchOutcome.REFUSE


def test_a_prospect_reaching_salesforce_links_to_the_existing_record_with_its_email() -> None:
    match = match_prospect_to_record(EMAIL, prospect(email="Ann@Example.com"), [record("00Q1")])
    assert match == Match(MatchOutcome.LINK, "the only unlinked Lead with this email", "00Q1")


def test_a_prospect_with_no_record_of_its_email_is_created() -> None:
    assert match_prospect_to_record(EMAIL, prospect(), []).outcome is MatchOutcome.CREATE


def test_a_prospect_whose_records_are_all_linked_elsewhere_is_refused_not_duplicated() -> None:
    match = match_prospect_to_record(EMAIL, prospect(), [record("00Q1", linked=True)])
    assert match.outcome is MatchOutcome.REFUSE
    assert "00Q1" in match.reason


def test_a_prospect_with_no_email_is_never_created_in_salesforce_in_either_mode() -> None:
    for mode in MatchingMode:
        match = match_prospect_to_record(mode, prospect(email=None, crm_id="00Q1"), [record("00Q1")])
        assert match.outcome is MatchOutcome.REFUSE
        assert "no email" in match.reason


# -- ranking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "winner", "why"),
    [
        (
            [record("00Q1", minutes_ago=0), record("0031", CrmObject.CONTACT, minutes_ago=90)],
            "0031",
            "a Contact or Person Account is preferred to a Lead",
        ),
        (
            [record("00Q1"), record("001P", CrmObject.PERSON_ACCOUNT, minutes_ago=90)],
            "001P",
            "a Contact or Person Account is preferred to a Lead",
        ),
        (
            [record("00Q1", converted=True, minutes_ago=0), record("00Q2", minutes_ago=90)],
            "00Q2",
            "a Lead not converted is preferred to a converted one",
        ),
        (
            [record("00Q1", minutes_ago=30), record("00Q2", minutes_ago=5), record("00Q3", minutes_ago=60)],
            "00Q2",
            "it was modified most recently",
        ),
        (
            [record("0032", CrmObject.CONTACT), record("0031", CrmObject.CONTACT)],
            "0031",
            "equal otherwise, the lowest Id is taken",
        ),
        (
            [record("0031", CrmObject.CONTACT, linked=True), record("00Q1")],
            "00Q1",
            None,
        ),
    ],
)
def test_among_several_records_with_the_email_the_best_ranked_unlinked_one_wins_and_the_reason_is_given(
    candidates: list[CrmCandidate], winner: str, why: str | None
) -> None:
    match = match_prospect_to_record(EMAIL, prospect(), candidates)
    assert (match.outcome, match.target_id) == (MatchOutcome.LINK, winner)
    if why is not None:
        assert match.reason.endswith(why)
        assert match.reason.startswith(
            f"{next(c.object for c in candidates if c.id == winner)} {winner} chosen over"
        )


def test_the_ranking_orders_every_candidate() -> None:
    candidates = [
        record("00Qconverted", converted=True),
        record("00Qold", minutes_ago=60),
        record("003", CrmObject.CONTACT, minutes_ago=120),
        record("00Qnew"),
        record("001", CrmObject.PERSON_ACCOUNT, minutes_ago=10),
    ]
    assert [c.id for c in rank_crm_candidates(candidates)] == [
        "001",
        "003",
        "00Qnew",
        "00Qold",
        "00Qconverted",
    ]


def test_records_with_another_email_are_not_candidates() -> None:
    match = match_prospect_to_record(
        EMAIL, prospect(), [record("0031", CrmObject.CONTACT, email="bob@example.com")]
    )
    assert match.outcome is MatchOutcome.CREATE


# -- crm_id mode --------------------------------------------------------------------------------


def test_crm_id_mode_never_matches_by_email_a_record_in_scope_gets_its_own_prospect() -> None:
    match = match_record_to_prospect(CRM_ID, record("00Q1"), [prospect("p1")])
    assert match.outcome is MatchOutcome.CREATE


def test_crm_id_mode_links_a_record_to_the_prospect_carrying_its_crm_id() -> None:
    prospects = [prospect("p1"), prospect("p2", "other@example.com", crm_id="00Q1")]
    match = match_record_to_prospect(CRM_ID, record("00Q1"), prospects)
    assert (match.outcome, match.target_id) == (MatchOutcome.LINK, "p2")


def test_crm_id_mode_creates_a_record_for_a_prospect_without_crm_id_even_when_the_email_exists() -> None:
    match = match_prospect_to_record(CRM_ID, prospect(), [record("00Q1")])
    assert match.outcome is MatchOutcome.CREATE


def test_crm_id_mode_links_a_prospect_to_the_record_of_its_crm_id() -> None:
    match = match_prospect_to_record(CRM_ID, prospect(crm_id="0031"), [record("0031", CrmObject.CONTACT)])
    assert (match.outcome, match.target_id) == (MatchOutcome.LINK, "0031")


@pytest.mark.parametrize(
    "records", [[], [record("0031", CrmObject.CONTACT, linked=True)]], ids=["unknown", "linked"]
)
def test_crm_id_mode_refuses_a_crm_id_that_is_unknown_or_taken(records: list[CrmCandidate]) -> None:
    assert match_prospect_to_record(CRM_ID, prospect(crm_id="0031"), records).outcome is MatchOutcome.REFUSE
