"""`IdempotencyActionClaims` (Powertools idempotency, keyed by prospect) and
`DynamoParkedActions` (state table) on moto, with the tables of template.yaml."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from crmsync.aws.action_claims import IdempotencyActionClaims
from crmsync.aws.parked_actions import DynamoParkedActions
from crmsync.domain.errors import StoreError
from crmsync.ports import Claim, ParkedAction
from moto import mock_aws

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION, DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

RESULT = {"action_id": "a-1", "crm_type": "Lead", "crm_id": "00Q000000000001AAA"}


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdempotencyActionClaims]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        stack = create_stack(region=REGION)
        yield IdempotencyActionClaims(
            stack.resources["IdempotencyTable"], boto3.client("dynamodb", region_name=REGION)
        )


def test_a_prospect_is_claimed_by_one_invocation_at_a_time(claims: IdempotencyActionClaims) -> None:
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=True)
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=False), "held: try again later"
    assert claims.claim("p-2", remaining_ms=60_000) == Claim(claimed=True), "another prospect is free"


def test_a_completed_prospect_answers_with_what_was_done(claims: IdempotencyActionClaims) -> None:
    claims.claim("p-1", remaining_ms=60_000)
    claims.complete("p-1", RESULT)

    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=False, done_with=RESULT)


def test_a_released_prospect_can_be_claimed_again(claims: IdempotencyActionClaims) -> None:
    claims.claim("p-1", remaining_ms=60_000)
    claims.release("p-1")

    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=True)


def test_the_claim_of_an_invocation_that_died_lapses_at_its_deadline(claims: IdempotencyActionClaims) -> None:
    # GIVEN an invocation claimed the prospect with 50 ms left, and never came back
    claims.claim("p-1", remaining_ms=50)
    assert claims.claim("p-1", remaining_ms=60_000).claimed is False

    # WHEN its deadline has passed, THEN the redelivery may take the prospect over
    time.sleep(0.1)
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=True)


def test_a_missing_table_is_a_store_error_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        claims = IdempotencyActionClaims("no-such-table", boto3.client("dynamodb", region_name=REGION))
        with pytest.raises(StoreError) as raised:
            claims.claim("p-1", remaining_ms=60_000)
    assert raised.value.failure.code == "ResourceNotFoundException"
    assert not raised.value.retryable
    assert isinstance(raised.value.__cause__, ClientError)


# ------------------------------------------------------------------ parked actions


def parked(number: int, minutes: int = 0) -> ParkedAction:
    sent = datetime(2026, 11, 22, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return ParkedAction(message_id=f"m-{number}", body=f'{{"n": {number}}}', sent_at=sent)


def test_parked_actions_read_back_oldest_first_and_leave_when_removed(dynamo: DynamoTables) -> None:
    store = DynamoParkedActions(dynamo.client, dynamo.state)
    store.park([parked(1, minutes=5), parked(2, minutes=1), parked(3, minutes=3)])

    assert [p.message_id for p in store.waiting(limit=2)] == ["m-2", "m-3"]
    assert store.waiting(limit=10)[0] == parked(2, minutes=1)

    store.remove([parked(2, minutes=1)])
    assert [p.message_id for p in store.waiting(limit=10)] == ["m-3", "m-1"]


def test_a_message_parked_twice_is_kept_once(dynamo: DynamoTables) -> None:
    store = DynamoParkedActions(dynamo.client, dynamo.state)
    store.park([parked(1), parked(1)])
    store.park([parked(1)])

    assert store.waiting(limit=10) == [parked(1)]


def test_more_parked_actions_than_one_batch_write_holds_are_all_kept(dynamo: DynamoTables) -> None:
    store = DynamoParkedActions(dynamo.client, dynamo.state)
    store.park([parked(n, minutes=n) for n in range(60)])

    assert [p.message_id for p in store.waiting(limit=100)] == [f"m-{n}" for n in range(60)]
