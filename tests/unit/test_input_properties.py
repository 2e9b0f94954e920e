"""Properties of every parser of external input (hypothesis): whatever arrives, each one answers
with its value or with a refusal that names what was wrong, and raises nothing else.

- `parse_action`: the body of `POST /actions`, once read as JSON;
- `read_message`: an actions queue message, as SQS delivers its body;
- `Configuration.from_document`: the top level of a configuration document (`PUT /config`,
  `crmsync config push`).

The strict JSON reader under them has its own properties (test_json_input.py); stream records
and scheduled events are exercised through their handlers by the bad-input corpus (tests/corpus).
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmsync.config import Configuration, InvalidConfiguration
from crmsync.domain.actions import Action, ActionKind
from crmsync.json_input import MAX_DEPTH
from crmsync.sync.actions import ActionMessage, BadAction, read_message
from crmsync.sync.actions_intake import MAX_ID_LENGTH, InvalidAction, parse_action
from hypothesis import event, given, settings
from hypothesis import strategies as st

SENT_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "200")), deadline=None)
"""`make fuzz` runs five times as many."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of `keys`, each value mostly from its strategy, sometimes anything at
    all, and now and then a key of their own."""
    return st.fixed_dictionaries(
        {},
        optional={
            key: st.one_of(strategy, strategy, strategy, json_values) for key, strategy in keys.items()
        },
    ).flatmap(
        lambda value: st.one_of(
            st.just(value),
            st.just(value),
            st.dictionaries(st.sampled_from(["// note", "typo"]), json_values, max_size=1).map(
                lambda extra: value | extra
            ),
        )
    )


# ------------------------------------------------------------------ actions

action_names = st.sampled_from([kind.value for kind in ActionKind]) | st.text(max_size=15)
ids = st.text(max_size=MAX_ID_LENGTH + 2)
actions = shaped(
    {
        "action": action_names,
        "prospect_id": ids,
        "idempotency_key": ids | st.none(),
        "action_id": ids,
        "accepted_at": st.datetimes().map(lambda moment: moment.isoformat()) | st.text(max_size=30),
    }
)


@PROPERTY
@given(json_values | actions)
def test_parse_action_answers_an_action_or_every_problem_with_its_key(body: Any) -> None:
    try:
        action = parse_action(body)
    except InvalidAction as refused:
        assert refused.problems
        for problem in refused.problems:
            key, _, why = problem.partition(": ")
            assert why, problem
            assert (
                key == "body" or (isinstance(body, dict) and key in body) or key in ("action", "prospect_id")
            )
        return
    assert isinstance(action, Action) and action.accepted_at is None
    assert isinstance(body, dict) and set(body) <= {"action", "prospect_id", "idempotency_key"}
    assert 0 < len(action.prospect_id) <= MAX_ID_LENGTH


@PROPERTY
@given(
    st.one_of(
        st.text(),
        st.text(alphabet='[]{}",:\\0123456789.eE+-nulltrueNaIfiy actionprospect_id'),
        json_values.map(json.dumps),
        actions.map(json.dumps),
        actions.map(lambda body: json.dumps(body)[:-1] + ', "action": "create_lead"}' if body else "{}"),
        st.integers(min_value=MAX_DEPTH + 1, max_value=10_000).map(lambda n: "[" * n + "]" * n),
    )
)
def test_read_message_answers_an_action_or_a_bad_action_whatever_the_body(body: str) -> None:
    read = read_message(ActionMessage("m-1", body, SENT_AT))

    if isinstance(read, BadAction):
        assert read.failure.code in {
            "MALFORMED_ACTION",
            "ACTION_TOO_LARGE",
            "UNKNOWN_ACTION",
            "INVALID_ACTION",
        }
        assert read.failure.message
        assert read.prospect_id is None or 0 < len(read.prospect_id) <= MAX_ID_LENGTH
        # What the error list keeps can be written: no lone surrogate, no overlong key.
        read.failure.message.encode()
        read.action_id.encode()
        return
    assert isinstance(read, Action)
    assert isinstance(read.kind, ActionKind)
    assert isinstance(read.prospect_id, str) and 0 < len(read.prospect_id) <= MAX_ID_LENGTH
    read.prospect_id.encode()
    assert read.accepted_at is None or read.accepted_at.tzinfo is UTC


# ------------------------------------------------------------------ the configuration's top level

behaviours = st.sampled_from(["salesforce", "marketing", "most_recent", "none", "push", "sometimes"])
field_names = st.sampled_from(["email", "Email", "score", "Company", "Bad Name", ""]) | st.text(max_size=8)
mapping_entries = shaped(
    {
        "marketing_field": field_names,
        "salesforce_field": field_names,
        "behaviour": behaviours,
        "sync_blanks": st.booleans(),
    }
)
criteria = st.lists(
    shaped(
        {
            "field": field_names,
            "operator": st.sampled_from(["equals", "in", "contains", "greater_than", "??"]),
            "value": json_values,
        }
    ),
    max_size=3,
)
scopes = (
    st.sampled_from(["none", "all", "some"])
    | shaped({"created_after": st.dates().map(str) | st.text(max_size=12)})
    | shaped({"flagged": field_names})
    | shaped({"criteria": criteria})
)
documents = shaped(
    {
        "version": st.integers(min_value=-2, max_value=10**11) | st.integers(1, 20) | st.integers(1, 20),
        "matching": st.sampled_from(["email", "crm_id", "fuzzy"]),
        "conflict_winner": st.sampled_from(["salesforce", "marketing", "latest_timestamp", "coin"]),
        "objects": shaped(
            {key: st.booleans() for key in ("lead", "contact", "account_fields", "opportunities")}
        ),
        "mappings": shaped(
            {key: st.lists(mapping_entries, max_size=3) for key in ("Lead", "Contact", "Account")}
        ),
        "outbound": shaped(
            {
                "schedule": st.sampled_from(["2 minutes", "5 hours", "daily", "weekly"]),
                "scope": shaped({"Lead": scopes, "Contact": scopes}),
            }
        ),
        "inbound": shaped(
            {
                "every_minutes": st.integers(-1, 70),
                "max_waiting_changes": st.integers(-1, 10**6),
                "create_unlinked": st.sampled_from(["never", "always", "sometimes"]),
            }
        ),
        "owner": shaped(
            {
                "direction": st.sampled_from(["salesforce", "two_way", "both"]),
                "user_map": st.dictionaries(
                    st.sampled_from(["005000000000001", "x"]), json_values, max_size=2
                ),
            }
        ),
        "tags": shaped({"added_to_salesforce_lead": st.text(max_size=8)}),
        "batching": shaped({key: st.integers(-1, 5000) for key in ("collection_size", "read_page_size")}),
        "activities": shaped(
            {"types": st.lists(st.sampled_from(["email_open", "page_visit", "fax"]), max_size=3)}
        ),
        "automation": shaped(
            {
                "last_name_fallback": st.text(max_size=90),
                "default_account": shaped({"id": st.text(max_size=18), "name": st.text(max_size=10)}),
                "external_id_field": field_names,
            }
        ),
    }
)
PYDANTIC_WORDING = ("input should", "field required", "extra inputs", "value error", "unable to parse")


def worded_by_pydantic(problem: str) -> bool:
    """The configuration's models word every problem themselves: pydantic's defaults read worse."""
    return any(words in problem.lower() for words in PYDANTIC_WORDING)


TOP_LEVEL = {"configuration", "typo", *(name for name in Configuration.__dataclass_fields__)}


@PROPERTY
@given(json_values | documents)
def test_the_configuration_reader_answers_a_configuration_or_every_problem_with_its_path(
    document: Any,
) -> None:
    try:
        configuration = Configuration.from_document(document)
    except InvalidConfiguration as refused:
        assert refused.problems
        roots = TOP_LEVEL | (set(document) if isinstance(document, dict) else set())
        for problem in refused.problems:
            path, _, why = problem.partition(": ")
            assert why, problem
            assert not worded_by_pydantic(why), problem
            assert any(path == root or path.startswith((f"{root}.", f"{root}[")) for root in roots), problem
        return
    assert isinstance(document, dict)
    event("read")
    # What was read is what the connector writes back when asked for its document.
    assert Configuration.from_document(configuration.to_document()) == configuration


SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json").read_text())


def paths_of(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into a document, its root excepted."""
    children: list[tuple[str | int, Any]] = (
        list(value.items())
        if isinstance(value, dict)
        else list(enumerate(value))
        if isinstance(value, list)
        else []
    )
    found = []
    for key, child in children:
        found.append((*path, key))
        found += paths_of(child, (*path, key))
    return found


SAMPLE_PATHS = paths_of(SAMPLE)


@PROPERTY
@given(st.sampled_from(SAMPLE_PATHS), json_values | st.just(...))
def test_the_sample_with_any_one_value_replaced_or_removed_reads_or_names_that_entry(
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
        configuration = Configuration.from_document(document)
    except InvalidConfiguration as refused:
        assert refused.problems
        assert all(": " in problem for problem in refused.problems)
        assert not any(worded_by_pydantic(problem) for problem in refused.problems), refused.problems
        return
    event("read")
    assert Configuration.from_document(configuration.to_document()) == configuration
