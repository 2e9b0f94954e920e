"""Marketing activities as Salesforce Tasks (docs/guide/activities.md), end to end: the activity store and the
other stores on moto (tables from template.yaml), the real Salesforce gateway against the
emulator (in process; `over_https` serves it), and the run `bootstrap.activity_sync()` builds (the
inbound function calls it).

What a user sees: the Tasks in Salesforce (whom they name, subject, status), what became of
each activity, the error list, the audit trail, and the Salesforce API calls spent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from crmsync import bootstrap
from crmsync.domain.activities import Activity, ActivityState, ActivityType, StoredActivity
from crmsync.domain.audit import Direction
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange
from crmsync.domain.objects import CrmObject
from crmsync.sync.activities import ActivityRun

from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import OutboundConnector

OCCURRED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
EMAIL = {"email_id": "em-42", "name": "Spring launch"}


# ------------------------------------------------------------------ the marketing platform's side


def opened(prospect_id: str, minutes: int = 0) -> Activity:
    return Activity(
        new_id(), prospect_id, ActivityType.EMAIL_OPEN, OCCURRED + timedelta(minutes=minutes), **EMAIL
    )


def clicked(prospect_id: str, minutes: int, url: str = "https://example.com/offer") -> Activity:
    return Activity(
        new_id(),
        prospect_id,
        ActivityType.EMAIL_CLICK,
        OCCURRED + timedelta(minutes=minutes),
        url=url,
        **EMAIL,
    )


def visited(prospect_id: str, minutes: int, url: str = "https://example.com/pricing") -> Activity:
    return Activity(
        new_id(), prospect_id, ActivityType.PAGE_VISIT, OCCURRED + timedelta(minutes=minutes), url=url
    )


def new_id() -> str:
    return uuid.uuid4().hex


def record(*activities: Activity) -> None:
    assert bootstrap.activity_store().record(activities) == []


def linked_lead(salesforce: Emulator, prospect_id: str, last_name: str = "Hopper") -> str:
    lead_id = salesforce.insert("Lead", {"LastName": last_name, "Company": "US Navy"})
    link(prospect_id, CrmRef(CrmObject.LEAD, lead_id))
    return lead_id


def link(prospect_id: str, crm: CrmRef) -> None:
    assert bootstrap.link_store().save([LinkChange(after=Link(prospect_id, crm), snapshot={})]) == []


def run_activities(remaining_ms: int = 60_000) -> ActivityRun:
    return bootstrap.activity_sync().run(lambda: remaining_ms, run_id=new_id())


def outcome_of(activity: Activity) -> StoredActivity:
    [stored] = [
        s for s in bootstrap.activity_store().of_prospect(activity.prospect_id) if s.activity == activity
    ]
    return stored


def collections_creates(salesforce: Emulator) -> int:
    return sum(
        1 for method, path in salesforce.call_log if method == "POST" and path.endswith("/composite/sobjects")
    )


@pytest.fixture
def salesforce(connector: LocalStack, emulator: Emulator) -> Emulator:
    """A deployed connector, resumed, whose org is `emulator`."""
    bootstrap.resume()
    return emulator


# ------------------------------------------------------------------ which activities become Tasks


@pytest.mark.over_https  # the one test of this function whose org is served: a socket and TLS
def test_only_the_configured_activity_types_become_completed_tasks_on_the_lead(salesforce: Emulator) -> None:
    # GIVEN only opens and clicks are sent, and a linked prospect who received, opened and
    # clicked an email and visited a page
    bootstrap.load_configuration({"version": 2, "activities": {"types": ["email_open", "email_click"]}})
    lead_id = linked_lead(salesforce, "p-grace")
    sent = Activity(new_id(), "p-grace", ActivityType.EMAIL_SEND, OCCURRED, **EMAIL)
    opening, click, visit = opened("p-grace", 5), clicked("p-grace", 6), visited("p-grace", 7)
    record(sent, opening, click, visit)
    salesforce.reset_counters()

    # WHEN the activities run
    run = run_activities()

    # THEN the open and the click are completed Tasks on the Lead, and nothing else is
    assert run == ActivityRun("completed", {"sent": 2, "skipped": 2})
    tasks = {task["Subject"]: task for task in salesforce.records("Task")}
    assert set(tasks) == {
        "Marketing email opened: Spring launch",
        "Marketing email link clicked: Spring launch",
    }
    for task in tasks.values():
        assert task["WhoId"] == lead_id
        assert task["Status"] == "Completed"
        assert task["IsClosed"] is True
        assert task["ActivityDate"] == OCCURRED.date().isoformat()
    assert (
        "Link: https://example.com/offer"
        in tasks["Marketing email link clicked: Spring launch"]["Description"]
    )
    assert outcome_of(opening).state is ActivityState.SENT
    assert outcome_of(opening).task_id in {task["Id"] for task in tasks.values()}
    assert outcome_of(visit) == StoredActivity(
        visit,
        ActivityState.SKIPPED,
        reason="page_visit activities are not sent to Salesforce (activities.types)",
    )
    assert outcome_of(sent).state is ActivityState.SKIPPED
    assert collections_creates(salesforce) == 1
    trail = [entry.event for entry in bootstrap.audit_trail().audit_trail("p-grace")]
    assert f"email_open activity {opening.id} sent as Task {outcome_of(opening).task_id}" in trail
    assert any(event.startswith(f"page_visit activity {visit.id} skipped:") for event in trail)

    # AND a run with nothing waiting costs no Salesforce call
    salesforce.reset_counters()
    assert run_activities() == ActivityRun("completed", {})
    assert salesforce.call_log == []


def test_a_second_click_on_the_same_link_adds_no_task(salesforce: Emulator) -> None:
    # GIVEN a prospect whose first click on a link of an email became a Task
    linked_lead(salesforce, "p-ada")
    first = clicked("p-ada", 1)
    record(first)
    run_activities()
    assert len(salesforce.records("Task")) == 1

    # WHEN they click the same link again (twice), and another link of the same email
    again, once_more = clicked("p-ada", 10), clicked("p-ada", 11)
    other_link = clicked("p-ada", 12, url="https://example.com/terms")
    record(again, once_more, other_link)
    run = run_activities()

    # THEN only the other link adds a Task; the repeats are kept as skipped, saying why
    assert run.counts["sent"] == 1 and run.counts["skipped"] == 2
    assert len(salesforce.records("Task")) == 2
    assert outcome_of(again).state is ActivityState.SKIPPED
    assert outcome_of(again).reason == (
        "a click on https://example.com/offer in email em-42 was already sent (first click only)"
    )
    assert outcome_of(other_link).state is ActivityState.SENT


def test_the_activities_of_an_unlinked_prospect_wait_and_go_once_it_is_linked(salesforce: Emulator) -> None:
    # GIVEN a prospect the marketing platform has, not linked to any Salesforce record
    opening, visit = opened("p-new", 1), visited("p-new", 2)
    record(opening, visit)

    # WHEN the activities run
    first = run_activities()

    # THEN nothing is sent: the activities wait for a link, at no Salesforce cost
    assert first.counts == {"waiting_for_link": 2}
    assert salesforce.records("Task") == []
    assert outcome_of(opening).state is ActivityState.WAITING_FOR_LINK
    assert outcome_of(opening).reason == "the prospect is not linked to a Salesforce record"
    assert salesforce.call_log == []

    # WHEN the prospect is linked (an automation action created its Contact) and the next run comes
    contact_id = salesforce.insert("Contact", {"LastName": "Lovelace"})
    link("p-new", CrmRef(CrmObject.CONTACT, contact_id))
    second = run_activities()

    # THEN both activities are Tasks on the Contact
    assert second.counts["sent"] == 2
    assert {task["WhoId"] for task in salesforce.records("Task")} == {contact_id}
    assert outcome_of(visit).state is ActivityState.SENT


def test_a_paused_connector_sends_nothing_and_catches_up_on_resume(salesforce: Emulator) -> None:
    # GIVEN a paused connector and a linked prospect's new activities
    lead_id = linked_lead(salesforce, "p-grace")
    bootstrap.pause()
    record(opened("p-grace", 1), visited("p-grace", 2))
    salesforce.reset_counters()

    # WHEN the activities run
    paused = run_activities()

    # THEN nothing is sent, nor even asked of Salesforce
    assert paused == ActivityRun("paused")
    assert salesforce.records("Task") == []
    assert salesforce.call_log == []

    # WHEN the connector is resumed
    bootstrap.resume()
    resumed = run_activities()

    # THEN the waiting activities go
    assert resumed.counts["sent"] == 2
    assert [task["WhoId"] for task in salesforce.records("Task")] == [lead_id, lead_id]


def test_a_task_salesforce_refuses_is_listed_with_its_code_and_the_others_go(salesforce: Emulator) -> None:
    # GIVEN two linked prospects, one of whose Lead was deleted in Salesforce since it was linked
    kept_lead = linked_lead(salesforce, "p-kept", "Kept")
    deleted_lead = linked_lead(salesforce, "p-gone", "Gone")
    salesforce.delete(deleted_lead)
    refused, kept = opened("p-gone", 1), opened("p-kept", 2)
    record(refused, kept)

    # WHEN the activities run
    run = run_activities()

    # THEN the other prospect's Task is written, and the refused one is in the error list
    assert run.counts["sent"] == 1 and run.counts["failed"] == 1
    assert [task["WhoId"] for task in salesforce.records("Task")] == [kept_lead]
    [error] = bootstrap.error_list().open_errors(Direction.INBOUND)
    assert (error.operation, error.sobject, error.record_id, error.prospect_id) == (
        "task",
        "Task",
        refused.id,
        "p-gone",
    )
    assert error.failure.code == "ENTITY_IS_DELETED"
    assert error.failure.fields == ("WhoId",)
    assert not error.failure.retryable
    assert outcome_of(refused).state is ActivityState.FAILED
    assert "ENTITY_IS_DELETED" in outcome_of(refused).reason

    # AND it does not come back at the next run
    salesforce.reset_counters()
    assert run_activities() == ActivityRun("completed", {})
    assert salesforce.call_log == []

    # WHEN the Lead is restored and an operator retries the entry
    salesforce.undelete(deleted_lead)
    retried = bootstrap.error_actions().retry({"keys": [f"inbound#Task#{refused.id}"]}, by="operator")
    assert [item["key"] for item in retried["queued"]] == [f"inbound#Task#{refused.id}"]

    # THEN the next run sends the Task, and the entry clears itself
    assert run_activities().counts["sent"] == 1
    assert outcome_of(refused).state is ActivityState.SENT
    assert bootstrap.error_list().open_errors() == []


def test_salesforce_unavailable_loses_nothing_and_the_next_run_sends(salesforce: Emulator) -> None:
    # GIVEN a linked prospect's activity, and Salesforce answering 503 for now
    linked_lead(salesforce, "p-grace")
    opening = opened("p-grace")
    record(opening)
    salesforce.faults.server_errors(count=50, status=503)

    # WHEN the activities run
    down = run_activities()

    # THEN the run stops, and the activity still waits
    assert down.outcome == "salesforce_unavailable"
    assert salesforce.records("Task") == []
    assert outcome_of(opening).state is ActivityState.WAITING
    assert bootstrap.error_list().open_errors() == []

    # WHEN Salesforce is back
    salesforce.faults.recover()
    back = run_activities()

    # THEN the Task is written once
    assert back.outcome == "completed"
    assert len(salesforce.records("Task")) == 1


def test_a_run_near_its_deadline_stops_and_the_next_one_resumes(salesforce: Emulator) -> None:
    # GIVEN a linked prospect's activity, and an invocation with less time left than the run keeps in hand
    linked_lead(salesforce, "p-grace")
    record(opened("p-grace"))

    # WHEN the activities run with 10 s left
    short = run_activities(remaining_ms=10_000)

    # THEN nothing is sent, and the next run sends it
    assert short.outcome == "cut_short"
    assert salesforce.records("Task") == []
    assert run_activities().counts["sent"] == 1


def test_a_long_title_of_emoji_is_cut_to_what_salesforce_counts_as_the_subjects_length(
    salesforce: Emulator,
) -> None:
    # GIVEN a linked prospect visited a page whose title is 300 emoji (600 characters to Salesforce)
    lead_id = linked_lead(salesforce, "p-emoji")
    page = Activity(
        new_id(), "p-emoji", ActivityType.PAGE_VISIT, OCCURRED, name="🚀" * 300, url="https://example.com/🚀"
    )
    record(page)

    # WHEN the activities run
    run = run_activities()

    # THEN the Task is created, its subject cut within Task.Subject's 255 characters
    assert run.counts["sent"] == 1
    [task] = salesforce.records("Task")
    assert task["WhoId"] == lead_id
    assert task["Subject"].startswith("Web page visited: 🚀") and task["Subject"].endswith("…")
    assert len(task["Subject"].encode("utf-16-le")) // 2 <= 255
    assert bootstrap.error_list().open_errors() == []


@pytest.mark.person_accounts
def test_a_person_accounts_task_names_its_person_contact(outbound_connector: OutboundConnector) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a prospect linked to a Person Account, which has its hidden person contact
    account_id = salesforce.insert("Account", {"FirstName": "Mary", "LastName": "Jackson"})
    account = salesforce.get(account_id)
    assert account is not None
    person_contact = account["PersonContactId"]
    link("p-mary", CrmRef(CrmObject.PERSON_ACCOUNT, account_id))
    record(opened("p-mary"))

    # WHEN the activities run
    run = run_activities()

    # THEN the Task names the person contact
    assert run.counts["sent"] == 1
    assert [task["WhoId"] for task in salesforce.records("Task")] == [person_contact]
