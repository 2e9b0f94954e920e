"""Service tests: the use cases built on the fakes of tests/fakes through their public
constructors, driven through their entry points. No sockets, no AWS, no HTTP: the Salesforce
side is the emulator's org reached in process (`FakeCrm`)."""

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket

from tests.fakes.connector import FakeConnector


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def connector(request: pytest.FixtureRequest) -> FakeConnector:
    """A deployed connector, resumed, with the default configuration."""
    made = FakeConnector(person_accounts=request.node.get_closest_marker("person_accounts") is not None)
    made.resume()
    return made
