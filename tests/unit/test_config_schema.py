"""The published JSON Schema of the configuration (config/crmsync.schema.json): generated from the
models that read a document, described by the sample's comments, and named by the sample so an
editor checks a document as it is typed. What the connector reads, the schema accepts; what an
editor can tell is wrong, the schema refuses."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from crmsync.config import Configuration, InvalidConfiguration
from crmsync.config.schema import json_schema, schema_text
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FILE = ROOT / "config" / "crmsync.sample.json"
SCHEMA_FILE = ROOT / "config" / "crmsync.schema.json"
SAMPLE: dict[str, Any] = json.loads(SAMPLE_FILE.read_text())
SCHEMA = Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def schema_problems(document: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in SCHEMA.iter_errors(document)]


def test_the_published_schema_is_the_one_the_models_and_the_sample_generate() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(SAMPLE), (
        "config/crmsync.schema.json is not current: run `make schema`"
    )


def test_the_published_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA.schema)


def test_the_sample_names_the_schema_beside_it_and_follows_it() -> None:
    assert (SAMPLE_FILE.parent / SAMPLE["$schema"]).resolve() == SCHEMA_FILE
    assert schema_problems(SAMPLE) == []


def test_the_sample_put_config_event_carries_the_sample_with_its_length() -> None:
    event = json.loads((ROOT / "events" / "http_api" / "put_config.json").read_text())

    assert json.loads(event["body"]) == SAMPLE
    assert int(event["headers"]["content-length"]) == len(event["body"].encode())


def test_the_samples_comments_are_the_schemas_help() -> None:
    schema = SCHEMA.schema
    assert schema["description"] == SAMPLE["//"]
    assert schema["properties"]["mappings"]["description"] == SAMPLE["// mappings"]
    outbound = schema["$defs"]["Outbound"]["properties"]
    assert outbound["schedule"]["description"] == SAMPLE["outbound"]["// schedule"]


def test_a_comment_on_a_key_the_document_does_not_have_is_refused_when_generating() -> None:
    stale = SAMPLE | {"outbound": SAMPLE["outbound"] | {"// every_minutes": "moved to inbound"}}

    with pytest.raises(
        ValueError, match=r"outbound\.// every_minutes: describes 'every_minutes', which is not a key here"
    ):
        json_schema(stale)


@pytest.mark.parametrize(
    "document",
    [
        Configuration.default().to_document(),
        Configuration.from_document(SAMPLE).to_document(),
        {"version": 1},
        {"version": 1, "//": "comments anywhere", "objects": {"// why": "because", "lead": False}},
        {"version": 1, "outbound": {"schedule": " 02 Minutes "}, "automation": {"default_account": None}},
    ],
)
def test_what_the_connector_reads_the_schema_accepts(document: dict[str, Any]) -> None:
    Configuration.from_document(document)
    assert schema_problems(document) == []


ENTRY = {"marketing_field": "city", "salesforce_field": "City", "behaviour": "salesforce"}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({}, id="no version"),
        pytest.param({"version": 0}, id="version 0"),
        pytest.param({"version": 1, "colour": "blue"}, id="unknown key"),
        pytest.param({"version": 1, "matching": "fuzzy"}, id="matching"),
        pytest.param({"version": 1, "objects": {"lead": "yes"}}, id="not a boolean"),
        pytest.param({"version": 1, "mappings": {"Lead": [ENTRY | {"behaviour": "push"}]}}, id="alias"),
        pytest.param(
            {"version": 1, "mappings": {"Lead": [ENTRY | {"salesforce_field": "Billing City"}]}},
            id="API name",
        ),
        pytest.param({"version": 1, "mappings": {"Lead": [ENTRY | {"direction": "in"}]}}, id="entry key"),
        pytest.param({"version": 1, "mappings": {"Opportunity": []}}, id="fixed opportunity mapping"),
        pytest.param(
            {"version": 1, "mappings": {"Lead": [ENTRY | {"behaviour": "most_recent", "sync_blanks": True}]}},
            id="sync_blanks of a two-way behaviour",
        ),
        pytest.param(
            {
                "version": 1,
                "mappings": {"Lead": [ENTRY | {"marketing_field": "score", "behaviour": "salesforce"}]},
            },
            id="marketing-owned field",
        ),
        pytest.param(
            {"version": 1, "mappings": {"Account": [ENTRY | {"behaviour": "marketing"}]}}, id="account"
        ),
        pytest.param({"version": 1, "outbound": {"schedule": "5 hours"}}, id="schedule"),
        pytest.param({"version": 1, "outbound": {"scope": {"Account": "all"}}}, id="business account scope"),
        pytest.param({"version": 1, "outbound": {"scope": {"Lead": "some"}}}, id="scope word"),
        pytest.param(
            {"version": 1, "outbound": {"scope": {"Lead": {"flagged": "A", "criteria": []}}}}, id="two scopes"
        ),
        pytest.param({"version": 1, "outbound": {"scope": {"Lead": {"criteria": []}}}}, id="no criteria"),
        pytest.param(
            {
                "version": 1,
                "outbound": {
                    "scope": {"Lead": {"criteria": [{"field": "A", "operator": "in", "value": "x"}]}}
                },
            },
            id="criterion value",
        ),
        pytest.param({"version": 1, "inbound": {"every_minutes": 60}}, id="every 60 minutes"),
        pytest.param({"version": 1, "owner": {"user_map": {"bob": "m1"}}}, id="user id"),
        pytest.param({"version": 1, "tags": {"created_from_lead": " "}}, id="blank tag"),
        pytest.param({"version": 1, "batching": {"read_page_size": 100}}, id="page size"),
        pytest.param({"version": 1, "activities": {"types": ["fax"]}}, id="activity type"),
        pytest.param({"version": 1, "activities": {"types": ["page_visit", "page_visit"]}}, id="type twice"),
        pytest.param({"version": 1, "automation": {"last_name_fallback": "x" * 81}}, id="too long"),
        pytest.param(
            {"version": 1, "automation": {"default_account": {"id": "003000000000001"}}}, id="account id"
        ),
        pytest.param(
            {"version": 1, "automation": {"default_account": {"id": "001000000000001", "name": "A"}}},
            id="id and name",
        ),
        pytest.param({"version": 1, "prospect_fields": {"score": "text"}}, id="built-in field declared"),
        pytest.param({"version": 1, "prospect_fields": {"shoe size": "number"}}, id="field name"),
        pytest.param({"version": 1, "prospect_fields": {"shoe_size": "integer"}}, id="field type"),
    ],
)
def test_what_an_editor_can_tell_is_wrong_the_schema_refuses_as_the_connector_does(
    document: dict[str, Any],
) -> None:
    with pytest.raises(InvalidConfiguration):
        Configuration.from_document(document)
    assert schema_problems(document) != []


scalars = (
    st.none() | st.booleans() | st.integers(-3, 3000) | st.floats(allow_nan=False) | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def paths_of(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    found = []
    for key, child in children:
        found += [(*path, key), *paths_of(child, (*path, key))]
    return found


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(paths_of(SAMPLE)), json_values | st.just(...))
def test_the_schema_never_refuses_a_document_the_connector_reads(
    path: tuple[str | int, ...], replacement: Any
) -> None:
    document = copy.deepcopy(SAMPLE)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if replacement is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    try:
        Configuration.from_document(document)
    except InvalidConfiguration:
        return
    assert schema_problems(document) == []


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    env = {"PYTHONPATH": f"{ROOT / 'layers' / 'crmsync'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return set(done.stdout.split())


def test_holding_a_configuration_does_not_import_pydantic_only_reading_one_does() -> None:
    held = imported_after("from crmsync.config import Configuration; Configuration.default().to_document()")
    assert "pydantic" not in held
    read = imported_after(
        "from crmsync.config import Configuration; Configuration.from_document({'version': 1})"
    )
    assert "pydantic" in read
