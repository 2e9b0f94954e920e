"""Inbound sync end to end: the real handler fed by the prospects table's real stream (moto) and
by its sample scheduled event, the Salesforce emulator reached through simple-salesforce.

Links come from real outbound runs: Leads inserted in the org become linked prospects, then the
marketing side edits those prospects as the platform would (through the store, not as the
connector)."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.failed_captures import SqsFailedCaptures
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.activities import Activity, ActivityType
from crmsync.domain.audit import Direction
from crmsync.domain.errors import CrmError, ErrorCategory, Failure, StoreError
from crmsync.domain.plan import Reason
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync.inbound import LEASE
from crmsync.sync.inbound import sync as inbound_module

from functions.automation_actions import app as actions_app
from functions.inbound_sync import app as inbound_app
from functions.outbound_sync import app as outbound_app
from local.runtime.queues import EventSourceMapping
from local.runtime.schedules import let_schedules_pass
from local.runtime.stream import ProspectStream
from local.salesforce_emulator import Emulator, ManualClock

from .conftest import REGION, LambdaContext, OutboundConnector, load_event

ADMIN_EMAIL = "admin@crmsync.emulator"  # every emulated org's administrator; owns what tests insert
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


@dataclass
class Inbound:
    """A resumed connector with the configuration above, its org, and the prospects stream."""

    salesforce: Emulator
    connector: OutboundConnector
    stream: ProspectStream
    marketing: DynamoProspectStore
    """The marketing platform's view of the built-in store: its saves are not the connector's."""

    def leads(self, count: int, **fields: Any) -> list[str]:
        """`count` Leads synced to linked prospects by an outbound run."""
        ids = [
            self.salesforce.insert(
                "Lead",
                {"LastName": f"Lead {n:05d}", "Company": "Acme", "Email": f"lead{n}@example.com", **fields},
            )
            for n in range(count)
        ]
        report = run_outbound()
        assert report["outcome"] == "completed"
        self.connector.clock.advance(minutes=1)
        # Outbound's own writes are not changes to send back.
        assert all(report["noted"] == 0 for report in self.capture())
        return ids

    def changed_by_marketing(self, lead_ids: list[str], **fields: Any) -> None:
        """The marketing side edits these prospects and the stream delivers the changes; the
        org's counters start from zero for what the next run spends."""
        self.edit(lead_ids, **fields)
        self.capture()
        self.salesforce.reset_counters()

    def capture(self) -> list[dict[str, Any]]:
        """Deliver what the stream holds to the handler, as the event source mapping would."""
        return [inbound_app.handler(event, new_context()) for event in self.stream.events()]

    def prospect_of(self, lead_id: str) -> Prospect:
        stored = bootstrap.link_store().by_crm_ids([lead_id])[lead_id]
        return self.marketing.get_many([stored.link.prospect_id])[stored.link.prospect_id]

    def edit(self, lead_ids: list[str], **fields: Any) -> None:
        """The marketing side changes these prospects' fields (one new version each)."""
        links = bootstrap.link_store().by_crm_ids(lead_ids)
        prospects = self.marketing.get_many([links[lead_id].link.prospect_id for lead_id in lead_ids])
        now = datetime.now(UTC)
        changes = [
            ProspectChange(replace(p, fields={**p.fields, **fields}, modified_at=now), before=p)
            for p in prospects.values()
        ]
        assert self.marketing.save(changes) == []


def new_context(remaining_millis: int = 120_000) -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()), remaining_millis=remaining_millis)


def run_outbound() -> dict[str, Any]:
    let_schedules_pass("outbound")
    report: dict[str, Any] = outbound_app.handler(load_event("outbound_sync", "scheduled"), new_context())
    return report


def run_inbound(context: LambdaContext | None = None) -> dict[str, Any]:
    """One scheduled invocation once the schedule is due."""
    let_schedules_pass("inbound")
    report: dict[str, Any] = inbound_app.handler(
        load_event("inbound_sync", "scheduled"), context or new_context()
    )
    return report


@pytest.fixture
def inbound(outbound_connector: OutboundConnector, monkeypatch: pytest.MonkeyPatch) -> Inbound:
    # InboundSyncFunction's own environment on top of the one both sync functions share.
    own = outbound_connector.stack.function_environment("InboundSyncFunction", secret_arn="unused")
    monkeypatch.setenv("CRMSYNC_FAILED_CAPTURES_QUEUE_URL", own["CRMSYNC_FAILED_CAPTURES_QUEUE_URL"])
    bootstrap.reset()
    bootstrap.load_configuration(CONFIGURATION)
    stream = ProspectStream.of(outbound_connector.stack)
    marketing = DynamoProspectStore(
        DynamoTable(
            boto3.client("dynamodb", region_name=REGION), bootstrap.settings().prospects_table, PROSPECTS_KEY
        )
    )
    return Inbound(outbound_connector.salesforce, outbound_connector, stream, marketing)


def wait_for_schedule() -> None:
    """Changes gather until the scheduled run, however many: no early start."""
    bootstrap.load_configuration({**CONFIGURATION, "version": 3, "inbound": {"max_waiting_changes": 100_000}})


def collection_updates(salesforce: Emulator) -> list[tuple[str, str]]:
    return [(m, p) for m, p in salesforce.call_log if m == "PATCH" and p.endswith("/composite/sobjects")]


def lead(salesforce: Emulator, lead_id: str) -> dict[str, Any]:
    record = salesforce.get(lead_id)
    assert record is not None
    return dict(record)


# ------------------------------------------------------------------ what is sent


@pytest.mark.over_https  # the one test of this function whose org is served: a socket and TLS
def test_a_score_change_reaches_the_lead_and_a_salesforce_owned_field_change_does_not(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN two Leads synced to prospects
    scored, restated = inbound.leads(2)
    salesforce.reset_counters()

    # WHEN marketing scores one prospect, and edits the other's Salesforce-owned status
    inbound.edit([scored], score=87, grade="A")
    inbound.edit([restated], lead_status="Closed - Converted")
    noted = inbound.capture()
    report = run_inbound()

    # THEN the score and grade reach the first Lead in one Collections call; the status stays
    assert [r["outcome"] for r in noted] == ["waiting"]
    assert report["outcome"] == "completed"
    assert (
        lead(salesforce, scored)["Marketing_Score__c"],
        lead(salesforce, scored)["Marketing_Grade__c"],
    ) == (
        87,
        "A",
    )
    assert lead(salesforce, restated)["Status"] == "Open - Not Contacted"
    assert inbound.prospect_of(restated).fields["lead_status"] == "Open - Not Contacted", "put back"
    assert len(collection_updates(salesforce)) == 1
    assert report["counts"] == {"updated": 1, "unchanged": 1}

    # AND the audit trail of the scored prospect says what was sent and why
    trail = bootstrap.audit_trail().audit_trail(inbound.prospect_of(scored).id)
    sent = {(e.field, e.new) for e in trail if e.direction is Direction.INBOUND and e.field}
    assert sent == {("Marketing_Score__c", 87), ("Marketing_Grade__c", "A")}

    # AND nothing waits any more: the next run costs nothing
    salesforce.reset_counters()
    assert run_inbound()["outcome"] == "idle"
    assert salesforce.api_calls == 0


def start_early_at(waiting: int) -> None:
    """A run starts from the stream once `waiting` changes wait (100 by default; fewer here, so
    that few records make the point: the threshold itself is tests/service's)."""
    bootstrap.load_configuration({**CONFIGURATION, "version": 3, "inbound": {"max_waiting_changes": waiting}})


def test_the_fifth_waiting_change_starts_a_run_before_the_schedule(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN runs start early at 5 waiting changes, and 5 synced Leads, 4 of whose prospects marketing scored
    start_early_at(5)
    lead_ids = inbound.leads(5)
    inbound.edit(lead_ids[:4], score=50)
    noted = inbound.capture()

    # THEN 4 waiting changes start nothing
    assert {r["outcome"] for r in noted} == {"waiting"}
    assert sum(r["noted"] for r in noted) == 4
    assert lead(salesforce, lead_ids[0]).get("Marketing_Score__c") is None

    # WHEN the 5th change arrives on the stream
    inbound.edit(lead_ids[4:], score=50)
    (started,) = inbound.capture()

    # THEN the stream invocation runs the batch at once, without waiting for the schedule
    assert started["outcome"] == "completed"
    assert started["counts"]["updated"] == 5
    assert {lead(salesforce, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {50}


def test_an_early_run_that_meets_a_salesforce_outage_leaves_the_changes_waiting_for_the_schedule(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN 5 scored prospects, and Salesforce down when the 5th change arrives
    start_early_at(5)
    lead_ids = inbound.leads(5)
    salesforce.faults.server_errors(count=100, status=503)
    inbound.edit(lead_ids, score=9)

    # WHEN the stream delivers the changes
    reports = inbound.capture()

    # THEN the stream batch is not failed (its changes are noted) and the early run is given up
    assert reports[-1]["outcome"] == "failed"
    assert sum(r["noted"] for r in reports) == 5

    # AND once Salesforce is back the scheduled run sends every change
    salesforce.faults.recover()
    assert run_inbound()["counts"] == {"updated": 5}
    assert {lead(salesforce, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {9}


def test_a_stream_batch_whose_changes_cannot_be_noted_fails_so_the_stream_delivers_it_again(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a synced Lead, and a state table that refuses writes for a while
    (lead_id,) = inbound.leads(1)
    pending = bootstrap.pending_changes()
    takes_writes = pending.add

    def throttled(changes: Any) -> None:
        raise StoreError(Failure("ThrottlingException", "rate exceeded", category=ErrorCategory.TRANSIENT))

    monkeypatch.setattr(pending, "add", throttled)
    inbound.edit([lead_id], score=8)
    (event,) = inbound.stream.events()

    # WHEN the stream delivers the change, THEN the invocation fails (nothing is lost: the
    # event source mapping delivers the batch again)
    with pytest.raises(StoreError):
        inbound_app.handler(event, new_context())

    # WHEN the same batch comes again once the table takes writes, the change is sent
    monkeypatch.setattr(pending, "add", takes_writes)
    inbound_app.handler(event, new_context())
    assert run_inbound()["counts"] == {"updated": 1}
    assert lead(inbound.salesforce, lead_id)["Marketing_Score__c"] == 8


# ------------------------------------------------------------------ changes change capture missed


def failed_captures_queue() -> str:
    return bootstrap.settings().failed_captures_queue_url


def fail_every_delivery(event: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The state table refuses change capture's writes through every delivery of `event` the
    stream mapping makes (MaximumRetryAttempts 10), then takes writes again."""
    pending = bootstrap.pending_changes()
    takes_writes = pending.add

    def throttled(changes: Any) -> None:
        raise StoreError(Failure("ThrottlingException", "rate exceeded", category=ErrorCategory.TRANSIENT))

    monkeypatch.setattr(pending, "add", throttled)
    for _ in range(11):
        with pytest.raises(StoreError):
            inbound_app.handler(event, new_context())
    monkeypatch.setattr(pending, "add", takes_writes)


def send_to_failed_captures(body: Any) -> None:
    """What the stream mapping sends its on-failure destination when it discards a batch."""
    text = body if isinstance(body, str) else json.dumps(body)
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=failed_captures_queue(), MessageBody=text)


def failed_captures_waiting() -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=failed_captures_queue(),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_the_changes_of_a_batch_change_capture_gave_up_on_are_read_back_from_the_stream_and_sent(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    # GIVEN 5 synced Leads, and reconciliation left out: the failed batch alone must do
    wait_for_schedule()
    lead_ids = inbound.leads(5)
    monkeypatch.setattr(inbound_module, "RECONCILIATION_ITEMS_PER_RUN", 0)

    # WHEN marketing scores the 5 prospects while the state table refuses change capture's
    # writes through every delivery of the batch, and Lambda discards it: its position goes to
    # the on-failure queue, beside a message that is no such record
    inbound.edit(lead_ids, score=50)
    (event,) = inbound.stream.events()
    fail_every_delivery(event, monkeypatch)
    send_to_failed_captures(inbound.stream.failure_record(event))
    send_to_failed_captures({"Records": "not an on-failure record"})
    salesforce.reset_counters()
    report = run_inbound()

    # THEN the scheduled run read the batch back from the stream and sent every score
    assert report["counts"] == {"updated": 5}
    assert {lead(salesforce, lead_id).get("Marketing_Score__c") for lead_id in lead_ids} == {50}
    assert report["missed_changes"] == {
        "failed_batches_drained": 1,
        "changes_recovered": 5,
        "failed_batches_malformed": 1,
    }

    # AND the message that was none is in the error list, and nothing is left on the queue
    (error,) = bootstrap.error_list().open_errors(Direction.INBOUND)
    assert (error.sobject, error.operation, error.failure.code) == (
        "StreamBatch",
        "capture",
        "MALFORMED_FAILED_BATCH",
    )
    assert "DDBStreamBatchInfo: missing" in error.failure.message
    assert failed_captures_waiting() == 0


def test_changes_whose_failed_batch_never_reached_the_queue_are_found_by_reconciliation(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    # GIVEN 5 synced Leads whose prospects marketing scores while change capture cannot note
    # them, and no on-failure message (lost, or past the queue's retention)
    wait_for_schedule()
    lead_ids = inbound.leads(5)
    inbound.edit(lead_ids, score=51)
    (event,) = inbound.stream.events()
    fail_every_delivery(event, monkeypatch)
    salesforce.reset_counters()

    # WHEN the scheduled run happens
    report = run_inbound()

    # THEN reconciliation found the 5 changes, and the run sent them all
    assert report["counts"] == {"updated": 5}
    assert {lead(salesforce, lead_id).get("Marketing_Score__c") for lead_id in lead_ids} == {51}
    assert report["missed_changes"]["reconciliation_found"] == 5

    # AND once sent they are in step: the next run finds and sends nothing
    salesforce.reset_counters()
    again = run_inbound()
    assert again["outcome"] == "idle"
    assert "reconciliation_found" not in again["missed_changes"]
    assert salesforce.api_calls == 0


def test_a_failed_batch_gone_from_the_stream_is_counted_and_deleted_and_its_changes_still_go(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    # GIVEN two scored prospects whose batch change capture gave up on
    wait_for_schedule()
    lead_ids = inbound.leads(2)
    inbound.edit(lead_ids, score=12)
    (event,) = inbound.stream.events()
    fail_every_delivery(event, monkeypatch)
    send_to_failed_captures(inbound.stream.failure_record(event))

    # WHEN the message is read after the stream trimmed its records (24 hours)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    trimmed = Stubber(streams)
    trimmed.add_client_error("get_shard_iterator", "TrimmedDataAccessException", "beyond the trim horizon")
    trimmed.activate()
    sqs = boto3.client("sqs", region_name=REGION)
    table = bootstrap.settings().prospects_table
    monkeypatch.setattr(
        bootstrap,
        "failed_captures",
        cache(lambda: SqsFailedCaptures(sqs, failed_captures_queue(), streams, table)),
    )
    report = run_inbound()

    # THEN the batch is counted as gone and deleted, and reconciliation found both changes
    assert report["counts"] == {"updated": 2}
    assert {lead(salesforce, lead_id).get("Marketing_Score__c") for lead_id in lead_ids} == {12}
    assert report["missed_changes"]["failed_batches_expired"] == 1
    assert report["missed_changes"]["reconciliation_found"] == 2
    assert failed_captures_waiting() == 0


def test_the_catch_up_on_missed_changes_keeps_the_inbound_schedule(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    clock = ManualClock(datetime.now(UTC))
    monkeypatch.setattr(bootstrap, "clock", lambda: clock)
    # GIVEN inbound every 10 minutes (no early start), 5 synced Leads, and a scheduled run now
    bootstrap.load_configuration(
        {**CONFIGURATION, "version": 3, "inbound": {"every_minutes": 10, "max_waiting_changes": 100_000}}
    )
    lead_ids = inbound.leads(5)
    assert run_inbound()["outcome"] == "idle"

    # WHEN change capture gives up on the batch of their scores, and the ticks of the next 9
    # minutes come
    inbound.edit(lead_ids, score=7)
    (event,) = inbound.stream.events()
    fail_every_delivery(event, monkeypatch)
    send_to_failed_captures(inbound.stream.failure_record(event))
    salesforce.reset_counters()
    ticks = []
    for _ in range(9):
        clock.advance(minutes=1)
        ticks.append(tick())

    # THEN none catches up (it is the inbound run's work): the batch stays on its queue
    assert ticks == [{"trigger": "schedule", "outcome": "not_due"}] * 9
    assert failed_captures_waiting() == 1
    assert salesforce.api_calls == 0

    # AND the tick 10 minutes after the last scheduled run's start reads it back and sends it
    clock.advance(minutes=1)
    report = tick()
    assert report["counts"] == {"updated": 5}
    assert (
        report["missed_changes"]["failed_batches_drained"],
        report["missed_changes"]["changes_recovered"],
    ) == (
        1,
        5,
    )
    assert {lead(salesforce, lead_id).get("Marketing_Score__c") for lead_id in lead_ids} == {7}
    assert failed_captures_waiting() == 0


def test_reconciliation_reads_a_bounded_share_a_run_and_finds_the_marketing_sides_changes_only(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    edited, rewritten, legacy = inbound.leads(3)
    # GIVEN a prospect marketing scored and the run sent, whose Lead a salesperson then edited:
    # outbound wrote that to the prospect (the connector's write alone since the last sync)
    inbound.changed_by_marketing([rewritten], score=20)
    assert run_inbound()["counts"] == {"updated": 1}
    inbound.connector.clock.advance(minutes=1)
    salesforce.update("Lead", rewritten, {"Title": "VP Sales"})
    assert run_outbound()["counts"]["updated"] == 1
    assert all(r["noted"] == 0 for r in inbound.capture())
    # AND a prospect and link saved before crmsync kept the versions they synced
    legacy_id = inbound.prospect_of(legacy).id
    client = boto3.client("dynamodb", region_name=REGION)
    settings = bootstrap.settings()
    client.update_item(
        TableName=settings.links_table,
        Key={"pk": {"S": f"prospect#{legacy_id}"}},
        UpdateExpression="REMOVE synced_version",
    )
    client.update_item(
        TableName=settings.prospects_table,
        Key={"prospect_id": {"S": legacy_id}},
        UpdateExpression="REMOVE marketing_version",
    )
    # AND a prospect marketing scored whose change the stream never delivered
    inbound.edit([edited], score=91)
    salesforce.reset_counters()
    items = client.scan(TableName=settings.prospects_table, Select="COUNT")["Count"]  # index items too

    # WHEN scheduled runs reading 4 items each go once round the table
    monkeypatch.setattr(inbound_module, "RECONCILIATION_ITEMS_PER_RUN", 4)
    reports = [run_inbound() for _ in range(-(-items // 4))]

    # THEN only the marketing side's change was found, and sent in one Collections call
    assert lead(salesforce, edited).get("Marketing_Score__c") == 91
    assert sum(r["counts"].get("updated", 0) for r in reports) == 1
    assert len(collection_updates(salesforce)) == 1
    assert sum(r["missed_changes"].get("reconciliation_found", 0) for r in reports) == 1
    # AND each run read at most 4 items, and together each item once
    reads = [r["missed_changes"]["reconciliation_read"] for r in reports]
    assert max(reads) <= 4
    assert sum(reads) == items

    # AND the next run starts round the table again
    assert run_inbound()["missed_changes"]["reconciliation_read"] == 4


def test_stream_records_of_unexpected_shape_are_listed_and_the_rest_of_their_batch_is_noted(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN four synced Leads whose prospects marketing scores
    wait_for_schedule()
    lead_ids = inbound.leads(4)
    inbound.edit(lead_ids, score=33)
    (event,) = inbound.stream.events()
    mangled = inbound.prospect_of(lead_ids[3]).id
    records = {r["dynamodb"]["Keys"]["prospect_id"]["S"]: r for r in event["Records"]}
    original = records.pop(mangled)

    def mangled_record(**stream: Any) -> dict[str, Any]:
        record = copy.deepcopy(original)
        record["dynamodb"].update(stream)
        return {**record, "dynamodb": {k: v for k, v in record["dynamodb"].items() if v is not None}}

    # WHEN the stream delivers the other three with four records of unexpected shape
    wrong_version = mangled_record(NewImage={**original["dynamodb"]["NewImage"], "version": {"S": "4"}})
    no_image = mangled_record(NewImage=None)
    wrong_key = mangled_record(Keys={"prospect_id": {"N": "17"}})
    batch = {"Records": [*records.values(), wrong_version, no_image, wrong_key, "not a record"]}
    report = inbound_app.handler(batch, new_context())

    # THEN the batch is not failed: the three are noted, the four refused and listed
    assert (report["outcome"], report["noted"], report["refused"]) == ("waiting", 3, 4)
    listed = {e.record_id: e for e in bootstrap.error_list().open_errors(Direction.INBOUND)}
    sequence = original["dynamodb"]["SequenceNumber"]
    assert sorted(listed) == sorted(
        [mangled, f"stream record (sequence number {sequence})", "stream record (record 7 of its batch)"]
    )
    assert {(e.sobject, e.operation, e.failure.code) for e in listed.values()} == {
        ("Prospect", "capture", "MALFORMED_STREAM_RECORD")
    }
    assert (listed[mangled].prospect_id, listed[mangled].attempts) == (mangled, 2)
    assert "dynamodb.NewImage: missing" in listed[mangled].failure.message
    assert (
        "dynamodb.Keys.prospect_id" in listed[f"stream record (sequence number {sequence})"].failure.message
    )

    # WHEN the scheduled run happens
    sent = run_inbound()

    # THEN the three noted go, and reconciliation finds the fourth: every Lead has its score,
    # and the entry of the prospect that synced is resolved
    assert sent["counts"] == {"updated": 4}
    assert sent["missed_changes"]["reconciliation_found"] == 1
    assert {lead(salesforce, lead_id)["Marketing_Score__c"] for lead_id in lead_ids} == {33}
    left = {e.record_id for e in bootstrap.error_list().open_errors(Direction.INBOUND)}
    assert mangled not in left
    assert len(left) == 2


def test_an_outbound_write_does_not_come_back_as_an_inbound_write(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead
    (lead_id,) = inbound.leads(1)

    # WHEN a salesperson edits it and outbound writes the change to the prospect
    salesforce.update("Lead", lead_id, {"Title": "VP Sales"})
    assert run_outbound()["counts"]["updated"] == 1
    salesforce.reset_counters()
    noted = inbound.capture()
    report = run_inbound()

    # THEN change capture noted nothing, and the inbound run sent nothing
    assert all(r["noted"] == 0 for r in noted)
    assert report["outcome"] == "idle"
    assert salesforce.api_calls == 0
    assert inbound.prospect_of(lead_id).fields["job_title"] == "VP Sales"


def test_a_pending_change_salesforce_overtook_is_dropped_and_audited(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead whose title marketing changes
    (lead_id,) = inbound.leads(1, Title="Engineer")
    inbound.edit([lead_id], job_title="Marketing Engineer")
    inbound.capture()

    # WHEN a salesperson changes the same field before the inbound run (outbound has not run)
    inbound.connector.clock.advance(minutes=1)
    salesforce.update("Lead", lead_id, {"Title": "Principal Engineer"})
    report = run_inbound()

    # THEN Salesforce's value stands (conflict_winner: salesforce) and the drop is audited
    assert lead(salesforce, lead_id)["Title"] == "Principal Engineer"
    assert report["counts"] == {"unchanged": 1}
    prospect = inbound.prospect_of(lead_id)
    (dropped,) = [
        e for e in bootstrap.audit_trail().audit_trail(prospect.id) if e.direction is Direction.INBOUND
    ]
    assert dropped.event.startswith("pending change dropped")
    assert (dropped.field, dropped.old, dropped.new) == (
        "job_title",
        "Marketing Engineer",
        "Principal Engineer",
    )

    # AND the prospect has Salesforce's value back at once, which the next outbound run keeps
    assert inbound.prospect_of(lead_id).fields["job_title"] == "Principal Engineer"
    run_outbound()
    assert inbound.prospect_of(lead_id).fields["job_title"] == "Principal Engineer"


# ------------------------------------------------------------------ blanks (the *_unless_blank behaviours)


def title_behaves(behaviour: str) -> None:
    """The Lead's Title ↔ job_title pair follows `behaviour` from now on."""
    mappings = [
        {**m, "behaviour": behaviour} if m["salesforce_field"] == "Title" else m
        for m in CONFIGURATION["mappings"]["Lead"]
    ]
    bootstrap.load_configuration({**CONFIGURATION, "version": 5, "mappings": {"Lead": mappings}})


def field_audit(prospect_id: str, direction: Direction) -> list[tuple[str | None, Any, Any, str | None]]:
    return [
        (e.field, e.old, e.new, e.rule)
        for e in bootstrap.audit_trail().audit_trail(prospect_id)
        if e.direction is direction and e.field
    ]


def test_a_field_salesforce_blanks_is_filled_back_from_the_prospect_without_any_prospect_edit(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN Title is prefer_salesforce_unless_blank, and a Lead of a CTO synced to its prospect
    title_behaves("prefer_salesforce_unless_blank")
    (lead_id,) = inbound.leads(1, Title="CTO")

    # WHEN a salesperson blanks the Title and the outbound run reads the Lead
    salesforce.update("Lead", lead_id, {"Title": None})
    outbound = run_outbound()

    # THEN the prospect keeps its value, and is noted for the next inbound run
    assert inbound.prospect_of(lead_id).fields["job_title"] == "CTO"
    assert outbound["counts"]["inbound_needed"] == 1
    assert all(r["noted"] == 0 for r in inbound.capture()), "nothing on the marketing side changed"

    # WHEN the next inbound run comes, THEN the blank Salesforce field is filled from the prospect
    report = run_inbound()
    assert report["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Title"] == "CTO"
    assert field_audit(inbound.prospect_of(lead_id).id, Direction.INBOUND) == [
        ("Title", None, "CTO", Reason.SALESFORCE_BLANK_FILLED.value)
    ]

    # AND once outbound reads the filled Lead, both sides agree: nothing more is sent
    inbound.connector.clock.advance(minutes=1)
    assert run_outbound()["counts"].get("inbound_needed", 0) == 0
    assert run_inbound()["outcome"] == "idle"


def test_a_field_salesforce_blanks_or_changes_gets_the_prospects_value_back_while_it_has_one(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN Title is prefer_marketing_unless_blank, and two Leads of CTOs synced to prospects
    title_behaves("prefer_marketing_unless_blank")
    blanked, changed = inbound.leads(2, Title="CTO")

    # WHEN a salesperson blanks one Lead's title and retitles the other, and outbound reads them
    salesforce.update("Lead", blanked, {"Title": None})
    salesforce.update("Lead", changed, {"Title": "CEO"})
    run_outbound()

    # THEN the prospects keep their value, and the next inbound run fills the blank at once
    assert inbound.prospect_of(blanked).fields["job_title"] == "CTO"
    assert inbound.prospect_of(changed).fields["job_title"] == "CTO"
    assert run_inbound()["counts"] == {"updated": 1}
    assert lead(salesforce, blanked)["Title"] == "CTO"
    # AND the retitled Lead gets the prospect's value with the prospect's next change (not at
    # once: a value Salesforce keeps in another form would be written back at every run)
    assert lead(salesforce, changed)["Title"] == "CEO"
    inbound.changed_by_marketing([changed], score=40)
    assert run_inbound()["counts"] == {"updated": 1}
    assert (lead(salesforce, changed)["Title"], lead(salesforce, changed)["Marketing_Score__c"]) == (
        "CTO",
        40,
    )


def test_a_field_the_marketing_side_blanks_is_filled_back_from_salesforce_which_keeps_its_value(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN Title is prefer_marketing_unless_blank, and a Lead of a CTO synced to its prospect
    title_behaves("prefer_marketing_unless_blank")
    (lead_id,) = inbound.leads(1, Title="CTO")

    # WHEN the marketing side blanks the prospect's job title, and the inbound run comes
    inbound.changed_by_marketing([lead_id], job_title="")
    report = run_inbound()

    # THEN Salesforce's value stands (no write at all) and fills the blank prospect field at once,
    # without waiting for the Lead to change
    assert report["counts"] == {"unchanged": 1}
    assert collection_updates(salesforce) == []
    assert lead(salesforce, lead_id)["Title"] == "CTO"
    prospect = inbound.prospect_of(lead_id)
    assert prospect.fields["job_title"] == "CTO"
    assert field_audit(prospect.id, Direction.INBOUND) == [
        ("job_title", "", "CTO", Reason.MARKETING_BLANK_FILLED.value)
    ]

    # AND the refill is the connector's own write: it is not sent back, and outbound keeps it
    assert all(r["noted"] == 0 for r in inbound.capture())
    inbound.connector.clock.advance(minutes=1)
    run_outbound()
    assert inbound.prospect_of(lead_id).fields["job_title"] == "CTO"
    assert run_inbound()["outcome"] == "idle"


# ------------------------------------------------------------------ failures


def test_a_locked_record_succeeds_on_retry(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead another process holds locked for one write
    (lead_id,) = inbound.leads(1)
    salesforce.faults.lock_records([lead_id], times=1)
    inbound.edit([lead_id], score=99)
    inbound.capture()

    # WHEN the run sends the score
    report = run_inbound()

    # THEN the retry got it through, and nothing is in the error list
    assert report["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 99
    assert bootstrap.error_list().open_errors(Direction.INBOUND) == []


def test_a_failed_write_is_sent_again_when_the_record_changes_in_salesforce(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead deleted in Salesforce before marketing scored its prospect
    (lead_id,) = inbound.leads(1)
    salesforce.delete(lead_id)
    inbound.edit([lead_id], score=61)
    inbound.capture()
    run_inbound()
    (error,) = bootstrap.error_list().open_errors(Direction.INBOUND)
    assert error.failure.code == "ENTITY_IS_DELETED"
    assert run_inbound()["outcome"] == "idle", "a permanent failure is not sent again by itself"

    # WHEN the Lead is restored from the recycle bin and outbound reads it
    inbound.connector.clock.advance(minutes=1)
    salesforce.undelete(lead_id)
    outbound = run_outbound()
    report = run_inbound()

    # THEN the prospect's pending score is sent again, and the error is resolved
    assert outbound["counts"]["inbound_retried"] == 1
    assert report["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 61
    assert bootstrap.error_list().open_errors(Direction.INBOUND) == []


def test_a_salesforce_outage_fails_the_run_and_the_changes_wait_for_the_next(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a scored prospect, and Salesforce down
    (lead_id,) = inbound.leads(1)
    inbound.edit([lead_id], score=5)
    inbound.capture()
    salesforce.faults.server_errors(count=100, status=503)

    # WHEN the scheduled run happens, it fails as a retryable error
    with pytest.raises(CrmError) as failed:
        run_inbound()
    assert failed.value.retryable
    assert lead(salesforce, lead_id).get("Marketing_Score__c") is None

    # WHEN Salesforce is back, the next run sends it
    salesforce.faults.recover()
    assert run_inbound()["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 5


# ------------------------------------------------------------------ control


def test_a_scheduled_tick_runs_once_every_minutes_have_passed_and_the_early_run_never_waits(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    (lead_id, other_id) = inbound.leads(2)
    clock = ManualClock(datetime.now(UTC))
    monkeypatch.setattr(bootstrap, "SystemClock", lambda: clock)
    # GIVEN inbound every 10 minutes (early from 2 waiting changes), and a scheduled run now
    bootstrap.load_configuration(
        {**CONFIGURATION, "version": 3, "inbound": {"every_minutes": 10, "max_waiting_changes": 2}}
    )
    assert tick()["outcome"] == "idle"

    # WHEN marketing scores a prospect, and the ticks of the next 9 minutes come
    inbound.changed_by_marketing([lead_id], score=10)
    ticks = []
    for _ in range(9):
        clock.advance(minutes=1)
        ticks.append(tick())

    # THEN none runs (not even the parked actions or the activities): the change waits
    assert ticks == [{"trigger": "schedule", "outcome": "not_due"}] * 9
    assert salesforce.api_calls == 0
    assert lead(salesforce, lead_id).get("Marketing_Score__c") is None

    # AND the tick 10 minutes after the last scheduled run's start sends it
    clock.advance(minutes=1)
    assert tick()["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 10

    # WHEN, a minute later, enough changes wait for an early run, THEN the stream starts it at
    # once: the schedule holds back only the ticks
    clock.advance(minutes=1)
    inbound.edit([lead_id, other_id], score=20)
    (early,) = inbound.capture()
    assert (early["outcome"], early["counts"]) == ("completed", {"updated": 2})


def tick() -> dict[str, Any]:
    """One tick of the scheduler (every minute), whether or not the schedule is due."""
    report: dict[str, Any] = inbound_app.handler(load_event("inbound_sync", "scheduled"), new_context())
    return report


def test_a_paused_connector_sends_nothing_and_catches_up_on_resume(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead, and a paused connector
    (lead_id,) = inbound.leads(1)
    bootstrap.pause()
    inbound.edit([lead_id], score=77)
    inbound.capture()
    salesforce.reset_counters()

    # WHEN the scheduled run happens
    paused = run_inbound()

    # THEN nothing is sent
    assert paused["outcome"] == "paused"
    assert salesforce.api_calls == 0

    # WHEN the connector is resumed, the next run sends what waited
    bootstrap.resume()
    assert run_inbound()["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 77


def test_past_its_api_budget_the_run_sends_nothing_and_says_so(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a scored prospect, and other integrations that spent 60% of today's API limit
    (lead_id,) = inbound.leads(1)
    inbound.edit([lead_id], score=3)
    inbound.capture()
    salesforce.spend_daily_api(60_000)

    # WHEN the scheduled run happens
    report = run_inbound()

    # THEN it stops at its 50% share: nothing is written, the change still waits
    assert report["outcome"] == "over_budget"
    assert lead(salesforce, lead_id).get("Marketing_Score__c") is None
    assert bootstrap.pending_changes().count(at_most=10) == 1


def test_a_warm_container_past_its_budget_asks_salesforce_again_once_a_minute_and_sends_once_usage_fell(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = inbound.salesforce
    clock = ManualClock(datetime.now(UTC))
    monkeypatch.setattr(bootstrap, "clock", lambda: clock)
    # GIVEN a scored prospect, and a warm container whose run saw 60% of today's API calls
    # spent (budget: 50%)
    (lead_id,) = inbound.leads(1)
    inbound.changed_by_marketing([lead_id], score=3)
    salesforce.spend_daily_api(60_000)
    assert run_inbound()["outcome"] == "over_budget"

    # WHEN the next run comes over a minute later with usage still past the budget
    salesforce.reset_counters()
    clock.advance(seconds=61)
    still = run_inbound()

    # THEN one limits call says so, and nothing is sent
    assert still["outcome"] == "over_budget"
    assert salesforce.call_log == [("GET", "/services/data/v62.0/limits/")]

    # WHEN the org's usage falls (its rolling 24 hours moved on) and the next run comes a minute later
    salesforce.set_daily_api_usage(10_000)
    salesforce.reset_counters()
    clock.advance(seconds=61)
    report = run_inbound()

    # THEN one limits call reads the lower usage, and the change is sent
    assert report["outcome"] == "completed"
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 3
    assert [path for _, path in salesforce.call_log].count("/services/data/v62.0/limits/") == 1
    assert salesforce.call_log[0] == ("GET", "/services/data/v62.0/limits/")


def test_a_run_that_finds_another_holding_the_lease_returns_busy_and_sends_nothing(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    (lead_id,) = inbound.leads(1)
    inbound.edit([lead_id], score=1)
    inbound.capture()
    now = datetime.now(UTC)
    assert bootstrap.leases().acquire_lease(LEASE, "another-run", now, now.replace(year=now.year + 1))

    report = run_inbound()

    assert report["outcome"] == "busy"
    assert lead(salesforce, lead_id).get("Marketing_Score__c") is None


def test_the_scheduled_run_sends_the_fields_then_the_waiting_activities_as_tasks(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a synced Lead whose prospect was scored and opened a marketing email
    (lead_id,) = inbound.leads(1)
    prospect_id = inbound.prospect_of(lead_id).id
    inbound.edit([lead_id], score=12)
    inbound.capture()
    opened = Activity(
        "act-1", prospect_id, ActivityType.EMAIL_OPEN, datetime.now(UTC), name="Launch", email_id="em-1"
    )
    assert bootstrap.activity_store().record([opened]) == []

    # WHEN the scheduled inbound invocation runs
    report = run_inbound()

    # THEN the score reached the Lead, and the open became a completed Task on it
    assert report["counts"] == {"updated": 1}
    assert report["activities"]["outcome"] == "completed"
    assert report["activities"]["counts"]["sent"] == 1
    (task,) = salesforce.records("Task")
    assert (task["WhoId"], task["Status"]) == (lead_id, "Completed")
    assert lead(salesforce, lead_id)["Marketing_Score__c"] == 12


# ------------------------------------------------------------------ owner


def test_with_two_way_owner_sync_a_marketing_reassignment_moves_the_lead_to_that_user(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN two-way owner sync, a sales rep in Salesforce, and a Lead synced to its prospect
    rep_id = salesforce.add_user("rep@crmsync.example", email="Rep@Example.com", last_name="Rep")
    bootstrap.load_configuration({**CONFIGURATION, "version": 5, "owner": {"direction": "two_way"}})
    (lead_id,) = inbound.leads(1)
    assert inbound.prospect_of(lead_id).assigned_user == ADMIN_EMAIL

    # WHEN marketing assigns the prospect to the rep
    reassign(inbound, lead_id, "rep@example.com")
    inbound.capture()
    report = run_inbound()

    # THEN the Lead is owned by the rep, and the next outbound run keeps the assignment
    assert report["counts"] == {"updated": 1}
    assert lead(salesforce, lead_id)["OwnerId"] == rep_id
    inbound.connector.clock.advance(minutes=1)
    run_outbound()
    assert inbound.prospect_of(lead_id).assigned_user == "rep@example.com"
    assert all(r["noted"] == 0 for r in inbound.capture())

    # WHEN marketing assigns it to someone with no Salesforce user
    reassign(inbound, lead_id, "nobody@example.com")
    inbound.capture()
    unmapped = run_inbound()

    # THEN the owner is left alone, and the audit trail says why
    assert unmapped["counts"] == {"unchanged": 1}
    assert lead(salesforce, lead_id)["OwnerId"] == rep_id
    trail = bootstrap.audit_trail().audit_trail(inbound.prospect_of(lead_id).id)
    assert trail[-1].event == "owner not sent: no active Salesforce user maps to nobody@example.com"


def test_with_salesforce_as_the_owners_master_a_marketing_reassignment_is_not_sent(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    salesforce.add_user("rep@crmsync.example", email="rep@example.com", last_name="Rep")
    (lead_id,) = inbound.leads(1)
    owner = lead(salesforce, lead_id)["OwnerId"]
    salesforce.reset_counters()

    reassign(inbound, lead_id, "rep@example.com")
    inbound.capture()
    report = run_inbound()

    assert report["counts"] == {"unchanged": 1}
    assert lead(salesforce, lead_id)["OwnerId"] == owner
    assert collection_updates(salesforce) == []


def reassign(inbound: Inbound, lead_id: str, marketing_user: str) -> None:
    prospect = inbound.prospect_of(lead_id)
    changed = replace(prospect, assigned_user=marketing_user, modified_at=datetime.now(UTC))
    assert inbound.marketing.save([ProspectChange(changed, before=prospect)]) == []


# ------------------------------------------------------------------ unlinked prospects


def deliver_queued_actions() -> list[dict[str, Any]]:
    """What the actions queue holds, consumed by the automation_actions handler as SQS would."""
    template = load_event("automation_actions", "direct_message")["Records"][0]
    mapping = EventSourceMapping(bootstrap.settings().actions_queue_url, template, batch_size=10)
    delivered = mapping.deliver(lambda event: actions_app.handler(event, new_context()))
    assert [batch.asked_back for batch in delivered] == [set()] * len(delivered)
    return [json.loads(message["Body"]) for batch in delivered for message in batch.messages]


@pytest.mark.parametrize(
    ("create_unlinked", "assigned_user", "reaches_salesforce"),
    [
        ("never", "owner@example.com", False),
        ("assigned_only", None, False),
        ("assigned_only", "owner@example.com", True),
        ("always", None, True),
    ],
)
def test_an_unlinked_prospect_reaches_salesforce_as_create_unlinked_says(
    inbound: Inbound, create_unlinked: str, assigned_user: str | None, reaches_salesforce: bool
) -> None:
    salesforce = inbound.salesforce
    # GIVEN the create_unlinked setting, and a prospect imported by the marketing side
    bootstrap.load_configuration(
        {**CONFIGURATION, "version": 4, "inbound": {"create_unlinked": create_unlinked}}
    )
    imported = Prospect(
        id="p-import-1",
        fields={
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Engines",
        },
        assigned_user=assigned_user,
        modified_at=datetime.now(UTC),
    )
    assert inbound.marketing.save([ProspectChange(imported)]) == []
    inbound.capture()

    # WHEN the inbound run happens, and the actions it queued are consumed
    report = run_inbound()
    queued = deliver_queued_actions()

    # THEN the prospect becomes a Lead linked to it exactly when the setting says so
    leads = [r for r in salesforce.records("Lead") if r.get("Email") == "ada@example.com"]
    if not reaches_salesforce:
        assert report["counts"] == {"unlinked": 1}
        assert queued == []
        assert leads == []
        return
    assert report["counts"] == {"queued_for_creation": 1}
    assert [(q["action"], q["prospect_id"]) for q in queued] == [("create_lead", "p-import-1")]
    (created,) = leads
    assert (created["LastName"], created["Company"]) == ("Lovelace", "Engines")
    link = bootstrap.link_store().by_prospect_ids(["p-import-1"])["p-import-1"]
    assert link.link.crm.id == created["Id"]

    # AND a later change of the now linked prospect is an update, not a second Lead
    inbound.edit([created["Id"]], score=30)
    inbound.capture()
    assert run_inbound()["counts"] == {"updated": 1}
    assert deliver_queued_actions() == []
    assert len([r for r in salesforce.records("Lead") if r.get("Email") == "ada@example.com"]) == 1


def test_in_email_mode_an_unlinked_prospect_links_to_the_contact_with_its_email(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a Contact in Salesforce the marketing side does not know yet (outbound not run)
    account_id = salesforce.insert("Account", {"Name": "Engines"})
    contact_id = salesforce.insert(
        "Contact", {"LastName": "Lovelace", "Email": "Ada@Example.com", "AccountId": account_id}
    )
    bootstrap.load_configuration({**CONFIGURATION, "version": 4, "inbound": {"create_unlinked": "always"}})
    imported = Prospect(id="p-import-2", fields={"email": "ada@example.com"}, modified_at=datetime.now(UTC))
    assert inbound.marketing.save([ProspectChange(imported)]) == []
    inbound.capture()

    # WHEN the inbound run queues it and the action is carried out
    run_inbound()
    deliver_queued_actions()

    # THEN it is linked to that Contact, and no Lead was created
    link = bootstrap.link_store().by_prospect_ids(["p-import-2"])["p-import-2"]
    assert link.link.crm.id == contact_id
    assert [r for r in salesforce.records("Lead") if r.get("Email")] == []


def test_a_lead_created_at_the_marketing_sides_request_syncs_both_ways_whatever_the_scope(
    inbound: Inbound,
) -> None:
    salesforce = inbound.salesforce
    # GIVEN an outbound scope of Web Leads only, and an imported prospect sent as a Lead
    bootstrap.load_configuration(
        {
            **CONFIGURATION,
            "version": 4,
            "inbound": {"create_unlinked": "always"},
            "outbound": {
                "scope": {
                    "Lead": {"criteria": [{"field": "LeadSource", "operator": "equals", "value": "Web"}]}
                }
            },
        }
    )
    imported = Prospect(
        id="p-import-4",
        fields={"email": "grace@example.com", "last_name": "Hopper", "company": "Navy"},
        modified_at=datetime.now(UTC),
    )
    assert inbound.marketing.save([ProspectChange(imported)]) == []
    inbound.capture()
    run_inbound()
    deliver_queued_actions()
    lead_id = bootstrap.link_store().by_prospect_ids(["p-import-4"])["p-import-4"].link.crm.id
    assert lead(salesforce, lead_id).get("LeadSource") is None

    # WHEN a salesperson edits the Lead, and outbound runs
    inbound.connector.clock.advance(minutes=1)
    salesforce.update("Lead", lead_id, {"Title": "Rear Admiral"})
    report = run_outbound()

    # THEN the link stays active (the scope is for what Salesforce brings in) and the edit arrives
    assert report["counts"].get("out_of_scope", 0) == 0
    assert inbound.prospect_of(lead_id).fields["job_title"] == "Rear Admiral"


def test_a_record_linked_by_email_keeps_its_values_when_the_prospect_is_next_sent(inbound: Inbound) -> None:
    salesforce = inbound.salesforce
    # GIVEN a Lead the marketing side did not know, and a prospect with its email but other names
    lead_id = salesforce.insert(
        "Lead", {"FirstName": "Ada", "LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com"}
    )
    bootstrap.load_configuration({**CONFIGURATION, "version": 4, "inbound": {"create_unlinked": "always"}})
    imported = Prospect(
        id="p-import-3",
        fields={
            "email": "ADA@example.com",
            "first_name": "Adelaide",
            "last_name": "L.",
            "company": "Engines",
        },
        modified_at=datetime.now(UTC),
    )
    assert inbound.marketing.save([ProspectChange(imported)]) == []
    inbound.capture()
    run_inbound()
    deliver_queued_actions()
    assert bootstrap.link_store().by_prospect_ids(["p-import-3"])["p-import-3"].link.crm.id == lead_id

    # WHEN marketing scores the prospect and the next run sends it
    inbound.edit([lead_id], score=70)
    inbound.capture()
    report = run_inbound()

    # THEN the score is sent, and the Lead's own names stand: the link knew no Salesforce values,
    # so the run read the record before deciding (Salesforce wins the first-sync conflict)
    assert report["counts"] == {"updated": 1}
    record = lead(salesforce, lead_id)
    assert (record["FirstName"], record["LastName"], record["Marketing_Score__c"]) == ("Ada", "Lovelace", 70)


def test_the_handler_module_does_not_import_simple_salesforce_at_start() -> None:
    from tests.unit.test_architecture import imports_after

    assert "simple_salesforce" not in imports_after("import functions.inbound_sync.app")
