"""A configuration's dry run of one record, in the core: the runs' field rules over its values."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.domain.config_plan import RecordDryRun, dry_run_record, dry_run_summary
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot
from crmsync.domain.records import SalesforceRecord
from crmsync.domain.scope import Flagged

EARLIER = datetime(2026, 11, 1, tzinfo=UTC)
LATER = datetime(2026, 11, 2, tzinfo=UTC)
TITLE = FieldMapping("job_title", "Title", Behaviour.MOST_RECENT)
PHONE = FieldMapping("phone", "Phone", Behaviour.SALESFORCE)


def lead(**values: object) -> SalesforceRecord:
    return SalesforceRecord(
        {"Id": "00Q000000000001AAA", **values}, id="00Q000000000001AAA", last_modified=LATER
    )


def test_a_newly_mapped_field_syncs_as_a_first_sync_and_a_field_in_step_plans_nothing() -> None:
    planned = dry_run_record(
        "p-1",
        CrmObject.LEAD,
        lead(Title="CTO", Phone="+44 1"),
        {"job_title": "CTO"},
        EARLIER,
        mappings=(TITLE, PHONE),
        conflict_winner=ConflictWinner.SALESFORCE,
        snapshot={TITLE.key: FieldSnapshot("CTO", "CTO")},
        scope=None,
    )

    assert [c.as_answer() for c in planned.changes] == [
        {
            "field": "phone",
            "side": "marketing",
            "old": None,
            "new": "+44 1",
            "rule": "salesforce: Salesforce's value is always used",
        }
    ]


def test_both_sides_changed_since_the_snapshot_are_decided_by_the_new_conflict_rule() -> None:
    def planned(winner: ConflictWinner) -> RecordDryRun:
        return dry_run_record(
            "p-1",
            CrmObject.LEAD,
            lead(Title="VP Sales"),
            {"job_title": "Head of Sales"},
            EARLIER,
            mappings=(TITLE,),
            conflict_winner=winner,
            snapshot={TITLE.key: FieldSnapshot("Sales", "Sales")},
            scope=None,
        )

    (to_prospect,) = planned(ConflictWinner.SALESFORCE).changes
    (to_salesforce,) = planned(ConflictWinner.MARKETING).changes
    assert (to_prospect.side, to_prospect.new) == ("marketing", "VP Sales")
    assert (to_salesforce.side, to_salesforce.new) == ("salesforce", "Head of Sales")
    assert to_salesforce.rule == "most_recent conflict: conflict_winner is marketing"


def test_a_record_the_new_scope_leaves_out_plans_nothing_and_says_why() -> None:
    planned = dry_run_record(
        "p-1",
        CrmObject.LEAD,
        lead(Phone="+44 1", Sync__c=False),
        {},
        EARLIER,
        mappings=(PHONE,),
        conflict_winner=ConflictWinner.SALESFORCE,
        snapshot=None,
        scope=Flagged("Sync__c"),
    )

    assert planned.changes == ()
    assert "out of the new scope" in planned.note


def test_the_summary_counts_records_and_each_field_once_per_record() -> None:
    changing = dry_run_record(
        "p-1",
        CrmObject.LEAD,
        lead(Phone="+44 1"),
        {},
        EARLIER,
        mappings=(PHONE,),
        conflict_winner=ConflictWinner.SALESFORCE,
        snapshot=None,
        scope=None,
    )
    in_step = RecordDryRun("p-2", CrmObject.LEAD, "00Q000000000002AAA")

    assert dry_run_summary([changing, in_step]) == {
        "records": 2,
        "would_change": 1,
        "by_field": {"marketing:phone": 1},
    }
