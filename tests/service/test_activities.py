"""Marketing activities as Salesforce Tasks, the run on fakes: how many calls the Tasks cost, and
how the prospects waiting for a link are looked at. The Tasks' content and the run inside the
scheduled inbound invocation are tests/functions/test_activities.py's."""

from __future__ import annotations

from datetime import timedelta

from crmsync.domain.activities import Activity, ActivityState, ActivityType
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange
from crmsync.domain.objects import CrmObject
from crmsync.ports import RunOutcome

from tests.fakes.connector import FakeConnector, plenty_of_time


def visited(connector: FakeConnector, prospect_id: str, minutes: int, url: str) -> Activity:
    occurred = connector.clock.now() - timedelta(hours=2) + timedelta(minutes=minutes)
    return Activity(f"{prospect_id}-{minutes}", prospect_id, ActivityType.PAGE_VISIT, occurred, url=url)


def linked_lead(connector: FakeConnector, prospect_id: str, last_name: str) -> str:
    lead_id = connector.salesforce.insert("Lead", {"LastName": last_name, "Company": "US Navy"})
    change = LinkChange(after=Link(prospect_id, CrmRef(CrmObject.LEAD, lead_id)), snapshot={})
    assert connector.links.save([change]) == []
    return lead_id


def test_450_activities_cost_three_collections_calls(connector: FakeConnector) -> None:
    # GIVEN three linked prospects with 150 page visits each
    leads = {f"p-{n}": linked_lead(connector, f"p-{n}", f"Lead {n}") for n in range(3)}
    recorded = [
        visited(connector, prospect_id, minutes, f"https://example.com/page/{minutes}")
        for prospect_id in leads
        for minutes in range(150)
    ]
    assert connector.activity_store.record(recorded) == []

    # WHEN the activities run
    run = connector.activities().run(plenty_of_time, connector.new_run_id())

    # THEN 450 Tasks are written in 3 Collections calls of at most 200, and nothing else is written
    assert (run.outcome, run.counts["sent"]) == (RunOutcome.COMPLETED, 450)
    assert [(c.kind, c.sobject, c.records) for c in connector.crm.writes()] == [
        ("collections", "Task", 200),
        ("collections", "Task", 200),
        ("collections", "Task", 50),
    ]
    tasks = connector.salesforce.records("Task")
    assert len(tasks) == 450
    assert {task["WhoId"] for task in tasks} == set(leads.values())


def test_prospects_waiting_for_a_link_are_looked_at_a_share_per_run_round_and_round(
    connector: FakeConnector,
) -> None:
    # GIVEN three unlinked prospects' activities, and runs that look at two of them each
    first, second, third = (visited(connector, f"p-{n}", n, "https://example.com/pricing") for n in (1, 2, 3))
    assert connector.activity_store.record([first, second, third]) == []
    connector.activities().run(plenty_of_time, connector.new_run_id())  # all three now wait for a link

    def run_looking_at_two() -> dict[str, int]:
        return dict(
            connector.activities(link_checks_per_run=2).run(plenty_of_time, connector.new_run_id()).counts
        )

    # WHEN the first and the last prospect are linked
    first_lead = linked_lead(connector, "p-1", "First")
    third_lead = linked_lead(connector, "p-3", "Third")

    # THEN a run sends what its share holds, the next run the rest, and one more starts over
    assert run_looking_at_two() == {"sent": 1}
    assert [task["WhoId"] for task in connector.salesforce.records("Task")] == [first_lead]
    assert run_looking_at_two() == {"sent": 1}
    assert [task["WhoId"] for task in connector.salesforce.records("Task")] == [first_lead, third_lead]
    (waiting,) = connector.activity_store.of_prospect("p-2")
    assert waiting.state is ActivityState.WAITING_FOR_LINK
    second_lead = linked_lead(connector, "p-2", "Second")
    assert run_looking_at_two() == {"sent": 1}
    assert connector.salesforce.records("Task")[-1]["WhoId"] == second_lead
