"""The configuration store on moto: the document in force, its history, the connector's
`config_version`, and versions that only go up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crmsync.aws.config_store import DynamoConfigStore, history_key
from crmsync.aws.connector_state import DynamoConnectorState
from crmsync.aws.dynamo_values import MAX_ITEM_BYTES, item_size
from crmsync.config import ConfigurationTooLarge, StaleConfigurationVersion
from crmsync.domain.errors import ConfigurationError
from crmsync.ports import ConnectorState

from tests.adapters.dynamo_doubles import DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(dynamo: DynamoTables) -> DynamoConfigStore:
    return DynamoConfigStore(dynamo.state_table(), now=lambda: NOON)


@pytest.fixture
def connector(dynamo: DynamoTables) -> DynamoConnectorState:
    return DynamoConnectorState(dynamo.state_table())


def history(dynamo: DynamoTables) -> list[tuple[str, int, str]]:
    items = dynamo.client.query(
        TableName=dynamo.state,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": {"S": "config"}, ":v": {"S": "v#"}},
    )["Items"]
    return [(item["sk"]["S"], int(item["version"]["N"]), item["saved_at"]["S"]) for item in items]


def test_nothing_is_in_force_before_a_configuration_is_saved(store: DynamoConfigStore) -> None:
    assert store.current() is None


def test_a_saved_document_is_in_force_as_written_and_kept_in_the_history(
    store: DynamoConfigStore, dynamo: DynamoTables
) -> None:
    document = {"version": 7, "// note": "comments survive", "matching": "crm_id", "name": "Zoë"}

    assert store.save(document) == 7

    assert store.current() == document
    assert history(dynamo) == [("v#0000000007", 7, "2026-11-22T12:00:00.000000+00:00")]
    assert history_key(7) == {"pk": "config", "sk": "v#0000000007"}


def test_each_newer_version_replaces_the_one_in_force_and_the_history_keeps_them_in_order(
    store: DynamoConfigStore, dynamo: DynamoTables
) -> None:
    for version in (2, 9, 10):
        store.save({"version": version})

    assert store.current() == {"version": 10}
    assert [sk for sk, _, _ in history(dynamo)] == ["v#0000000002", "v#0000000009", "v#0000000010"]


@pytest.mark.parametrize("stale", [3, 2])
def test_a_version_not_above_the_one_in_force_is_refused_and_changes_nothing(
    store: DynamoConfigStore, connector: DynamoConnectorState, dynamo: DynamoTables, stale: int
) -> None:
    store.save({"version": 3, "matching": "email"})

    with pytest.raises(StaleConfigurationVersion) as refused:
        store.save({"version": stale, "matching": "crm_id"})

    assert (refused.value.offered, refused.value.current) == (stale, 3)
    assert store.current() == {"version": 3, "matching": "email"}
    assert [version for _, version, _ in history(dynamo)] == [3]
    assert connector.connector_state().config_version == 3


def test_saving_sets_the_config_version_and_leaves_a_new_connector_paused(
    store: DynamoConfigStore, connector: DynamoConnectorState
) -> None:
    store.save({"version": 1})

    assert connector.connector_state() == ConnectorState(paused=True, config_version=1)


def test_saving_leaves_a_running_connector_running(
    store: DynamoConfigStore, connector: DynamoConnectorState
) -> None:
    connector.set_paused(False)

    store.save({"version": 5})

    assert connector.connector_state() == ConnectorState(paused=False, config_version=5)


@pytest.mark.parametrize("version", [None, "2", 0, True, 1.5])
def test_a_document_without_a_whole_version_is_not_stored(store: DynamoConfigStore, version: object) -> None:
    with pytest.raises(ConfigurationError, match="version: must be a whole number from 1"):
        store.save({"version": version})

    assert store.current() is None


def test_a_document_an_item_cannot_hold_is_refused_before_anything_is_written(
    store: DynamoConfigStore, dynamo: DynamoTables
) -> None:
    store.save({"version": 1})
    document = {"version": 2, "// notes": "é" * 205_000}  # 410,000 bytes in UTF-8

    with pytest.raises(ConfigurationTooLarge) as refused:
        store.check_fits(document)
    with pytest.raises(ConfigurationTooLarge):
        store.save(document)

    assert refused.value.size == len('{"version": 2, "// notes": ""}') + 410_000
    assert refused.value.limit == MAX_ITEM_BYTES - item_size(
        {**history_key(2), "version": 2, "document": "", "saved_at": "2026-11-22T12:00:00.000000+00:00"}
    )
    assert store.current() == {"version": 1}
    assert [version for _, version, _ in history(dynamo)] == [1]


def test_a_document_just_within_the_limit_is_stored_whole(store: DynamoConfigStore) -> None:
    # moto refuses items over 405,000 bytes, DynamoDB over 409,600: within both.
    document = {"version": 3, "// notes": "x" * 404_000}

    store.check_fits(document)

    assert store.save(document) == 3
    assert store.current() == document


def test_item_size_counts_as_dynamodb_documents_it() -> None:
    # UTF-8 bytes of names and strings; numbers: one byte per two significant digits, plus one.
    assert item_size({"pk": "config", "version": 12345, "doc": "Zoë", "ok": True, "gone": None}) == (
        2 + 6 + 7 + 4 + 3 + 4 + 2 + 1
    )
