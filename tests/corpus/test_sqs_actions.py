"""The bad-input corpus for actions queue messages (sqs_actions.json), through the automation
actions consumer's handler, each hostile message delivered between two good ones.

A refused message is consumed into the error list with a code and a message naming what was
wrong; an accepted one is carried out. Whatever the hostile message holds, the good actions
beside it are carried out in the same delivery, and nothing is sent back to the queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.prospect import Prospect, ProspectChange

from functions.automation_actions import app
from local.keys import JwtKeyPair
from tests.functions.conftest import load_event

from .conftest import ACCEPTED, REFUSED, Deployed, LambdaContext, deployed, entries, entry_text

SURFACE = "SQS action messages"
KEY_FIELD = "Crmsync_Key__c"
ENTRIES = entries("sqs_actions")


@pytest.fixture(scope="module")
def consumer(key_pair: JwtKeyPair) -> Iterator[Deployed]:
    with deployed("AutomationActionsFunction", key_pair) as connector:
        bootstrap.resume()
        yield connector


def prospect(prospect_id: str, *, email: bool = True) -> Prospect:
    fields = {"last_name": "Lovelace", "company": f"Company of {prospect_id}"}
    return Prospect(
        id=prospect_id, fields=fields | ({"email": f"{prospect_id}@example.com"} if email else {})
    )


def sqs_record(body: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event("automation_actions", "direct_message")["Records"][0]
    record["messageId"] = str(uuid.uuid4())
    record["body"] = body
    return record


def good(prospect_id: str) -> dict[str, Any]:
    return sqs_record(json.dumps({"action": "create_lead", "prospect_id": prospect_id}))


def deliver(records: Sequence[dict[str, Any]]) -> list[str]:
    response = app.handler({"Records": list(records)}, LambdaContext(aws_request_id=str(uuid.uuid4())))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def created_for(connector: Deployed, sobject: str) -> set[str]:
    """The prospect ids the org's records of `sobject` were created for."""
    return {str(r[KEY_FIELD]) for r in connector.salesforce.records(sobject) if r.get(KEY_FIELD)}


def listed(message_id: str, prospect_id: str, among: Sequence[SyncError] | None = None) -> list[SyncError]:
    """The error list entries of a message: by its id, or by the prospect id it names (`among`
    the entries read already, or the error list as it is now)."""
    entries = bootstrap.error_list().open_errors(Direction.INBOUND) if among is None else among
    return [error for error in entries if error.record_id == message_id or prospect_id in error.record_id]


def setup(entry: dict[str, Any], poison_id: str, goods: Sequence[str]) -> None:
    wanted = [prospect(pid) for pid in goods]
    if "prospect" in entry:
        wanted.append(prospect(poison_id, email=entry["prospect"] == "with_email"))
    assert bootstrap.prospect_store().save([ProspectChange(p) for p in wanted]) == []


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_hostile_message_fails_alone_and_the_good_ones_beside_it_are_carried_out(
    consumer: Deployed, answered: Any, entry: dict[str, Any]
) -> None:
    poison_id = f"x-{entry['id']}"
    goods = [f"{poison_id}-good-1", f"{poison_id}-good-2"]
    setup(entry, poison_id, goods)
    hostile = sqs_record(entry_text(entry, P=poison_id))

    to_retry = deliver([good(goods[0]), hostile, good(goods[1])])

    assert to_retry == [], "nothing goes back to the queue, so nothing reaches the dead-letter queue"
    assert set(goods) <= created_for(consumer, "Lead"), "the good actions are carried out"
    assert all(bootstrap.link_store().by_prospect_ids(goods).get(pid) for pid in goods)
    if "creates" in entry:
        assert poison_id in created_for(consumer, entry["creates"])
        assert listed(hostile["messageId"], poison_id) == []
        answered(ACCEPTED)
        return
    [error] = listed(hostile["messageId"], poison_id)
    assert error.failure.code == entry["code"]
    assert entry["says"] in error.failure.message, error.failure.message
    assert len(error.failure.message) < 1_000, "the error names the problem; it does not echo the input"
    answered(REFUSED)


def test_every_refused_message_in_one_batch_leaves_ten_good_actions_carried_out(consumer: Deployed) -> None:
    # GIVEN one delivery holding every hostile message the corpus refuses, among ten good ones
    refused = [param.values[0] for param in ENTRIES if "code" in param.values[0]]
    goods = [f"all-good-{n}" for n in range(10)]
    setup({}, "", goods)
    for entry in refused:
        setup(entry, f"all-{entry['id']}", [])
    hostile = [sqs_record(entry_text(entry, P=f"all-{entry['id']}")) for entry in refused]
    batch = [good(pid) for pid in goods[:5]] + hostile + [good(pid) for pid in goods[5:]]
    assert len(batch) <= 100, "the consumer's batch size"

    # WHEN it is delivered, THEN nothing goes back to the queue
    assert deliver(batch) == []

    # AND the ten good actions are carried out, and each hostile message is listed with its code
    assert set(goods) <= created_for(consumer, "Lead")
    # (read once: the module's error list holds every entry's errors by now)
    entries = bootstrap.error_list().open_errors(Direction.INBOUND)
    for entry, record in zip(refused, hostile, strict=True):
        [error] = listed(record["messageId"], f"all-{entry['id']}", entries)
        assert error.failure.code == entry["code"], entry["id"]
