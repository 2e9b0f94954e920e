"""The outbound run (Salesforce → marketing) on fakes: what each run leaves in the stores, what it
asked of Salesforce, and how it stops and resumes. The handler's own paths (its event, its
report and metrics, IAM, a failure crossing it) are tests/functions/test_outbound_sync.py's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

import pytest
from crmsync.domain.audit import Direction
from crmsync.domain.errors import CrmError, ErrorCategory, Failure, StoreError
from crmsync.domain.prospect import ProspectChange
from crmsync.ports import RunOutcome

from tests.fakes.connector import FakeConnector
from tests.fakes.crm import CrmCall

LEASE = "outbound"


def insert_leads(connector: FakeConnector, count: int, per_second: int) -> list[str]:
    """`count` Leads, `per_second` of them sharing each `SystemModstamp` (a data load)."""
    ids = []
    for number in range(count):
        if number and number % per_second == 0:
            connector.clock.advance(seconds=1)
        ids.append(
            connector.salesforce.insert(
                "Lead",
                {"LastName": f"Lead {number:05d}", "Company": "Acme", "Email": f"lead{number}@example.com"},
            )
        )
    return ids


def assert_each_record_has_one_prospect(connector: FakeConnector, record_ids: Iterable[str]) -> None:
    wanted = list(record_ids)
    carried = Counter(p.crm_id for p in connector.prospects.all())
    assert carried == Counter(wanted), "every record has exactly one prospect, and no other exists"
    links = connector.links.by_crm_ids(wanted)
    assert set(links) == set(wanted)
    assert len({stored.link.prospect_id for stored in links.values()}) == len(wanted)


class Deadline:
    """Plenty of time for the first `answers_with_time_left` questions, then 10 s: under the
    15 s the run keeps in hand, as when a Lambda invocation nears its timeout."""

    def __init__(self, answers_with_time_left: int) -> None:
        self.left = answers_with_time_left

    def __call__(self) -> int:
        self.left -= 1
        return 60_000 if self.left >= 0 else 10_000


# ------------------------------------------------------------------ reading changes


def test_three_thousand_leads_sharing_a_few_stamps_each_arrive_exactly_once(connector: FakeConnector) -> None:
    # GIVEN 3,000 new Leads, 500 to each SystemModstamp (a data load)
    lead_ids = insert_leads(connector, count=3000, per_second=500)

    # WHEN the run happens
    summary = connector.run_outbound()

    # THEN each Lead has exactly one prospect, read in two pages of the default 2,000
    assert summary.outcome is RunOutcome.COMPLETED
    assert (summary.counts["read"], summary.counts["created"]) == (3000, 3000)
    assert_each_record_has_one_prospect(connector, lead_ids)
    assert [c.kind for c in connector.crm.calls if c.sobject == "Lead"] == ["query", "next_page"]


def test_the_configurations_read_page_size_sets_the_records_per_salesforce_page(
    connector: FakeConnector,
) -> None:
    # GIVEN 1,200 new Leads and pages of 500 configured
    connector.configure({"version": 2, "batching": {"read_page_size": 500}})
    lead_ids = insert_leads(connector, count=1200, per_second=300)

    # WHEN the run happens
    summary = connector.run_outbound()

    # THEN the Leads came in 3 pages (the query and 2 of its next pages), each Lead once
    lead_reads = [c.kind for c in connector.crm.calls if c.sobject == "Lead" and c.kind != "describe"]
    assert lead_reads == ["query", "next_page", "next_page"]
    assert summary.counts["created"] == 1200
    assert_each_record_has_one_prospect(connector, lead_ids)


def test_a_run_cut_short_by_its_deadline_is_finished_by_the_next_with_every_lead_once(
    connector: FakeConnector,
) -> None:
    # GIVEN 3,000 new Leads, 400 to each SystemModstamp: a chunk of 1,000 ends inside a second
    # and inside the first page
    lead_ids = insert_leads(connector, count=3000, per_second=400)

    # WHEN a run nears its Lambda deadline after its first chunk (the lease asked first)
    first = connector.run_outbound(Deadline(answers_with_time_left=2))

    # THEN it stops cleanly, keeping what it did
    assert first.outcome is RunOutcome.CUT_SHORT
    created_first = len(connector.prospects.all())
    assert created_first == first.counts["created"] == 1000

    # WHEN the next run happens
    second = connector.run_outbound()

    # THEN it finishes the job: every Lead once
    assert second.outcome is RunOutcome.COMPLETED
    assert second.counts["created"] == 3000 - created_first
    assert_each_record_has_one_prospect(connector, lead_ids)
    # AND the records on either side of the cut were audited by one run, once
    prospects = {p.crm_id: p for p in connector.prospects.all()}
    for lead_id in lead_ids[created_first - 100 : created_first + 100]:
        trail = connector.state.audit_trail(prospects[lead_id].id)
        assert len({entry.run_id for entry in trail}) == 1, f"{lead_id} was synced by both runs"
        assert len(trail) == len(set(trail)), f"{lead_id} has a repeated audit entry"


def test_an_idle_run_costs_one_salesforce_call_per_object_it_reads(connector: FakeConnector) -> None:
    # GIVEN a connector that has synced everything there is
    insert_leads(connector, count=1, per_second=1)
    connector.run_outbound()
    connector.crm.reset_counters()

    # WHEN a run finds nothing changed
    summary = connector.run_outbound()

    # THEN it spent one query each on Users, Leads and Contacts, and nothing else
    assert summary.outcome is RunOutcome.COMPLETED
    assert summary.counts.get("read", 0) == 0
    assert connector.crm.calls == [
        CrmCall("query", "User"),
        CrmCall("query", "Lead"),
        CrmCall("query", "Contact"),
    ]
    assert summary.api_calls == 3


def test_a_salesforce_outage_fails_the_run_without_moving_the_watermark_and_the_next_catches_up(
    connector: FakeConnector,
) -> None:
    # GIVEN Leads, and Salesforce failing every request once the Users are read
    lead_ids = insert_leads(connector, count=5, per_second=5)
    connector.salesforce.faults.server_errors(count=50, status=500, path_containing="queryAll")

    # WHEN the run happens, THEN it fails as a whole, leaving no lease and nothing half done
    with pytest.raises(CrmError):
        connector.run_outbound()
    assert connector.state.watermark("outbound#Lead") is None
    assert connector.prospects.all() == []
    assert connector.state.lease_holder(LEASE) is None

    # AND once Salesforce is back the next run syncs every Lead
    connector.salesforce.faults.recover()
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    assert_each_record_has_one_prospect(connector, lead_ids)


# ------------------------------------------------------------------ when a run goes ahead


def test_a_run_runs_only_once_the_configurations_schedule_has_passed_since_the_last(
    connector: FakeConnector,
) -> None:
    # GIVEN an hourly schedule, and a run that synced a Lead
    connector.configure({"version": 2, "outbound": {"schedule": "1 hour"}})
    insert_leads(connector, count=1, per_second=1)
    first = connector.outbound().run(lambda: 60_000, "first")
    assert first.outcome is RunOutcome.COMPLETED

    # WHEN the ticks of the next 59 minutes come, with a new Lead meanwhile
    connector.later(seconds=30)
    connector.salesforce.insert(
        "Lead", {"LastName": "Later", "Company": "Acme", "Email": "later@example.com"}
    )
    connector.crm.reset_counters()
    reached = connector.salesforce_reached
    not_due = []
    for minute in range(59):
        connector.clock.advance(minutes=1, seconds=-30 if minute == 0 else 0)
        not_due.append(connector.outbound().run(lambda: 60_000, f"tick-{minute}").outcome)

    # THEN none runs: Salesforce is not even reached, and the last run is still the one that did
    assert set(not_due) == {RunOutcome.NOT_DUE}
    assert connector.salesforce_reached == reached and connector.crm.api_calls == 0
    last = connector.state.last_run(Direction.OUTBOUND)
    assert last is not None and last.run_id == "first"

    # AND the tick an hour after that run's start runs, and syncs what changed meanwhile
    connector.clock.advance(minutes=1)
    assert connector.outbound().run(lambda: 60_000, "due").counts["created"] == 1


def test_a_configuration_loaded_changes_the_schedule_at_the_next_tick(connector: FakeConnector) -> None:
    def tick() -> RunOutcome:
        return connector.outbound().run(lambda: 60_000, connector.new_run_id()).outcome

    # GIVEN a daily schedule, whose run happened a minute ago
    connector.configure({"version": 2, "outbound": {"schedule": "daily"}})
    assert tick() is RunOutcome.COMPLETED
    connector.clock.advance(minutes=1)
    assert tick() is RunOutcome.NOT_DUE

    # WHEN a configuration that syncs every 5 minutes is loaded
    connector.configure({"version": 3, "outbound": {"schedule": "5 minutes"}})

    # THEN the ticks follow it at once: the one 5 minutes after the last run's start runs
    connector.clock.advance(minutes=3)
    assert tick() is RunOutcome.NOT_DUE
    connector.clock.advance(minutes=1)
    assert tick() is RunOutcome.COMPLETED
    connector.clock.advance(minutes=4)
    assert tick() is RunOutcome.NOT_DUE
    connector.clock.advance(minutes=1)
    assert tick() is RunOutcome.COMPLETED


def test_a_tick_a_few_seconds_early_still_runs(connector: FakeConnector) -> None:
    """The scheduler's ticks come a few seconds either side of the minute: a 2-minute schedule
    must not slip to every 3 minutes because a tick came early."""
    assert (
        connector.outbound().run(lambda: 60_000, "first").outcome is RunOutcome.COMPLETED
    )  # every 2 minutes
    connector.clock.advance(seconds=119)
    assert connector.outbound().run(lambda: 60_000, "early").outcome is RunOutcome.COMPLETED


def test_a_run_that_finds_another_holding_the_lease_is_busy_and_touches_nothing(
    connector: FakeConnector,
) -> None:
    # GIVEN a new Lead, while another outbound run holds the lease
    (lead_id,) = insert_leads(connector, count=1, per_second=1)
    now = connector.clock.now()
    assert connector.state.acquire_lease(LEASE, "another-run", now, now + timedelta(minutes=5))

    # WHEN a run comes, THEN it does nothing at all, not even reach Salesforce, and keeps no summary
    assert connector.run_outbound().outcome is RunOutcome.BUSY
    assert connector.prospects.all() == [] and connector.salesforce_reached == 0
    assert connector.state.last_run(Direction.OUTBOUND) is None

    # AND once the other run lets go, the next run syncs the Lead
    connector.state.release_lease(LEASE, "another-run")
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    assert_each_record_has_one_prospect(connector, [lead_id])


class _LeaseAnswerLost:
    """The leases, whose lease write lands but whose answer is lost on the way back."""

    def __init__(self, connector: FakeConnector) -> None:
        self._state = connector.state

    def release_lease(self, name: str, holder: str) -> None:
        self._state.release_lease(name, holder)

    def acquire_lease(self, name: str, holder: str, now: object, until: object) -> bool:
        self._state.acquire_lease(name, holder, now, until)  # type: ignore[arg-type]
        raise StoreError(
            Failure("RequestTimeout", "no answer from DynamoDB", category=ErrorCategory.TRANSIENT)
        )


def test_a_run_whose_lease_write_landed_without_an_answer_gives_the_lease_back(
    connector: FakeConnector,
) -> None:
    # GIVEN a run whose lease was written but whose store never heard so, and failed
    with pytest.raises(StoreError):
        connector.outbound(leases=_LeaseAnswerLost(connector)).run(lambda: 300_000, "answer-lost")

    # THEN the lease it may hold is given back: the next run goes ahead, not "busy"
    assert connector.state.lease_holder(LEASE) is None
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED


def test_a_lease_left_by_a_killed_invocation_blocks_only_until_that_invocations_deadline(
    connector: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an invocation with 300 s to its deadline that Lambda killed before it gave its lease back
    with monkeypatch.context() as killed:
        killed.setattr(connector.state, "release_lease", lambda name, holder: None)
        assert connector.run_outbound(lambda: 300_000).outcome is RunOutcome.COMPLETED
    assert connector.state.lease_holder(LEASE) is not None

    # WHEN the next invocation comes at that deadline, THEN the direction is still "busy"
    connector.clock.advance(seconds=300)
    assert connector.run_outbound().outcome is RunOutcome.BUSY

    # WHEN one comes just past the 5 s of clock skew allowed after it, THEN it runs
    connector.clock.advance(seconds=6)
    assert connector.run_outbound().outcome is RunOutcome.COMPLETED
    assert connector.state.lease_holder(LEASE) is None


# ------------------------------------------------------------------ nothing lost under a run


class _MarketingEditsDuringTheRun:
    """The prospect store, with the marketing platform editing one prospect between the run's
    read and its write (the run's write then finds a newer version and is refused)."""

    def __init__(self, connector: FakeConnector, prospect_id: str, job_title: str = "Countess") -> None:
        self._connector = connector
        self._prospect_id = prospect_id
        self._job_title = job_title
        self.edited = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._connector.prospects, name)

    def save(self, changes: list[ProspectChange]) -> list[ProspectChange]:
        if not self.edited and any(c.after.id == self._prospect_id for c in changes):
            marketing = self._connector.marketing
            current = marketing.get_many([self._prospect_id])[self._prospect_id]
            edited = replace(current, fields={**current.fields, "job_title": self._job_title})
            assert marketing.save([ProspectChange(edited, before=current)]) == []
            self.edited = True
        return self._connector.prospects.save(changes)


def test_a_prospect_edited_while_the_run_writes_it_is_retried_by_the_next_run_and_nothing_is_lost(
    connector: FakeConnector,
) -> None:
    # GIVEN a Lead synced to a prospect
    lead_id = connector.salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Acme", "Email": "ada@example.com"}
    )
    connector.run_outbound()
    prospect_id = connector.links.by_crm_ids([lead_id])[lead_id].link.prospect_id

    # WHEN Salesforce changes the Lead's phone, and the marketing side edits the same prospect's
    # job title while the run is writing it
    connector.later()
    connector.salesforce.update("Lead", lead_id, {"Phone": "+44 20 7946 0000"})
    racing = _MarketingEditsDuringTheRun(connector, prospect_id)
    summary = connector.run_outbound(prospects=racing)

    # THEN the run does not overwrite the newer prospect: the record waits for the next run
    assert racing.edited
    assert summary.counts.get("retried") == 1
    assert connector.state.records_to_retry(Direction.OUTBOUND) == {"Lead": [lead_id]}
    (prospect,) = connector.prospects.all()
    assert (prospect.fields["job_title"], prospect.fields.get("phone")) == ("Countess", None)

    # AND the next run reads the Lead again by its Id and applies it: both edits stand
    connector.crm.reset_counters()
    assert connector.run_outbound().counts["updated"] == 1
    (prospect,) = connector.prospects.all()
    assert (prospect.fields["phone"], prospect.fields["job_title"]) == ("+44 20 7946 0000", "Countess")
    assert connector.state.records_to_retry(Direction.OUTBOUND) == {}
    assert CrmCall("find", "Lead") in connector.crm.calls


def test_a_prospect_edited_again_while_its_retry_writes_it_stays_held_for_the_run_after(
    connector: FakeConnector,
) -> None:
    # GIVEN a Lead synced to a prospect, then changed in Salesforce
    lead_id = connector.salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Acme", "Email": "ada@example.com"}
    )
    connector.run_outbound()
    prospect_id = connector.links.by_crm_ids([lead_id])[lead_id].link.prospect_id
    connector.later()
    connector.salesforce.update("Lead", lead_id, {"Phone": "+44 20 7946 0000"})

    # WHEN the marketing side edits the prospect while a run writes it, and again while the
    # next run writes it from the retry list
    for job_title in ("Countess", "Duchess"):
        racing = _MarketingEditsDuringTheRun(connector, prospect_id, job_title)
        assert connector.run_outbound(prospects=racing).counts.get("retried") == 1
        assert racing.edited

    # THEN the Lead is still held, and the run after applies Salesforce's change
    assert connector.state.records_to_retry(Direction.OUTBOUND) == {"Lead": [lead_id]}
    assert connector.run_outbound().counts["updated"] == 1
    (prospect,) = connector.prospects.all()
    assert (prospect.fields["phone"], prospect.fields["job_title"]) == ("+44 20 7946 0000", "Duchess")
    assert connector.state.records_to_retry(Direction.OUTBOUND) == {}
