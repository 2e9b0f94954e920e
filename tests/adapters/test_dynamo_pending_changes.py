"""The prospects waiting for the inbound run (state table on moto), and change capture reading
the prospects table's real stream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crmsync.aws.pending_changes import DynamoPendingChanges
from crmsync.aws.prospect_stream import read_stream_records
from crmsync.aws.prospects import CONNECTOR_WRITER, DynamoProspectStore
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import CapturedChanges, PendingChange

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION, CountingClient, DynamoTables
from tests.local_aws import stack_template

pytest_plugins = ["tests.adapters.conftest_dynamo"]

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def pending(dynamo: DynamoTables) -> DynamoPendingChanges:
    return DynamoPendingChanges(dynamo.state_table())


def test_a_prospect_changed_several_times_waits_once_at_its_latest_version(
    pending: DynamoPendingChanges,
) -> None:
    pending.add([PendingChange("p-2", 3), PendingChange("p-1", 1), PendingChange("p-2", 4)])
    pending.add([PendingChange("p-1", 2)])

    assert pending.waiting(10) == [PendingChange("p-1", 2), PendingChange("p-2", 4)]
    assert pending.count(at_most=10) == 2


def test_waiting_prospects_are_read_in_pages_in_id_order(pending: DynamoPendingChanges) -> None:
    pending.add([PendingChange(f"p-{n:03d}", 1) for n in range(250)])

    first = pending.waiting(100)
    second = pending.waiting(100, after=first[-1].prospect_id)
    third = pending.waiting(100, after=second[-1].prospect_id)

    assert [len(page) for page in (first, second, third)] == [100, 100, 50]
    assert [c.prospect_id for c in first + second + third] == [f"p-{n:03d}" for n in range(250)]
    assert pending.waiting(100, after=third[-1].prospect_id) == []


def test_counting_stops_at_the_threshold_without_reading_items(dynamo: DynamoTables) -> None:
    counting = CountingClient(dynamo.client)
    pending = DynamoPendingChanges(dynamo.state_table(counting))
    pending.add([PendingChange(f"p-{n}", 1) for n in range(150)])

    assert pending.count(at_most=100) == 100
    assert pending.count(at_most=1000) == 150
    assert counting.calls["query"] == 2


def test_a_prospect_that_changed_again_while_it_was_sent_keeps_waiting(pending: DynamoPendingChanges) -> None:
    # GIVEN two waiting prospects read by a run
    pending.add([PendingChange("p-1", 1), PendingChange("p-2", 5)])
    read = pending.waiting(10)

    # WHEN p-2 changes again before the run settles what it sent
    pending.add([PendingChange("p-2", 6)])
    kept = pending.done(read)

    # THEN p-1 stops waiting, p-2 waits at its new version
    assert kept == [PendingChange("p-2", 5)]
    assert pending.waiting(10) == [PendingChange("p-2", 6)]


def test_a_change_found_late_never_replaces_a_later_one_waiting(pending: DynamoPendingChanges) -> None:
    # GIVEN p-1 waiting at version 5 and p-2 at version 2
    pending.add([PendingChange("p-1", 5), PendingChange("p-2", 2)])

    # WHEN a failed stream batch read back gives p-1 at version 3, p-2 at 4 and p-3 at 1
    noted = pending.add_unless_newer(
        [PendingChange("p-1", 3), PendingChange("p-2", 4), PendingChange("p-3", 1)]
    )

    # THEN p-1 keeps its later version; p-2 moves on; p-3 waits
    assert noted == [PendingChange("p-2", 4), PendingChange("p-3", 1)]
    assert pending.waiting(10) == [PendingChange("p-1", 5), PendingChange("p-2", 4), PendingChange("p-3", 1)]
    assert pending.add_unless_newer([PendingChange("p-3", 1)]) == [], "the same version is not noted twice"


def test_the_versions_waiting_are_read_for_the_prospects_asked_about(pending: DynamoPendingChanges) -> None:
    pending.add([PendingChange("p-1", 3), PendingChange("p-2", 0)])

    assert pending.versions(["p-1", "p-2", "p-3"]) == {"p-1": 3, "p-2": 0}


def test_changes_found_late_that_wait_already_cost_a_read_and_no_write(dynamo: DynamoTables) -> None:
    counting = CountingClient(dynamo.client)
    pending = DynamoPendingChanges(dynamo.state_table(counting))
    pending.add([PendingChange(f"p-{n}", 2) for n in range(150)])

    assert pending.add_unless_newer([PendingChange(f"p-{n}", 2) for n in range(150)]) == []

    assert (counting.calls["batch_get_item"], counting.calls["transact_write_items"]) == (2, 0)


def test_change_capture_notes_the_marketing_sides_changes_and_skips_the_connectors_own(
    dynamo: DynamoTables,
) -> None:
    import boto3

    stack = create_stack(stack_template(), region=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = stack.attribute("ProspectsTable", "StreamArn")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    position = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    marketing = DynamoProspectStore(dynamo.prospects_table())
    connector = DynamoProspectStore(dynamo.prospects_table(), writer=CONNECTOR_WRITER)

    # GIVEN a prospect the connector created, then edited by the marketing side, then by the connector
    created = Prospect(id="p-1", fields={"email": "ann@example.com"})
    assert connector.save([ProspectChange(created)]) == []
    (stored,) = connector.get_many(["p-1"]).values()
    scored = Prospect(id="p-1", fields={**stored.fields, "score": 40}, version=stored.version)
    assert marketing.save([ProspectChange(scored, before=stored)]) == []
    (stored,) = connector.get_many(["p-1"]).values()
    titled = Prospect(id="p-1", fields={**stored.fields, "job_title": "CTO"}, version=stored.version)
    assert connector.save([ProspectChange(titled, before=stored)]) == []

    # WHEN change capture reads the stream (index items included)
    records = streams.get_records(ShardIterator=position["ShardIterator"])["Records"]

    # THEN only the marketing side's version is a change to send
    assert len(records) > 3
    assert read_stream_records(records) == CapturedChanges([PendingChange("p-1", 2)])


def test_the_sample_stream_event_notes_the_marketing_change_only() -> None:
    event = json.loads((EVENTS / "inbound_sync" / "prospect_changes.json").read_text())

    assert read_stream_records(event["Records"]) == CapturedChanges([PendingChange("p-1001", 4)])
