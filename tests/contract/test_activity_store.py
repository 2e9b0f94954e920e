"""`ActivityStore`: `FakeActivityStore` and the activities table hold the same contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crmsync import bootstrap
from crmsync.domain.activities import Activity, ActivityState, ActivityType, StoredActivity
from crmsync.domain.records import Watermark
from crmsync.ports import ActivityStore

from tests.contract.conftest import unique
from tests.fakes.activities import FakeActivityStore

EPOCH = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def activities(request: pytest.FixtureRequest) -> ActivityStore:
    if request.param == "fake":
        return FakeActivityStore()
    request.getfixturevalue("aws")
    return bootstrap.activity_store()


def opened(prospect_id: str, minutes: float) -> Activity:
    return Activity(
        unique("a"), prospect_id, ActivityType.EMAIL_OPEN, EPOCH + timedelta(minutes=minutes), email_id="e-1"
    )


def clicked(prospect_id: str, minutes: float, url: str) -> Activity:
    return Activity(
        unique("a"),
        prospect_id,
        ActivityType.EMAIL_CLICK,
        EPOCH + timedelta(minutes=minutes),
        email_id="e-1",
        url=url,
    )


def test_an_activity_recorded_twice_is_kept_once_as_it_was(activities: ActivityStore) -> None:
    prospect = unique()
    first = opened(prospect, 1)
    assert activities.record([first, first]) == []
    activities.settle([StoredActivity(first, ActivityState.SKIPPED, reason="not synced")])

    assert activities.record([first]) == [first]
    assert activities.of_prospect(prospect) == [
        StoredActivity(first, ActivityState.SKIPPED, reason="not synced")
    ]


def test_waiting_activities_come_oldest_first_across_prospects_a_page_at_a_time(
    activities: ActivityStore,
) -> None:
    # Long after the other tests' activities (the table is shared), and read from just before.
    one, two = unique(), unique()
    later = 1_000_000
    start = Watermark(EPOCH + timedelta(minutes=later), "")
    newest, oldest, middle = opened(one, later + 3), opened(two, later + 1), opened(one, later + 2)
    assert activities.record([newest, oldest, middle]) == []

    first = activities.waiting(ActivityState.WAITING, start, 2)
    rest = activities.waiting(ActivityState.WAITING, first.next_after, 2)

    assert [a.id for a in first.activities] == [oldest.id, middle.id]
    assert first.next_after == middle.position
    assert ([a.id for a in rest.activities], rest.next_after) == ([newest.id], None)

    # Settled, an activity leaves its waiting list (for another, if it waits again).
    activities.settle([StoredActivity(oldest, ActivityState.WAITING_FOR_LINK, reason="no link")])
    assert [a.id for a in activities.waiting(ActivityState.WAITING, start, 5).activities] == [
        middle.id,
        newest.id,
    ]
    assert oldest.id in {
        a.id for a in activities.waiting(ActivityState.WAITING_FOR_LINK, start, 5).activities
    }
    with pytest.raises(ValueError, match="do not wait"):
        activities.waiting(ActivityState.SENT, None, 1)


def test_a_click_sent_is_remembered_and_a_prospects_activities_come_with_their_outcomes(
    activities: ActivityStore,
) -> None:
    prospect = unique()
    url = f"https://example.com/{unique()}"
    click, again = clicked(prospect, 1, url), clicked(prospect, 2, url)
    assert activities.record([again, click]) == []

    activities.settle([StoredActivity(click, ActivityState.SENT, task_id="00T1")])

    other = clicked(prospect, 3, url + "/other")
    assert click.click is not None and other.click is not None
    assert activities.sent_clicks([click.click, other.click]) == {click.click}
    assert activities.of_prospect(prospect) == [
        StoredActivity(click, ActivityState.SENT, task_id="00T1"),
        StoredActivity(again, ActivityState.WAITING),
    ]
