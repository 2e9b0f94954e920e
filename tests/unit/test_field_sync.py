"""The field behaviour table, blanks, and the conflict rule (docs/guide/fields.md), one field at a time,
then properties of whole plans over random records (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping, Side, same_value
from crmsync.domain.plan import (
    AuditEntry,
    FieldSnapshot,
    FieldSyncPlan,
    Reason,
    SideState,
    plan_field_sync,
)
from hypothesis import given, settings
from hypothesis import strategies as st

EARLIER = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
NEVER_SYNCED = object()

SF = Behaviour.SALESFORCE
MK = Behaviour.MARKETING
PREFER_SF = Behaviour.PREFER_SALESFORCE_UNLESS_BLANK
PREFER_MK = Behaviour.PREFER_MARKETING_UNLESS_BLANK
RECENT = Behaviour.MOST_RECENT


def plan_city(
    behaviour: Behaviour,
    salesforce: Any,
    marketing: Any,
    *,
    base: Any = NEVER_SYNCED,
    sync_blanks: bool = False,
    winner: ConflictWinner = ConflictWinner.SALESFORCE,
    salesforce_at: datetime | None = EARLIER,
    marketing_at: datetime | None = EARLIER,
) -> FieldSyncPlan:
    mapping = FieldMapping("city", "City", behaviour, sync_blanks)
    snapshot = None if base is NEVER_SYNCED else {mapping.key: FieldSnapshot(*base)}
    return plan_field_sync(
        [mapping],
        winner,
        snapshot,
        SideState({"City": salesforce}, salesforce_at),
        SideState({"city": marketing}, marketing_at),
    )


def writes(plan: FieldSyncPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    return dict(plan.salesforce_writes), dict(plan.prospect_writes)


NO_WRITES: tuple[dict[str, Any], dict[str, Any]] = ({}, {})


# -- the one-way and "prefer unless blank" rows: the snapshot plays no part --------------------


@pytest.mark.parametrize(
    ("behaviour", "salesforce", "marketing", "sync_blanks", "expected"),
    [
        # salesforce: Salesforce's value is written to the prospect, never the other way
        (SF, "Paris", "Lyon", False, ({}, {"city": "Paris"})),
        (SF, "Paris", None, False, ({}, {"city": "Paris"})),
        (SF, "Paris", "Paris", False, NO_WRITES),
        (SF, None, "Lyon", False, NO_WRITES),
        (SF, "", "Lyon", False, NO_WRITES),
        (SF, None, "Lyon", True, ({}, {"city": None})),
        (SF, "   ", "Lyon", True, ({}, {"city": None})),
        (SF, None, None, True, NO_WRITES),
        (SF, None, "", True, NO_WRITES),
        # marketing: the prospect's value is written to Salesforce, never the other way
        (MK, "Lyon", "Paris", False, ({"City": "Paris"}, {})),
        (MK, None, "Paris", False, ({"City": "Paris"}, {})),
        (MK, "Paris", "Paris", False, NO_WRITES),
        (MK, "Lyon", None, False, NO_WRITES),
        (MK, "Lyon", "", False, NO_WRITES),
        (MK, "Lyon", None, True, ({"City": None}, {})),
        (MK, None, None, True, NO_WRITES),
        # prefer_salesforce_unless_blank: Salesforce wins unless blank; then the prospect fills it
        (PREFER_SF, "Paris", "Lyon", False, ({}, {"city": "Paris"})),
        (PREFER_SF, "Paris", None, False, ({}, {"city": "Paris"})),
        (PREFER_SF, None, "Lyon", False, ({"City": "Lyon"}, {})),
        (PREFER_SF, " ", "Lyon", False, ({"City": "Lyon"}, {})),
        (PREFER_SF, None, None, False, NO_WRITES),
        (PREFER_SF, "Paris", "Paris", False, NO_WRITES),
        # prefer_marketing_unless_blank: the prospect wins unless blank; then Salesforce fills it
        (PREFER_MK, "Lyon", "Paris", False, ({"City": "Paris"}, {})),
        (PREFER_MK, None, "Paris", False, ({"City": "Paris"}, {})),
        (PREFER_MK, "Lyon", None, False, ({}, {"city": "Lyon"})),
        (PREFER_MK, "Lyon", "", False, ({}, {"city": "Lyon"})),
        (PREFER_MK, None, None, False, NO_WRITES),
        (PREFER_MK, "Paris", "Paris", False, NO_WRITES),
        # none: nothing moves, whatever the values
        (Behaviour.NONE, "Paris", "Lyon", False, NO_WRITES),
        (Behaviour.NONE, None, "Lyon", False, NO_WRITES),
        (Behaviour.NONE, "Paris", None, False, NO_WRITES),
    ],
)
def test_each_row_of_the_behaviour_table_with_blanks_on_either_side(
    behaviour: Behaviour,
    salesforce: Any,
    marketing: Any,
    sync_blanks: bool,
    expected: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    for base in (NEVER_SYNCED, ("Nice", "Nice"), (salesforce, marketing)):
        assert (
            writes(plan_city(behaviour, salesforce, marketing, base=base, sync_blanks=sync_blanks))
            == expected
        )


# -- most_recent: the three-way merge against the snapshot ---------------------------------


@pytest.mark.parametrize(
    ("base", "salesforce", "marketing", "expected"),
    [
        (("Paris", "Paris"), "Paris", "Paris", NO_WRITES),
        (("Paris", "Paris"), "Lyon", "Paris", ({}, {"city": "Lyon"})),
        (("Paris", "Paris"), "Paris", "Lyon", ({"City": "Lyon"}, {})),
        # clearing a field is a change like any other, and wins like any other
        (("Paris", "Paris"), None, "Paris", ({}, {"city": None})),
        (("Paris", "Paris"), "Paris", "", ({"City": None}, {})),
        # a blank side that gets a value
        ((None, None), "Lyon", None, ({}, {"city": "Lyon"})),
        ((None, None), None, "Lyon", ({"City": "Lyon"}, {})),
        # both changed to the same value: in step, nothing to write
        (("Paris", "Paris"), "Lyon", "Lyon", NO_WRITES),
        (("Paris", "Paris"), "Lyon ", " Lyon", NO_WRITES),
        # a new link (no snapshot): a blank side is filled, never used to erase
        (NEVER_SYNCED, "Paris", None, ({}, {"city": "Paris"})),
        (NEVER_SYNCED, None, "Lyon", ({"City": "Lyon"}, {})),
        (NEVER_SYNCED, None, None, NO_WRITES),
        (NEVER_SYNCED, "Paris", "Paris", NO_WRITES),
        # a new link with two different values: the conflict rule (Salesforce by default)
        (NEVER_SYNCED, "Paris", "Lyon", ({}, {"city": "Paris"})),
        # sides left apart by an earlier failed write: neither changed since, so reconcile
        (("Paris", "Lyon"), "Paris", "Lyon", ({}, {"city": "Paris"})),
        ((None, "Lyon"), None, "Lyon", ({"City": "Lyon"}, {})),
    ],
)
def test_most_recent_takes_the_side_that_changed_since_the_last_sync(
    base: Any, salesforce: Any, marketing: Any, expected: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    assert writes(plan_city(RECENT, salesforce, marketing, base=base)) == expected


@pytest.mark.parametrize(
    ("winner", "salesforce_at", "marketing_at", "expected", "reason"),
    [
        (ConflictWinner.SALESFORCE, EARLIER, LATER, ({}, {"city": "Lyon"}), Reason.CONFLICT_SALESFORCE),
        (ConflictWinner.MARKETING, LATER, EARLIER, ({"City": "Nice"}, {}), Reason.CONFLICT_MARKETING),
        (
            ConflictWinner.LATEST_TIMESTAMP,
            EARLIER,
            LATER,
            ({"City": "Nice"}, {}),
            Reason.CONFLICT_MARKETING_LATER,
        ),
        (
            ConflictWinner.LATEST_TIMESTAMP,
            LATER,
            EARLIER,
            ({}, {"city": "Lyon"}),
            Reason.CONFLICT_SALESFORCE_LATER,
        ),
        (
            ConflictWinner.LATEST_TIMESTAMP,
            LATER,
            LATER,
            ({}, {"city": "Lyon"}),
            Reason.CONFLICT_SALESFORCE_LATER,
        ),
        (
            ConflictWinner.LATEST_TIMESTAMP,
            LATER,
            None,
            ({}, {"city": "Lyon"}),
            Reason.CONFLICT_SALESFORCE_LATER,
        ),
    ],
)
def test_the_conflict_rule_decides_when_both_sides_changed(
    winner: ConflictWinner,
    salesforce_at: datetime,
    marketing_at: datetime | None,
    expected: tuple[dict[str, Any], dict[str, Any]],
    reason: Reason,
) -> None:
    # GIVEN Paris on both sides at the last sync; since then Salesforce says Lyon, the prospect Nice
    plan = plan_city(
        RECENT,
        "Lyon",
        "Nice",
        base=("Paris", "Paris"),
        winner=winner,
        salesforce_at=salesforce_at,
        marketing_at=marketing_at,
    )
    # THEN the rule's side wins and the audit trail says which rule decided
    assert writes(plan) == expected
    assert [entry.reason for entry in plan.audit] == [reason]


def test_a_pending_marketing_change_overruled_by_salesforce_is_dropped_and_audited() -> None:
    plan = plan_city(RECENT, "Lyon", "Nice", base=("Paris", "Paris"))
    assert plan.audit == (
        AuditEntry("city", Side.MARKETING, "Nice", "Lyon", RECENT, Reason.CONFLICT_SALESFORCE),
    )
    assert plan.snapshot["City=city"] == FieldSnapshot("Lyon", "Lyon")


# -- comparison, writes, snapshot and audit --------------------------------------------------


@pytest.mark.parametrize(
    ("salesforce", "marketing"),
    [
        ("Ann@Example.com", "ann@example.COM"),
        ("  ann@example.com", "ann@example.com "),
        ("", None),
        ("   ", ""),
    ],
)
def test_values_that_only_differ_in_spaces_blank_kind_or_email_case_cost_no_write(
    salesforce: Any, marketing: Any
) -> None:
    mapping = FieldMapping("email", "Email", SF, sync_blanks=True)
    plan = plan_field_sync(
        [mapping],
        ConflictWinner.SALESFORCE,
        None,
        SideState({"Email": salesforce}),
        SideState({"email": marketing}),
    )
    assert not plan.has_writes


def test_case_matters_outside_email_fields() -> None:
    assert writes(plan_city(SF, "PARIS", "Paris")) == ({}, {"city": "PARIS"})


def test_only_mapped_fields_that_differ_are_written_and_each_write_is_audited() -> None:
    mappings = [
        FieldMapping("city", "City", SF),
        FieldMapping("phone", "Phone", MK),
        FieldMapping("title", "Title", RECENT),
        FieldMapping("notes", "Description", Behaviour.NONE),
    ]
    plan = plan_field_sync(
        mappings,
        ConflictWinner.SALESFORCE,
        {"Title=title": FieldSnapshot("CEO", "CEO")},
        SideState({"City": "Paris", "Phone": "1", "Title": "CTO", "Description": "x", "Fax": "9"}),
        SideState({"city": "Paris", "phone": "2", "title": "CEO", "notes": "y", "fax": "8"}),
    )
    assert writes(plan) == ({"Phone": "2"}, {"title": "CTO"})
    assert plan.audit == (
        AuditEntry("Phone", Side.SALESFORCE, "1", "2", MK, Reason.MARKETING_ALWAYS),
        AuditEntry("title", Side.MARKETING, "CEO", "CTO", RECENT, Reason.CHANGED_IN_SALESFORCE),
    )


def test_the_new_snapshot_holds_each_sides_values_after_the_writes_for_mapped_pairs_only() -> None:
    plan = plan_field_sync(
        [FieldMapping("city", "City", PREFER_SF), FieldMapping("notes", "Description", Behaviour.NONE)],
        ConflictWinner.SALESFORCE,
        {"Old=old": FieldSnapshot("a", "a")},
        SideState({"City": None}),
        SideState({"city": "Lyon"}),
    )
    assert plan.snapshot == {"City=city": FieldSnapshot("Lyon", "Lyon")}


def test_a_blank_is_written_as_none() -> None:
    assert writes(plan_city(RECENT, "  ", "Paris", base=("Paris", "Paris"))) == ({}, {"city": None})


# -- properties over random records ---------------------------------------------------------

FIELDS = (("city", "City"), ("email", "Email"), ("phone", "Phone"), ("title", "Title"))
VALUES = st.sampled_from([None, "", "  ", "Paris", " Paris ", "PARIS", "Lyon", "a@x.com", "A@X.COM ", 7, 7.5])
MOMENTS = st.sampled_from([None, EARLIER, LATER])


@st.composite
def sync_cases(draw: st.DrawFn) -> dict[str, Any]:
    mappings = [
        FieldMapping(marketing, salesforce, draw(st.sampled_from(Behaviour)), draw(st.booleans()))
        for marketing, salesforce in FIELDS
    ]
    has_snapshot = draw(st.booleans())
    snapshot = {
        m.key: FieldSnapshot(draw(VALUES), draw(VALUES))
        for m in mappings
        if has_snapshot and draw(st.booleans())
    }
    return {
        "mappings": mappings,
        "winner": draw(st.sampled_from(ConflictWinner)),
        "snapshot": snapshot if has_snapshot else None,
        "salesforce": {salesforce: draw(VALUES) for _, salesforce in FIELDS},
        "marketing": {marketing: draw(VALUES) for marketing, _ in FIELDS},
        "salesforce_at": draw(MOMENTS),
        "marketing_at": draw(MOMENTS),
    }


def run(case: dict[str, Any]) -> tuple[FieldSyncPlan, dict[str, Any], dict[str, Any]]:
    """Plan once and apply the plan to both sides, as a sync run would."""
    plan = plan_field_sync(
        case["mappings"],
        case["winner"],
        case["snapshot"],
        SideState(case["salesforce"], case["salesforce_at"]),
        SideState(case["marketing"], case["marketing_at"]),
    )
    return (
        plan,
        {**case["salesforce"], **plan.salesforce_writes},
        {**case["marketing"], **plan.prospect_writes},
    )


@settings(max_examples=200, deadline=None)
@given(sync_cases())
def test_a_second_run_with_no_new_changes_plans_no_writes(case: dict[str, Any]) -> None:
    first, salesforce_after, marketing_after = run(case)
    second = plan_field_sync(
        case["mappings"],
        case["winner"],
        first.snapshot,
        SideState(salesforce_after, case["salesforce_at"]),
        SideState(marketing_after, case["marketing_at"]),
    )
    assert not second.has_writes
    assert second.audit == ()
    assert second.snapshot == first.snapshot


@settings(max_examples=200, deadline=None)
@given(sync_cases())
def test_one_way_fields_never_write_against_their_direction(case: dict[str, Any]) -> None:
    plan, _, _ = run(case)
    for mapping in case["mappings"]:
        if mapping.behaviour is Behaviour.SALESFORCE:
            assert mapping.salesforce_field not in plan.salesforce_writes
        if mapping.behaviour is Behaviour.MARKETING:
            assert mapping.marketing_field not in plan.prospect_writes
        if mapping.behaviour is Behaviour.NONE:
            assert mapping.salesforce_field not in plan.salesforce_writes
            assert mapping.marketing_field not in plan.prospect_writes


@settings(max_examples=200, deadline=None)
@given(sync_cases())
def test_after_a_run_every_most_recent_field_holds_the_same_value_on_both_sides(case: dict[str, Any]) -> None:
    _, salesforce_after, marketing_after = run(case)
    for mapping in case["mappings"]:
        if mapping.behaviour is Behaviour.MOST_RECENT:
            assert same_value(
                salesforce_after[mapping.salesforce_field],
                marketing_after[mapping.marketing_field],
                email=mapping.holds_email,
            )
