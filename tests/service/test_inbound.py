"""The inbound run (marketing → Salesforce) and change capture on fakes: what reaches the org, in
how many calls, what waits, what is listed. The handler's own paths (the stream and schedule
events, the early run, the failures that cross it) are tests/functions/test_inbound_sync.py's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from crmsync.domain.audit import Direction
from crmsync.domain.prospect import ProspectChange
from crmsync.ports import CapturedChanges, RunOutcome

from tests.fakes.connector import FakeConnector

CONFIGURATION: dict[str, Any] = {
    "version": 2,
    "mappings": {
        "Lead": [
            {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
            {"marketing_field": "first_name", "salesforce_field": "FirstName", "behaviour": "most_recent"},
            {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
            {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
            {"marketing_field": "job_title", "salesforce_field": "Title", "behaviour": "most_recent"},
            {"marketing_field": "lead_status", "salesforce_field": "Status", "behaviour": "salesforce"},
            {"marketing_field": "score", "salesforce_field": "Marketing_Score__c", "behaviour": "marketing"},
            {"marketing_field": "grade", "salesforce_field": "Marketing_Grade__c", "behaviour": "marketing"},
        ],
    },
}


@pytest.fixture
def inbound(connector: FakeConnector) -> FakeConnector:
    connector.configure(CONFIGURATION)
    return connector


def synced_leads(connector: FakeConnector, count: int, **fields: Any) -> list[str]:
    """`count` Leads synced to linked prospects by an outbound run."""
    ids = [
        connector.salesforce.insert(
            "Lead",
            {"LastName": f"Lead {n:05d}", "Company": "Acme", "Email": f"lead{n}@example.com", **fields},
        )
        for n in range(count)
    ]
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    connector.later()
    assert connector.marketing.captured() == CapturedChanges(), (
        "outbound's own writes are not changes to send"
    )
    return ids


def edit(connector: FakeConnector, lead_ids: list[str], **fields: Any) -> None:
    """The marketing side changes these Leads' prospects (one new version each)."""
    links = connector.links.by_crm_ids(lead_ids)
    prospects = connector.marketing.get_many([links[lead_id].link.prospect_id for lead_id in lead_ids])
    now = connector.clock.now()
    changes = [
        ProspectChange(replace(p, fields={**p.fields, **fields}, modified_at=now), before=p)
        for p in prospects.values()
    ]
    assert connector.marketing.save(changes) == []


def capture(connector: FakeConnector) -> bool:
    """Change capture reads what the stream holds; True when enough wait to run at once."""
    return connector.inbound().capture(connector.marketing.captured())


def changed_by_marketing(connector: FakeConnector, lead_ids: list[str], **fields: Any) -> None:
    edit(connector, lead_ids, **fields)
    capture(connector)
    connector.crm.reset_counters()


def lead(connector: FakeConnector, lead_id: str) -> dict[str, Any]:
    record = connector.salesforce.get(lead_id)
    assert record is not None
    return dict(record)


def writes(connector: FakeConnector) -> list[tuple[str, int]]:
    return [(call.kind, call.records) for call in connector.crm.writes()]


# ------------------------------------------------------------------ how changes go


def test_a_thousand_changed_prospects_cost_exactly_five_collections_calls(inbound: FakeConnector) -> None:
    # GIVEN 1,000 synced Leads, each scored by marketing
    lead_ids = synced_leads(inbound, 1000)
    changed_by_marketing(inbound, lead_ids, score=64)

    # WHEN the inbound run sends them
    summary = inbound.run_inbound()

    # THEN 5 Collections calls of 200 carried every score, plus one read of what Salesforce
    # changed since outbound read it (and a limits check in a container that has not called yet)
    assert summary.counts["updated"] == 1000
    assert writes(inbound) == [("collections", 200)] * 5
    assert inbound.crm.api_calls == summary.api_calls <= 7
    assert {lead(inbound, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {64}


def test_five_thousand_changed_prospects_go_through_one_bulk_api_job(inbound: FakeConnector) -> None:
    # GIVEN 5,000 synced Leads, each graded by marketing
    lead_ids = synced_leads(inbound, 5000)
    changed_by_marketing(inbound, lead_ids, grade="B")

    # WHEN the inbound run sends them
    summary = inbound.run_inbound()

    # THEN one Bulk API 2.0 job carried them (the default threshold is 2,000), and no Collections call
    assert summary.counts["updated"] == 5000
    assert writes(inbound) == [("bulk", 5000)]
    assert summary.api_calls <= 10
    assert {lead(inbound, lead_id)["Marketing_Grade__c"] for lead_id in lead_ids} == {"B"}


def test_the_configurations_batching_sets_the_collections_size_and_the_bulk_threshold(
    inbound: FakeConnector,
) -> None:
    # GIVEN 120 synced Leads scored by marketing, and Collections of 50 configured
    batching = {"collection_size": 50, "bulk_threshold": 500}
    inbound.configure({**CONFIGURATION, "version": 3, "batching": batching})
    lead_ids = synced_leads(inbound, 120)
    changed_by_marketing(inbound, lead_ids, score=7)

    # WHEN the inbound run sends them, THEN 3 Collections calls of at most 50 carried them
    assert inbound.run_inbound().counts["updated"] == 120
    assert writes(inbound) == [("collections", 50), ("collections", 50), ("collections", 20)]

    # AND with a bulk threshold of 100, the next 120 changes go as one Bulk API 2.0 job
    inbound.configure({**CONFIGURATION, "version": 4, "batching": {**batching, "bulk_threshold": 100}})
    changed_by_marketing(inbound, lead_ids, score=8)
    assert inbound.run_inbound().counts["updated"] == 120
    assert writes(inbound) == [("bulk", 120)]
    assert {lead(inbound, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {8}


def test_change_capture_says_to_run_at_once_when_the_hundredth_change_waits(inbound: FakeConnector) -> None:
    # GIVEN 100 synced Leads, 99 of whose prospects marketing scored
    lead_ids = synced_leads(inbound, 100)
    reached = inbound.salesforce_reached
    edit(inbound, lead_ids[:99], score=50)

    # THEN 99 waiting changes do not call for a run, and capture never reaches Salesforce
    assert not capture(inbound)
    assert len(inbound.pending.all()) == 99
    assert inbound.salesforce_reached == reached

    # WHEN the 100th change is captured, THEN a run is called for, and it sends the 100
    edit(inbound, lead_ids[99:], score=50)
    assert capture(inbound)
    assert inbound.run_inbound().counts == {"updated": 100}
    assert {lead(inbound, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {50}


# ------------------------------------------------------------------ failures


def test_a_validation_error_on_one_record_leaves_the_other_199_written_and_is_listed(
    inbound: FakeConnector,
) -> None:
    # GIVEN 200 synced Leads; marketing scores them all and gives one an invalid email
    lead_ids = synced_leads(inbound, 200)
    edit(inbound, lead_ids, score=10)
    bad = lead_ids[17]
    edit(inbound, [bad], email="not-an-email")
    capture(inbound)

    # WHEN the batch is sent
    summary = inbound.run_inbound()

    # THEN 199 Leads have their score, the bad one has nothing written
    assert (summary.counts["updated"], summary.counts["failed"]) == (199, 1)
    assert all(lead(inbound, i).get("Marketing_Score__c") == 10 for i in lead_ids if i != bad)
    assert lead(inbound, bad).get("Marketing_Score__c") is None

    # AND the error list has the failure with its code, fields and prospect
    (error,) = inbound.state.open_errors(Direction.INBOUND)
    prospect_id = inbound.links.by_crm_ids([bad])[bad].link.prospect_id
    assert (error.sobject, error.record_id, error.operation, error.prospect_id) == (
        "Lead",
        bad,
        "update",
        prospect_id,
    )
    assert (error.failure.code, error.failure.fields, error.state.value) == (
        "INVALID_EMAIL_ADDRESS",
        ("Email",),
        "open",
    )

    # AND it is not sent again until the prospect changes; then it is, and the entry goes
    assert inbound.run_inbound().outcome is RunOutcome.IDLE
    edit(inbound, [bad], email="fixed@example.com")
    capture(inbound)
    assert inbound.run_inbound().counts == {"updated": 1}
    assert (lead(inbound, bad)["Email"], lead(inbound, bad)["Marketing_Score__c"]) == (
        "fixed@example.com",
        10,
    )
    assert inbound.state.open_errors(Direction.INBOUND) == []


def test_a_listed_record_back_in_step_after_a_retry_clears_its_entry(inbound: FakeConnector) -> None:
    # GIVEN a synced Lead whose prospect was given an invalid email: listed
    (bad,) = synced_leads(inbound, 1)
    email = lead(inbound, bad)["Email"]
    edit(inbound, [bad], email="not-an-email")
    capture(inbound)
    assert inbound.run_inbound().counts == {"failed": 1}
    # AND the marketing side put the email back as Salesforce has it, seen by no change capture
    prospect_id = inbound.links.by_crm_ids([bad])[bad].link.prospect_id
    prospect = inbound.prospects.get_many([prospect_id])[prospect_id]
    changed = replace(prospect, fields={**prospect.fields, "email": email})
    assert inbound.prospects.save([ProspectChange(changed, before=prospect)]) == []

    # WHEN an operator retries the entry, and the next run finds nothing to send
    retried = inbound.error_actions().retry({"keys": [f"inbound#Lead#{bad}"]}, by="operator")
    assert [item["key"] for item in retried["queued"]] == [f"inbound#Lead#{bad}"]
    summary = inbound.run_inbound()

    # THEN the record is in step, and its entry is gone
    assert summary.counts == {"unchanged": 1}
    assert inbound.state.open_errors(Direction.INBOUND) == []


def test_a_record_failing_past_the_retry_budget_stays_listed_and_goes_when_the_prospect_changes(
    inbound: FakeConnector,
) -> None:
    # GIVEN a synced Lead that stays locked for a long while
    (lead_id,) = synced_leads(inbound, 1)
    inbound.salesforce.faults.lock_records([lead_id], times=1000)
    edit(inbound, [lead_id], score=42)
    capture(inbound)

    # WHEN runs keep trying it
    summaries = [inbound.run_inbound() for _ in range(6)]

    # THEN each of the first five tried it; then it waits in the error list, not lost
    assert [s.counts.get("failed", 0) for s in summaries] == [1, 1, 1, 1, 1, 0]
    (error,) = inbound.state.open_errors(Direction.INBOUND)
    assert (error.failure.code, error.attempts, error.state.value) == ("UNABLE_TO_LOCK_ROW", 5, "open")

    # WHEN the lock is gone and marketing changes the prospect again
    inbound.salesforce.faults.lock_records([lead_id], times=0)
    edit(inbound, [lead_id], grade="C")
    capture(inbound)

    # THEN both the old score and the new grade reach the Lead, and the entry is resolved
    assert inbound.run_inbound().counts == {"updated": 1}
    assert (lead(inbound, lead_id)["Marketing_Score__c"], lead(inbound, lead_id)["Marketing_Grade__c"]) == (
        42,
        "C",
    )
    assert inbound.state.open_errors(Direction.INBOUND) == []


class Countdown:
    """Plenty of time for the first `answers_with_time_left` questions, then 30 s: less than the
    run keeps in hand to gather more, more than it needs to send what it gathered."""

    def __init__(self, answers_with_time_left: int) -> None:
        self.left = answers_with_time_left

    def __call__(self) -> int:
        self.left -= 1
        return 120_000 if self.left >= 0 else 30_000


def test_a_run_cut_short_by_its_deadline_sends_what_it_gathered_and_the_next_sends_the_rest(
    inbound: FakeConnector,
) -> None:
    # GIVEN 300 scored prospects, and runs that plan 100 waiting prospects at a time
    lead_ids = synced_leads(inbound, 300)
    changed_by_marketing(inbound, lead_ids, score=5)

    # WHEN the deadline nears after two pages
    first = inbound.run_inbound(Countdown(answers_with_time_left=2), page_size=100)
    second = inbound.run_inbound(page_size=100)

    # THEN the first run sent the 200 it had planned, the next the other 100: each Lead once
    assert (first.outcome, dict(first.counts)) == (RunOutcome.CUT_SHORT, {"updated": 200})
    assert (second.outcome, dict(second.counts)) == (RunOutcome.COMPLETED, {"updated": 100})
    assert writes(inbound) == [("collections", 200), ("collections", 100)]
    assert {lead(inbound, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {5}
    assert inbound.pending.all() == {}


def test_a_prospect_nobody_changed_costs_nothing(inbound: FakeConnector) -> None:
    synced_leads(inbound, 3)
    reached = inbound.salesforce_reached

    summary = inbound.run_inbound()

    assert (summary.outcome, summary.api_calls) == (RunOutcome.IDLE, 0)
    assert inbound.salesforce_reached == reached, "an idle run does not even build its gateway"
