"""A warm container's long-lived objects leave the garbage collector's generations after its
first invocation (`bootstrap.settled_after_first_invocation`)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from crmsync import bootstrap


@pytest.fixture
def freezes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `gc.freeze` calls made, counted instead of freezing the test process; a fresh container."""
    made: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: made.append("freeze"))
    monkeypatch.setattr(gc, "get_freeze_count", lambda: len(made))
    return made


def test_the_first_invocation_freezes_what_the_container_built_and_later_ones_do_not(
    freezes: list[str],
) -> None:
    @bootstrap.settled_after_first_invocation
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {"echo": event}

    assert handler({"n": 1}, None) == {"echo": {"n": 1}}
    assert freezes == ["freeze"]
    assert handler({"n": 2}, None) == {"echo": {"n": 2}}
    assert freezes == ["freeze"]


def test_a_failed_first_invocation_still_settles_the_container_and_its_error_goes_out(
    freezes: list[str],
) -> None:
    @bootstrap.settled_after_first_invocation
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        raise RuntimeError("Salesforce is down")

    with pytest.raises(RuntimeError, match="Salesforce is down"):
        handler({}, None)
    assert freezes == ["freeze"]
