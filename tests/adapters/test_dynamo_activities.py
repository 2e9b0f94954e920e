"""The activity store on moto (the table made from template.yaml): recording, the waiting queues,
settling, and the clicks already sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from crmsync.aws.activities import DynamoActivityStore
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.dynamo_values import epoch_seconds
from crmsync.aws.tables import ACTIVITIES_KEY
from crmsync.domain.activities import Activity, ActivityState, ActivityType, ClickKey, StoredActivity

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION, CountingClient, PushingBackClient, no_wait
from tests.local_aws import mocked_aws, stack_template

AT = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
SETTLED_AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        yield boto3.client("dynamodb", region_name=REGION), stack.resources["ActivitiesTable"]


def store_on(client: Any, table_name: str) -> DynamoActivityStore:
    return DynamoActivityStore(
        DynamoTable(client, table_name, ACTIVITIES_KEY, sleep=no_wait),
        retention=timedelta(days=30),
        now=lambda: SETTLED_AT,
    )


@pytest.fixture
def store(table: tuple[Any, str]) -> DynamoActivityStore:
    return store_on(*table)


def click(
    activity_id: str, prospect_id: str = "p-1", minutes: int = 0, url: str = "https://x.example/a"
) -> Activity:
    return Activity(
        activity_id,
        prospect_id,
        ActivityType.EMAIL_CLICK,
        AT + timedelta(minutes=minutes),
        name="Spring launch",
        email_id="em-1",
        url=url,
    )


def visit(activity_id: str, prospect_id: str, minutes: int) -> Activity:
    return Activity(
        activity_id, prospect_id, ActivityType.PAGE_VISIT, AT + timedelta(minutes=minutes), url="u"
    )


def test_recorded_activities_wait_oldest_first_across_prospects(store: DynamoActivityStore) -> None:
    later, earliest, middle = visit("a-3", "p-1", 30), visit("a-1", "p-2", 10), click("a-2", "p-3", 20)

    assert store.record([later, earliest, middle]) == []

    page = store.waiting(ActivityState.WAITING, None, limit=10)
    assert page.activities == [earliest, middle, later]
    assert page.next_after is None, "the last page"
    assert store.waiting(ActivityState.WAITING_FOR_LINK, None, limit=10).activities == []
    assert store.of_prospect("p-3") == [StoredActivity(middle, ActivityState.WAITING)]


def test_waiting_activities_are_read_in_pages_from_a_position(store: DynamoActivityStore) -> None:
    activities = [visit(f"a-{n}", f"p-{n % 3}", n) for n in range(5)]
    store.record(activities)

    first = store.waiting(ActivityState.WAITING, None, limit=2)
    second = store.waiting(ActivityState.WAITING, first.next_after, limit=2)
    third = store.waiting(ActivityState.WAITING, second.next_after, limit=2)

    assert first.activities + second.activities + third.activities == activities
    assert first.next_after == activities[1].position
    assert third.next_after is None


def test_an_activity_recorded_again_is_kept_once_and_keeps_its_outcome(store: DynamoActivityStore) -> None:
    sent = click("a-1")
    store.record([sent])
    store.settle(
        [StoredActivity(sent, ActivityState.SENT, task_id="00T000000000001AAA", reason="sent as a Task")]
    )

    again = store.record([sent, sent, visit("a-2", "p-1", 5)])

    assert again == [sent], "the platform's resend is refused, not recorded twice"
    assert [s.state for s in store.of_prospect("p-1")] == [ActivityState.SENT, ActivityState.WAITING]


def test_settled_activities_leave_the_queue_and_keep_why(
    store: DynamoActivityStore, table: tuple[Any, str]
) -> None:
    sent, skipped, parked = click("a-1"), visit("a-2", "p-1", 1), visit("a-3", "p-1", 2)
    store.record([sent, skipped, parked])

    store.settle(
        [
            StoredActivity(sent, ActivityState.SENT, task_id="00T000000000001AAA", reason="sent as a Task"),
            StoredActivity(skipped, ActivityState.SKIPPED, reason="page_visit activities are not sent"),
            StoredActivity(parked, ActivityState.WAITING_FOR_LINK, reason="the prospect is not linked"),
        ]
    )

    assert store.waiting(ActivityState.WAITING, None, limit=10).activities == []
    assert store.waiting(ActivityState.WAITING_FOR_LINK, None, limit=10).activities == [parked]
    assert store.of_prospect("p-1") == [
        StoredActivity(sent, ActivityState.SENT, task_id="00T000000000001AAA", reason="sent as a Task"),
        StoredActivity(skipped, ActivityState.SKIPPED, reason="page_visit activities are not sent"),
        StoredActivity(parked, ActivityState.WAITING_FOR_LINK, reason="the prospect is not linked"),
    ]
    client, name = table
    items = client.query(
        TableName=name,
        KeyConditionExpression="prospect_id = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues={":p": {"S": "p-1"}, ":a": {"S": "activity#"}},
    )["Items"]
    expiry = {item["activity_id"]["S"]: item.get("expires_at", {}).get("N") for item in items}
    settled_expiry = str(epoch_seconds(SETTLED_AT + timedelta(days=30)))
    assert expiry == {"a-1": settled_expiry, "a-2": settled_expiry, "a-3": None}, "waiting ones never expire"


def test_a_sent_click_is_remembered_for_its_prospect_email_and_link(store: DynamoActivityStore) -> None:
    first = click("a-1", url="https://x.example/a?" + "q" * 2000)  # longer than a sort key may be
    store.record([first])
    store.settle([StoredActivity(first, ActivityState.SENT, task_id="00T000000000001AAA")])

    asked = {
        ClickKey("p-1", "em-1", first.url or ""),
        ClickKey("p-1", "em-1", "https://x.example/other"),
        ClickKey("p-2", "em-1", first.url or ""),
        ClickKey("p-1", "em-2", first.url or ""),
    }

    assert store.sent_clicks(asked) == {ClickKey("p-1", "em-1", first.url or "")}


def test_an_activity_the_index_still_lists_after_it_was_sent_is_not_read_as_waiting(
    table: tuple[Any, str],
) -> None:
    client, name = table
    store = store_on(client, name)
    activities = [visit("a-1", "p-1", 1), visit("a-2", "p-2", 2)]
    store.record(activities)
    lagging_index = client.query(
        TableName=name,
        IndexName="waiting",
        KeyConditionExpression="#w = :w",
        ExpressionAttributeNames={"#w": "waiting"},
        ExpressionAttributeValues={":w": {"S": "waiting"}},
    )
    store.settle([StoredActivity(activities[0], ActivityState.SENT, task_id="00T000000000001AAA")])

    # The index answers as it did before the activity was sent (it is eventually consistent).
    lagging = store_on(PushingBackClient(client, "query", 1, lambda request: lagging_index), name)

    assert lagging.waiting(ActivityState.WAITING, None, limit=10).activities == [activities[1]]


def test_a_batch_is_recorded_in_few_calls(table: tuple[Any, str]) -> None:
    client, name = table
    counting = CountingClient(client)
    store = store_on(counting, name)

    store.record([visit(f"a-{n}", f"p-{n}", n) for n in range(250)])
    page = store.waiting(ActivityState.WAITING, None, limit=250)

    assert len(page.activities) == 250
    assert counting.calls["transact_write_items"] == 3, "100 activities a transaction"
    assert counting.calls["batch_get_item"] == 3, "the waiting ones re-read 100 keys a call"


def test_only_waiting_states_can_be_listed(store: DynamoActivityStore) -> None:
    with pytest.raises(ValueError, match="sent activities do not wait"):
        store.waiting(ActivityState.SENT, None, limit=10)
