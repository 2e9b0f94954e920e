"""The contract of `dynamo_wire`: the stores' client sends the requests `DynamoTable` writes as
they are and takes successful responses as DynamoDB wrote them, with the same effect as
botocore's own serializing and parsing, under the botocore versions it is verified against
(`VERIFIED_BOTOCORE`); under any other it is a plain client, and nothing but the stores uses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from crmsync import bootstrap
from crmsync.aws.dynamo_table import ConditionFailed, DynamoTable, Expression, TransactionUnit
from crmsync.aws.dynamo_wire import VERIFIED_BOTOCORE, exchange_wire_json, stores_client
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY, STATE_KEY
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import ProspectVersion

from tests.adapters.dynamo_doubles import REGION, DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

ROOT = Path(__file__).resolve().parents[2]

MODIFIED = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC)


def wired_client() -> Any:
    client = boto3.client("dynamodb", region_name=REGION, config=Config(parameter_validation=False))
    exchange_wire_json(client)
    return client


@pytest.fixture
def wired(dynamo: DynamoTables) -> Iterator[Any]:
    yield wired_client()


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def sent_requests(client: Any, call: Any) -> list[tuple[str, dict[str, Any]]]:
    """The URL and JSON body of each request `call(client)` sends (answered with `{}`)."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def capture(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append((request.url, json.loads(request.body)))
        return AWSResponse(request.url, 200, {}, _Body(b"{}"))

    client.meta.events.register("before-send.dynamodb", capture)
    call(client)
    return sent


REQUESTS = {
    "get": lambda table: table.get({"pk": "p-1"}),
    "put": lambda table: table.put(
        {"pk": "p-1", "fields": {"a": 1, "b": [True, None, 2.5]}, "tags": {"x", "y"}},
        Expression("attribute_not_exists(pk)"),
    ),
    "update": lambda table: table.update(
        {"pk": "p-1"},
        Expression("SET #n = :n", {"#n": "name"}, {":n": "Ann"}),
        Expression("version = :v", values={":v": 3}),
    ),
    "delete": lambda table: table.delete({"pk": "p-1"}),
    "query": lambda table: table.query(Expression("pk = :pk", values={":pk": "p-1"}), limit=5),
    "scan": lambda table: table.scan(5, {"pk": "p-1"}),
    "get_many": lambda table: table.get_many([{"pk": f"p-{n}"} for n in range(3)]),
    "write_many": lambda table: table.write_many(puts=[{"pk": "p-1", "n": 1}], deletes=[{"pk": "p-2"}]),
    "transact": lambda table: table.transact(
        [
            TransactionUnit("new", [table.put_write({"pk": "p-1"}, Expression("attribute_not_exists(pk)"))]),
            TransactionUnit(
                "edit", [table.update_write({"pk": "p-2"}, Expression("ADD n :one", values={":one": 1}))]
            ),
        ]
    ),
}


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_a_request_goes_out_as_botocore_would_send_it(
    monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    plain = boto3.client("dynamodb", region_name=REGION)

    def call(client: Any) -> None:
        REQUESTS[operation](DynamoTable(client, "crmsync-Prospects", ("pk",)))

    by_botocore = sent_requests(plain, call)
    as_written = sent_requests(wired_client(), call)

    # The transaction's token is new at every call.
    for _, body in (*by_botocore, *as_written):
        body.pop("ClientRequestToken", None)
    assert as_written == by_botocore


def test_stores_work_through_the_wired_client(wired: Any, dynamo: DynamoTables) -> None:
    store = DynamoProspectStore(DynamoTable(wired, dynamo.prospects, PROSPECTS_KEY))
    ann = Prospect(
        id="p-1", fields={"email": "ann@example.com", "score": 42}, crm_id="00Q1", modified_at=MODIFIED
    )
    assert store.save([ProspectChange(ann)]) == []
    (saved,) = store.find_by_emails(["ann@example.com"])["ann@example.com"]
    assert saved == replace(ann, version=1, marketing_version=1)

    page = store.scan(None, 10)
    assert (page.prospects, page.read) == ([ProspectVersion("p-1", 1, 1)], 3), "and its 2 index items"
    stale = ProspectChange(replace(ann, fields={"email": "x@example.com"}), before=ann)
    assert store.save([stale]) == [stale], "a version 0 read is refused: the prospect is at 1"


def test_a_refused_condition_is_still_a_botocore_error(wired: Any, dynamo: DynamoTables) -> None:
    table = DynamoTable(wired, dynamo.prospects, PROSPECTS_KEY)
    table.put({"prospect_id": "p-1"})

    with pytest.raises(ConditionFailed):
        table.put({"prospect_id": "p-1"}, Expression("attribute_not_exists(prospect_id)"))


def test_a_query_reads_every_page_from_the_raw_last_key(wired: Any, dynamo: DynamoTables) -> None:
    table = DynamoTable(wired, dynamo.state, STATE_KEY)
    table.write_many(puts=[{"pk": "users", "sk": f"u-{n:03d}", "n": n} for n in range(30)])
    request = {"TableName": dynamo.state, "KeyConditionExpression": "pk = :pk", "Limit": 7}

    first = wired.query(**request, ExpressionAttributeValues={":pk": {"S": "users"}})
    assert first["LastEvaluatedKey"] == {"pk": {"S": "users"}, "sk": {"S": "u-006"}}
    items = table.query(Expression("pk = :pk", values={":pk": "users"}))
    assert [item["n"] for item in items] == list(range(30))


def test_a_binary_attribute_reads_back_as_bytes(wired: Any, dynamo: DynamoTables) -> None:
    dynamo.client.put_item(
        TableName=dynamo.prospects, Item={"prospect_id": {"S": "p-1"}, "photo": {"B": b"\x00\xffpng"}}
    )

    item = DynamoTable(wired, dynamo.prospects, PROSPECTS_KEY).get({"prospect_id": "p-1"})

    assert item == {"prospect_id": "p-1", "photo": b"\x00\xffpng"}


# ------------------------------------------------------------------ the botocore it rides on


def test_the_botocore_under_test_is_one_the_exchange_is_verified_against() -> None:
    """The tests above verify the exchange against the botocore they run with: that version
    must be the development environment's pinned one, and listed as verified. A new botocore
    fails here until the tests above pass with it and it is added to `VERIFIED_BOTOCORE`."""
    pinned = [
        line.split("==", 1)[1].strip()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith("botocore==")
    ]
    assert pinned == [botocore.__version__]
    assert botocore.__version__ in VERIFIED_BOTOCORE


def test_under_a_botocore_it_is_not_verified_against_the_stores_get_a_plain_client(
    monkeypatch: pytest.MonkeyPatch, dynamo: DynamoTables
) -> None:
    monkeypatch.setattr(botocore, "__version__", "1.99.0")

    client = stores_client()

    assert checks_parameters(client), "botocore checks and builds the requests itself"
    table = DynamoTable(client, dynamo.prospects, PROSPECTS_KEY)
    (sent,) = sent_requests(client, lambda c: table.get({"prospect_id": "p-1"}))
    assert sent[1] == {
        "TableName": dynamo.prospects,
        "Key": {"prospect_id": {"S": "p-1"}},
        "ConsistentRead": True,
    }
    assert table.get({"prospect_id": "p-1"}) is None


def test_the_action_claims_have_a_plain_client_of_their_own(
    monkeypatch: pytest.MonkeyPatch, dynamo: DynamoTables
) -> None:
    """The idempotency table is Powertools' layout: its client is never the stores'."""
    for name in ("STATE", "LINKS", "PROSPECTS", "ACTIVITIES", "IDEMPOTENCY"):
        monkeypatch.setenv(f"CRMSYNC_{name}_TABLE", f"crmsync-{name.lower()}")
    monkeypatch.setenv(
        "CRMSYNC_ACTIONS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/actions"
    )
    bootstrap.reset()
    try:
        claims_client = bootstrap.action_claims()._table._client
        stores = bootstrap.link_store()._table._client  # type: ignore[attr-defined]
    finally:
        bootstrap.reset()

    assert claims_client is not stores
    assert checks_parameters(claims_client)
    assert not checks_parameters(stores), "the stores' client has the exchange"


def checks_parameters(client: Any) -> bool:
    """Whether botocore checks a request's parameters before sending it (a client with the
    exchange does not: it hands botocore the table name alone)."""
    try:
        sent_requests(
            client, lambda c: c.get_item(TableName="t", Key={"pk": {"S": "p"}}, ConsistentRead="yes")
        )
    except ParamValidationError:
        return True
    return False
