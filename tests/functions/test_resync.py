"""A resync end to end: `POST /resync` and `GET /resync` through the HTTP entry point's handler,
moved on by the scheduled outbound invocation across ticks, reading the Salesforce emulator's
Bulk API 2.0 query jobs through simple-salesforce's session."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync import resync as resync_module

from functions.http_api import app as http_app
from functions.outbound_sync import app as outbound_app
from local.runtime.schedules import let_schedules_pass
from local.salesforce_emulator import Emulator

from .conftest import REGION, LambdaContext, OutboundConnector, load_event

CONFIGURATION: dict[str, Any] = {
    "version": 2,
    "mappings": {
        "Lead": [
            {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
            {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
            {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
            {"marketing_field": "lead_status", "salesforce_field": "Status", "behaviour": "salesforce"},
        ],
    },
}


@dataclass
class TicksLeft(LambdaContext):
    """Plenty of time for the first `answers_with_time_left` questions of an invocation, then
    10 s: under the 15 s a run keeps in hand, as when an invocation nears its timeout."""

    answers_with_time_left: int = 3
    questions: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.questions += 1
        return 60_000 if self.questions <= self.answers_with_time_left else 10_000


def tick(context: LambdaContext | None = None) -> dict[str, Any]:
    """One scheduled outbound invocation, once the schedule is due."""
    let_schedules_pass("outbound")
    context = context or LambdaContext(aws_request_id=str(uuid.uuid4()), remaining_millis=120_000)
    report: dict[str, Any] = outbound_app.handler(load_event("outbound_sync", "scheduled"), context)
    return report


def http(name: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    event = copy.deepcopy(load_event("http_api", name))
    if body is not None:
        event["body"] = json.dumps(body)
    response = http_app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def marketing() -> DynamoProspectStore:
    client = boto3.client("dynamodb", region_name=REGION)
    return DynamoProspectStore(DynamoTable(client, bootstrap.settings().prospects_table, PROSPECTS_KEY))


def prospects_of(lead_ids: list[str]) -> list[Prospect]:
    links = bootstrap.link_store().by_crm_ids(lead_ids)
    found = marketing().get_many([links[lead_id].link.prospect_id for lead_id in lead_ids])
    return [found[links[lead_id].link.prospect_id] for lead_id in lead_ids]


def drift(prospects: list[Prospect], **fields: Any) -> None:
    """Values changed behind the connector's back (no change reaches it)."""
    now = datetime.now(UTC)
    changes = [
        ProspectChange(replace(p, fields={**p.fields, **fields}, modified_at=now), before=p)
        for p in prospects
    ]
    for start in range(0, len(changes), 100):
        assert marketing().save(changes[start : start + 100]) == []


@pytest.fixture
def resync_connector(outbound_connector: OutboundConnector) -> OutboundConnector:
    bootstrap.load_configuration(CONFIGURATION)
    return outbound_connector


def synced_leads(connector: OutboundConnector, count: int, **fields: Any) -> list[str]:
    salesforce: Emulator = connector.salesforce
    ids = [
        salesforce.insert(
            "Lead",
            {"LastName": f"Lead {n:05d}", "Company": "Acme", "Email": f"lead{n}@example.com", **fields},
        )
        for n in range(count)
    ]
    assert tick()["outcome"] == "completed"
    connector.clock.advance(minutes=1)
    return ids


def test_a_resync_heals_drifted_prospects_across_ticks_cut_by_their_deadline(
    resync_connector: OutboundConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 25 synced Leads whose prospects' Salesforce-owned status drifted behind the
    # connector's back, and pages of 10 results (1,000 in production: the 2,500-record case is
    # tests/service/test_operator_actions.py's)
    monkeypatch.setattr(resync_module, "PAGE_SIZE", 10)
    lead_ids = synced_leads(resync_connector, 25)
    drift(prospects_of(lead_ids), lead_status="Nurture")
    assert tick()["counts"].get("updated", 0) == 0, "nothing changed in Salesforce: a run sees no drift"

    # WHEN an operator asks for a resync of the Leads
    status, body = http("resync_start", {"object": "Lead", "since": None})
    assert status == 202, body
    assert body["resync"]["state"] == "queued"

    # AND the scheduled ticks move it on, each cut by its deadline after a page
    progress = []
    for _ in range(10):
        # The run asks 3 times, the resync once for its lease: time for one page of results.
        report = tick(TicksLeft(aws_request_id=str(uuid.uuid4()), answers_with_time_left=5))
        progress.append((report["resync"]["state"], report["resync"]["read"]))
        if report["resync"]["state"] == "done":
            break

    # THEN it took a tick per page, its progress moving at each, and it is done
    assert progress == [("running", 10), ("running", 20), ("done", 25)]
    _, answer = http("resync_progress")
    assert answer["resync"]["total"] == answer["resync"]["read"] == 25
    assert answer["resync"]["applied"] == 25
    assert answer["resync"]["counts"] == {"updated": 25}

    # AND every prospect has its Lead's status back
    assert {p.fields["lead_status"] for p in prospects_of(lead_ids)} == {"Open - Not Contacted"}

    # AND the next tick has nothing left to do for it
    assert "resync" not in tick()


def test_a_new_mapping_adopted_by_a_resync_fills_the_field_on_every_prospect(
    resync_connector: OutboundConnector,
) -> None:
    # GIVEN synced Leads with phones no mapping brought over
    lead_ids = synced_leads(resync_connector, 30, Phone="+44 20 7946 0000")
    assert all("phone" not in p.fields for p in prospects_of(lead_ids))

    # WHEN a configuration mapping the phone is loaded and the Leads are resynced
    lead_mappings = [
        *CONFIGURATION["mappings"]["Lead"],
        {"marketing_field": "phone", "salesforce_field": "Phone", "behaviour": "salesforce"},
    ]
    bootstrap.load_configuration({**CONFIGURATION, "version": 3, "mappings": {"Lead": lead_mappings}})
    assert http("resync_start", {"object": "Lead"})[0] == 202
    report = tick()

    # THEN one tick did it, and every prospect has its Lead's phone
    assert report["resync"]["state"] == "done"
    assert report["resync"]["counts"] == {"updated": 30}
    assert {p.fields.get("phone") for p in prospects_of(lead_ids)} == {"+44 20 7946 0000"}

    # AND the audit trail says what the resync wrote and why
    trail = bootstrap.audit_trail().audit_trail(prospects_of(lead_ids[:1])[0].id)
    (entry,) = [e for e in trail if e.field == "phone"]
    assert (entry.new, entry.rule) == ("+44 20 7946 0000", "salesforce: Salesforce's value is always used")


def test_one_resync_at_a_time_a_second_request_is_refused_with_the_running_one(
    resync_connector: OutboundConnector,
) -> None:
    status, _ = http("resync_start", {"object": "Lead", "since": "2026-01-01"})
    assert status == 202

    status, body = http("resync_start", {"object": "Lead"})

    assert status == 409
    assert body["resync"]["state"] == "queued"
    assert body["resync"]["since"] == "2026-01-01T00:00:00+00:00"
    assert "one at a time" in body["message"]


def test_a_resync_waits_while_the_connector_is_paused_and_goes_on_once_resumed(
    resync_connector: OutboundConnector,
) -> None:
    lead_ids = synced_leads(resync_connector, 5)
    drift(prospects_of(lead_ids), lead_status="Nurture")
    assert http("resync_start", {"object": "Lead"})[0] == 202
    bootstrap.pause()
    resync_connector.salesforce.reset_counters()

    report = tick()

    assert report["resync"]["state"] == "queued"
    assert not [path for _, path in resync_connector.salesforce.call_log if "/jobs/query" in path]
    bootstrap.resume()
    assert tick()["resync"]["state"] == "done"
    assert {p.fields["lead_status"] for p in prospects_of(lead_ids)} == {"Open - Not Contacted"}


def test_a_salesforce_outage_leaves_the_resync_for_the_next_tick(resync_connector: OutboundConnector) -> None:
    # GIVEN drifted prospects, a resync asked for, and Bulk API query jobs failing for a while
    lead_ids = synced_leads(resync_connector, 3)
    drift(prospects_of(lead_ids), lead_status="Nurture")
    assert http("resync_start", {"object": "Lead"})[0] == 202
    resync_connector.salesforce.faults.server_errors(count=20, status=503, path_containing="/jobs/query")

    # WHEN a tick comes, then another once Salesforce is back
    during = tick()["resync"]
    resync_connector.salesforce.faults.recover()
    after = tick()["resync"]

    # THEN the first left it as it was, the second did it
    assert (during["state"], during["read"], during["error"]) == ("queued", 0, None)
    assert after["state"] == "done"
    assert {p.fields["lead_status"] for p in prospects_of(lead_ids)} == {"Open - Not Contacted"}


def test_progress_is_null_before_any_resync(resync_connector: OutboundConnector) -> None:
    assert http("resync_progress") == (200, {"resync": None})
    assert "resync" not in tick()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"object": "Account"}, "object: must be one of Lead, Contact, PersonAccount, not 'Account'"),
        (
            {"object": "Lead", "since": "last week"},
            "since: must be an ISO date (2026-11-01) or date-time, or null, not 'last week'",
        ),
        ({"object": "Lead", "all": True}, "all: unknown key (allowed: object, since)"),
        (
            {"object": "PersonAccount"},
            "object: PersonAccount records are not synced (objects in the configuration)",
        ),
    ],
)
def test_a_request_that_is_not_a_resyncs_is_refused_with_400(
    resync_connector: OutboundConnector, body: dict[str, Any], problem: str
) -> None:
    status, answer = http("resync_start", body)

    assert status == 400
    assert answer["problems"] == [problem]
    assert http("resync_progress") == (200, {"resync": None})
