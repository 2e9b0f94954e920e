"""`ActivityStore` on the activities table: the marketing platform's engagement events
(docs/guide/activities.md).

Access patterns (table keys `prospect_id`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- activity: `sk="activity#<occurred_at, ISO-8601 UTC with microseconds>#<activity id>"` →
  `activity_id`, `type`, `occurred_at`, `name`, `email_id`, `url` (as recorded), `state` (an `ActivityState`), and once settled `reason`, `settled_at`, `task_id` (sent) and
  `expires_at` = settled + the retention. The sort key keeps a prospect's activities in the
  order they happened; the same activity recorded twice (same id and instant) is kept once.
- waiting: while an activity waits, its `waiting` attribute holds its state (`waiting` or
  `waiting_for_link`); the sparse, keys-only GSI `waiting` (hash `waiting`, range `sk`) lists
  each state's activities across prospects, oldest first. A run queries it from a position
  (`sk > :after`), then re-reads the items with a consistent `BatchGetItem` (100 keys a call)
  and keeps those still waiting: the index lags behind the table, and an activity sent a
  moment ago must never be sent again. Settling an activity removes `waiting`, so sent and
  skipped activities cost the index nothing.
- sent click: `sk="click#<sha-256 of email id and URL>"` → `email_id`, `url`, `task_id`,
  `activity_id`; written with the click's settlement, read with `BatchGetItem` to keep only the
  first click on each link of an email (URLs are hashed: a sort key holds 1,024 bytes at most).
  Never expires, so a late click on an old email still counts as a repeat.

Recording is one transaction of up to 100 conditional puts (`attribute_not_exists`), so a
platform that sends the same activity again never resets one already sent. Settling writes
whole items with `BatchWriteItem` (25 a call), no read first: an item is its activity plus its
outcome, only the run holding the activities lease settles, and the platform never changes an
activity after recording it.

All waiting activities share two GSI partition keys, so recording is bounded by one index
partition's write rate (about 1,000 activities a second, sustained).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, Expression, TransactionUnit
from crmsync.aws.dynamo_values import epoch_seconds, iso, parse_iso, utc_now
from crmsync.domain.activities import Activity, ActivityState, ActivityType, ClickKey, StoredActivity
from crmsync.domain.records import Watermark
from crmsync.ports import WaitingActivities

ACTIVITY_PREFIX = "activity#"
CLICK_PREFIX = "click#"
WAITING_INDEX = "waiting"
DEFAULT_RETENTION = timedelta(days=30)

_ABSENT = Expression("attribute_not_exists(sk)")


class DynamoActivityStore:
    def __init__(
        self,
        table: DynamoTable,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._table = table
        self._retention = retention
        self._now = now

    def record(self, activities: Sequence[Activity]) -> list[Activity]:
        unique = list({(a.prospect_id, _sort_key(a.position)): a for a in activities}.values())
        units = [
            TransactionUnit(
                activity,
                [self._table.put_write(_item(activity, ActivityState.WAITING), _ABSENT)],
            )
            for activity in unique
        ]
        return self._table.transact(units)

    def waiting(self, state: ActivityState, after: Watermark | None, limit: int) -> WaitingActivities:
        if not state.waits:
            raise ValueError(f"{state} activities do not wait")
        condition = "#waiting = :state"
        values: dict[str, Any] = {":state": state.value}
        if after is not None:
            condition += " AND sk > :after"
            values[":after"] = _sort_key(after)
        keys = self._table.query(
            Expression(condition, {"#waiting": "waiting"}, values), index=WAITING_INDEX, limit=limit
        )
        if not keys:
            return WaitingActivities([], None)
        items = self._table.get_many({"prospect_id": key["prospect_id"], "sk": key["sk"]} for key in keys)
        still_waiting = sorted(
            (_stored(item).activity for item in items if item.get("waiting") == state.value),
            key=lambda activity: activity.position,
        )
        last = _position(keys[-1]["sk"])
        return WaitingActivities(still_waiting, last if len(keys) >= limit else None)

    def sent_clicks(self, clicks: Collection[ClickKey]) -> set[ClickKey]:
        wanted = {(click.prospect_id, _click_sort_key(click)): click for click in clicks}
        found = self._table.get_many({"prospect_id": prospect, "sk": sk} for prospect, sk in wanted)
        return {wanted[(item["prospect_id"], item["sk"])] for item in found}

    def settle(self, outcomes: Sequence[StoredActivity]) -> None:
        now = self._now()
        puts: list[dict[str, Any]] = []
        for outcome in outcomes:
            activity = outcome.activity
            item = _item(activity, outcome.state)
            item.update({"reason": outcome.reason or None, "settled_at": iso(now)})
            if not outcome.state.waits:
                item["expires_at"] = epoch_seconds(now + self._retention)
            if outcome.state is ActivityState.SENT:
                item["task_id"] = outcome.task_id
                click = activity.click
                if click is not None:
                    puts.append(
                        {
                            "prospect_id": activity.prospect_id,
                            "sk": _click_sort_key(click),
                            "email_id": click.email_id,
                            "url": click.url,
                            "task_id": outcome.task_id,
                            "activity_id": activity.id,
                        }
                    )
            puts.append(item)
        self._table.write_many(puts=puts)

    def of_prospect(self, prospect_id: str) -> list[StoredActivity]:
        items = self._table.query(
            Expression(
                "prospect_id = :prospect AND begins_with(sk, :prefix)",
                values={":prospect": prospect_id, ":prefix": ACTIVITY_PREFIX},
            ),
            consistent=True,
        )
        return [_stored(item) for item in items]


def _sort_key(position: Watermark) -> str:
    return f"{ACTIVITY_PREFIX}{iso(position.stamp)}#{position.last_id}"


def _position(sort_key: str) -> Watermark:
    stamp, _, activity_id = sort_key.removeprefix(ACTIVITY_PREFIX).partition("#")
    return Watermark(parse_iso(stamp), activity_id)


def _click_sort_key(click: ClickKey) -> str:
    digest = hashlib.sha256(f"{click.email_id}\x00{click.url}".encode()).hexdigest()
    return CLICK_PREFIX + digest


def _item(activity: Activity, state: ActivityState) -> dict[str, Any]:
    return {
        "prospect_id": activity.prospect_id,
        "sk": _sort_key(activity.position),
        "activity_id": activity.id,
        "type": activity.type.value,
        "occurred_at": iso(activity.occurred_at),
        "name": activity.name,
        "email_id": activity.email_id,
        "url": activity.url,
        "state": state.value,
        "waiting": state.value if state.waits else None,
    }


def _stored(item: Mapping[str, Any]) -> StoredActivity:
    return StoredActivity(
        activity=Activity(
            id=item["activity_id"],
            prospect_id=item["prospect_id"],
            type=ActivityType(item["type"]),
            occurred_at=parse_iso(item["occurred_at"]),
            name=item.get("name"),
            email_id=item.get("email_id"),
            url=item.get("url"),
        ),
        state=ActivityState(item["state"]),
        task_id=item.get("task_id"),
        reason=item.get("reason", ""),
    )
