"""The audit trail on moto: what happened to each prospect, in order, written in batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from crmsync.aws.audit_trail import DynamoAuditTrail
from crmsync.aws.dynamo_table import key_equals
from crmsync.domain.audit import AuditRecord, Direction

from tests.adapters.capacity import CapacityMeter
from tests.adapters.dynamo_doubles import CountingClient, DynamoTables, PushingBackClient, partly_processed

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def trail(dynamo: DynamoTables) -> DynamoAuditTrail:
    return DynamoAuditTrail(dynamo.state_table())


def audit(
    at: datetime,
    event: str,
    run_id: str = "run-1",
    *,
    prospect_id: str = "p-1",
    crm_id: str = "00Q1",
    field: str | None = None,
    side: str | None = None,
    old: object = None,
    new: object = None,
    rule: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        prospect_id=prospect_id,
        at=at,
        run_id=run_id,
        direction=Direction.OUTBOUND,
        crm_type="Lead",
        crm_id=crm_id,
        event=event,
        field=field,
        side=side,
        old=old,
        new=new,
        rule=rule,
    )


def test_the_audit_trail_reads_back_in_the_order_things_happened(trail: DynamoAuditTrail) -> None:
    linked = audit(NOON, "linked to Lead 00Q1")
    title = audit(
        NOON, "field synced", field="title", side="marketing", old=None, new="CTO", rule="salesforce"
    )
    score = audit(NOON, "field synced", field="score", side="salesforce", old=41.5, new=42, rule="marketing")
    opted_out = audit(NOON, "field synced", field="opted_out", side="marketing", old=True, new=False)
    later = audit(NOON + timedelta(minutes=2), "deactivated", run_id="run-2")

    trail.append_audit([linked, title], retention_days=30)
    trail.append_audit([score, opted_out], retention_days=30)  # same run, same instant, later call
    trail.append_audit([later], retention_days=30)

    assert trail.audit_trail("p-1") == [linked, title, score, opted_out, later]
    assert trail.audit_trail("p-other") == []


def test_audit_entries_expire_after_the_retention(dynamo: DynamoTables, trail: DynamoAuditTrail) -> None:
    trail.append_audit([audit(NOON, "linked")], retention_days=30)

    (item,) = dynamo.state_table().query(key_equals("pk", "audit#p-1"))
    assert item["expires_at"] == int((NOON + timedelta(days=30)).timestamp())


def test_a_run_audit_goes_in_batch_writes_one_item_per_prospect_and_record(dynamo: DynamoTables) -> None:
    counting = CountingClient(dynamo.client)
    trail = DynamoAuditTrail(dynamo.state_table(counting))
    records = [
        entry
        for n in range(30)
        for entry in (
            audit(NOON, f"prospect created from Lead 00Q{n}", prospect_id=f"p-{n}", crm_id=f"00Q{n}"),
            audit(NOON, "field synced", prospect_id=f"p-{n}", crm_id=f"00Q{n}", field="Email", new="a@b.c"),
        )
    ]

    trail.append_audit(records, retention_days=30)

    assert counting.calls == {"batch_write_item": 2}, "30 items, 25 a call; no transaction"
    assert [len(trail.audit_trail(f"p-{n}")) for n in range(30)] == [2] * 30


def test_an_audit_batch_dynamodb_leaves_part_of_is_sent_again_and_each_entry_lands_once(
    dynamo: DynamoTables,
) -> None:
    throttled = PushingBackClient(
        dynamo.client, "batch_write_item", times=1, answer=partly_processed(dynamo.client, 2)
    )
    trail = DynamoAuditTrail(dynamo.state_table(throttled))
    records = [audit(NOON, f"event {n}", prospect_id="p-1", crm_id=f"00Q{n}") for n in range(5)]

    trail.append_audit(records, retention_days=30)

    assert throttled.remaining == 0
    assert trail.audit_trail("p-1") == records
    assert len(dynamo.state_table().query(key_equals("pk", "audit#p-1"))) == 5


def test_an_audit_item_costs_one_write_unit_where_a_transaction_cost_two(dynamo: DynamoTables) -> None:
    """A new Lead's item: its creation and eight fields written, as outbound audits them."""
    meter = CapacityMeter(dynamo.client)
    trail = DynamoAuditTrail(dynamo.state_table(meter))
    fields = {
        "Email": "ada.lovelace@analytical-engines.example",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Analytical Engines Ltd",
        "Title": "Chief Mathematician",
        "Phone": "+44 20 7946 0958",
        "LeadSource": "Web",
        "OwnerId": "ada.owner@analytical-engines.example",
    }
    records = [audit(NOON, "prospect created from Lead 00Q000000000001AAA: no prospect has its email")]
    records += [
        audit(NOON, "field synced", field=field, side="marketing", new=value, rule="new record")
        for field, value in fields.items()
    ]

    trail.append_audit(records, retention_days=30)

    assert meter.units.writes == {"BatchWriteItem": 1}


def test_an_item_of_the_earlier_layout_reads_as_it_was_written(dynamo: DynamoTables) -> None:
    """Deployed connectors hold items with `prospect_id`, `at` and `run_id` attributes, and
    their entries as objects: an upgrade reads them as before."""
    dynamo.state_table().put(
        {
            "pk": "audit#p-1",
            "sk": "2026-11-22T12:00:00.000000+00:00#run-0#000000",
            "prospect_id": "p-1",
            "at": "2026-11-22T12:00:00.000000+00:00",
            "run_id": "run-0",
            "direction": "outbound",
            "crm_type": "Lead",
            "crm_id": "00Q1",
            "entries": json.dumps(
                [
                    {"event": "linked", "field": None, "side": None, "old": None, "new": None, "rule": None},
                    {
                        "event": "field synced",
                        "field": "Email",
                        "side": "marketing",
                        "old": None,
                        "new": "a@b.c",
                        "rule": "salesforce",
                    },
                ]
            ),
            "expires_at": 1,
        }
    )

    assert DynamoAuditTrail(dynamo.state_table()).audit_trail("p-1") == [
        audit(NOON, "linked", run_id="run-0"),
        audit(
            NOON,
            "field synced",
            run_id="run-0",
            field="Email",
            side="marketing",
            new="a@b.c",
            rule="salesforce",
        ),
    ]
