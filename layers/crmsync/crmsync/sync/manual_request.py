"""A manual sync's request and answer: the body `POST /records/{id}/sync` takes, what the sync
answers, how it refuses, and the bound on the Salesforce API calls it makes. The sync itself is
`crmsync.sync.manual`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.domain.audit import Direction
from crmsync.domain.errors import Failure
from crmsync.domain.lifecycle import CrmRef
from crmsync.domain.manual import DirectionResult, ManualDirection
from crmsync.json_input import json_type

MAX_API_CALLS = 4
"""The most Salesforce API calls one manual sync makes, whatever the record and direction:
- outbound: 1 query (the record by Id), +1 for a linked Lead converted while Person Accounts
  are synced (is its account a person account?) or for a Contact's Account fields: 2 at most;
- inbound, linked: 1 query (none after the outbound part read the record) and 1 Collections
  call when there is something to write: 2 at most, 3 for both directions together;
- inbound, unlinked (an action): 1 query per person object synced (up to 3) and 1 upsert: 4
  at most; the outbound part reads nothing for a prospect without a record.
A Contact created by an action for a prospect naming a company could need its Account found
and created (2 more): a manual sync creates a Lead, unless Leads are not synced."""
DIRECTION_KEYS = ("direction",)


class InvalidManualSync(ValueError):
    """The request body is not a manual sync's; `problems` lists every one, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class UnknownRecord(LookupError):
    """Neither the stores nor Salesforce know the record asked for."""

    def __init__(self, record_id: str, message: str) -> None:
        super().__init__(message)
        self.record_id = record_id


class RunInProgress(Exception):
    """A run of a direction the manual sync needs is working now (it holds the lease), or an
    automation action is being carried out for the prospect."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is working on it now; try again in a minute")
        self.what = what


def read_request(body: Any) -> ManualDirection:
    """The direction a `POST /records/{id}/sync` body asks for: `{"direction": "inbound" |
    "outbound" | "both"}`, `both` when the body or its key is left out."""
    if body is None:
        return ManualDirection.BOTH
    if not isinstance(body, Mapping):
        raise InvalidManualSync([f"body: must be a JSON object, not {json_type(body)}"])
    problems = [
        f"{key}: unknown key (allowed: {', '.join(DIRECTION_KEYS)})"
        for key in body
        if key not in DIRECTION_KEYS
    ]
    direction = body.get("direction", ManualDirection.BOTH.value)
    names = ", ".join(d.value for d in ManualDirection)
    if not isinstance(direction, str) or direction not in {d.value for d in ManualDirection}:
        shown = repr(direction[:40]) if isinstance(direction, str) else json_type(direction)
        problems.append(f"direction: must be one of {names}, not {shown}")
    if problems:
        raise InvalidManualSync(problems)
    return ManualDirection(direction)


@dataclass(frozen=True)
class ManualSyncReport:
    """What a manual sync did: the record it resolved to, and each direction's part."""

    record_id: str
    prospect_id: str | None
    salesforce: CrmRef | None
    direction: ManualDirection
    caller: str
    run_id: str
    results: Mapping[Direction, DirectionResult]
    api_calls: int

    def as_answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self.record_id,
            "prospect_id": self.prospect_id,
            "salesforce": (
                {"object": self.salesforce.object.value, "id": self.salesforce.id}
                if self.salesforce
                else None
            ),
            "direction": self.direction.value,
            "caller": self.caller,
            "run_id": self.run_id,
            "api_calls": self.api_calls,
            "api_calls_at_most": MAX_API_CALLS,
        }
        # Each direction's part, then the same together (each change and entry naming its
        # direction), as one list a person reads through.
        parts = [(d, self.results[d].as_answer()) for d in Direction if d in self.results]
        for direction in Direction:
            answer[direction.value] = next((part for d, part in parts if d is direction), None)
        answer["changes"] = [{**c, "direction": d.value} for d, part in parts for c in part["changes"]]
        answer["events"] = [event for _, part in parts for event in part["events"]]
        answer["errors"] = [error for _, part in parts for error in part["errors"]]
        return answer


class ManualSyncFailed(Exception):
    """Salesforce (or the connector's own tables) failed a whole request: the direction whose
    part it was wrote nothing; `done` holds what the parts before it did."""

    def __init__(self, failure: Failure, done: ManualSyncReport) -> None:
        super().__init__(failure.describe())
        self.failure = failure
        self.done = done
