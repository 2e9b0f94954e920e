"""The operator's actions on fakes: a manual sync of one record, a resync of an object and a
configuration's dry run, built through their public constructors as `crmsync.bootstrap` builds
them. What each leaves in the stores, and what it asked of Salesforce. The routes' own paths
(their events, answers, IAM) are tests/functions/test_http_api_manual_sync.py's,
test_resync.py's and test_http_api_config_plan.py's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from crmsync.domain.errors import CrmError, Failure
from crmsync.domain.manual import ManualDirection
from crmsync.domain.objects import CrmObject
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.resync import ResyncState
from crmsync.sync.config_plan import ConfigurationPlan, PlanRequest
from crmsync.sync.manual import ManualSync
from crmsync.sync.manual_request import MAX_API_CALLS, RunInProgress, UnknownRecord
from crmsync.sync.resync import Resync, ResyncBusy

from tests.fakes.connector import FakeConnector
from tests.fakes.operator import FakeBulkQuery, FakeLinkSample, FakeResyncJobs

OPERATOR = "arn:aws:iam::123456789012:user/operator"
LEAD_MAPPINGS: list[dict[str, Any]] = [
    {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
    {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
    {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
    {"marketing_field": "job_title", "salesforce_field": "Title", "behaviour": "most_recent"},
    {"marketing_field": "score", "salesforce_field": "Marketing_Score__c", "behaviour": "marketing"},
]


def manual(connector: FakeConnector) -> ManualSync:
    state = connector.state
    return ManualSync(
        crm=connector.gateway,
        links=connector.links,
        prospects=connector.prospects,
        pending=connector.pending,
        actions=connector.queue,
        claims=connector.claims,
        leases=state,
        watermarks=state,
        retry_list=state,
        user_directory=state,
        audit_trail=state,
        error_list=state,
        connector=connector.connector,
        configuration=connector.configuration(),
        clock=connector.clock,
    )


def sync(connector: FakeConnector, record_id: str, direction: ManualDirection = ManualDirection.BOTH) -> Any:
    return manual(connector).sync(
        record_id, direction, caller=OPERATOR, run_id=connector.new_run_id(), remaining_ms=lambda: 30_000
    )


def calls(connector: FakeConnector) -> list[str]:
    return [call.kind for call in connector.crm.calls]


@pytest.fixture
def paused(connector: FakeConnector) -> FakeConnector:
    connector.configure({"version": 2, "mappings": {"Lead": LEAD_MAPPINGS}})
    connector.pause()
    connector.crm.reset_counters()
    return connector


def linked_lead(connector: FakeConnector, **fields: Any) -> tuple[str, str]:
    lead_id = connector.salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Acme", "Email": "ada@example.com", **fields}
    )
    report = sync(connector, lead_id, ManualDirection.OUTBOUND)
    assert report.prospect_id is not None
    connector.later()
    connector.crm.reset_counters()
    return lead_id, report.prospect_id


def edit(connector: FakeConnector, prospect_id: str, **fields: Any) -> None:
    prospect = connector.marketing.get_many([prospect_id])[prospect_id]
    changed = replace(prospect, fields={**prospect.fields, **fields}, modified_at=connector.clock.now())
    assert connector.marketing.save([ProspectChange(changed, before=prospect)]) == []


# ------------------------------------------------------------------ manual sync


def test_outbound_reads_the_record_by_id_once_and_moves_no_watermark(paused: FakeConnector) -> None:
    lead_id, prospect_id = linked_lead(paused)
    paused.salesforce.update("Lead", lead_id, {"Title": "CTO"})

    report = sync(paused, lead_id, ManualDirection.OUTBOUND)

    assert paused.prospects.get_many([prospect_id])[prospect_id].fields["job_title"] == "CTO"
    assert calls(paused) == ["find"]
    assert report.api_calls == 1
    assert paused.state.watermark("outbound#Lead") is None


def test_both_ways_costs_a_query_and_a_write_and_the_prospect_stops_waiting(paused: FakeConnector) -> None:
    lead_id, prospect_id = linked_lead(paused)
    edit(paused, prospect_id, score=87)

    report = sync(paused, prospect_id)

    assert paused.salesforce.get(lead_id)["Marketing_Score__c"] == 87  # type: ignore[index]
    assert calls(paused) == ["find", "collections"]
    assert report.api_calls <= MAX_API_CALLS
    trail = [entry for entry in paused.state.audit_trail(prospect_id) if entry.run_id == report.run_id]
    assert trail[0].event == f"manual sync by {OPERATOR} (Salesforce → marketing)"
    assert trail[-1].field == "Marketing_Score__c"


def test_an_unlinked_prospect_gets_one_lead_however_often_it_is_synced(paused: FakeConnector) -> None:
    prospect = Prospect(
        id="p-1",
        fields={"email": "grace@example.com", "last_name": "Hopper", "company": "Navy"},
        modified_at=paused.clock.now(),
    )
    assert paused.marketing.save([ProspectChange(prospect)]) == []

    first = sync(paused, "p-1")
    paused.later(minutes=5)
    sync(paused, "p-1", ManualDirection.INBOUND)

    (lead,) = paused.salesforce.records("Lead")
    assert first.salesforce is not None and first.salesforce.id == lead["Id"]
    assert paused.links.by_prospect_ids(["p-1"])["p-1"].link.crm.id == lead["Id"]
    assert first.api_calls <= MAX_API_CALLS


def test_a_run_holding_a_lease_it_needs_refuses_it_and_nothing_is_read(paused: FakeConnector) -> None:
    lead_id, _ = linked_lead(paused)
    now = paused.clock.now()
    assert paused.state.acquire_lease("inbound", "run-9", now, now + timedelta(minutes=5))

    with pytest.raises(RunInProgress):
        sync(paused, lead_id)
    with pytest.raises(RunInProgress):
        sync(paused, lead_id, ManualDirection.INBOUND)
    assert calls(paused) == []
    sync(paused, lead_id, ManualDirection.OUTBOUND)  # the outbound lease is free


def test_an_id_no_store_and_no_org_knows_is_unknown(paused: FakeConnector) -> None:
    with pytest.raises(UnknownRecord):
        sync(paused, "00Q8d0000000001EAA")
    assert calls(paused) == ["find"]


# ------------------------------------------------------------------ dry run


def test_a_dry_run_writes_nothing_anywhere(paused: FakeConnector) -> None:
    for n in range(3):
        linked_lead(paused, Email=f"l{n}@example.com", Phone=f"+44 {n}")
    before = (
        [repr(s) for s in sorted(paused.links.all(), key=lambda s: s.link.prospect_id)],
        sorted(repr(p) for p in paused.prospects.all()),
        paused.state.open_errors(),
        len(paused.salesforce.records("Lead")),
    )
    document = {
        "version": 3,
        "mappings": {
            "Lead": [
                *LEAD_MAPPINGS,
                {"marketing_field": "phone", "salesforce_field": "Phone", "behaviour": "salesforce"},
            ]
        },
    }

    dry_run = ConfigurationPlan(
        crm=paused.gateway,
        links=paused.links,
        sample=FakeLinkSample(paused.links),
        prospects=paused.prospects,
    ).plan(PlanRequest(document, 10))

    assert dry_run.valid
    assert dry_run.as_answer()["summary"] == {
        "records": 3,
        "would_change": 3,
        "by_field": {"marketing:phone": 3},
    }
    assert calls(paused).count("find") == 1
    assert not paused.crm.writes()
    after = (
        [repr(s) for s in sorted(paused.links.all(), key=lambda s: s.link.prospect_id)],
        sorted(repr(p) for p in paused.prospects.all()),
        paused.state.open_errors(),
        len(paused.salesforce.records("Lead")),
    )
    assert after == before
    assert paused.configuration().version == 2


# ------------------------------------------------------------------ resync


class Deadline:
    """Plenty of time for the first `answers_with_time_left` questions, then 10 s: under the
    15 s an invocation keeps in hand, as when a Lambda invocation nears its timeout."""

    def __init__(self, answers_with_time_left: int) -> None:
        self.left = answers_with_time_left

    def __call__(self) -> int:
        self.left -= 1
        return 60_000 if self.left >= 0 else 10_000


class Resyncs:
    """The resync as the HTTP function and the scheduled outbound invocations build it, each
    time anew, over one job store and one org's query jobs."""

    def __init__(self, connector: FakeConnector) -> None:
        self.connector = connector
        self.jobs = FakeResyncJobs()
        self.bulk = FakeBulkQuery(connector.crm, connector.clock)

    def use_case(self) -> Resync:
        connector, state = self.connector, self.connector.state
        return Resync(
            crm=connector.gateway,
            bulk=lambda: self.bulk,
            jobs=self.jobs,
            leases=state,
            links=connector.links,
            prospects=connector.prospects,
            pending=connector.pending,
            watermarks=state,
            retry_list=state,
            user_directory=state,
            audit_trail=state,
            error_list=state,
            connector=connector.connector,
            configuration=connector.configuration(),
            clock=connector.clock,
            audit_retention_days=30,
            api_budget_percent=50,
            stop_margin_ms=15_000,
        )

    def tick(self, remaining_ms: Any = lambda: 120_000) -> Any:
        return self.use_case().advance(remaining_ms, self.connector.new_run_id())


def synced_leads(connector: FakeConnector, count: int, **fields: Any) -> list[str]:
    ids = [
        connector.salesforce.insert(
            "Lead",
            {"LastName": f"Lead {n:05d}", "Company": "Acme", "Email": f"lead{n}@example.com", **fields},
        )
        for n in range(count)
    ]
    assert connector.run_outbound().counts["created"] == count
    connector.later()
    return ids


def prospects_of(connector: FakeConnector, lead_ids: list[str]) -> list[Prospect]:
    links = connector.links.by_crm_ids(lead_ids)
    wanted = [links[lead_id].link.prospect_id for lead_id in lead_ids]
    found = connector.prospects.get_many(wanted)
    return [found[prospect_id] for prospect_id in wanted]


def drift(connector: FakeConnector, prospects: list[Prospect], **fields: Any) -> None:
    """Values changed behind the connector's back (nothing notes them as waiting)."""
    now = connector.clock.now()
    changes = [
        ProspectChange(replace(p, fields={**p.fields, **fields}, modified_at=now), before=p)
        for p in prospects
    ]
    assert connector.marketing.save(changes) == []


@pytest.fixture
def running(connector: FakeConnector) -> FakeConnector:
    lead_rules = [
        *LEAD_MAPPINGS[:3],
        {"marketing_field": "lead_status", "salesforce_field": "Status", "behaviour": "salesforce"},
    ]
    connector.configure({"version": 2, "mappings": {"Lead": lead_rules}})
    return connector


def test_a_resync_heals_2500_drifted_prospects_a_page_per_invocation_cut_by_its_deadline(
    running: FakeConnector,
) -> None:
    # GIVEN 2,500 synced Leads whose prospects' Salesforce-owned status drifted behind the
    # connector's back: an outbound run sees nothing to do
    lead_ids = synced_leads(running, 2_500)
    drift(running, prospects_of(running, lead_ids), lead_status="Nurture")
    assert running.run_outbound().counts.get("updated", 0) == 0

    # WHEN an operator asks for a resync of the Leads, and invocations move it on, each with
    # time for one page (its lease, then one look at the deadline before each page)
    resyncs = Resyncs(running)
    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)
    progress = []
    for _ in range(10):
        job = resyncs.tick(Deadline(answers_with_time_left=2))
        progress.append((job.state, job.read))
        if job.state is ResyncState.DONE:
            break

    # THEN it read a page of 1,000 per invocation, resuming from its locator, and healed them all
    assert progress == [
        (ResyncState.RUNNING, 1_000),
        (ResyncState.RUNNING, 2_000),
        (ResyncState.DONE, 2_500),
    ]
    assert resyncs.bulk.requests == ["create", "state", "results", "state", "results", "state", "results"]
    assert (job.total, job.applied, dict(job.counts)) == (2_500, 2_500, {"updated": 2_500})
    assert {p.fields["lead_status"] for p in prospects_of(running, lead_ids)} == {"Open - Not Contacted"}

    # AND the outbound watermark is where the runs left it, and the next tick has nothing to do
    assert resyncs.tick() is None


def test_a_new_mapping_adopted_by_a_resync_fills_the_field_on_every_prospect(running: FakeConnector) -> None:
    lead_ids = synced_leads(running, 40, Phone="+44 20 7946 0000")
    document = dict(running.configuration().to_document())
    document["version"] = 3
    document["mappings"] = {
        **document["mappings"],
        "Lead": [
            *document["mappings"]["Lead"],
            {"marketing_field": "phone", "salesforce_field": "Phone", "behaviour": "salesforce"},
        ],
    }
    running.configure(document)
    resyncs = Resyncs(running)

    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)
    job = resyncs.tick()

    assert job.state is ResyncState.DONE
    assert {p.fields.get("phone") for p in prospects_of(running, lead_ids)} == {"+44 20 7946 0000"}


def test_a_second_resync_is_refused_while_one_is_active_and_accepted_once_it_is_done(
    running: FakeConnector,
) -> None:
    resyncs = Resyncs(running)
    first = resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)

    with pytest.raises(ResyncBusy) as refused:
        resyncs.use_case().request(CrmObject.LEAD, None, caller="someone else")
    assert refused.value.job == first
    assert resyncs.tick().state is ResyncState.DONE
    resyncs.use_case().request(CrmObject.LEAD, None, caller="someone else")


def test_a_resync_waits_while_paused_and_over_budget(running: FakeConnector) -> None:
    resyncs = Resyncs(running)
    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)

    running.pause()
    assert resyncs.tick().state is ResyncState.QUEUED
    running.resume()
    running.salesforce.set_daily_api_usage(60_000)
    running.crm.check_connection()  # a run's reading: past the budget of 50%
    assert resyncs.tick().state is ResyncState.QUEUED
    assert resyncs.bulk.requests == []
    running.salesforce.set_daily_api_usage(0)
    running.later(minutes=2)  # the reading past the budget grows old, and is read again
    assert resyncs.tick().state is ResyncState.DONE


def test_a_query_job_still_running_is_looked_at_again_next_tick_not_made_again(
    running: FakeConnector,
) -> None:
    class SlowJobs(FakeBulkQuery):
        """Salesforce takes two looks to finish the job (InProgress, then JobComplete)."""

        looks = 0

        def query_progress(self, job_id: str) -> tuple[bool, int | None]:
            self.looks += 1
            if self.looks < 2:
                self.requests.append("state")
                return False, None
            return super().query_progress(job_id)

    lead_ids = synced_leads(running, 3)
    drift(running, prospects_of(running, lead_ids), lead_status="Nurture")
    resyncs = Resyncs(running)
    resyncs.bulk = SlowJobs(running.crm, running.clock)
    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)

    first, second = resyncs.tick(), resyncs.tick()

    assert (first.state, first.read, first.total) == (ResyncState.RUNNING, 0, None)
    assert (second.state, second.read, second.total) == (ResyncState.DONE, 3, 3)
    assert resyncs.bulk.requests == ["create", "state", "state", "results"]


def test_a_query_salesforce_refuses_for_good_ends_the_resync_as_failed_with_its_reason(
    running: FakeConnector,
) -> None:
    class RefusedJobs(FakeBulkQuery):
        """The mapping names a field the org no longer has: Salesforce refuses the query job."""

        def start_query(self, sobject: str, fields: Sequence[str], since: datetime | None) -> str:
            raise CrmError(Failure.of("INVALID_FIELD", "No such column 'Old_Score__c' on entity 'Lead'"))

    resyncs = Resyncs(running)
    resyncs.bulk = RefusedJobs(running.crm, running.clock)
    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)

    ended = resyncs.tick()

    # THEN it is not tried again at every tick: it ends, saying why, and a new one may start
    assert ended.state is ResyncState.FAILED
    assert ended.error == "INVALID_FIELD: No such column 'Old_Score__c' on entity 'Lead'"
    assert resyncs.tick() is None  # nothing active: not read again
    assert resyncs.use_case().progress() == ended
    resyncs.bulk = FakeBulkQuery(running.crm, running.clock)
    resyncs.use_case().request(CrmObject.LEAD, None, caller=OPERATOR)
    assert resyncs.tick().state is ResyncState.DONE


@pytest.mark.person_accounts
def test_a_resync_of_person_accounts_reads_accounts_and_heals_their_prospects(
    connector: FakeConnector,
) -> None:
    # GIVEN a Person Account synced to a prospect, its name Salesforce's to decide, and the
    # prospect's name drifted behind the connector's back
    person_rules = [
        {"marketing_field": "email", "salesforce_field": "PersonEmail", "behaviour": "most_recent"},
        {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "salesforce"},
    ]
    connector.configure(
        {"version": 2, "objects": {"person_account": True}, "mappings": {"PersonAccount": person_rules}}
    )
    person = connector.salesforce.insert(
        "Account", {"FirstName": "Mary", "LastName": "Somerville", "PersonEmail": "mary@example.com"}
    )
    assert connector.run_outbound().counts["created"] == 1
    connector.later()
    drift(connector, prospects_of(connector, [person]), last_name="Fairfax")

    # WHEN the Person Accounts are resynced
    resyncs = Resyncs(connector)
    resyncs.use_case().request(CrmObject.PERSON_ACCOUNT, None, caller=OPERATOR)
    job = resyncs.tick()

    # THEN the Account query brought the prospect's name back
    assert (job.state, job.read, dict(job.counts)) == (ResyncState.DONE, 1, {"updated": 1})
    assert prospects_of(connector, [person])[0].fields["last_name"] == "Somerville"
