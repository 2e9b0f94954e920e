"""The strict JSON reader every external body goes through (`crmsync.json_input`): examples of
what it refuses and why, then properties over random JSON and random text (hypothesis)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest
from crmsync.json_input import MAX_DEPTH, JsonInputError, read_json
from hypothesis import given, settings
from hypothesis import strategies as st

PROPERTY = settings(max_examples=int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "200")), deadline=None)
"""`make fuzz` runs five times as many."""


def refusal(data: str | bytes, what: str = "body") -> tuple[str, ...]:
    with pytest.raises(JsonInputError) as refused:
        read_json(data, what)
    return refused.value.problems


# ------------------------------------------------------------------ examples


def test_strict_json_reads_as_json_does() -> None:
    text = '{"version": 3, "mappings": {"Lead": [{"a": 1.5, "b": null, "c": true, "d": "Zoë 😀"}]}}'

    assert read_json(text) == json.loads(text)
    assert read_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        pytest.param(
            '{"action": "create_lead", "action": "create_contact"}',
            ("action: appears more than once in one object (duplicate keys are refused)",),
            id="at the top",
        ),
        pytest.param(
            '{"mappings": {"Lead": [{"behaviour": "marketing", "x": 1, "behaviour": "salesforce", "x": 2}]}}',
            (
                "mappings.Lead[0].behaviour: appears more than once in one object (duplicate keys are refused)",
                "mappings.Lead[0].x: appears more than once in one object (duplicate keys are refused)",
            ),
            id="nested, every one",
        ),
        pytest.param(
            '{"a": {"x": 1, "x": 2}, "b": [{"y": 1, "y": 1}]}',
            (
                "a.x: appears more than once in one object (duplicate keys are refused)",
                "b[0].y: appears more than once in one object (duplicate keys are refused)",
            ),
            id="in document order, even with equal values",
        ),
    ],
)
def test_duplicate_keys_are_refused_with_their_path(text: str, problems: tuple[str, ...]) -> None:
    assert refusal(text) == problems


def test_an_object_with_duplicates_replaced_by_a_later_key_is_still_refused_at_its_own_path() -> None:
    # The inner object is thrown away by the outer duplicate; no other object inherits its flaw.
    problems = refusal('{"a": {"x": 1, "x": 2}, "a": 3, "b": {"y": 1}, "c": {"z": 1}}')

    assert problems == ("a: appears more than once in one object (duplicate keys are refused)",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("NaN", "body: NaN is not a JSON number (JSON has no NaN or Infinity)"),
        ('{"x": -Infinity}', "body: -Infinity is not a JSON number (JSON has no NaN or Infinity)"),
        ("[1e400]", "body: the number 1e400 is too large (beyond a 64-bit float)"),
        ("1" * 39, "body: the number 11111111111111111111... (39 characters) has more than 38 digits"),
        (
            "-" + "9" * 5000,
            "body: the number -9999999999999999999... (5001 characters) has more than 38 digits",
        ),
    ],
)
def test_numbers_json_or_dynamodb_cannot_hold_are_refused(text: str, problem: str) -> None:
    assert refusal(text) == (problem,)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_nesting_deeper_than_the_bound_is_refused_without_recursing(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    deep = opening * 100_000 + "1" + closing * 100_000

    assert refusal(deep, "message") == (
        f"message: is nested more than {MAX_DEPTH} levels deep (at offset {MAX_DEPTH * len(opening)})",
    )


def test_nesting_up_to_the_bound_is_read_and_brackets_inside_strings_do_not_count() -> None:
    at_bound = "[" * MAX_DEPTH + '"[[[[{{{{ \\" [[[["' + "]" * MAX_DEPTH

    value = read_json(at_bound)

    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == ['[[[[{{{{ " [[[[']


def test_bytes_that_are_not_utf8_are_refused_naming_the_byte() -> None:
    assert refusal(b'{"action": "cr\xe9ate_lead"}') == (
        "body: is not UTF-8 text (byte 0xe9 at offset 14); JSON is sent as UTF-8",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"prospect_id": "p-\\ud800"}', "prospect_id: is not Unicode text"),
        ('["ok", "\\uDC00"]', "body[1]: is not Unicode text"),
        ('{"k\\ud83d": 1}', "'k\\ud83d': the key is not Unicode text"),
        ("p-\ud800", "body: is not Unicode text (a lone surrogate at offset 2)"),
    ],
)
def test_lone_surrogates_are_refused_with_their_path(text: str, problem: str) -> None:
    [found] = refusal(text)

    assert found.startswith(problem)


def test_a_surrogate_pair_written_as_escapes_is_one_character() -> None:
    assert read_json('"\\ud83d\\ude00"') == "😀"


@pytest.mark.parametrize(
    "text", ["", "{", '{"a": 1,}', "[1, 2", "'single'", '"\\x41"', "\ufeff{}", '"unterminated \\"\\"']
)
def test_text_that_is_not_json_is_refused_saying_so(text: str) -> None:
    [problem] = refusal(text, "message")

    assert problem.startswith("message: is not JSON (")


# ------------------------------------------------------------------ properties


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
).filter(lambda value: depth(value) <= MAX_DEPTH)


@PROPERTY
@given(json_values, st.booleans())
def test_any_json_within_the_bounds_reads_back_as_written(value: Any, as_bytes: bool) -> None:
    text = json.dumps(value, ensure_ascii=not as_bytes)

    read = read_json(text.encode() if as_bytes else text)

    assert read == value or (isinstance(value, float) and math.isclose(read, value))


@PROPERTY
@given(st.one_of(st.text(), st.binary(), st.text(alphabet='[]{}",:\\0123456789.eE+-truefalsnul ud8')))
def test_any_input_reads_or_is_refused_with_named_problems_and_nothing_else(data: str | bytes) -> None:
    try:
        read_json(data, "message")
    except JsonInputError as refused:
        assert refused.problems
        assert all(": " in problem for problem in refused.problems)


@PROPERTY
@given(st.integers(min_value=MAX_DEPTH + 1, max_value=20_000), st.sampled_from(["[", '{"k":']))
def test_any_nesting_past_the_bound_is_refused(levels: int, opening: str) -> None:
    closing = "]" if opening == "[" else "}"

    [problem] = refusal(opening * levels + "0" + closing * levels)

    assert f"nested more than {MAX_DEPTH} levels deep" in problem


@PROPERTY
@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=6), st.data())
def test_any_duplicated_key_is_refused_naming_it(value: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    text = json.dumps(value)[:-1] + f", {json.dumps(key)}: null}}"

    problems = refusal(text)

    assert f"{key}: appears more than once in one object (duplicate keys are refused)" in problems
