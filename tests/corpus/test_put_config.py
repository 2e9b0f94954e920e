"""The bad-input corpus for `PUT /config` (put_config.json), through the HTTP API's handler.

A refusal is its status with a problem naming what was wrong, and the configuration in force
unchanged; an acceptance loads the document under its version. Never a 500.

`$V` in an entry is the next version above the one in force, so a document is refused for
what the entry means, not for being stale."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.http_api import app
from local.keys import JwtKeyPair
from tests.functions.conftest import load_event

from .conftest import ACCEPTED, REFUSED, LambdaContext, build_text, deployed, entries

SURFACE = "PUT /config"
SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json").read_text())
versions = itertools.count(2)


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def in_force() -> dict[str, Any]:
    status, body = call(load_event("http_api", "get_config"))
    assert status == 200
    return body


@pytest.fixture(scope="module")
def control(key_pair: JwtKeyPair) -> Iterator[None]:
    with deployed("HttpApiFunction", key_pair):
        event = load_event("http_api", "put_config")
        event["body"] = json.dumps(SAMPLE)
        assert call(event)[0] == 200
        yield


def body_of(entry: dict[str, Any], version: int) -> str:
    if entry.get("sample"):
        document = SAMPLE | {"version": version}
        if "comment" in entry:
            document["// note"] = entry["comment"]
        return json.dumps(document, indent=entry.get("indent"), ensure_ascii=False)
    if "json" in entry:
        return json.dumps(entry["json"]).replace('"$V"', str(version))
    return build_text(entry["text"], V=str(version))


@pytest.mark.parametrize("entry", entries("put_config"))
def test_a_hostile_configuration_is_refused_clearly_or_loaded_never_a_crash(
    control: None, answered: Any, entry: dict[str, Any]
) -> None:
    version = next(versions)
    event = load_event("http_api", "put_config")
    if "base64" in entry:
        event["body"], event["isBase64Encoded"] = entry["base64"], True
    else:
        event["body"] = body_of(entry, version)
    before = in_force()

    status, answer = call(event)

    assert status == entry["status"], answer
    if status == 200:
        assert answer == {"loaded": True, "version": version}
        assert in_force()["version"] == version
        answered(ACCEPTED)
        return
    said = " ".join([answer["message"], *answer.get("problems", [])])
    assert entry["says"] in said, said
    assert len(said) < 1_000, "a refusal names the problem; it does not echo the input"
    assert in_force() == before
    answered(REFUSED)
