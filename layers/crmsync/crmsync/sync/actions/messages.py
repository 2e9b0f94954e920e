"""The actions queue's messages, read: each into its `Action`, or into why it is none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from crmsync.domain.action_results import BadAction
from crmsync.domain.actions import Action, ActionKind
from crmsync.domain.errors import Failure
from crmsync.json_input import JsonInputError, json_type, read_json
from crmsync.sync.actions_intake import (
    MAX_ACTION_BYTES,
    MAX_ID_LENGTH,
    InvalidAction,
    is_action_kind,
    parse_action,
)

MAX_RECEIVES = 5
"""ActionsQueue's redrive policy (template.yaml): a message that fails its fifth receive goes
to the dead-letter queue, so its error list entry stops saying "retrying"."""

_EXTRA_MESSAGE_KEYS = ("action_id", "accepted_at")


@dataclass(frozen=True)
class ActionMessage:
    """One message of the actions queue."""

    message_id: str
    body: str
    sent_at: datetime
    receive_count: int = 1

    @property
    def last_receive(self) -> bool:
        """It will not be delivered again after a passing failure (dead-letter queue next)."""
        return self.receive_count >= MAX_RECEIVES


def read_message(message: ActionMessage) -> Action | BadAction:
    """The action a message asks for (the format of `actions_intake`), or why it is none.
    Whatever the body holds, the answer is one of the two: a message's failure is its own and
    never the batch's.

    A message sent straight to the queue may lack `action_id` and `accepted_at`: its id is then
    derived as the intake derives it (from the idempotency key, else the SQS message id, which
    a redelivery keeps)."""
    size = len(message.body.encode("utf-8", "surrogatepass"))
    if size > MAX_ACTION_BYTES:
        return _bad(
            message,
            "ACTION_TOO_LARGE",
            f"the message is {size} bytes; an action is at most {MAX_ACTION_BYTES}",
        )
    try:
        body = read_json(message.body, what="message")
    except JsonInputError as exc:
        return _bad(message, "MALFORMED_ACTION", "; ".join(exc.problems), fields=_paths(exc.problems))
    if not isinstance(body, dict):
        return _bad(
            message, "MALFORMED_ACTION", f"message: must be a JSON object (an action), not {json_type(body)}"
        )
    problems: list[str] = []
    action: Action | None = None
    try:
        action = parse_action(
            {k: v for k, v in body.items() if k not in _EXTRA_MESSAGE_KEYS}, new_id=lambda: message.message_id
        )
    except InvalidAction as invalid:
        problems += [
            p.replace("(allowed: ", f"(allowed: {', '.join(_EXTRA_MESSAGE_KEYS)}, ") for p in invalid.problems
        ]
    given_id = body.get("action_id")
    if given_id is not None and not _short_text(given_id):
        problems.append(f"action_id: must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    accepted_at = _moment(body.get("accepted_at"))
    if body.get("accepted_at") is not None and accepted_at is None:
        problems.append("accepted_at: must be an ISO-8601 time, like 2026-11-22T12:00:00Z")
    if problems or action is None:
        kind = body.get("action")
        unknown = "action" in body and not is_action_kind(kind)
        return BadAction(
            message_id=message.message_id,
            action_id=str(given_id) if _short_text(given_id) else message.message_id,
            failure=Failure(
                "UNKNOWN_ACTION" if unknown else "INVALID_ACTION",
                "; ".join(problems),
                fields=_paths(problems),
            ),
            prospect_id=body.get("prospect_id") if _short_text(body.get("prospect_id")) else None,
            kind=ActionKind(str(kind)) if is_action_kind(kind) else None,
        )
    if given_id:
        action = replace(action, action_id=str(given_id))
    return replace(action, accepted_at=accepted_at)


def asked_at(read: Action | BadAction, message: ActionMessage) -> datetime:
    """When an action was asked for: accepted, else sent to the queue."""
    if isinstance(read, Action) and read.accepted_at is not None:
        return read.accepted_at
    return message.sent_at


def _bad(message: ActionMessage, code: str, text: str, fields: tuple[str, ...] = ()) -> BadAction:
    return BadAction(
        message.message_id,
        message.message_id,
        Failure(code, text, fields=fields),
        prospect_id=None,
        kind=None,
    )


def _paths(problems: Sequence[str]) -> tuple[str, ...]:
    """The keys the problems name (`action: ...` → `action`), not the message as a whole."""
    return tuple(sorted({p.split(":", 1)[0] for p in problems} - {"message"}))


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_ID_LENGTH


def _moment(value: Any) -> datetime | None:
    """An ISO-8601 time in UTC (a time without offset is UTC); None when it is none, or lies
    beyond what a datetime holds once in UTC (`0001-01-01T00:00:00+05:00`)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
