"""Account fields and Opportunities onto the prospects of their contacts (domain.outbound.related)."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.lifecycle import CrmRef, Link, LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.outbound import RecordOutcome
from crmsync.domain.outbound.related import (
    live_accounts,
    plan_account_fields,
    plan_opportunities,
    reached_through_contacts,
)
from crmsync.domain.plan import FieldSnapshot
from crmsync.domain.prospect import Prospect
from crmsync.salesforce.records import read_record

ACCOUNT = "001000000000001AAA"
CONTACT = "003000000000001AAA"
OPPORTUNITY = "006000000000001AAA"
INDUSTRY = FieldMapping("industry", "Industry", Behaviour.SALESFORCE)
OPPORTUNITY_MAPPING = (
    FieldMapping("opportunity_name", "Name", Behaviour.SALESFORCE),
    FieldMapping("opportunity_amount", "Amount", Behaviour.SALESFORCE),
)
PROSPECT = Prospect("p-1", {"email": "ann@example.com"}, modified_at=datetime(2026, 1, 1, tzinfo=UTC))
LINK = StoredLink(Link("p-1", CrmRef(CrmObject.CONTACT, CONTACT)), {"Email=email": FieldSnapshot("a", "a")})


def test_contacts_reach_prospects_only_through_active_links() -> None:
    rows = [
        read_record({"Id": CONTACT, "AccountId": ACCOUNT}),
        read_record({"Id": "003000000000002AAA", "AccountId": ACCOUNT}),
        read_record({"Id": "003000000000003AAA", "AccountId": ACCOUNT}),
    ]
    gone = StoredLink(Link("p-2", CrmRef(CrmObject.CONTACT, "003000000000002AAA"), LinkStatus.CRM_DELETED))

    found = reached_through_contacts(rows, "AccountId", "Id", {CONTACT: LINK, "003000000000002AAA": gone})

    assert found == {ACCOUNT: [LINK]}


def test_an_account_field_goes_onto_the_prospect_and_into_its_contacts_snapshot() -> None:
    accounts = live_accounts(
        [
            read_record(
                {"Id": ACCOUNT, "Industry": "Shipping", "LastModifiedDate": "2026-02-01T00:00:00.000+0000"}
            ),
            read_record({"Id": "001000000000002AAA", "IsDeleted": True}),
        ]
    )

    plans = plan_account_fields(
        accounts, {ACCOUNT: [LINK]}, {"p-1": PROSPECT}, [INDUSTRY], ConflictWinner.SALESFORCE
    )

    assert list(accounts) == [ACCOUNT], "a deleted account has nothing to give"
    (plan,) = plans
    assert plan.outcome is RecordOutcome.UPDATED and plan.crm == LINK.link.crm
    assert plan.prospect_change.after.fields == {"email": "ann@example.com", "industry": "Shipping"}
    assert plan.snapshot_change.snapshot == {
        **LINK.snapshot,
        "Industry=industry": FieldSnapshot("Shipping", "Shipping"),
    }
    assert [entry.field for entry in plan.field_audit] == ["industry"]


def test_an_account_field_already_in_step_plans_nothing() -> None:
    stored = StoredLink(LINK.link, {"Industry=industry": FieldSnapshot("Shipping", "Shipping")})
    prospect = Prospect("p-1", {"industry": "Shipping"})
    accounts = live_accounts([read_record({"Id": ACCOUNT, "Industry": "Shipping"})])

    assert (
        plan_account_fields(
            accounts, {ACCOUNT: [stored]}, {"p-1": prospect}, [INDUSTRY], ConflictWinner.SALESFORCE
        )
        == []
    )


def test_an_opportunity_is_attached_to_its_contacts_prospect_and_taken_off_once_deleted() -> None:
    opportunity = read_record({"Id": OPPORTUNITY, "Name": "Renewal", "Amount": 1200.0})

    (attached,) = plan_opportunities(
        [opportunity], {OPPORTUNITY: [LINK]}, {"p-1": PROSPECT}, OPPORTUNITY_MAPPING
    )

    assert attached.outcome is RecordOutcome.OPPORTUNITY_ATTACHED
    after = attached.prospect_change.after
    assert after.opportunities == {OPPORTUNITY: {"name": "Renewal", "amount": 1200.0}}
    assert attached.events == (f"opportunities updated: {OPPORTUNITY}",)

    deleted = read_record({"Id": OPPORTUNITY, "IsDeleted": True})
    (taken_off,) = plan_opportunities([deleted], {OPPORTUNITY: [LINK]}, {"p-1": after}, OPPORTUNITY_MAPPING)
    assert taken_off.prospect_change.after.opportunities == {}
    assert plan_opportunities([opportunity], {OPPORTUNITY: [LINK]}, {"p-1": after}, OPPORTUNITY_MAPPING) == []
