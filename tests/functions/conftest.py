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
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from botocore.handlers import BUILTIN_HANDLERS
from crmsync import bootstrap

from local.aws_stack import LocalStack, create_stack, load_template, store_jwt_secret
from local.iam_policies import FunctionPolicy, permissions_for
from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.salesforce_emulator import Emulator, ManualClock
from local.sam_transform import transformed_template
from tests.emulated_salesforce import salesforce_reached
from tests.local_aws import mocked_aws, stack_template

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT_ID = "3MVG9crmsync-functions"
USERNAME = "integration@crmsync.example"
REGION = "us-east-1"


@dataclass
class LambdaContext:
    function_name: str = "crmsync-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:crmsync-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    remaining_millis: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


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


def load_event(function: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / function / f"{name}.json").read_text())
    return event


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
    emu.register_connected_app(CLIENT_ID, certificate_pem=key_pair.certificate_pem)
    emu.add_user(USERNAME, email=USERNAME, last_name="Integration")
    with salesforce_reached(emu, monkeypatch, over_https=over_https(request)):
        yield emu


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
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
    secret_arn = store_jwt_secret(
        login_url=emulator.login_url,
        client_id=CLIENT_ID,
        username=USERNAME,
        private_key_pem=key_pair.private_key_pem,
        region=REGION,
    )
    for name, value in stack.function_environment(function, secret_arn=secret_arn).items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()


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
    salesforce.register_connected_app(CLIENT_ID, certificate_pem=key_pair.certificate_pem)
    salesforce.add_user(USERNAME, email=USERNAME, last_name="Integration")
    with salesforce_reached(salesforce, monkeypatch, over_https=over_https(request)) as login_url:
        secret_arn = store_jwt_secret(
            login_url=login_url,
            client_id=CLIENT_ID,
            username=USERNAME,
            private_key_pem=key_pair.private_key_pem,
            region=REGION,
        )
        environment = stack.function_environment("OutboundSyncFunction", secret_arn=secret_arn)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        bootstrap.resume()
        yield OutboundConnector(stack=stack, salesforce=salesforce, clock=clock)
        bootstrap.reset()
