"""The connector's state and its configuration (`StateStore`, `ConfigStore`): the fakes and the
state table hold the same contract. Each test has a table of its own (one item each, shared by
every run)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from crmsync import bootstrap
from crmsync.config import ConfigurationTooLarge, StaleConfigurationVersion
from crmsync.domain.errors import ConfigurationError
from crmsync.ports import ConfigStore, ConnectorState, StateStore

from local.aws_stack import create_stack
from tests.contract.conftest import REGION
from tests.fakes.state import FakeConfigStore, FakeStateStore
from tests.local_aws import mocked_aws, stack_template


@dataclass
class Stores:
    state: StateStore
    config: ConfigStore


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    if request.param == "fake":
        state = FakeStateStore()
        yield Stores(state, FakeConfigStore(state))
        return
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        for name, value in stack.function_environment("HttpApiFunction", secret_arn="unused").items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield Stores(bootstrap.state_store(), bootstrap.config_store())
        bootstrap.reset()


def test_a_connector_never_started_is_paused_until_resumed(stores: Stores) -> None:
    assert stores.state.connector_state() == ConnectorState(paused=True)
    stores.state.set_paused(False)
    assert stores.state.connector_state() == ConnectorState(paused=False)
    stores.state.set_paused(True)
    assert stores.state.connector_state().paused


def test_a_configuration_is_kept_as_loaded_and_names_its_version_in_the_state(stores: Stores) -> None:
    document = {"version": 3, "// why": "comments are kept", "matching": "email", "é": ["ü", 1.5]}

    assert stores.config.current() is None
    assert stores.config.save(document) == 3

    assert stores.config.current() == document
    assert stores.state.connector_state() == ConnectorState(paused=True, config_version=3)


def test_a_version_never_goes_down(stores: Stores) -> None:
    stores.config.save({"version": 5})

    for stale in (5, 4):
        with pytest.raises(StaleConfigurationVersion):
            stores.config.save({"version": stale})
    with pytest.raises(ConfigurationError, match="version"):
        stores.config.save({"version": "6"})
    assert stores.config.current() == {"version": 5}


def test_a_document_its_item_could_not_hold_is_refused_before_anything_is_written(stores: Stores) -> None:
    too_large = {"version": 1, "padding": "x" * (400 * 1024)}
    fits = {"version": 1, "padding": "x" * (300 * 1024)}

    with pytest.raises(ConfigurationTooLarge):
        stores.config.check_fits(too_large)
    with pytest.raises(ConfigurationTooLarge):
        stores.config.save(too_large)
    assert stores.config.current() is None
    stores.config.check_fits(fits)
    assert stores.config.save(fits) == 1
