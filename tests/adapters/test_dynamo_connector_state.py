"""The connector's state on moto: paused until resumed, and the configuration version."""

from __future__ import annotations

from crmsync.aws.connector_state import DynamoConnectorState
from crmsync.ports import ConnectorState

from tests.adapters.dynamo_doubles import DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]


def test_a_connector_never_started_is_paused(dynamo: DynamoTables) -> None:
    assert DynamoConnectorState(dynamo.state_table()).connector_state() == ConnectorState(paused=True)


def test_pause_and_resume_keep_the_configuration_version(dynamo: DynamoTables) -> None:
    state = DynamoConnectorState(dynamo.state_table())
    dynamo.state_table().put({"pk": "connector", "sk": "state", "config_version": 4})
    assert state.connector_state() == ConnectorState(paused=True, config_version=4)

    state.set_paused(False)
    assert state.connector_state() == ConnectorState(paused=False, config_version=4)
    state.set_paused(True)
    assert state.connector_state() == ConnectorState(paused=True, config_version=4)
