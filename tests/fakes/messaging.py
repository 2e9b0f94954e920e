"""The actions queue, the actions' claims and parked actions, and change capture's failed batches,
in memory, with their adapters' contracts (crmsync/aws/actions_queue.py, action_claims.py,
parked_actions.py, failed_captures.py)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crmsync.domain.errors import QueueError
from crmsync.ports import (
    CapturedChanges,
    Claim,
    Clock,
    FailedCapture,
    ParkedAction,
    StreamPosition,
    StreamRecordsGone,
)

from tests.fakes.stored import instant, iso


class FakeActionQueue:
    """What was put on the actions queue, read back as the consumer would (JSON bodies)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.failure: QueueError | None = None
        """Raised by every `send` while set (the queue unreachable)."""

    def send(self, message: Mapping[str, Any]) -> None:
        if self.failure is not None:
            raise self.failure
        self.bodies.append(json.dumps(dict(message), sort_keys=True, separators=(",", ":")))

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    def take(self) -> list[str]:
        """The bodies waiting, received and deleted (a consumer drained the queue)."""
        taken, self.bodies = self.bodies, []
        return taken


class FakeQueueDepths:
    """The stack's queues as the status counts them: the actions queue's from `FakeActionQueue`,
    the others as a test sets them (`depths`; None: a queue that cannot be read)."""

    def __init__(self, actions: FakeActionQueue) -> None:
        self._actions = actions
        self.depths_set: dict[str, int | None] = {"actions_dlq": 0, "failed_captures": 0}

    def depths(self) -> dict[str, int | None]:
        return {"actions_queue": len(self._actions.bodies), **self.depths_set}


COMPLETED_FOR = timedelta(hours=1)
"""How long a completed claim answers for its prospect (as the idempotency table keeps it)."""


@dataclass
class _ClaimItem:
    completed: bool
    expires: int
    """Epoch seconds."""
    deadline_ms: int
    """The claiming invocation's deadline, epoch milliseconds."""
    result: str | None = None


class FakeActionClaims:
    """One claim per prospect key: held until completed or released, lapsing at the claiming
    invocation's deadline; a completed one answers with its result for an hour."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._items: dict[str, _ClaimItem] = {}

    def claim(self, prospect_id: str, remaining_ms: int) -> Claim:
        now = self._clock.now()
        now_s, now_ms = int(now.timestamp()), int(now.timestamp() * 1000)
        held = self._items.get(prospect_id)
        claimable = held is None or held.expires < now_s or (not held.completed and held.deadline_ms < now_ms)
        if not claimable:
            assert held is not None
            if held.completed:
                return Claim(claimed=False, done_with=json.loads(held.result or "{}"))
            return Claim(claimed=False)
        self._items[prospect_id] = _ClaimItem(
            completed=False,
            expires=math.ceil((now + COMPLETED_FOR).timestamp()),
            deadline_ms=now_ms + max(remaining_ms, 0),
        )
        return Claim(claimed=True)

    def complete(self, prospect_id: str, result: Mapping[str, Any]) -> None:
        # An update: it makes the item when there is none (a claim that lapsed and was removed).
        now = self._clock.now()
        held = self._items.get(prospect_id)
        self._items[prospect_id] = _ClaimItem(
            completed=True,
            expires=math.ceil((now + COMPLETED_FOR).timestamp()),
            deadline_ms=held.deadline_ms if held else 0,
            result=json.dumps(dict(result), sort_keys=True, default=str),
        )

    def release(self, prospect_id: str) -> None:
        self._items.pop(prospect_id, None)

    def held(self) -> dict[str, bool]:
        """Prospect key → whether its claim is completed (True) or in progress; for tests."""
        return {key: item.completed for key, item in self._items.items()}


class FakeParkedActions:
    """Parked actions, oldest first; the same message parked twice is kept once."""

    def __init__(self) -> None:
        self._items: dict[str, ParkedAction] = {}

    def park(self, actions: Sequence[ParkedAction]) -> None:
        for action in actions:
            kept = ParkedAction(action.message_id, action.body, instant(action.sent_at))
            self._items[_parked_key(kept)] = kept

    def waiting(self, limit: int) -> list[ParkedAction]:
        return [self._items[key] for key in sorted(self._items)[:limit]]

    def count(self, at_most: int) -> int:
        return min(len(self._items), at_most)

    def remove(self, actions: Sequence[ParkedAction]) -> None:
        for action in actions:
            self._items.pop(_parked_key(action), None)


def _parked_key(action: ParkedAction) -> str:
    return f"{iso(action.sent_at)}#{action.message_id}"


@dataclass
class _Message:
    capture: FailedCapture
    hidden_until: datetime | None = None


@dataclass
class FakeFailedCaptures:
    """The on-failure queue of change capture and the stream it reads batches back from: each
    batch sent here is a position whose records the test says (`batches`), or one gone from the
    stream. A message received stays hidden for the visibility timeout, then comes again unless
    deleted."""

    clock: Clock
    visibility: timedelta = timedelta(minutes=5)
    batches: dict[StreamPosition, CapturedChanges | None] = field(default_factory=dict)
    """What each position's records say when read back; None: gone from the stream."""
    read_failure: Callable[[], Exception] | None = None
    """Raised by `read` while set (the stream unreadable now: a `StoreError`)."""
    _messages: list[_Message] = field(default_factory=list)
    _ids: int = 0

    def send(self, position: StreamPosition | None, problem: str = "") -> str:
        """Lambda's on-failure message for a batch at `position` (None: a malformed message,
        `problem` saying why); its message id."""
        self._ids += 1
        message_id = f"failed-capture-{self._ids}"
        self._messages.append(_Message(FailedCapture(message_id, f"receipt-{message_id}", position, problem)))
        return message_id

    def waiting(self) -> int:
        return len(self._messages)

    def receive(self, at_most: int) -> list[FailedCapture]:
        now = self.clock.now()
        visible = [m for m in self._messages if m.hidden_until is None or m.hidden_until <= now][:at_most]
        for message in visible:
            message.hidden_until = now + self.visibility
        return [message.capture for message in visible]

    def read(self, position: StreamPosition) -> CapturedChanges:
        if self.read_failure is not None:
            raise self.read_failure()
        captured = self.batches.get(position)
        if captured is None:
            raise StreamRecordsGone(f"{position.shard_id} {position.first_sequence_number}: trimmed")
        return CapturedChanges(changes=list(captured.changes), refused=list(captured.refused))

    def delete(self, captures: Sequence[FailedCapture]) -> None:
        deleted = {capture.message_id for capture in captures}
        self._messages = [m for m in self._messages if m.capture.message_id not in deleted]
