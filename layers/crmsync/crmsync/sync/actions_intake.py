"""Accepting an automation action (docs/guide/actions.md): validate it, tag its prospect, queue it.

The action, as an automation step sends it (`POST /actions`), is a JSON object:

    {
      "action": "create_lead" | "create_contact",       required
      "prospect_id": "<non-empty string, ≤ 128 chars>",  required
      "idempotency_key": "<non-empty string, ≤ 128 chars>" | null   optional
    }

No other key is allowed. An accepted action is put on the actions queue as this message (the
same message platforms inside AWS may send straight to the queue):

    {
      "action_id": "<uuid>",
      "action": "create_lead" | "create_contact",
      "prospect_id": "<id>",
      "idempotency_key": "<key>" | null,
      "accepted_at": "<ISO-8601 UTC time>"
    }

`action_id` is derived from prospect id, action and idempotency key when a key is given (a
uuid5), so the same action delivered twice carries the same id and the consumer carries it out
once; without a key every acceptance gets a new id (a uuid4). The action is one `Action` from
the moment it is read (`parse_action`) to its outcome: the message is its JSON form
(`queue_message`), read back by the consumer (`sync/actions/messages.py`).

Tagging comes before queueing: a prospect is never left with an action queued and no tag. When
the queue cannot be reached after the prospect was tagged, the caller is told to try again
(`QueueError`); tagging again is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crmsync.domain.actions import Action, ActionKind
from crmsync.domain.errors import ErrorCategory, Failure, StoreError
from crmsync.domain.lifecycle import Tags
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.json_input import json_type
from crmsync.ports import ActionQueue, ProspectStore

MAX_ID_LENGTH = 128
"""Longest `prospect_id` and `idempotency_key` accepted."""

MAX_ACTION_BYTES = 16 * 1024
"""Largest action accepted, as a `POST /actions` body or a queue message; an action is a few
hundred bytes."""

TAG_ATTEMPTS = 5
"""Tries at tagging a prospect that keeps changing under us before giving up (retryable)."""

ACTION_ID_NAMESPACE = uuid.UUID("6f1c2f0e-8c1e-5b7a-9a43-2d8f0c6e4b11")
"""The uuid5 namespace of action ids derived from an idempotency key. Never change it: the
same delivery must keep its id across deployments."""


KNOWN_KEYS = ("action", "prospect_id", "idempotency_key")
_ACTION_NAMES = frozenset(kind.value for kind in ActionKind)
_SHOWN_LENGTH = 40


class InvalidAction(ValueError):
    """The body is not a valid action; `problems` lists every one, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class UnknownProspect(LookupError):
    def __init__(self, prospect_id: str) -> None:
        super().__init__(f"prospect {prospect_id!r} does not exist")
        self.prospect_id = prospect_id


class ProspectWithoutEmail(ValueError):
    """docs/guide/matching.md: a prospect without an email is never created in Salesforce."""

    def __init__(self, prospect_id: str) -> None:
        super().__init__(
            f"prospect {prospect_id!r} has no email; a prospect without an email is never created in Salesforce"
        )
        self.prospect_id = prospect_id


def queue_message(action: Action) -> dict[str, Any]:
    """The actions queue's message of an accepted action (see the module's documentation)."""
    assert action.accepted_at is not None, "only an accepted action is queued"
    return {
        "action_id": action.action_id,
        "action": action.kind.value,
        "prospect_id": action.prospect_id,
        "idempotency_key": action.idempotency_key,
        "accepted_at": action.accepted_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def parse_action(body: Any, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> Action:
    """The action `body` asks for, with its id (`action_id`), not accepted yet; `InvalidAction`
    listing every problem otherwise."""
    if not isinstance(body, Mapping):
        raise InvalidAction([f"body: must be a JSON object, not {json_type(body)}"])
    problems: list[str] = []
    for key in body:
        if key not in KNOWN_KEYS:
            problems.append(f"{key}: unknown key (allowed: {', '.join(KNOWN_KEYS)})")

    action = body.get("action")
    kinds = ", ".join(kind.value for kind in ActionKind)
    if "action" not in body:
        problems.append(f"action: is required (one of {kinds})")
    elif not is_action_kind(action):
        problems.append(f"action: must be one of {kinds}, not {_shown(action)}")

    prospect_id = body.get("prospect_id")
    if "prospect_id" not in body:
        problems.append("prospect_id: is required")
    else:
        problems.extend(_text_problems("prospect_id", prospect_id))

    key = body.get("idempotency_key")
    if key is not None:
        problems.extend(_text_problems("idempotency_key", key))

    if problems:
        raise InvalidAction(problems)
    kind = ActionKind(str(action))
    return Action(
        action_id=action_id(str(prospect_id), kind, key, new_id),
        kind=kind,
        prospect_id=str(prospect_id),
        idempotency_key=key,
    )


def is_action_kind(value: Any) -> bool:
    """Whether `value` names an action; any JSON value may be asked (a list names none)."""
    return isinstance(value, str) and value in _ACTION_NAMES


def action_id(
    prospect_id: str, kind: ActionKind, idempotency_key: str | None, new_id: Callable[[], str]
) -> str:
    """The same for every delivery of one keyed action; `new_id()` without a key."""
    if idempotency_key is None:
        return new_id()
    name = "\n".join((prospect_id, kind.value, idempotency_key))
    return str(uuid.uuid5(ACTION_ID_NAMESPACE, name))


def accept_action(
    body: Mapping[str, Any],
    prospects: ProspectStore,
    queue: ActionQueue,
    tags: Tags,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Action:
    """Validate the action, tag its prospect, put the action on the queue.

    Raises `InvalidAction`, `UnknownProspect`, `ProspectWithoutEmail` (nothing tagged or
    queued), `StoreError` or `QueueError` (retryable ones: try again later)."""
    action = parse_action(body, new_id)
    tag = (
        tags.added_to_salesforce_lead
        if action.kind is ActionKind.CREATE_LEAD
        else tags.added_to_salesforce_contact
    )
    _tag(prospects, action.prospect_id, tag)
    accepted = replace(action, accepted_at=now())
    queue.send(queue_message(accepted))
    return accepted


def _tag(prospects: ProspectStore, prospect_id: str, tag: str) -> Prospect:
    """Add `tag` to the prospect, saved against the version read; re-read and try again when it
    changed meanwhile."""
    for _ in range(TAG_ATTEMPTS):
        prospect = prospects.get_many([prospect_id]).get(prospect_id)
        if prospect is None:
            raise UnknownProspect(prospect_id)
        if prospect.email_key is None:
            raise ProspectWithoutEmail(prospect_id)
        if tag in prospect.tags:
            return prospect
        tagged = replace(prospect, tags=prospect.tags | {tag})
        if not prospects.save([ProspectChange(after=tagged, before=prospect)]):
            return tagged
    raise StoreError(
        Failure(
            "PROSPECT_BUSY",
            f"prospect {prospect_id!r} kept changing while it was being tagged ({TAG_ATTEMPTS} attempts)",
            category=ErrorCategory.TRANSIENT,
        )
    )


def _text_problems(path: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{path}: must be a string, not {json_type(value)}"]
    if not value.strip():
        return [f"{path}: must not be empty"]
    if len(value) > MAX_ID_LENGTH:
        return [f"{path}: must be at most {MAX_ID_LENGTH} characters, not {len(value)}"]
    return []


def _shown(value: Any) -> str:
    if not isinstance(value, str):
        return json_type(value)
    if len(value) <= _SHOWN_LENGTH:
        return repr(value)
    return f"{value[:_SHOWN_LENGTH]!r}... ({len(value)} characters)"
