"""The outbound decision for changed Salesforce records (domain.outbound), as plain values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmsync.domain.audit import Direction
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.lifecycle import CrmRef, Link, LinkStatus, StoredLink, Tags
from crmsync.domain.matching import MatchingMode, ProspectCandidate
from crmsync.domain.objects import CrmObject
from crmsync.domain.outbound import (
    OutboundRules,
    PeopleChunk,
    PersonRecord,
    RecordOutcome,
    link_target,
    outbound_report,
    plan_people,
    plan_person_record,
)
from crmsync.domain.outbound.people import ids_to_look_up, in_planning_order, unlinked_keys
from crmsync.domain.plan import FieldSnapshot
from crmsync.domain.prospect import Prospect
from crmsync.domain.records import SalesforceRecord
from crmsync.domain.scope import AllRecords
from crmsync.salesforce.records import read_record

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LEAD = "00Q000000000001AAA"
CONTACT = "003000000000001AAA"

MAPPINGS = (
    FieldMapping("email", "Email", Behaviour.MOST_RECENT),
    FieldMapping("last_name", "LastName", Behaviour.MOST_RECENT),
    FieldMapping("company", "Company", Behaviour.PREFER_SALESFORCE_UNLESS_BLANK),
    FieldMapping("score", "Score__c", Behaviour.MARKETING),
)
RULES = OutboundRules(
    matching=MatchingMode.EMAIL,
    conflict_winner=ConflictWinner.SALESFORCE,
    tags=Tags(),
    mappings={CrmObject.LEAD: MAPPINGS, CrmObject.CONTACT: MAPPINGS},
    owner_emails={"005OWNER": "owner@example.com"},
)


def lead(**values: Any) -> SalesforceRecord:
    return read_record(
        {
            "Id": LEAD,
            "Email": "ann@example.com",
            "LastName": "Lee",
            "Company": "Acme",
            "Score__c": None,
            "OwnerId": "005OWNER",
            "LastModifiedDate": "2026-11-23T08:59:00.000+0000",
            "IsDeleted": False,
            "IsConverted": False,
            **values,
        }
    )


def linked(
    prospect: Prospect, crm: CrmRef, status: LinkStatus = LinkStatus.ACTIVE, **snapshot: FieldSnapshot
) -> StoredLink:
    return StoredLink(Link(prospect.id, crm, status), snapshot, version=3)


def plan(record: PersonRecord, rules: OutboundRules = RULES) -> Any:
    return plan_person_record(record, rules, NOW, lambda: "p-new")


def test_a_new_in_scope_lead_creates_a_tagged_prospect_with_its_fields_and_claims_the_lead_first() -> None:
    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=None, prospect=None))

    assert result.outcome == "created"
    assert result.link_change.after == Link("p-new", CrmRef(CrmObject.LEAD, LEAD), LinkStatus.ACTIVE)
    created = result.prospect_change.after
    assert created.fields == {"email": "ann@example.com", "last_name": "Lee", "company": "Acme"}
    assert created.tags == {"created-from-salesforce-lead"}
    assert created.crm_id == LEAD and created.assigned_user == "owner@example.com"
    assert result.link_change.snapshot["Email=email"] == FieldSnapshot("ann@example.com", "ann@example.com")
    assert {entry.field for entry in result.field_audit} == {"email", "last_name", "company"}


def test_an_out_of_scope_lead_changes_nothing() -> None:
    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=False, link=None, prospect=None))

    assert result.outcome == "unchanged"
    assert result.link_change is None and result.prospect_change is None


def test_a_lead_without_email_is_reported_not_dropped() -> None:
    result = plan(PersonRecord(CrmObject.LEAD, lead(Email=None), in_scope=True, link=None, prospect=None))

    assert result.outcome == "reported" and result.reported
    assert "no email" in result.reason


def test_in_email_mode_an_unlinked_record_links_to_the_prospect_with_its_email() -> None:
    existing = Prospect("p-1", {"email": "ANN@example.com", "last_name": "Lee", "company": ""}, version=2)
    record = PersonRecord(
        CrmObject.LEAD,
        lead(),
        in_scope=True,
        link=None,
        prospect=None,
        candidates=[ProspectCandidate("p-1", "ANN@example.com")],
        candidate_prospects={"p-1": existing},
    )

    result = plan(record)

    assert result.outcome == "linked"
    assert result.link_change.after.prospect_id == "p-1"
    assert result.prospect_change.after.fields["company"] == "Acme"
    assert result.snapshot_change.before.version == 1  # the link the same plan creates
    # Linking sends none of the prospect's values: its marketing changes so far count as dealt with.
    assert result.link_change.synced_version == 2


def test_in_crm_id_mode_a_record_gets_its_own_prospect_even_when_an_email_matches() -> None:
    rules = OutboundRules(
        matching=MatchingMode.CRM_ID,
        conflict_winner=ConflictWinner.SALESFORCE,
        tags=Tags(),
        mappings=RULES.mappings,
    )
    record = PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=None, prospect=None, candidates=[])

    assert plan(record, rules).outcome == "created"


def test_a_salesforce_edit_updates_the_prospect_and_the_snapshot() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com", "last_name": "Lee", "company": "Acme"}, version=4)
    stored = linked(
        prospect,
        CrmRef(CrmObject.LEAD, LEAD),
        **{
            "Email=email": FieldSnapshot("ann@example.com", "ann@example.com"),
            "LastName=last_name": FieldSnapshot("Lee", "Lee"),
            "Company=company": FieldSnapshot("Acme", "Acme"),
        },
    )

    result = plan(
        PersonRecord(CrmObject.LEAD, lead(LastName="Li"), in_scope=True, link=stored, prospect=prospect)
    )

    assert result.outcome == "updated"
    assert result.prospect_change.after.fields["last_name"] == "Li"
    assert result.snapshot_change.snapshot["LastName=last_name"] == FieldSnapshot("Li", "Li")
    (entry,) = [e for e in result.field_audit if e.field == "last_name"]
    assert (entry.old, entry.new) == ("Lee", "Li")


def test_a_prospect_change_waiting_for_inbound_keeps_its_old_snapshot_so_it_is_not_lost() -> None:
    prospect = Prospect(
        "p-1",
        {"email": "ann@example.com", "last_name": "Lee-Smith", "company": "Acme"},
        assigned_user="owner@example.com",
        version=4,
    )
    base = FieldSnapshot("Lee", "Lee")
    stored = linked(
        prospect,
        CrmRef(CrmObject.LEAD, LEAD),
        **{
            "Email=email": FieldSnapshot("ann@example.com", "ann@example.com"),
            "LastName=last_name": base,
            "Company=company": FieldSnapshot("Acme", "Acme"),
        },
    )

    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=stored, prospect=prospect))

    assert result.prospect_change is None
    assert result.snapshot_change is None or result.snapshot_change.snapshot["LastName=last_name"] == base


def test_a_record_already_in_step_plans_nothing() -> None:
    prospect = Prospect(
        "p-1",
        {"email": "ann@example.com", "last_name": "Lee", "company": "Acme"},
        assigned_user="owner@example.com",
    )
    snapshot = {
        "Email=email": FieldSnapshot("ann@example.com", "ann@example.com"),
        "LastName=last_name": FieldSnapshot("Lee", "Lee"),
        "Company=company": FieldSnapshot("Acme", "Acme"),
        "Score__c=score": FieldSnapshot(None, None),
    }
    stored = linked(prospect, CrmRef(CrmObject.LEAD, LEAD), **snapshot)

    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=stored, prospect=prospect))

    assert result.outcome == "unchanged"
    assert (result.link_change, result.prospect_change, result.snapshot_change) == (None, None, None)
    assert result.inbound_pass is None


def test_a_blank_salesforce_field_the_prospect_fills_asks_for_an_inbound_pass_and_records_the_blank() -> None:
    prospect = Prospect(
        "p-1",
        {"email": "ann@example.com", "last_name": "Lee", "company": "Acme", "score": 12},
        assigned_user="owner@example.com",
    )
    stored = linked(
        prospect,
        CrmRef(CrmObject.LEAD, LEAD),
        **{
            "Email=email": FieldSnapshot("ann@example.com", "ann@example.com"),
            "LastName=last_name": FieldSnapshot("Lee", "Lee"),
            "Company=company": FieldSnapshot("Acme", "Acme"),
            "Score__c=score": FieldSnapshot(12, 12),
        },
    )

    # Salesforce blanked the Company (prefer_salesforce_unless_blank) and the score (marketing)
    result = plan(
        PersonRecord(
            CrmObject.LEAD, lead(Company="  ", Score__c=None), in_scope=True, link=stored, prospect=prospect
        )
    )

    assert result.prospect_change is None, "the prospect keeps its values"
    assert result.inbound_pass == "p-1", "which the inbound run writes back to Salesforce"
    snapshot = result.snapshot_change.snapshot
    assert snapshot["Company=company"] == FieldSnapshot("  ", "Acme")
    assert snapshot["Score__c=score"] == FieldSnapshot(None, 12)


def test_a_marketing_field_salesforce_changed_waits_for_the_prospects_next_change_and_says_what_salesforce_holds() -> (
    None
):
    prospect = Prospect(
        "p-1",
        {"email": "ann@example.com", "last_name": "Lee", "company": "Acme", "score": 12},
        assigned_user="owner@example.com",
    )
    stored = linked(
        prospect,
        CrmRef(CrmObject.LEAD, LEAD),
        **{
            "Email=email": FieldSnapshot("ann@example.com", "ann@example.com"),
            "LastName=last_name": FieldSnapshot("Lee", "Lee"),
            "Company=company": FieldSnapshot("Acme", "Acme"),
            "Score__c=score": FieldSnapshot(12, 12),
        },
    )

    result = plan(
        PersonRecord(CrmObject.LEAD, lead(Score__c=99), in_scope=True, link=stored, prospect=prospect)
    )

    assert result.prospect_change is None and result.inbound_pass is None
    assert result.snapshot_change.snapshot["Score__c=score"] == FieldSnapshot(99, 12)


def test_a_converted_lead_hands_its_link_to_the_contact_and_tags_the_prospect() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com"}, tags=frozenset({"created-from-salesforce-lead"}))
    stored = linked(prospect, CrmRef(CrmObject.LEAD, LEAD))
    record = PersonRecord(
        CrmObject.LEAD,
        lead(IsConverted=True, ConvertedContactId=CONTACT),
        in_scope=True,
        link=stored,
        prospect=prospect,
    )

    result = plan(record)

    assert result.outcome == "converted"
    assert result.link_change.after.crm == CrmRef(CrmObject.CONTACT, CONTACT)
    assert "salesforce-lead-converted-to-contact" in result.prospect_change.after.tags


def test_a_converted_lead_without_a_link_is_never_synced() -> None:
    record = PersonRecord(
        CrmObject.LEAD,
        lead(IsConverted=True, ConvertedContactId=CONTACT),
        in_scope=True,
        link=None,
        prospect=None,
    )

    result = plan(record)

    assert result.outcome == "unchanged" and result.prospect_change is None and result.link_change is None


def test_a_deleted_record_deactivates_its_prospect_and_marks_the_link() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com"})
    record = PersonRecord(
        CrmObject.LEAD,
        lead(IsDeleted=True),
        in_scope=True,
        link=linked(prospect, CrmRef(CrmObject.LEAD, LEAD)),
        prospect=prospect,
    )

    result = plan(record)

    assert result.outcome == "deleted"
    assert result.link_change.after.status is LinkStatus.CRM_DELETED
    assert result.prospect_change.after.active is False


def test_a_restored_record_relinks_but_leaves_the_prospect_inactive() -> None:
    prospect = Prospect(
        "p-1", {"email": "ann@example.com", "last_name": "Lee", "company": "Acme"}, active=False
    )
    stored = linked(prospect, CrmRef(CrmObject.LEAD, LEAD), LinkStatus.CRM_DELETED)

    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=stored, prospect=prospect))

    assert result.outcome == "restored"
    assert result.link_change.after.status is LinkStatus.ACTIVE
    assert result.prospect_change is None or result.prospect_change.after.active is False


def test_a_merged_away_record_hands_its_link_to_the_survivor() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com"})
    survivor = "00Q000000000002AAA"
    record = PersonRecord(
        CrmObject.LEAD,
        lead(IsDeleted=True, MasterRecordId=survivor),
        in_scope=True,
        link=linked(prospect, CrmRef(CrmObject.LEAD, LEAD)),
        prospect=prospect,
    )

    result = plan(record)

    assert result.outcome == "merged"
    assert result.link_change.after.crm == CrmRef(CrmObject.LEAD, survivor)
    assert result.prospect_change is None


def test_a_record_leaving_the_scope_stops_syncing_and_keeps_its_prospect() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com", "last_name": "Lee"})
    stored = linked(prospect, CrmRef(CrmObject.LEAD, LEAD))

    result = plan(
        PersonRecord(CrmObject.LEAD, lead(LastName="Li"), in_scope=False, link=stored, prospect=prospect)
    )

    assert result.outcome == "out_of_scope"
    assert result.link_change.after.status is LinkStatus.OUT_OF_SCOPE
    assert result.prospect_change is None


def test_a_link_whose_prospect_is_missing_recreates_the_prospect_with_the_linked_id() -> None:
    stored = StoredLink(Link("p-lost", CrmRef(CrmObject.LEAD, LEAD)), {}, version=1)

    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=stored, prospect=None))

    assert result.outcome == "created"
    assert result.prospect_change.after.id == "p-lost"
    assert result.prospect_change.before is None


def test_a_record_restored_after_its_prospect_got_another_in_its_place_stays_history_and_is_reported() -> (
    None
):
    prospect = Prospect("p-1", {"email": "ann@example.com"})
    history = linked(prospect, CrmRef(CrmObject.LEAD, LEAD), LinkStatus.REPLACED)

    result = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=history, prospect=prospect))

    assert (result.outcome, result.reported, result.prospect_id) == ("reported", True, "p-1")
    assert (result.link_change, result.prospect_change, result.snapshot_change) == (None, None, None)
    assert "merge the two records in Salesforce" in result.reason
    converted = plan(
        PersonRecord(
            CrmObject.LEAD,
            lead(IsConverted=True, ConvertedContactId=CONTACT),
            in_scope=True,
            link=history,
            prospect=prospect,
        )
    )
    assert converted.link_change is None, "history never moves"


def test_a_record_merged_into_the_one_it_replaced_moves_the_link_back_there() -> None:
    prospect = Prospect("p-1", {"email": "ann@example.com"})
    restored = "00Q000000000002AAA"
    record = PersonRecord(
        CrmObject.LEAD,
        lead(IsDeleted=True, MasterRecordId=restored),
        in_scope=True,
        link=linked(prospect, CrmRef(CrmObject.LEAD, LEAD)),
        prospect=prospect,
        target_link=linked(prospect, CrmRef(CrmObject.LEAD, restored), LinkStatus.REPLACED),
    )

    result = plan(record)

    assert result.outcome == "merged"
    assert result.link_change.after == Link("p-1", CrmRef(CrmObject.LEAD, restored), LinkStatus.ACTIVE)


# ------------------------------------------------------------------ a chunk: targets, reads, report


def test_a_merged_away_record_moves_to_its_survivors_link_and_a_conversion_to_its_person() -> None:
    survivor = StoredLink(Link("p-2", CrmRef(CrmObject.LEAD, "00Q000000000002AAA")), {})
    contact = StoredLink(Link("p-3", CrmRef(CrmObject.CONTACT, CONTACT)), {})
    account = "001000000000001AAA"
    person = StoredLink(Link("p-4", CrmRef(CrmObject.PERSON_ACCOUNT, account)), {})
    links = {"00Q000000000002AAA": survivor, CONTACT: contact, account: person}

    merged = lead(IsDeleted=True, MasterRecordId="00Q000000000002AAA")
    converted = lead(IsConverted=True, ConvertedContactId=CONTACT, ConvertedAccountId=account)

    assert link_target(merged, links, frozenset()) is survivor
    assert link_target(converted, links, frozenset()) is contact, "a business account: the contact"
    assert link_target(converted, links, frozenset({account})) is person, "a person account: the account"
    assert link_target(lead(), links, frozenset({account})) is None
    assert link_target(lead(IsDeleted=True), links, frozenset()) is None, "deleted alone"


def test_a_chunk_is_planned_with_what_the_stores_know_and_moves_links_first() -> None:
    existing = Prospect("p-1", {"email": "ann@example.com"}, version=4)
    gone = lead(Id="00Q000000000003AAA", IsDeleted=True)
    records = [lead(), gone]
    chunk = PeopleChunk(
        object=CrmObject.LEAD,
        records=records,
        scope=AllRecords(),
        links={},
        prospects={},
        candidates={"ann@example.com": [existing]},
        linked_candidates=(),
    )

    assert in_planning_order(records) == [[gone], [records[0]]]
    assert ids_to_look_up([lead(MasterRecordId="00Q9")]) == {LEAD, "00Q9"}
    assert unlinked_keys(CrmObject.LEAD, records, {}, MatchingMode.EMAIL) == {"ann@example.com"}
    assert unlinked_keys(CrmObject.LEAD, records, {}, MatchingMode.CRM_ID) == {LEAD}
    plans = plan_people(chunk, RULES, NOW, lambda: "p-new")
    assert [p.outcome for p in plans] == [RecordOutcome.LINKED, RecordOutcome.UNCHANGED]
    assert plans[0].link_change.after.prospect_id == "p-1"


def test_the_report_of_a_chunk_audits_each_event_and_field_lists_what_needs_an_eye_and_resolves_the_rest() -> (
    None
):
    created = plan(PersonRecord(CrmObject.LEAD, lead(), in_scope=True, link=None, prospect=None))
    reported = plan(
        PersonRecord(CrmObject.LEAD, lead(Email=None, Id="00Q2"), in_scope=True, link=None, prospect=None)
    )

    report = outbound_report(
        "Lead", [created, reported], at=NOW, run_id="run-1", open_errors={("Lead", LEAD), ("Lead", "00Q2")}
    )

    assert report.direction is Direction.OUTBOUND
    assert report.resolved == [("Lead", LEAD)]
    assert [(e.record_id, e.failure.code) for e in report.errors] == [("00Q2", "NOT_SYNCED")]
    events = [entry.event for entry in report.audit]
    assert events[0].startswith("prospect created from Lead") and set(events[1:]) == {"field synced"}
    assert {entry.prospect_id for entry in report.audit} == {"p-new"}
    assert {entry.run_id for entry in report.audit} == {"run-1"}
