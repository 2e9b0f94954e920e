"""The bad-input corpus for `POST /actions` (post_actions.json), through the HTTP API's handler.

A refusal is its status with a problem naming what was wrong, nothing queued and the prospect
untouched; an acceptance is a 202 and one message on the actions queue. Never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.prospect import Prospect, ProspectChange

from functions.http_api import app
from local.keys import JwtKeyPair
from local.runtime.queues import drain
from tests.functions.conftest import load_event

from .conftest import ACCEPTED, REFUSED, LambdaContext, build_text, deployed, entries

SURFACE = "POST /actions"


@pytest.fixture(scope="module")
def intake(key_pair: JwtKeyPair) -> Iterator[None]:
    with deployed("HttpApiFunction", key_pair):
        assert (
            bootstrap.prospect_store().save(
                [
                    ProspectChange(
                        Prospect(id="p-1001", fields={"email": "ada@example.com", "last_name": "Lovelace"})
                    ),
                    ProspectChange(Prospect(id="p-no-email", fields={"last_name": "Nobody"})),
                ]
            )
            == []
        )
        yield


def queued() -> list[dict[str, Any]]:
    """Every message on the actions queue, taken off it."""
    return [json.loads(message["Body"]) for message in drain(bootstrap.settings().actions_queue_url)]


def prospects() -> dict[str, Prospect]:
    return bootstrap.prospect_store().get_many(["p-1001", "p-no-email"])


@pytest.mark.parametrize("entry", entries("post_actions"))
def test_a_hostile_action_is_refused_clearly_or_accepted_never_a_crash(
    intake: None, answered: Any, entry: dict[str, Any]
) -> None:
    event = load_event("http_api", "post_action")
    if "base64" in entry:
        event["body"], event["isBase64Encoded"] = entry["base64"], True
    elif "json" in entry:
        event["body"] = json.dumps(entry["json"])
    else:
        event["body"] = build_text(entry["text"])
    before = prospects()

    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]

    status, answer = response["statusCode"], json.loads(response["body"])
    assert status == entry["status"], answer
    if status == 202:
        assert [message["action_id"] for message in queued()] == [answer["action_id"]]
        answered(ACCEPTED)
        return
    said = " ".join([answer["message"], *answer.get("problems", [])])
    assert entry["says"] in said, said
    assert len(said) < 1_000, "a refusal names the problem; it does not echo the input"
    assert queued() == []
    assert prospects() == before
    answered(REFUSED)
