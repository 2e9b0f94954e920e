"""The prospects stream's event filter (template.yaml), applied to the records the prospect
store's saves put on the stream (moto): the connector's own saves, index items included, never
invoke change capture; the marketing side's do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import CONNECTOR_WRITER, MARKETING_WRITER, DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.prospect import Prospect, ProspectChange

from local.aws_stack import LocalStack, create_stack, load_template
from local.runtime.stream import ProspectStream
from tests.adapters.dynamo_doubles import REGION
from tests.local_aws import mocked_aws, stack_template


def stream_filters() -> list[dict[str, Any]]:
    """The patterns of the event source mapping that reads the prospects stream."""
    import json

    (mapping,) = [
        resource
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and "ProspectsTable" in str(resource["Properties"].get("EventSourceArn"))
    ]
    return [json.loads(entry["Pattern"]) for entry in mapping["Properties"]["FilterCriteria"]["Filters"]]


def matches(pattern: Mapping[str, Any], value: Any, present: bool = True) -> bool:
    """Lambda's event filtering, the rules the template uses: a list of literals or of
    `anything-but` / `exists` tests, and nested objects (AWS Lambda Developer Guide, "Control
    which events Lambda sends to your function")."""
    if isinstance(pattern, list):
        return any(_rule(rule, value, present) for rule in pattern)
    # A missing object holds no field: `{"exists": false}` under it matches.
    fields = value if present and isinstance(value, Mapping) else {}
    return all(matches(rule, fields.get(key), key in fields) for key, rule in pattern.items())


def _rule(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, Mapping) and "exists" in rule:
        return present is rule["exists"]
    if not present:
        return False
    if isinstance(rule, Mapping) and "anything-but" in rule:
        return value not in rule["anything-but"]
    return bool(value == rule)


def invoked_with(records: list[dict[str, Any]]) -> list[str]:
    filters = stream_filters()
    return [
        record["dynamodb"]["Keys"]["prospect_id"]["S"]
        for record in records
        if any(matches(pattern, record) for pattern in filters)
    ]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mocked_aws():
        yield create_stack(stack_template(), region=REGION)


def store(stack: LocalStack, writer: str) -> DynamoProspectStore:
    table = DynamoTable(
        boto3.client("dynamodb", region_name=REGION), stack.resources["ProspectsTable"], PROSPECTS_KEY
    )
    return DynamoProspectStore(table, writer=writer)


def test_the_connectors_saves_invoke_nothing_index_items_included(stack: LocalStack) -> None:
    stream = ProspectStream.of(stack)
    connector = store(stack, CONNECTOR_WRITER)

    new = Prospect("p-1", {"email": "ann@example.com"}, crm_id="00Q1")
    assert connector.save([ProspectChange(new)]) == []
    (saved,) = connector.get_many(["p-1"]).values()
    assert (
        connector.save(
            [ProspectChange(Prospect("p-1", {"email": "ann.lee@example.com"}, crm_id="00Q1"), saved)]
        )
        == []
    )

    records = [record for event in stream.events() for record in event["Records"]]
    keys = {record["dynamodb"]["Keys"]["prospect_id"]["S"] for record in records}
    assert keys == {"p-1", "email#ann@example.com", "email#ann.lee@example.com", "crm#00Q1"}
    assert invoked_with(records) == []


def test_the_marketing_sides_saves_invoke_change_capture(stack: LocalStack) -> None:
    stream = ProspectStream.of(stack)

    assert (
        store(stack, MARKETING_WRITER).save([ProspectChange(Prospect("p-1", {"email": "ann@example.com"}))])
        == []
    )

    records = [record for event in stream.events() for record in event["Records"]]
    assert "p-1" in invoked_with(records)
