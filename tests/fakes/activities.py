"""`ActivityStore` in memory, with the activities table's contract (crmsync/aws/activities.py):
an activity recorded twice is kept once, as it was; the waiting ones are listed per state,
oldest first, across prospects; a click sent is remembered for `sent_clicks`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from crmsync.domain.activities import Activity, ActivityState, ClickKey, StoredActivity
from crmsync.domain.records import Watermark
from crmsync.ports import WaitingActivities

from tests.fakes.stored import instant, iso


def _sort_key(position: Watermark) -> str:
    return f"{iso(position.stamp)}#{position.last_id}"


class FakeActivityStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], StoredActivity] = {}
        """(prospect id, sort key of its position) → the activity and what became of it."""
        self._clicks: set[ClickKey] = set()

    def record(self, activities: Sequence[Activity]) -> list[Activity]:
        unique = {(a.prospect_id, _sort_key(a.position)): a for a in activities}
        recorded_before = []
        for key, activity in unique.items():
            if key in self._items:
                recorded_before.append(activity)
            else:
                self._items[key] = StoredActivity(_as_stored(activity), ActivityState.WAITING)
        return recorded_before

    def waiting(self, state: ActivityState, after: Watermark | None, limit: int) -> WaitingActivities:
        if not state.waits:
            raise ValueError(f"{state} activities do not wait")
        # The index orders by sort key; which prospect's comes first among equal keys is its own.
        keys = sorted(
            (sort_key, prospect_id)
            for (prospect_id, sort_key), item in self._items.items()
            if item.state is state and (after is None or sort_key > _sort_key(after))
        )[:limit]
        activities = [self._items[(prospect_id, sort_key)].activity for sort_key, prospect_id in keys]
        last = activities[-1].position if activities and len(keys) >= limit else None
        return WaitingActivities(activities, last)

    def sent_clicks(self, clicks: Collection[ClickKey]) -> set[ClickKey]:
        return {click for click in clicks if click in self._clicks}

    def settle(self, outcomes: Sequence[StoredActivity]) -> None:
        for outcome in outcomes:
            activity = _as_stored(outcome.activity)
            task_id = outcome.task_id if outcome.state is ActivityState.SENT else None
            self._items[(activity.prospect_id, _sort_key(activity.position))] = StoredActivity(
                activity, outcome.state, task_id=task_id, reason=outcome.reason or ""
            )
            if outcome.state is ActivityState.SENT and activity.click is not None:
                self._clicks.add(activity.click)

    def of_prospect(self, prospect_id: str) -> list[StoredActivity]:
        return [self._items[key] for key in sorted(key for key in self._items if key[0] == prospect_id)]


def _as_stored(activity: Activity) -> Activity:
    return replace(activity, occurred_at=instant(activity.occurred_at))
