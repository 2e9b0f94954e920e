"""`GET /errors`, `POST /errors/retry` and `POST /errors/dismiss` through the HTTP entry point's
handler with their sample events: what an operator sees of the error list and does with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync import bootstrap
from crmsync.domain.activities import Activity, ActivityState, ActivityType, StoredActivity
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.inbound import failed_batch_unread
from crmsync.domain.prospect import Prospect, ProspectChange

from functions.http_api import app
from local.aws_stack import LocalStack
from local.runtime.queues import drain

from .conftest import LambdaContext, OutboundConnector, load_event
from .test_outbound_sync import insert_lead, later, run_outbound

CALLER = "arn:aws:iam::123456789012:user/revops-admin"
"""Who signs the sample events."""


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def list_errors(**query: str) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "errors")
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in query.items())
    return call(event)


def post(name: str, body: Any) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", name)
    event["body"] = json.dumps(body)
    return call(event)


def entry(
    direction: Direction,
    sobject: str,
    record_id: str,
    failure: Failure,
    at: datetime,
    *,
    prospect_id: str | None = None,
    operation: str = "update",
) -> SyncError:
    return SyncError(
        direction=direction,
        operation=operation,
        sobject=sobject,
        record_id=record_id,
        failure=failure,
        at=at,
        prospect_id=prospect_id,
    )


DUPLICATE = Failure("DUPLICATES_DETECTED", "Use one of these records?", category=ErrorCategory.DUPLICATE)
TOO_LONG = Failure("STRING_TOO_LONG", "Company: data value too large", ("Company",), ErrorCategory.VALIDATION)


def seed(now: datetime) -> None:
    bootstrap.error_list().record_errors(
        [
            entry(Direction.OUTBOUND, "Lead", "00Q000000000001AAA", DUPLICATE, now - timedelta(days=3)),
            entry(Direction.OUTBOUND, "Contact", "003000000000001AAA", DUPLICATE, now - timedelta(hours=1)),
            entry(
                Direction.INBOUND,
                "Lead",
                "00Q000000000002AAA",
                TOO_LONG,
                now - timedelta(hours=2),
                prospect_id="p-2",
            ),
        ]
    )


# ------------------------------------------------------------------ GET /errors


def test_the_list_shows_each_entry_with_its_ids_salesforces_answer_and_history(connector: LocalStack) -> None:
    now = datetime.now(UTC)
    seed(now)
    bootstrap.error_list().record_errors(
        [
            entry(
                Direction.INBOUND,
                "Lead",
                "00Q000000000002AAA",
                TOO_LONG,
                now - timedelta(minutes=5),
                prospect_id="p-2",
            )
        ]
    )

    status, body = list_errors()

    assert status == 200
    assert [e["key"] for e in body["errors"]] == [
        "inbound#Lead#00Q000000000002AAA",
        "outbound#Contact#003000000000001AAA",
        "outbound#Lead#00Q000000000001AAA",
    ]
    inbound = body["errors"][0]
    assert inbound == {
        "key": "inbound#Lead#00Q000000000002AAA",
        "direction": "inbound",
        "object": "Lead",
        "record_id": "00Q000000000002AAA",
        "prospect_id": "p-2",
        "operation": "update",
        "code": "STRING_TOO_LONG",
        "category": "validation",
        "message": "Company: data value too large",
        "fields": ["Company"],
        "first_seen": (now - timedelta(hours=2)).isoformat(),
        "last_seen": (now - timedelta(minutes=5)).isoformat(),
        "attempts": 2,
        "state": "open",
        "dismissed": None,
        "retry_requested": None,
    }
    assert body["next"] is None


def test_the_list_filters_by_category_object_direction_and_age_and_pages(connector: LocalStack) -> None:
    seed(datetime.now(UTC))

    def keys(**query: str) -> list[str]:
        status, body = list_errors(**query)
        assert status == 200
        return [e["key"] for e in body["errors"]]

    assert keys(category="duplicate") == [
        "outbound#Contact#003000000000001AAA",
        "outbound#Lead#00Q000000000001AAA",
    ]
    assert keys(object="Lead") == ["inbound#Lead#00Q000000000002AAA", "outbound#Lead#00Q000000000001AAA"]
    assert keys(direction="inbound") == ["inbound#Lead#00Q000000000002AAA"]
    assert keys(older_than="1d") == ["outbound#Lead#00Q000000000001AAA"]
    assert keys(newer_than="90m") == ["outbound#Contact#003000000000001AAA"]
    # Filters that match nothing: an empty list, not an error
    assert keys(category="permission") == []
    assert keys(direction="inbound", category="duplicate") == []

    _, first = list_errors(limit="2")
    assert len(first["errors"]) == 2
    _, rest = list_errors(limit="2", after=first["next"])
    assert [e["key"] for e in rest["errors"]] == ["outbound#Lead#00Q000000000001AAA"]
    assert rest["next"] is None


def test_filters_that_cannot_be_read_are_refused_naming_each(connector: LocalStack) -> None:
    status, body = list_errors(category="nope", older_than="yesterday", limit="0")

    assert status == 400
    assert body["problems"] == [
        "category: 'nope' is not one of validation, duplicate, permission, transient, limit, not_found, configuration",
        "older_than: 'yesterday' is neither an ISO-8601 instant nor a duration (30m, 12h, 7d)",
        "limit: '0' is not a whole number from 1 to 1000",
    ]


# ------------------------------------------------------------------ POST /errors/dismiss


def test_a_dismissed_entry_leaves_the_open_list_and_keeps_its_reason_and_who(connector: LocalStack) -> None:
    seed(datetime.now(UTC))
    key = "outbound#Lead#00Q000000000001AAA"

    status, body = post(
        "errors_dismiss", {"keys": [key, "outbound#Lead#00Q000000000404AAA"], "reason": "test data"}
    )

    assert status == 200
    assert body == {"dismissed": [key], "not_found": ["outbound#Lead#00Q000000000404AAA"]}
    assert key not in [e["key"] for e in list_errors()[1]["errors"]]
    _, dismissed = list_errors(state="dismissed")
    [shown] = dismissed["errors"]
    assert shown["key"] == key
    assert shown["state"] == "dismissed"
    assert (shown["dismissed"]["reason"], shown["dismissed"]["by"]) == ("test data", CALLER)
    status, status_body = call(load_event("http_api", "status"))
    assert status_body["open_errors"] == {"duplicate": 1, "validation": 1}


def test_a_dismissal_without_a_reason_is_refused_and_dismisses_nothing(connector: LocalStack) -> None:
    seed(datetime.now(UTC))

    status, body = post("errors_dismiss", {"keys": ["outbound#Lead#00Q000000000001AAA"]})
    assert status == 400
    assert body["problems"] == ["body.reason: is required: say why these entries need no action"]
    status, body = post("errors_dismiss", {"keys": [], "reason": "   "})
    assert status == 400
    assert len(body["problems"]) == 2
    assert len(list_errors()[1]["errors"]) == 3


def test_a_dismissed_record_that_fails_again_is_open_again(connector: LocalStack) -> None:
    now = datetime.now(UTC)
    seed(now)
    key = "outbound#Lead#00Q000000000001AAA"
    post("errors_dismiss", {"keys": [key], "reason": "looked at it"})

    bootstrap.error_list().record_errors(
        [entry(Direction.OUTBOUND, "Lead", "00Q000000000001AAA", DUPLICATE, now)]
    )

    [shown] = [e for e in list_errors()[1]["errors"] if e["key"] == key]
    assert (shown["state"], shown["dismissed"], shown["attempts"]) == ("open", None, 2)


# ------------------------------------------------------------------ POST /errors/retry


def test_a_retry_of_a_still_failing_record_leaves_it_open_with_one_more_attempt(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead whose prospect's email another Lead already has: it is reported, not linked
    insert_lead(salesforce, LastName="Lovelace", Email="ada@example.com")
    run_outbound()
    later(outbound_connector)
    duplicate = insert_lead(salesforce, FirstName="Ada", LastName="Lovelace", Email="ada@example.com")
    run_outbound()
    key = f"outbound#Lead#{duplicate}"
    [listed] = list_errors()[1]["errors"]
    assert (listed["key"], listed["attempts"]) == (key, 1)

    # WHEN an operator retries it
    status, body = post("errors_retry", {"keys": [key]})

    # THEN the record waits for the next outbound run, and the entry says a retry was asked
    assert status == 200
    assert body == {
        "queued": [{"key": key, "as": "read again by the next outbound run"}],
        "not_queued": [],
        "not_found": [],
        "more": 0,
    }
    [listed] = list_errors()[1]["errors"]
    assert listed["state"] == "retrying"
    assert listed["retry_requested"]["by"] == CALLER

    # WHEN the next run reads it again, and it still cannot be linked
    later(outbound_connector)
    report = run_outbound()

    # THEN the entry is open again, with one more attempt
    assert report["counts"]["reported"] == 1
    [listed] = list_errors()[1]["errors"]
    assert (listed["key"], listed["state"], listed["attempts"], listed["retry_requested"]) == (
        key,
        "open",
        2,
        None,
    )


def test_a_retried_inbound_entry_notes_its_prospect_as_waiting(connector: LocalStack) -> None:
    now = datetime.now(UTC)
    seed(now)
    prospect = Prospect(id="p-2", fields={"email": "ada@example.com"})
    assert bootstrap.prospect_store().save([ProspectChange(prospect)]) == []
    version = bootstrap.prospect_store().get_many(["p-2"])["p-2"].version
    bootstrap.error_list().record_errors(
        [
            entry(Direction.INBOUND, "Contact", "003000000000009AAA", TOO_LONG, now, prospect_id="p-gone"),
            failed_batch_unread("m-1", "no batch named", now),
        ]
    )

    status, body = post(
        "errors_retry",
        {
            "keys": [
                "inbound#Lead#00Q000000000002AAA",
                "inbound#Contact#003000000000009AAA",
                "inbound#StreamBatch#m-1",
                "inbound#Lead#nope",
            ]
        },
    )

    assert status == 200
    assert body["queued"] == [
        {
            "key": "inbound#Lead#00Q000000000002AAA",
            "as": "prospect p-2's values sent again by the next inbound run",
        }
    ]
    assert [item["key"] for item in body["not_queued"]] == [
        "inbound#Contact#003000000000009AAA",
        "inbound#StreamBatch#m-1",
    ]
    assert body["not_queued"][0]["why"] == "prospect p-gone no longer exists"
    assert body["not_found"] == ["inbound#Lead#nope"]
    assert bootstrap.pending_changes().versions(["p-2", "p-gone"]) == {"p-2": version}


def test_a_retried_action_entry_is_accepted_again(connector: LocalStack) -> None:
    prospect = Prospect(id="p-7", fields={"email": "grace@example.com", "last_name": "Hopper"})
    assert bootstrap.prospect_store().save([ProspectChange(prospect)]) == []
    bootstrap.error_list().record_errors(
        [
            entry(
                Direction.INBOUND,
                "Lead",
                "p-7",
                TOO_LONG,
                datetime.now(UTC),
                prospect_id="p-7",
                operation="create_lead",
            )
        ]
    )

    status, body = post("errors_retry", {"keys": ["inbound#Lead#p-7"]})

    assert status == 200
    [queued] = body["queued"]
    assert queued["as"].startswith("action create_lead accepted again as ")
    [message] = [json.loads(m["Body"]) for m in drain(bootstrap.settings().actions_queue_url)]
    assert (message["action"], message["prospect_id"]) == ("create_lead", "p-7")


def test_a_whole_category_is_retried_with_the_lists_filters(connector: LocalStack) -> None:
    seed(datetime.now(UTC))

    status, body = post("errors_retry", {"category": "duplicate", "object": "Lead"})

    assert status == 200
    assert [item["key"] for item in body["queued"]] == ["outbound#Lead#00Q000000000001AAA"]
    assert bootstrap.retry_list().records_to_retry(Direction.OUTBOUND) == {"Lead": ["00Q000000000001AAA"]}


def test_a_retry_asking_for_nothing_is_refused(connector: LocalStack) -> None:
    assert post("errors_retry", {})[0] == 400
    status, body = post("errors_retry", {"keys": ["x"], "category": "duplicate"})
    assert (status, body["problems"]) == (400, ["body.category: not allowed beside `keys`"])
    status, body = post("errors_retry", {"category": "nope"})
    assert status == 400
    assert body["problems"][0].startswith("body.category: 'nope' is not one of")


def test_a_retried_task_entry_has_its_activity_wait_to_be_sent_again(connector: LocalStack) -> None:
    # GIVEN a form submission whose Task Salesforce refused
    activity = Activity(
        id="a-1",
        prospect_id="p-3",
        type=ActivityType.FORM_SUBMISSION,
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
        name="Contact us",
    )
    activities = bootstrap.activity_store()
    activities.record([activity])
    activities.settle([StoredActivity(activity, ActivityState.FAILED, reason="refused")])
    bootstrap.error_list().record_errors(
        [
            entry(
                Direction.INBOUND,
                "Task",
                "a-1",
                TOO_LONG,
                datetime.now(UTC),
                prospect_id="p-3",
                operation="task",
            )
        ]
    )

    # WHEN it is retried
    status, body = post("errors_retry", {"keys": ["inbound#Task#a-1"]})

    # THEN the activity waits to be sent again
    assert status == 200
    assert body["queued"] == [
        {"key": "inbound#Task#a-1", "as": "the Task sent again by the next activities run"}
    ]
    [stored] = activities.of_prospect("p-3")
    assert stored.state is ActivityState.WAITING
    # AND a second retry, before the run, says why there is nothing to do
    _, again = post("errors_retry", {"keys": ["inbound#Task#a-1"]})
    assert again["not_queued"] == [{"key": "inbound#Task#a-1", "why": "activity a-1 is waiting, not failed"}]
