"""The bench's connector and its doubles, each in a process of its own: the Salesforce emulator
(a manager's process), moto (served, metered when the cost is asked for), and the connector in
the bench's process with OutboundSyncFunction's environment. The bench's process imports
neither double, so its CPU time and memory are the connector's (crmsync, boto3/botocore,
requests/urllib3/ssl, simple-salesforce, Powertools) as in Lambda, plus the bench's own few
modules."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.managers import BaseManager
from typing import Any

from local.bench.measure import process_cpu_seconds
from local.runtime.aws import LOCAL_AWS, QUIET, REGION, free_port
from local.runtime.org import OrgLogin

LEADS_PER_SECOND = 100  # how many of the seeded Leads share one SystemModstamp


class OrgHost:
    """The Salesforce emulator, served over HTTPS, in a process of its own (a manager's), with
    the connected app the connector logs in through (a JWT key pair made now)."""

    def __init__(self) -> None:
        from local.keys import generate_jwt_key_pair
        from local.runtime.org import connect_app
        from local.salesforce_emulator import Emulator, ManualClock

        # An hour behind: every record it stamps is in a second the connector reads at once.
        self.clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
        self.emulator = Emulator(clock=self.clock)
        keys = generate_jwt_key_pair()
        connect_app(self.emulator, keys, first_name="crmsync")
        self._serving = ExitStack()
        served = self._serving.enter_context(self.emulator.serve())
        self.login = OrgLogin(url=served.url, ca_file=served.ca_file, private_key_pem=keys.private_key_pem)

    def access(self) -> OrgLogin:
        return self.login

    def insert_leads(self, count: int, tag: str) -> None:
        """`count` new Leads, `LEADS_PER_SECOND` to a `SystemModstamp`, then a second more."""
        for number in range(count):
            if number and number % LEADS_PER_SECOND == 0:
                self.clock.advance(seconds=1)
            self.emulator.insert(
                "Lead",
                {
                    "FirstName": f"Bench{number}",
                    "LastName": f"{tag} {number}",
                    "Company": f"Company {number % 500}",
                    "Email": f"{tag}{number}@bench.example",
                    "Phone": f"+1 555 {number % 10_000:04d}",
                },
            )
        self.clock.advance(seconds=1)

    def edit_leads(self, tag: str) -> int:
        """A salesperson's edit (a new Phone) on every Lead of `tag`; returns how many."""
        edited = 0
        for lead in self.emulator.records("Lead"):
            if str(lead.get("LastName", "")).startswith(f"{tag} "):
                if edited and edited % LEADS_PER_SECOND == 0:
                    self.clock.advance(seconds=1)
                self.emulator.update("Lead", lead["Id"], {"Phone": f"+44 20 {edited % 10_000:04d}"})
                edited += 1
        self.clock.advance(seconds=1)
        return edited

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """A salesperson's edit of one record, a second after the last change."""
        self.clock.advance(seconds=1)
        self.emulator.update(sobject, record_id, fields)

    def lead_ids(self, tag: str) -> list[str]:
        """The Ids of the Leads of `tag` (`insert_leads`), in the order they were made."""
        return [
            str(lead["Id"])
            for lead in self.emulator.records("Lead")
            if str(lead.get("LastName", "")).startswith(f"{tag} ")
        ]

    def api_calls(self) -> int:
        return self.emulator.api_calls

    def call_log(self) -> list[tuple[str, str]]:
        return list(self.emulator.call_log)

    def reset_counters(self) -> None:
        self.emulator.reset_counters()


class _Doubles(BaseManager):
    pass


_Doubles.register("OrgHost", OrgHost)


@dataclass(frozen=True)
class Deployment:
    """What moto's process made from the template: each function's environment as deployed,
    its handler and its memory."""

    environments: dict[str, dict[str, str]]
    handlers: dict[str, str]
    memory_mb: dict[str, int]


def _serve_moto(port: int, org: OrgLogin, metered: bool, answer: Connection) -> None:
    """moto's server (metered: `local.bench.meter`); once it listens, the stack made from
    template.yaml on it (with `local.moto_transactions`' speed fix) and the Salesforce secret.
    Sends back the `Deployment`, then serves until terminated."""
    from local.aws_stack import create_stack
    from local.bench.meter import MeteredMoto
    from local.runtime.aws import function_environment, serve_moto

    os.environ.update(LOCAL_AWS)  # for the stack's and the secret's calls
    serve_moto(port, wrap=MeteredMoto if metered else None)
    moto_url = f"http://127.0.0.1:{port}"
    stack = create_stack(region=REGION, endpoint_url=moto_url)
    environments: dict[str, dict[str, str]] = {}
    secret_arn = None
    for function in stack.functions():
        environments[function] = function_environment(
            stack, function, org, secret_arn=secret_arn, endpoint_url=moto_url
        )
        secret_arn = environments[function]["CRMSYNC_SALESFORCE_SECRET_ARN"]
    functions = stack.functions()
    answer.send(
        Deployment(
            environments,
            {function: stack.function_handler(function) for function in functions},
            {function: stack.function_memory_mb(function) for function in functions},
        )
    )
    while True:
        time.sleep(3600)


@dataclass
class Connector:
    org: Any  # an OrgHost proxy
    emulator_pid: int
    moto_pid: int
    moto_url: str
    deployment: Deployment
    event: dict[str, Any] = field(default_factory=dict)

    def environment(self, function: str) -> dict[str, str]:
        """What a process of `function` has: the local AWS settings, the function's own
        environment, and its logs kept to warnings."""
        return {
            **LOCAL_AWS,
            **self.deployment.environments[function],
            "AWS_ENDPOINT_URL": self.moto_url,
            **QUIET,
        }

    def doubles_cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds spent so far by the emulator's process and by moto's."""
        return process_cpu_seconds(self.emulator_pid), process_cpu_seconds(self.moto_pid)


@contextmanager
def connector_with_doubles_apart(*, metered: bool = False) -> Iterator[Connector]:
    """A deployed, resumed connector (OutboundSyncFunction's environment) in this process; the
    emulator and moto in processes of their own (moto `metered` for the cost). This process
    imports neither of them, so its memory is the connector's as in Lambda (plus the bench's
    modules)."""
    from crmsync import bootstrap

    from local.runtime.invoke import sample_event

    spawn = multiprocessing.get_context("spawn")
    saved_environment = dict(os.environ)
    # Started before the connector's settings below: the doubles must not inherit them.
    doubles = _Doubles(ctx=spawn)
    doubles.start()
    moto: Any = None
    try:
        org = doubles.OrgHost()  # type: ignore[attr-defined]
        port = free_port()
        ours, theirs = spawn.Pipe()
        moto = spawn.Process(
            target=_serve_moto, args=(port, org.access(), metered, theirs), name="moto", daemon=True
        )
        moto.start()
        if not ours.poll(60):
            raise SystemExit("moto's server did not start")
        connector = Connector(
            org=org,
            emulator_pid=doubles._process.pid,  # type: ignore[attr-defined]
            moto_pid=moto.pid,
            moto_url=f"http://127.0.0.1:{port}",
            deployment=ours.recv(),
            event=sample_event("outbound_sync", "scheduled"),
        )
        os.environ.update(connector.environment("OutboundSyncFunction"))
        bootstrap.reset()
        bootstrap.resume()
        yield connector
    finally:
        bootstrap.reset()
        if moto is not None:
            moto.terminate()
            moto.join(10)
        doubles.shutdown()
        os.environ.clear()
        os.environ.update(saved_environment)
