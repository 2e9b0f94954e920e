"""The operators' error list (docs/guide/operating.md): list it, retry entries, dismiss them.

`GET /errors` lists the entries a filter picks (category, object, direction, age, state), a
page at a time in key order (`SyncError.key`: `<direction>#<sObject>#<record id>`); `next` is
the last key given, to ask the next page `after`. Age is the entry's: `older_than` and
`newer_than` compare its first failure with an instant (ISO-8601) or with now less a duration
(`30m`, `12h`, `7d`). Dismissed entries are listed only when asked (`state=dismissed`).

`POST /errors/retry` puts what an entry is about where the next run takes it up, and marks the
entry `retrying`; the entry stays until the record syncs (it clears itself then) and a record
that fails again updates it (`attempts` + 1, `open` again). What is retried, by entry:
- outbound (a Salesforce record the connector could not bring over): the record goes on
  outbound's retry list, read by Id at the start of the next outbound run;
- inbound, a record Salesforce refused, or a prospect change capture refused: the prospect is
  noted as waiting at its current version, as change capture would, for the next inbound run;
- an automation action (its record id is its prospect's): the action is accepted again (tagged
  and queued as `POST /actions` does); the prospect's claim still carries it out once;
- a Task Salesforce refused: the activity waits to be sent again by the next activities run;
- an on-failure stream message deleted unread, or a change record naming no prospect: there is
  nothing left to send (reconciliation finds the changes); an action message that named no
  action kind: nothing says what to carry out. Each is answered as not queued, to be dismissed.

`POST /errors/dismiss` takes entries off the open list with a reason, keeping who dismissed
them and when; the status and the default list leave them out. A dismissed record that fails
again is open again; one that syncs is cleared like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from crmsync.domain.action_results import ACTION_OBJECT
from crmsync.domain.activities import TASK_OBJECT, ActivityState, StoredActivity
from crmsync.domain.audit import Direction, ErrorState
from crmsync.domain.errors import ErrorCategory, ExternalFailure
from crmsync.domain.inbound import CAPTURE_OBJECT, FAILED_BATCH_OBJECT
from crmsync.domain.objects import CrmObject
from crmsync.ports import (
    ActivityStore,
    Clock,
    ErrorList,
    ListedError,
    PendingChange,
    PendingChanges,
    ProspectStore,
    RetryList,
)

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_RETRIED = 1000
"""The most entries one retry request takes up (a category may hold more: ask again)."""
MAX_KEYS = 1000
MAX_REASON = 500
_DURATION = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_FILTERS = ("category", "object", "direction", "older_than", "newer_than", "state")


class InvalidRequest(ValueError):
    """The request cannot be read; `problems` lists every one, each with its path."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ErrorFilter:
    category: ErrorCategory | None = None
    sobject: str | None = None
    direction: Direction | None = None
    older_than: datetime | None = None
    newer_than: datetime | None = None
    state: ErrorState | None = None
    """None: every entry not dismissed."""

    @classmethod
    def read(cls, values: Mapping[str, Any], now: datetime, path: str = "") -> ErrorFilter:
        """The filter `values` ask for (query parameters or a body's keys); raises
        `InvalidRequest` naming every problem."""
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = values.get(name)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                problems.append(f"{path}{name}: must be text")
                return None
            return value

        def choice(name: str, kind: type[StrEnum]) -> Any:
            value = text(name)
            if value is None:
                return None
            try:
                return kind(value)
            except ValueError:
                allowed = ", ".join(member.value for member in kind)
                problems.append(f"{path}{name}: {value!r} is not one of {allowed}")
                return None

        def instant(name: str) -> datetime | None:
            value = text(name)
            if value is None:
                return None
            duration = _DURATION.match(value)
            if duration:
                return now - timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
            try:
                read = datetime.fromisoformat(value)
            except ValueError:
                problems.append(
                    f"{path}{name}: {value!r} is neither an ISO-8601 instant nor a duration (30m, 12h, 7d)"
                )
                return None
            return read if read.tzinfo else read.replace(tzinfo=UTC)

        found = cls(
            category=choice("category", ErrorCategory),
            sobject=text("object"),
            direction=choice("direction", Direction),
            older_than=instant("older_than"),
            newer_than=instant("newer_than"),
            state=choice("state", ErrorState),
        )
        if problems:
            raise InvalidRequest(problems)
        return found

    def __call__(self, entry: ListedError) -> bool:
        error = entry.error
        if self.state is None:
            if entry.state is ErrorState.DISMISSED:
                return False
        elif entry.state is not self.state:
            return False
        return (
            (self.category is None or error.failure.category is self.category)
            and (self.sobject is None or error.sobject == self.sobject)
            and (self.direction is None or error.direction is self.direction)
            and (self.older_than is None or entry.first_seen < self.older_than)
            and (self.newer_than is None or entry.first_seen > self.newer_than)
        )


def entry_report(entry: ListedError) -> dict[str, Any]:
    """An entry as operators see it (`GET /errors`, the record's `why`)."""
    error, failure = entry.error, entry.error.failure
    return {
        "key": error.key,
        "direction": error.direction.value,
        "object": error.sobject,
        "record_id": error.record_id,
        "prospect_id": error.prospect_id,
        "operation": error.operation,
        "code": failure.code,
        "category": failure.category.value,
        "message": failure.message,
        "fields": list(failure.fields),
        "first_seen": entry.first_seen.isoformat(),
        "last_seen": error.at.isoformat(),
        "attempts": error.attempts,
        "state": entry.state.value,
        "dismissed": None
        if entry.dismissed_reason is None
        else {
            "reason": entry.dismissed_reason,
            "by": entry.dismissed_by,
            "at": None if entry.dismissed_at is None else entry.dismissed_at.isoformat(),
        },
        "retry_requested": None
        if entry.retry_requested_at is None
        else {"by": entry.retry_requested_by, "at": entry.retry_requested_at.isoformat()},
    }


@dataclass(frozen=True)
class ErrorActions:
    """`GET /errors`, `POST /errors/retry`, `POST /errors/dismiss`."""

    error_list: ErrorList
    retry_list: RetryList
    pending_changes: PendingChanges
    prospects: ProspectStore
    activities: ActivityStore
    accept_action: Callable[[Mapping[str, Any]], Any]
    """`POST /actions`'s acceptance of an action body (returns the accepted `Action`)."""
    clock: Clock

    def listed(self, query: Mapping[str, Any]) -> dict[str, Any]:
        problems: list[str] = []
        try:
            picked = ErrorFilter.read(query, self.clock.now())
        except InvalidRequest as exc:
            problems += exc.problems
        try:
            limit, after = _page(query)
        except InvalidRequest as exc:
            problems += exc.problems
        if problems:
            raise InvalidRequest(problems)
        entries = self._matching(picked, after)
        page = entries[:limit]
        return {
            "errors": [entry_report(entry) for entry in page],
            "next": page[-1].error.key if len(entries) > limit else None,
        }

    def retry(self, body: Any, by: str) -> dict[str, Any]:
        now = self.clock.now()
        if not isinstance(body, Mapping):
            raise InvalidRequest(["body: must be a JSON object with `keys`, or `category` and other filters"])
        keys = body.get("keys")
        if keys is not None:
            unknown = sorted(set(body) - {"keys"})
            if unknown:
                raise InvalidRequest([f"body.{name}: not allowed beside `keys`" for name in unknown])
            asked = _keys(keys)
            listed = {entry.error.key: entry for entry in self.error_list.listed_errors()}
            entries = [listed[key] for key in asked if key in listed]
            not_found = [key for key in asked if key not in listed]
            more = 0
        else:
            unknown = sorted(set(body) - set(_FILTERS))
            problems = [
                f"body.{name}: not a filter (allowed: keys, {', '.join(_FILTERS)})" for name in unknown
            ]
            if body.get("category") in (None, ""):
                problems.append("body: give `keys`, or a `category` (with other filters if you like)")
            if problems:
                raise InvalidRequest(problems)
            matching = self._matching(ErrorFilter.read(body, now, "body."), None)
            entries, not_found, more = matching[:MAX_RETRIED], [], max(len(matching) - MAX_RETRIED, 0)
        queued: list[dict[str, str]] = []
        not_queued: list[dict[str, str]] = []
        for entry in entries:
            how = self._requeue(entry)
            if how.startswith("not queued: "):
                not_queued.append({"key": entry.error.key, "why": how.removeprefix("not queued: ")})
            else:
                queued.append({"key": entry.error.key, "as": how})
        if queued:
            self.error_list.note_retry_requested([item["key"] for item in queued], by, now)
        return {"queued": queued, "not_queued": not_queued, "not_found": not_found, "more": more}

    def dismiss(self, body: Any, by: str) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise InvalidRequest(["body: must be a JSON object with `keys` and `reason`"])
        problems = [
            f"body.{name}: not allowed (allowed: keys, reason)"
            for name in sorted(set(body) - {"keys", "reason"})
        ]
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append("body.reason: is required: say why these entries need no action")
        elif len(reason) > MAX_REASON:
            problems.append(f"body.reason: is {len(reason)} characters; at most {MAX_REASON}")
        try:
            keys = _keys(body.get("keys"))
        except InvalidRequest as exc:
            problems += exc.problems
        if problems:
            raise InvalidRequest(problems)
        assert isinstance(reason, str)
        dismissed = self.error_list.dismiss_errors(keys, reason.strip(), by, self.clock.now())
        return {"dismissed": dismissed, "not_found": [key for key in keys if key not in set(dismissed)]}

    def _matching(self, picked: ErrorFilter, after: str | None) -> list[ListedError]:
        entries = self.error_list.listed_errors(picked.direction)
        return sorted(
            (entry for entry in entries if picked(entry) and (after is None or entry.error.key > after)),
            key=lambda entry: entry.error.key,
        )

    def _requeue(self, entry: ListedError) -> str:
        """Put what `entry` is about where the next run takes it up; says how, or why not
        (`not queued: ...`)."""
        error = entry.error
        if error.direction is Direction.OUTBOUND:
            self.retry_list.mark_for_retry(Direction.OUTBOUND, error.sobject, [error.record_id])
            return "read again by the next outbound run"
        prospect_id = error.prospect_id
        if error.sobject == FAILED_BATCH_OBJECT or prospect_id is None:
            return "not queued: it names no prospect to send again (reconciliation finds missed changes); dismiss it"
        if error.sobject == TASK_OBJECT:
            return self._requeue_task(prospect_id, error.record_id)
        if error.sobject == ACTION_OBJECT:
            return "not queued: the action message named no action it could be read as; send it again from the automation"
        if error.record_id == prospect_id and error.sobject in (
            CrmObject.LEAD.sobject,
            CrmObject.CONTACT.sobject,
        ):
            action = "create_lead" if error.sobject == CrmObject.LEAD.sobject else "create_contact"
            try:
                accepted = self.accept_action({"action": action, "prospect_id": prospect_id})
            except (LookupError, ValueError, ExternalFailure) as exc:
                return f"not queued: the action could not be accepted again: {exc}"
            return f"action {action} accepted again as {accepted.action_id}"
        prospect = self.prospects.get_many([prospect_id]).get(prospect_id)
        if prospect is None:
            return f"not queued: prospect {prospect_id} no longer exists"
        self.pending_changes.add([PendingChange(prospect_id, prospect.version)])
        what = "change" if error.sobject == CAPTURE_OBJECT else "values"
        return f"prospect {prospect_id}'s {what} sent again by the next inbound run"

    def _requeue_task(self, prospect_id: str, activity_id: str) -> str:
        stored = next(
            (s for s in self.activities.of_prospect(prospect_id) if s.activity.id == activity_id), None
        )
        if stored is None:
            return f"not queued: activity {activity_id} is no longer kept"
        if stored.state is not ActivityState.FAILED:
            return f"not queued: activity {activity_id} is {stored.state.value}, not failed"
        self.activities.settle([StoredActivity(stored.activity, ActivityState.WAITING)])
        return "the Task sent again by the next activities run"


def _page(query: Mapping[str, Any]) -> tuple[int, str | None]:
    problems: list[str] = []
    raw = query.get("limit") or str(DEFAULT_PAGE)
    limit = DEFAULT_PAGE
    if not str(raw).isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        problems.append(f"limit: {raw!r} is not a whole number from 1 to {MAX_PAGE}")
    else:
        limit = int(raw)
    if problems:
        raise InvalidRequest(problems)
    after = query.get("after") or None
    return limit, after


def _keys(keys: Any) -> list[str]:
    if not isinstance(keys, list) or not keys:
        raise InvalidRequest(
            ["body.keys: must be a non-empty list of error keys (as `GET /errors` gives them)"]
        )
    if len(keys) > MAX_KEYS:
        raise InvalidRequest([f"body.keys: {len(keys)} keys; at most {MAX_KEYS} a request"])
    problems = [f"body.keys[{i}]: must be text" for i, key in enumerate(keys) if not isinstance(key, str)]
    if problems:
        raise InvalidRequest(problems)
    return list(dict.fromkeys(keys))
