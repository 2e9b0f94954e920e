"""Handler tests: the real handlers, their sample events, moto for AWS (tables and queues made
from template.yaml) and the Salesforce emulator through the real simple-salesforce client,
reached in process (`tests/emulated_salesforce.py`; served over HTTPS on localhost for the tests
marked `over_https`).

Every AWS call a handler makes is checked against its function's IAM policy in the transformed
template (`local.iam_policies`): a call the deployed function would be denied fails the test."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, wraps
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from botocore.handlers import BUILTIN_HANDLERS
from crmsync import bootstrap

from local.aws_stack import LocalStack, create_stack, load_template
from local.iam_policies import FunctionPolicy, permissions_for
from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.runtime import aws, invoke
from local.runtime.aws import LOCAL_AWS, function_environment
from local.runtime.invoke import sample_event
from local.runtime.org import OrgLogin, connect_app
from local.salesforce_emulator import Emulator, ManualClock
from local.sam_transform import transformed_template
from tests.emulated_salesforce import Reached, salesforce_reached
from tests.local_aws import mocked_aws, stack_template

EVENTS = invoke.EVENTS
REGION = aws.REGION
CLIENT_ID = "3MVG9crmsync-functions"
USERNAME = "integration@crmsync.example"


@dataclass
class LambdaContext(invoke.LambdaContext):
    """The runtime's context with a deadline that stands still (no test depends on the
    machine's speed) and one request id, unless a test gives its own."""

    function_name: str = "crmsync-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    remaining_millis: int | None = 60_000


# ------------------------------------------------------------------ IAM: what each handler calls

_calls: ContextVar[list[tuple[str, dict[str, Any]]] | None] = ContextVar(
    "crmsync_handler_calls", default=None
)
"""The running invocation's AWS calls: ("<service>.<operation>", request parameters)."""


def _record_call(event_name: str, request: Any, **_: Any) -> None:
    calls = _calls.get()
    if calls is None:
        return
    _, service, operation = event_name.split(".", 2)
    body = request.body or b"{}"
    params = json.loads(body.decode() if isinstance(body, bytes) else body) if body else {}
    calls.append((f"{service}.{operation}", params))


BUILTIN_HANDLERS.append(("before-send", _record_call))


@cache
def _handler_modules() -> dict[str, str]:
    """Handler module (`functions.outbound_sync.app`) → the function's logical id."""
    modules = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = resource["Properties"]["CodeUri"].strip("/").replace("/", ".")
            modules[f"{code}.{resource['Properties']['Handler'].split('.')[0]}"] = logical_id
    return modules


def _denied_calls(stack: LocalStack, function: str, calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    account = next(iter(stack.arns.values())).split(":")[4]
    secret = os.environ.get("CRMSYNC_SALESFORCE_SECRET_ARN") or None
    policy = FunctionPolicy.of(
        transformed_template(), function, lambda value: stack.resolve(value, secret_arn=secret)
    )
    denied = []
    for call, params in calls:
        service, operation = call.split(".", 1)
        for action, resource in permissions_for(
            service, operation, params, region=stack.region, account=account
        ):
            if not policy.allows(action, resource):
                denied.append(f"{function}: {action} on {resource}")
    return sorted(set(denied))


@pytest.fixture(autouse=True)
def handlers_held_to_their_iam_policy(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each handler's AWS calls, checked as the handler returns (or raises)."""

    def held(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(handler)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            made: list[tuple[str, dict[str, Any]]] = []
            token = _calls.set(made)
            try:
                return handler(*args, **kwargs)
            finally:
                _calls.reset(token)
                checked = request.node.get_closest_marker("outside_the_stack") is None
                if made and checked and "stack" in request.fixturenames:
                    denied = _denied_calls(request.getfixturevalue("stack"), function, made)
                    assert not denied, "denied by the function's IAM policy:\n" + "\n".join(denied)

        return invoke

    for module_name, function in _handler_modules().items():
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, "handler", held(function, module.handler))


load_event = sample_event


@pytest.fixture(autouse=True)
def _no_metrics_left_over() -> Iterator[None]:
    """Each test starts with no metric. Powertools keeps the metrics of every handler in one
    set per process and, while they are disabled (POWERTOOLS_METRICS_DISABLED), never clears it:
    past 100 values of one metric it serializes the set, and a handler module imported before
    the environment named its namespace fails there."""
    yield
    Metrics().clear_metrics()


@pytest.fixture(scope="session")
def key_pair() -> JwtKeyPair:
    return generate_jwt_key_pair()


def over_https(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("over_https") is not None


@pytest.fixture
def emulator(
    key_pair: JwtKeyPair, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Emulator]:
    """The org; the connector's secret names its `login_url`."""
    emu = Emulator()
    connect_app(emu, key_pair, client_id=CLIENT_ID, username=USERNAME)
    with salesforce_reached(emu, monkeypatch, over_https=over_https(request)) as reached:
        emu.reached = reached  # type: ignore[attr-defined]
        yield emu


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    for name, value in LOCAL_AWS.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        yield create_stack(stack_template(), region=REGION)


@pytest.fixture
def connector(
    stack: LocalStack, emulator: Emulator, key_pair: JwtKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalStack]:
    """Environment of a deployed connector whose secret points at the emulator."""
    deploy(stack, emulator, key_pair, monkeypatch, "HttpApiFunction")
    yield stack
    bootstrap.reset()


def deploy(
    stack: LocalStack,
    emulator: Emulator,
    key_pair: JwtKeyPair,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
) -> None:
    """Give this process `function`'s environment, its Salesforce secret pointing at the emulator."""
    reached = emulator.reached  # type: ignore[attr-defined]
    for name, value in function_environment(stack, function, org_login(reached, key_pair)).items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()


def org_login(reached: Reached, key_pair: JwtKeyPair) -> OrgLogin:
    """How the connector logs in to an emulator these fixtures reach."""
    return OrgLogin(
        url=reached.url,
        ca_file=reached.ca_file,
        private_key_pem=key_pair.private_key_pem,
        client_id=CLIENT_ID,
        username=USERNAME,
    )


# ------------------------------------------------------------------ outbound sync

ORG_CLOCK_BEHIND = timedelta(hours=1)
"""How far the outbound org's clock runs behind the real one. The connector reads changes up
to the start of the current (real) second; an org clock in the past puts every record it
stamps in a settled second, so a run reads every change made before it."""


@dataclass
class OutboundConnector:
    """A deployed, resumed connector (OutboundSyncFunction's environment) and its org.

    The org's clock only moves when a test moves it: records written without moving it share
    one `SystemModstamp`. Move it on (`clock.advance(...)`) before a change that must read as
    made after an earlier run, as any real change is."""

    stack: LocalStack
    salesforce: Emulator
    clock: ManualClock


@pytest.fixture
def outbound_connector(
    stack: LocalStack, key_pair: JwtKeyPair, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[OutboundConnector]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - ORG_CLOCK_BEHIND)
    person_accounts = request.node.get_closest_marker("person_accounts") is not None
    salesforce = Emulator(clock=clock, person_accounts=person_accounts)
    connect_app(salesforce, key_pair, client_id=CLIENT_ID, username=USERNAME)
    with salesforce_reached(salesforce, monkeypatch, over_https=over_https(request)) as reached:
        environment = function_environment(stack, "OutboundSyncFunction", org_login(reached, key_pair))
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        bootstrap.resume()
        yield OutboundConnector(stack=stack, salesforce=salesforce, clock=clock)
        bootstrap.reset()
