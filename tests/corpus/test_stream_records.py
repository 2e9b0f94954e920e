"""The bad-input corpus for the prospects stream's records (stream_records.json), through the
inbound sync handler, each hostile record delivered between two good ones.

What is asserted: no uncaught exception, the good records of the same batch are noted as
waiting, and whether the hostile one itself is noted (a change to send) or left out. A record
left out is either not a change to send (a removal, an index item, the connector's own write)
or refused: then it is in the error list as MALFORMED_STREAM_RECORD, saying what was wrong."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
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


def malformed_entries(since: datetime) -> list[str]:
    return [
        error.failure.message
        for error in bootstrap.error_list().open_errors()
        if error.failure.code == "MALFORMED_STREAM_RECORD" and error.at >= since
    ]


def waiting() -> set[str]:
    return {change.prospect_id for change in bootstrap.pending_changes().waiting(100_000)}


@pytest.mark.parametrize("entry", entries("stream_records"))
def test_a_hostile_stream_record_never_keeps_the_good_ones_beside_it_from_being_noted(
    capture: None, answered: Any, entry: dict[str, Any]
) -> None:
    prospect_id = f"s-{entry['id']}"
    goods = [f"{prospect_id}-good-1", f"{prospect_id}-good-2"]
    hostile = json.loads(json.dumps(entry["record"]).replace("$P", prospect_id))
    if isinstance(hostile, dict) and "eventID" in hostile:
        hostile["eventID"] = entry["id"]  # stream event ids are unique; so are their entries
    event = {"Records": [good(goods[0]), hostile, good(goods[1])]}
    started = datetime.now(UTC)

    report = app.handler(event, LambdaContext(aws_request_id=str(uuid.uuid4())))

    assert report["trigger"] == "stream"
    assert set(goods) <= waiting(), "the good records are noted"
    if "noted" in entry:
        assert (prospect_id in waiting()) is entry["noted"]
    listed = malformed_entries(started)
    assert len(listed) == report.get("refused", 0), "every refused record is in the error list"
    assert all(message.strip() for message in listed), "each refusal says what was wrong"
    answered(ACCEPTED if prospect_id in waiting() else REFUSED)
