"""The connector's functions invoked as Lambda invokes them, and measured.

OutboundSyncFunction runs in the bench's own process (`outbound_run`): its memory is that
process's. Any function can also run in a container of its own (`container`): a spawned process
with the function's environment that plays its warm container, handling the events it is sent
one invocation each, so its CPU time is the function's alone and its peak resident memory is
what Lambda's Max Memory Used reports.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from local.bench.doubles import Connector
from local.bench.measure import Measured, peak_resident_mb
from local.runtime.invoke import LambdaContext, invoke, sample_event
from local.runtime.schedules import let_schedules_pass

LAMBDA_TIMEOUT_MS = 300_000
"""OutboundSyncFunction's and InboundSyncFunction's Timeout in template.yaml."""


def outbound_run(connector: Connector, timeout_ms: int = LAMBDA_TIMEOUT_MS) -> Measured:
    """A scheduled OutboundSyncFunction invocation in this process, made due."""
    from functions.outbound_sync import app

    connector.org.reset_counters()
    let_schedules_pass("outbound")  # back to back, not the schedule's minutes apart
    emulator_cpu, moto_cpu = connector.doubles_cpu_seconds()
    context = LambdaContext(function_name="crmsync-bench-OutboundSyncFunction", timeout_ms=timeout_ms)
    cpu, started = time.process_time(), time.perf_counter()
    report = invoke(app.handler, connector.event, context)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    emulator_after, moto_after = connector.doubles_cpu_seconds()
    return Measured(
        reports=[report],
        seconds=seconds,
        cpu_seconds=cpu,
        calls=connector.org.call_log(),
        emulator_cpu_seconds=emulator_after - emulator_cpu,
        moto_cpu_seconds=moto_after - moto_cpu,
        durations=[seconds],
    )


def _serve_container(function: str, handler: str, environment: dict[str, str], commands: Connection) -> None:
    """`function`'s container: handles the events it is sent, one invocation each, and answers
    with the reports, each invocation's seconds, wall and CPU seconds, and the process's peak
    memory so far."""
    os.environ.update(environment)
    module, name = handler.rsplit(".", 1)
    handle = getattr(importlib.import_module(module), name)
    commands.send(peak_resident_mb())
    while (request := commands.recv()) is not None:
        events, timeout_ms = request
        reports, durations = [], []
        cpu, started = time.process_time(), time.perf_counter()
        for event in events:
            context = LambdaContext(function_name=f"crmsync-bench-{function}", timeout_ms=timeout_ms)
            began = time.perf_counter()
            try:
                reports.append(invoke(handle, event, context))
            except Exception as exc:  # an invocation's error, as Lambda reports it; the container lives on
                reports.append({"errorType": type(exc).__name__, "errorMessage": str(exc)})
            durations.append(time.perf_counter() - began)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        commands.send((reports, durations, seconds, cpu, peak_resident_mb()))


@dataclass
class Container:
    """A function's warm container in a process of its own (see the module's documentation)."""

    connector: Connector
    function: str
    commands: Connection
    imported_peak_mb: float
    invocations: list[Measured] = field(default_factory=list)

    def handle(self, events: Sequence[dict[str, Any]], timeout_ms: int = LAMBDA_TIMEOUT_MS) -> Measured:
        self.connector.org.reset_counters()
        emulator_cpu, moto_cpu = self.connector.doubles_cpu_seconds()
        self.commands.send((list(events), timeout_ms))
        reports, durations, seconds, cpu_seconds, peak_memory_mb = self.commands.recv()
        emulator_after, moto_after = self.connector.doubles_cpu_seconds()
        measured = Measured(
            reports=reports,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            calls=self.connector.org.call_log(),
            emulator_cpu_seconds=emulator_after - emulator_cpu,
            moto_cpu_seconds=moto_after - moto_cpu,
            peak_memory_mb=peak_memory_mb,
            durations=durations,
        )
        self.invocations.append(measured)
        return measured

    def scheduled_run(self, name: str, timeout_ms: int = LAMBDA_TIMEOUT_MS) -> Measured:
        """The scheduler's tick of run `name` ("outbound", "inbound"), made due."""
        let_schedules_pass(name)  # back to back, not the schedule's minutes apart
        return self.handle([sample_event(f"{name}_sync", "scheduled")], timeout_ms)


@contextmanager
def container(connector: Connector, function: str) -> Iterator[Container]:
    """`function`'s warm container, for as long as the block runs."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    handler = connector.deployment.handlers[function]
    environment = connector.environment(function)
    process = spawn.Process(
        target=_serve_container, args=(function, handler, environment, theirs), name=function, daemon=True
    )
    process.start()
    try:
        yield Container(connector, function, ours, imported_peak_mb=ours.recv())
    finally:
        ours.send(None)
        process.join(30)
