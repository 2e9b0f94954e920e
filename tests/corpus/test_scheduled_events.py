"""The bad-input corpus for the scheduler's events (scheduled_events.json), through the outbound
and inbound sync handlers.

A scheduled run reads nothing from its event, so whatever the event holds (no time, wrong
types, keys of its own, not even an object) the run must be the one the scheduler's own event
starts: outbound brings a new Lead to the marketing side, inbound runs as scheduled. Each tick
comes with its schedule passed (the ticks come back to back, not minutes apart)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from crmsync import bootstrap

from functions.inbound_sync import app as inbound_app
from functions.outbound_sync import app as outbound_app
from local.keys import JwtKeyPair
from local.runtime.schedules import let_schedules_pass
from tests.functions.conftest import load_event

from .conftest import ACCEPTED, Deployed, LambdaContext, deployed, entries, expand

SURFACE = "scheduled events"


def context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


@pytest.fixture(scope="module")
def scheduled(key_pair: JwtKeyPair) -> Iterator[tuple[Deployed, dict[str, Any]]]:
    with deployed("InboundSyncFunction", key_pair) as connector:
        bootstrap.resume()
        as_scheduled = inbound_app.handler(load_event("inbound_sync", "scheduled"), context())
        yield connector, as_scheduled


@pytest.mark.parametrize("entry", entries("scheduled_events"))
def test_a_hostile_scheduled_event_runs_as_the_schedule_does(
    scheduled: tuple[Deployed, dict[str, Any]], answered: Any, entry: dict[str, Any]
) -> None:
    connector, as_scheduled = scheduled
    event = expand(entry["event"])

    if entry["handler"] == "outbound":
        # GIVEN a Lead created in Salesforce since the last run
        connector.clock.advance(seconds=1)
        email = f"{entry['id']}@example.com"
        connector.salesforce.insert("Lead", {"LastName": "Hopper", "Company": "Navy", "Email": email})

        let_schedules_pass("outbound")
        report = outbound_app.handler(event, context())

        # THEN the run read it, as the scheduler's own event would have
        assert report["outcome"] == "completed"
        assert bootstrap.prospect_store().find_by_emails([email]), "the new Lead reached the marketing side"
    else:
        let_schedules_pass("inbound")
        report = inbound_app.handler(event, context())

        assert (report["trigger"], report["outcome"]) == (as_scheduled["trigger"], as_scheduled["outcome"])
        assert report["activities"]["outcome"] == as_scheduled["activities"]["outcome"]
    answered(ACCEPTED)
