"""New records, lead conversion, scope changes, deletes, undeletes and merges
(docs/guide/lifecycle.md, scope.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crmsync.domain.lifecycle import (
    CrmRef,
    LifecycleAction,
    LifecycleDecision,
    Link,
    LinkOrigin,
    LinkStatus,
    Tags,
    decide_deletion,
    decide_lead_conversion,
    decide_scope_change,
    decide_undelete,
    decide_unlinked_record,
    lead_converted_into,
)
from crmsync.domain.matching import CrmCandidate, MatchingMode, ProspectCandidate
from crmsync.domain.objects import CrmObject

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TAGS = Tags()
LEAD = CrmRef(CrmObject.LEAD, "00Q1")
CONTACT = CrmRef(CrmObject.CONTACT, "0031")


def candidate(crm_object: CrmObject = CrmObject.LEAD, *, converted: bool = False) -> CrmCandidate:
    return CrmCandidate("REC1", crm_object, "ann@example.com", NOON, converted=converted)


# -- a record with no link -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crm_object", "tag"),
    [
        (CrmObject.LEAD, "created-from-salesforce-lead"),
        (CrmObject.CONTACT, "created-from-salesforce-contact"),
        (CrmObject.PERSON_ACCOUNT, "created-from-salesforce-contact"),
    ],
)
def test_a_new_record_in_scope_creates_a_prospect_tagged_with_where_it_came_from(
    crm_object: CrmObject, tag: str
) -> None:
    decision = decide_unlinked_record(candidate(crm_object), True, MatchingMode.EMAIL, [], TAGS)
    assert decision.action is LifecycleAction.CREATE_PROSPECT
    assert decision.crm == CrmRef(crm_object, "REC1")
    assert decision.link_status is LinkStatus.ACTIVE
    assert decision.add_tags == {tag}


def test_tag_names_come_from_the_configuration() -> None:
    tags = Tags(created_from_lead="from-sf")
    decision = decide_unlinked_record(candidate(), True, MatchingMode.EMAIL, [], tags)
    assert decision.add_tags == {"from-sf"}


def test_a_new_record_out_of_scope_creates_nothing() -> None:
    decision = decide_unlinked_record(candidate(), False, MatchingMode.EMAIL, [], TAGS)
    assert decision.action is LifecycleAction.NOTHING


def test_an_unlinked_converted_lead_starts_no_link() -> None:
    decision = decide_unlinked_record(candidate(converted=True), True, MatchingMode.EMAIL, [], TAGS)
    assert decision.action is LifecycleAction.NOTHING


def test_in_email_mode_a_record_links_to_the_prospect_with_its_email_without_a_created_tag() -> None:
    prospects = [ProspectCandidate("p1", "ANN@example.com")]
    decision = decide_unlinked_record(candidate(CrmObject.CONTACT), True, MatchingMode.EMAIL, prospects, TAGS)
    assert decision.action is LifecycleAction.LINK_PROSPECT
    assert (decision.prospect_id, decision.add_tags) == ("p1", frozenset())


def test_in_crm_id_mode_the_same_email_creates_a_second_prospect() -> None:
    prospects = [ProspectCandidate("p1", "ann@example.com")]
    decision = decide_unlinked_record(
        candidate(CrmObject.CONTACT), True, MatchingMode.CRM_ID, prospects, TAGS
    )
    assert decision.action is LifecycleAction.CREATE_PROSPECT


def test_a_record_whose_email_belongs_to_a_linked_prospect_is_reported() -> None:
    prospects = [ProspectCandidate("p1", "ann@example.com", linked=True)]
    decision = decide_unlinked_record(candidate(CrmObject.CONTACT), True, MatchingMode.EMAIL, prospects, TAGS)
    assert (decision.action, decision.reported) == (LifecycleAction.REPORT, True)


# -- scope changes ---------------------------------------------------------------------------


def test_a_linked_record_leaving_the_scope_stops_syncing_and_keeps_its_prospect() -> None:
    decision = decide_scope_change(Link("p1", LEAD), record_in_scope=False)
    assert (decision.action, decision.link_status) == (
        LifecycleAction.SET_LINK_STATUS,
        LinkStatus.OUT_OF_SCOPE,
    )
    assert not decision.deactivate_prospect


def test_a_record_back_in_scope_syncs_again() -> None:
    decision = decide_scope_change(Link("p1", LEAD, LinkStatus.OUT_OF_SCOPE), record_in_scope=True)
    assert decision.link_status is LinkStatus.ACTIVE


def test_a_link_the_marketing_side_asked_for_is_not_the_scopes_business() -> None:
    link = Link("p1", LEAD, origin=LinkOrigin.MARKETING)
    decision = decide_scope_change(link, record_in_scope=False)
    assert decision.action is LifecycleAction.NOTHING
    assert "marketing side" in decision.reason


@pytest.mark.parametrize(
    ("status", "record_in_scope"),
    [
        (LinkStatus.ACTIVE, True),
        (LinkStatus.OUT_OF_SCOPE, False),
        (LinkStatus.CRM_DELETED, True),
        (LinkStatus.MERGED, True),
    ],
)
def test_scope_leaves_other_links_alone(status: LinkStatus, record_in_scope: bool) -> None:
    assert decide_scope_change(Link("p1", LEAD, status), record_in_scope).action is LifecycleAction.NOTHING


# -- lead conversion -------------------------------------------------------------------------


def test_a_converted_lead_hands_its_link_to_the_contact_and_the_prospect_gets_the_conversion_tag() -> None:
    decision = decide_lead_conversion(Link("p1", LEAD), CONTACT, None, TAGS)
    assert decision == LifecycleDecision(
        LifecycleAction.MOVE_LINK,
        "Lead 00Q1 was converted into Contact 0031",
        prospect_id="p1",
        crm=CONTACT,
        link_status=LinkStatus.ACTIVE,
        add_tags=frozenset({"salesforce-lead-converted-to-contact"}),
        remove_tags=frozenset({"created-from-salesforce-contact"}),
    )


def test_a_lead_converted_to_a_person_account_hands_its_link_to_the_person_account() -> None:
    person = CrmRef(CrmObject.PERSON_ACCOUNT, "001P")
    decision = decide_lead_conversion(Link("p1", LEAD), person, None, TAGS)
    assert (decision.action, decision.crm) == (LifecycleAction.MOVE_LINK, person)


def test_a_lead_converted_into_a_person_account_follows_the_account_not_its_person_contact() -> None:
    # Salesforce names both: the person account and its hidden person contact (PersonContactId)
    converted = lead_converted_into("003PC", "001P", account_is_person_account=True)
    assert converted == CrmRef(CrmObject.PERSON_ACCOUNT, "001P")


def test_a_lead_converted_into_a_business_account_follows_its_contact() -> None:
    assert lead_converted_into("0031", "001B", account_is_person_account=False) == CONTACT
    assert lead_converted_into(None, "001B", account_is_person_account=False) is None


def test_a_conversion_already_followed_changes_nothing() -> None:
    decision = decide_lead_conversion(Link("p1", CONTACT), CONTACT, "p1", TAGS)
    assert decision.action is LifecycleAction.NOTHING


def test_a_lead_converted_into_a_contact_with_its_own_prospect_is_marked_merged_and_reported() -> None:
    decision = decide_lead_conversion(Link("p1", LEAD), CONTACT, "p2", TAGS)
    assert decision.action is LifecycleAction.SET_LINK_STATUS
    assert (decision.crm, decision.link_status, decision.reported) == (LEAD, LinkStatus.MERGED, True)
    assert decision.add_tags == {TAGS.merged_in_salesforce}
    assert "p2" in decision.reason


# -- deletes, undeletes and merges -----------------------------------------------------------


def test_a_deleted_record_deactivates_its_prospect_and_marks_the_link_crm_deleted() -> None:
    decision = decide_deletion(Link("p1", LEAD), master=None, prospect_of_master=None, tags=TAGS)
    assert decision.action is LifecycleAction.SET_LINK_STATUS
    assert (decision.link_status, decision.deactivate_prospect) == (LinkStatus.CRM_DELETED, True)


def test_a_record_restored_from_the_recycle_bin_relinks() -> None:
    decision = decide_undelete(Link("p1", LEAD, LinkStatus.CRM_DELETED))
    assert (decision.action, decision.link_status) == (LifecycleAction.SET_LINK_STATUS, LinkStatus.ACTIVE)
    assert not decision.deactivate_prospect


def test_an_undelete_of_a_link_that_was_not_deleted_changes_nothing() -> None:
    assert decide_undelete(Link("p1", LEAD)).action is LifecycleAction.NOTHING


def test_a_record_merged_away_hands_its_link_to_the_surviving_record() -> None:
    survivor = CrmRef(CrmObject.LEAD, "00Q9")
    decision = decide_deletion(Link("p1", LEAD), master=survivor, prospect_of_master=None, tags=TAGS)
    assert (decision.action, decision.crm, decision.link_status) == (
        LifecycleAction.MOVE_LINK,
        survivor,
        LinkStatus.ACTIVE,
    )
    assert not decision.deactivate_prospect


def test_a_merge_into_a_record_with_its_own_prospect_marks_the_prospect_merged_and_reports_it() -> None:
    survivor = CrmRef(CrmObject.LEAD, "00Q9")
    decision = decide_deletion(Link("p1", LEAD), master=survivor, prospect_of_master="p2", tags=TAGS)
    assert (decision.link_status, decision.reported, decision.deactivate_prospect) == (
        LinkStatus.MERGED,
        True,
        False,
    )
    assert decision.add_tags == {TAGS.merged_in_salesforce}


def test_a_merge_already_followed_changes_nothing() -> None:
    survivor = CrmRef(CrmObject.LEAD, "00Q9")
    assert decide_deletion(Link("p1", LEAD), survivor, "p1", TAGS).action is LifecycleAction.NOTHING
