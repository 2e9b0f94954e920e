"""`IdempotencyActionClaims` (the idempotency table, keyed by prospect) and
`DynamoParkedActions` (state table) on moto, with the tables of template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from botocore.exceptions import ClientError
from crmsync.aws.action_claims import KEY_PREFIX, IdempotencyActionClaims
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.parked_actions import DynamoParkedActions
from crmsync.aws.tables import IDEMPOTENCY_KEY
from crmsync.domain.errors import StoreError
from crmsync.ports import Claim, ParkedAction

from local.aws_stack import create_stack
from local.salesforce_emulator import ManualClock
from tests.adapters.dynamo_doubles import REGION, DynamoTables
from tests.local_aws import mocked_aws, stack_template

pytest_plugins = ["tests.adapters.conftest_dynamo"]

RESULT = {"action_id": "a-1", "crm_type": "Lead", "crm_id": "00Q000000000001AAA"}


@dataclass
class Claims:
    claims: IdempotencyActionClaims
    clock: ManualClock
    client: Any
    table: str


@pytest.fixture
def idempotency(monkeypatch: pytest.MonkeyPatch) -> Iterator[Claims]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        client = boto3.client("dynamodb", region_name=REGION)
        table = stack.resources["IdempotencyTable"]
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        claims = IdempotencyActionClaims(DynamoTable(client, table, IDEMPOTENCY_KEY), clock=clock)
        yield Claims(claims, clock, client, table)


@pytest.fixture
def claims(idempotency: Claims) -> IdempotencyActionClaims:
    return idempotency.claims


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


def test_the_claim_of_an_invocation_that_died_lapses_at_its_deadline(idempotency: Claims) -> None:
    claims, clock = idempotency.claims, idempotency.clock
    # GIVEN an invocation claimed the prospect with 50 ms left, and never came back
    claims.claim("p-1", remaining_ms=50)
    clock.advance(0.05)
    assert claims.claim("p-1", remaining_ms=60_000).claimed is False, "not past its deadline yet"

    # WHEN its deadline has passed, THEN the redelivery may take the prospect over
    clock.advance(0.001)
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=True)
    clock.advance(59)
    assert claims.claim("p-1", remaining_ms=60_000).claimed is False, "the redelivery holds it now"


def test_a_completed_claim_answers_for_an_hour_then_lets_a_new_action_claim(idempotency: Claims) -> None:
    claims, clock = idempotency.claims, idempotency.clock
    claims.claim("p-1", remaining_ms=60_000)
    claims.complete("p-1", RESULT)

    clock.advance(hours=1)
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=False, done_with=RESULT)
    clock.advance(1)
    assert claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=True)


def test_a_claim_is_the_item_powertools_idempotency_keeps_for_the_prospect(idempotency: Claims) -> None:
    """Items written by earlier versions (which drove Powertools' persistence layer) and by this
    one are the same items: a deployment never lets two invocations both claim a prospect."""
    layer = DynamoDBPersistenceLayer(table_name=idempotency.table, boto3_client=idempotency.client)
    layer.configure(IdempotencyConfig(event_key_jmespath="prospect_id"), key_prefix=KEY_PREFIX)
    layer.save_inprogress({"prospect_id": "p-1"}, remaining_time_in_millis=60_000)
    assert idempotency.claims.claim("p-1", remaining_ms=60_000) == Claim(claimed=False)

    idempotency.claims.claim("p-2", remaining_ms=60_000)
    idempotency.claims.complete("p-2", RESULT)
    record = layer.get_record({"prospect_id": "p-2"})
    assert record is not None
    assert (record.status, record.response_json_as_dict()) == ("COMPLETED", RESULT)


def test_a_missing_table_is_a_store_error_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mocked_aws():
        claims = IdempotencyActionClaims(
            DynamoTable(boto3.client("dynamodb", region_name=REGION), "no-such-table", IDEMPOTENCY_KEY),
            clock=ManualClock(datetime.now(UTC)),
        )
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
    store = DynamoParkedActions(dynamo.state_table())
    store.park([parked(1, minutes=5), parked(2, minutes=1), parked(3, minutes=3)])

    assert [p.message_id for p in store.waiting(limit=2)] == ["m-2", "m-3"]
    assert store.waiting(limit=10)[0] == parked(2, minutes=1)

    store.remove([parked(2, minutes=1)])
    assert [p.message_id for p in store.waiting(limit=10)] == ["m-3", "m-1"]
    assert (store.count(at_most=10), store.count(at_most=1)) == (2, 1)


def test_a_message_parked_twice_is_kept_once(dynamo: DynamoTables) -> None:
    store = DynamoParkedActions(dynamo.state_table())
    store.park([parked(1), parked(1)])
    store.park([parked(1)])

    assert store.waiting(limit=10) == [parked(1)]


def test_more_parked_actions_than_one_batch_write_holds_are_all_kept(dynamo: DynamoTables) -> None:
    store = DynamoParkedActions(dynamo.state_table())
    store.park([parked(n, minutes=n) for n in range(60)])

    assert [p.message_id for p in store.waiting(limit=100)] == [f"m-{n}" for n in range(60)]
