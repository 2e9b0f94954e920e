"""The bad-input corpus for the prospects stream's records (stream_records.json), through the
inbound sync handler, each hostile record delivered between two good ones.

What is asserted: no uncaught exception, and the good records of the same batch are noted as
waiting; for the records today's parser reads, also whether the hostile one itself is noted
(a change to send) or left out. Records today's parser cannot read are marked xfail: stream
record validation lands with the inbound-safety change (`aws/prospect_stream.py`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from crmsync import bootstrap

from functions.inbound_sync import app
from local.keys import JwtKeyPair
from tests.functions.conftest import load_event

from .conftest import ACCEPTED, REFUSED, LambdaContext, deployed, entries

SURFACE = "stream records"


@pytest.fixture(scope="module")
def capture(key_pair: JwtKeyPair) -> Iterator[None]:
    with deployed("InboundSyncFunction", key_pair):
        bootstrap.resume()
        # Changes only gather: no early run, whatever the corpus notes.
        bootstrap.load_configuration({"version": 2, "inbound": {"max_waiting_changes": 100_000}})
        yield


def good(prospect_id: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event("inbound_sync", "prospect_changes")["Records"][0]
    text = json.dumps(record).replace("p-1001", prospect_id)
    return dict(json.loads(text))


def waiting() -> set[str]:
    return {change.prospect_id for change in bootstrap.pending_changes().waiting(100_000)}


@pytest.mark.parametrize("entry", entries("stream_records"))
def test_a_hostile_stream_record_never_keeps_the_good_ones_beside_it_from_being_noted(
    capture: None, answered: Any, entry: dict[str, Any]
) -> None:
    prospect_id = f"s-{entry['id']}"
    goods = [f"{prospect_id}-good-1", f"{prospect_id}-good-2"]
    hostile = json.loads(json.dumps(entry["record"]).replace("$P", prospect_id))
    event = {"Records": [good(goods[0]), hostile, good(goods[1])]}

    report = app.handler(event, LambdaContext(aws_request_id=str(uuid.uuid4())))

    assert report["trigger"] == "stream"
    assert set(goods) <= waiting(), "the good records are noted"
    if "noted" in entry:
        assert (prospect_id in waiting()) is entry["noted"]
    answered(ACCEPTED if prospect_id in waiting() else REFUSED)
