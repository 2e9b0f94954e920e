"""`make bench`: the figures the issues set targets for. Prints; asserts nothing.

- the built layer's unzipped size (run `make build` first for it),
- the cold import time of each handler module (median of several fresh interpreters), next to
  a baseline of boto3 + Powertools alone,
- outbound runs through `functions.outbound_sync.app.handler` over 10,000 and then 50,000
  changed (new) Leads, and an idle run: Salesforce API calls, records per second, CPU seconds
  per 1,000 records of the connector's own process, peak memory. The Salesforce emulator and
  moto each run in a process of their own, so the bench process's CPU time is the connector's
  (crmsync, boto3/botocore, requests/urllib3/ssl, simple-salesforce, Powertools) and none of
  the doubles' work;
- the Salesforce API calls of typical gateway work against the emulator.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
POWERTOOLS = "import boto3, aws_lambda_powertools.event_handler, aws_lambda_powertools.logging"
# The handlers trace with Powertools' Tracer (ARCHITECTURE.md, Conventions); building one loads
# aws_xray_sdk, so the fair baseline for a handler includes it.
BASELINE = f"{POWERTOOLS}; from aws_lambda_powertools import Tracer; Tracer()"


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'crmsync'}:{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def cold_imports() -> None:
    print(f"cold import, median of {RUNS} fresh interpreters (Python {sys.version.split()[0]}):")
    statements = {
        "boto3 + Powertools, no Tracer": POWERTOOLS,
        "baseline: boto3 + Powertools + Tracer": BASELINE,
    }
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        statements[f"functions/{app.parent.name}/app.py"] = f"import functions.{app.parent.name}.app"
    statements["simple_salesforce (for comparison)"] = "import simple_salesforce"
    for label, statement in statements.items():
        _import_seconds(statement)  # warm the bytecode cache, as a deployed package has it
        median = statistics.median(_import_seconds(statement) for _ in range(RUNS))
        print(f"  {label:<40} {median * 1000:8.1f} ms")


def layer_size() -> None:
    layer = ROOT / ".aws-sam" / "build" / "CrmsyncLayer"
    if not layer.exists():
        print("layer: not built (run `make build` first)")
        return
    files = [p for p in layer.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    print(f"layer: {total / 1_000_000:.1f} MB unzipped, {len(files)} files")


# ------------------------------------------------------------------ outbound runs

OUTBOUND_RECORDS = 10_000
LARGE_RUN_RECORDS = 50_000
LEADS_PER_SECOND = 100  # how many of the seeded Leads share one SystemModstamp
LAMBDA_TIMEOUT_MS = 300_000  # OutboundSyncFunction's Timeout in template.yaml
LARGE_RUN_SECONDS = 285
"""The 50,000-record run is given OutboundSyncFunction's 300 s less its stop margin, by the wall
clock as Lambda's deadline comes: on moto (~260 records/s) it just finishes; on a loaded
machine it stops `cut_short` like a Lambda run would, and the figures say how far it got."""
READS = ("User", "Lead", "Contact")  # what a run with the default configuration reads, in order


# As in local/runtime.py, which this process does not import: it would bring moto in.
REGION = "us-east-1"
CLIENT_ID = "3MVG9crmsync-local-connected-app"
INTEGRATION_USER = "integration@crmsync.local"


class OrgHost:
    """The Salesforce emulator, served over HTTPS, in a process of its own (a manager's), with
    the connected app the connector logs in through (a JWT key pair made now)."""

    def __init__(self) -> None:
        from local.keys import generate_jwt_key_pair
        from local.salesforce_emulator import Emulator, ManualClock

        # An hour behind: every record it stamps is in a second the connector reads at once.
        self.clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
        self.emulator = Emulator(clock=self.clock)
        keys = generate_jwt_key_pair()
        self.private_key_pem = keys.private_key_pem
        self.emulator.register_connected_app(CLIENT_ID, certificate_pem=keys.certificate_pem)
        self.emulator.add_user(
            INTEGRATION_USER, email=INTEGRATION_USER, first_name="crmsync", last_name="Integration"
        )
        self._serving = ExitStack()
        served = self._serving.enter_context(self.emulator.serve())
        self.url, self.ca_file = served.url, served.ca_file

    def access(self) -> tuple[str, str, str]:
        """The URL, the CA bundle that trusts it, and the connected app's private key."""
        return self.url, self.ca_file, self.private_key_pem

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

    def api_calls(self) -> int:
        return self.emulator.api_calls

    def call_log(self) -> list[tuple[str, str]]:
        return list(self.emulator.call_log)

    def reset_counters(self) -> None:
        self.emulator.reset_counters()


class _Doubles(BaseManager):
    pass


_Doubles.register("OrgHost", OrgHost)


def _serve_moto(port: int, salesforce: tuple[str, str, str], answer: Any) -> None:
    """moto's server; once it listens, the stack made from template.yaml on it (with the
    transaction speed fix, `local.moto_transactions`) and the Salesforce secret. Sends back
    OutboundSyncFunction's environment, then serves until terminated."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    from local.aws_stack import create_stack, store_jwt_secret

    # Served by waitress, not moto's werkzeug server: werkzeug closes the connection after
    # every answer, so each of a run's ~900 DynamoDB calls would charge the connector a TCP
    # connect and a new connection object it does not pay in Lambda, where botocore keeps
    # its connection to DynamoDB open. waitress keeps connections alive as DynamoDB does.
    server = create_server(DomainDispatcherApplication(create_backend_app), host="127.0.0.1", port=port)
    threading.Thread(target=server.run, daemon=True).start()
    moto_url = f"http://127.0.0.1:{port}"
    salesforce_url, _, private_key_pem = salesforce
    stack = create_stack(region=REGION, endpoint_url=moto_url)
    secret_arn = store_jwt_secret(
        login_url=salesforce_url,
        client_id=CLIENT_ID,
        username=INTEGRATION_USER,
        private_key_pem=private_key_pem,
        region=REGION,
        endpoint_url=moto_url,
    )
    answer.send(stack.function_environment("OutboundSyncFunction", secret_arn=secret_arn))
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@dataclass
class _Connector:
    org: Any  # an OrgHost proxy
    emulator_pid: int
    moto_pid: int
    event: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _connector_with_doubles_apart() -> Iterator[_Connector]:
    """A deployed, resumed connector (OutboundSyncFunction's environment) in this process; the
    emulator and moto in processes of their own. This process imports neither of them, so its
    memory is the connector's as in Lambda (plus this module)."""
    from crmsync import bootstrap

    spawn = multiprocessing.get_context("spawn")
    saved_environment = dict(os.environ)
    # The spawned processes must not inherit the settings of the connector set below.
    doubles = _Doubles(ctx=spawn)
    doubles.start()
    moto: Any = None
    try:
        org = doubles.OrgHost()  # type: ignore[attr-defined]
        salesforce = org.access()
        port = _free_port()
        ours, theirs = spawn.Pipe()
        environment = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
        }
        os.environ.update(environment)
        moto = spawn.Process(target=_serve_moto, args=(port, salesforce, theirs), name="moto", daemon=True)
        moto.start()
        if not ours.poll(60):
            raise SystemExit("moto's server did not start")
        os.environ.update(ours.recv())
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "REQUESTS_CA_BUNDLE": salesforce[1],
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        bootstrap.reset()
        bootstrap.resume()
        event = json.loads((ROOT / "events" / "outbound_sync" / "scheduled.json").read_text())
        yield _Connector(org=org, emulator_pid=doubles._process.pid, moto_pid=moto.pid, event=event)  # type: ignore[attr-defined]
    finally:
        bootstrap.reset()
        if moto is not None:
            moto.terminate()
            moto.join(10)
        doubles.shutdown()
        os.environ.clear()
        os.environ.update(saved_environment)


@dataclass
class _Invocation:
    """A Lambda context whose deadline comes nearer by the wall clock."""

    timeout_ms: int = LAMBDA_TIMEOUT_MS
    function_name: str = "crmsync-bench-OutboundSyncFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:crmsync-bench"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


@dataclass
class _Measured:
    outcome: str
    counts: dict[str, int]
    calls: list[tuple[str, str]]
    seconds: float
    cpu_seconds: float
    emulator_cpu_seconds: float
    moto_cpu_seconds: float

    @property
    def read(self) -> int:
        return self.counts.get("read", 0)


def _outbound_run(connector: _Connector, timeout_ms: int = LAMBDA_TIMEOUT_MS) -> _Measured:
    from functions.outbound_sync import app
    from local.schedules import let_schedules_pass

    connector.org.reset_counters()
    let_schedules_pass("outbound")  # back to back, not the schedule's minutes apart
    emulator_cpu = _process_cpu_seconds(connector.emulator_pid)
    moto_cpu = _process_cpu_seconds(connector.moto_pid)
    cpu, started = time.process_time(), time.perf_counter()
    # Powertools prints its cold-start metric (EMF) even with metrics disabled.
    with contextlib.redirect_stdout(io.StringIO()):
        report = app.handler(connector.event, _Invocation(timeout_ms=timeout_ms))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return _Measured(
        outcome=report["outcome"],
        counts=report["counts"],
        calls=connector.org.call_log(),
        seconds=seconds,
        cpu_seconds=cpu,
        emulator_cpu_seconds=_process_cpu_seconds(connector.emulator_pid) - emulator_cpu,
        moto_cpu_seconds=_process_cpu_seconds(connector.moto_pid) - moto_cpu,
    )


def _calls_by_read(calls: list[tuple[str, str]]) -> str:
    """The run's API requests, by the read they belong to: a query starts the next object's
    read (in the order of `READS`), its `nextRecordsUrl` pages follow it."""
    reads = iter(READS)
    parts: list[list[Any]] = []
    for method, path in calls:
        resource_path = path.split("/services/data/", 1)[-1].split("/", 1)[-1].rstrip("/")
        if resource_path in ("query", "queryAll"):
            parts.append([f"{next(reads, '?')} ({resource_path})", 1])
        elif resource_path.startswith(("query/", "queryAll/")) and parts:
            parts[-1][1] += 1  # a nextRecordsUrl page of the read before
        else:
            parts.append([f"{method} {resource_path}", 1])
    return ", ".join(f"{name} {count}" for name, count in parts) or "none"


def _print_run(label: str, run: _Measured) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
    per_thousand = run.cpu_seconds / run.read * 1000 if run.read else 0.0
    print(f"  {label}: {run.outcome} in {run.seconds:.1f} s; {counts or 'nothing'}")
    print(f"    Salesforce API calls: {len(run.calls)}  [{_calls_by_read(run.calls)}]")
    if run.read:
        print(
            f"    {run.read / run.seconds:,.0f} records/s; CPU of this process (crmsync and its boto3,"
            f" requests, simple-salesforce, Powertools) {run.cpu_seconds:.1f} s = {per_thousand:.2f} s per 1,000 records"
            f" (for scale, the doubles: emulator {run.emulator_cpu_seconds:.1f} s, moto {run.moto_cpu_seconds:.1f} s)"
        )
    else:
        print(f"    CPU of this process {run.cpu_seconds:.2f} s")


def outbound_runs() -> None:
    print(
        "outbound sync through functions/outbound_sync/app.handler (emulator and moto in processes of their own):"
    )
    with _connector_with_doubles_apart() as connector:
        from crmsync.sync.outbound import STOP_MARGIN_MS

        from functions.outbound_sync import app  # noqa: F401  (its imports count in the baseline)

        baseline_rss = _peak_rss_mb()
        # A container's first run logs in to Salesforce and imports simple-salesforce; the
        # scheduled runs after it (every 2 minutes) reuse both. Measured apart, so the figures
        # per record below are those of the runs a container spends its life on.
        _print_run(
            "first run of a fresh container (idle: Salesforce login, lazy imports)", _outbound_run(connector)
        )
        started = time.perf_counter()
        connector.org.insert_leads(OUTBOUND_RECORDS, "ten")
        print(f"  {OUTBOUND_RECORDS:,} new Leads seeded in {time.perf_counter() - started:.2f} s")
        first = _outbound_run(connector)
        _print_run(f"run over {OUTBOUND_RECORDS:,} changed Leads", first)
        after_first_rss = _peak_rss_mb()

        edited = connector.org.edit_leads("ten")
        changed = _outbound_run(connector)
        _print_run(f"run over {edited:,} Leads edited in Salesforce (linked: field sync)", changed)

        idle = _outbound_run(connector)
        _print_run("idle run", idle)

        started = time.perf_counter()
        connector.org.insert_leads(LARGE_RUN_RECORDS, "fifty")
        print(f"  {LARGE_RUN_RECORDS:,} more new Leads seeded in {time.perf_counter() - started:.2f} s")
        large = _outbound_run(connector, timeout_ms=LARGE_RUN_SECONDS * 1000 + STOP_MARGIN_MS)
        _print_run(f"run over {LARGE_RUN_RECORDS:,} changed Leads, {LARGE_RUN_SECONDS} s allowed", large)
        after_large_rss = _peak_rss_mb()
        if 0 < large.read < LARGE_RUN_RECORDS:
            rate = large.read / large.seconds
            print(
                f"    stopped by its deadline after {large.read:,} of {LARGE_RUN_RECORDS:,} records"
                f" (moto's pace); all {LARGE_RUN_RECORDS:,} at {rate:,.0f} records/s: ~{LARGE_RUN_RECORDS / rate:,.0f} s"
            )
    print(
        "  peak memory: ru_maxrss, the peak resident set of this process (interpreter, crmsync, boto3 and its"
        " models, simple-salesforce, Powertools; what Lambda's Max Memory Used reports):"
    )
    print(
        f"    handler imported, before any run {baseline_rss:.0f} MB; after the {OUTBOUND_RECORDS:,}-record run {after_first_rss:.0f} MB;"
        f" after the {large.read:,}-record run {after_large_rss:.0f} MB"
    )


def gateway_calls() -> None:
    from crmsync.domain.records import WriteOperation
    from crmsync.salesforce.auth import SalesforceCredentials, request_token
    from crmsync.salesforce.gateway import SalesforceGateway
    from crmsync.salesforce.session import SalesforceSession

    from local.keys import generate_jwt_key_pair
    from local.salesforce_emulator import Emulator, ManualClock

    clock = ManualClock(datetime(2026, 11, 22, 12, tzinfo=UTC))
    emulator = Emulator(clock=clock)
    keys = generate_jwt_key_pair()
    emulator.register_connected_app("bench", certificate_pem=keys.certificate_pem)
    emulator.add_user("bench@crmsync.local", email="bench@crmsync.local", last_name="Bench")
    credentials = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": emulator.login_url,
            "client_id": "bench",
            "username": "bench@crmsync.local",
            "private_key": keys.private_key_pem,
        }
    )
    session = SalesforceSession(lambda s: request_token(s, credentials, timeout=5))
    emulator.mount(session)
    gateway = SalesforceGateway(session, api_version="62.0", bulk_poll_seconds=0)

    def leads(n: int, tag: str) -> list[dict[str, object]]:
        return [
            {"LastName": f"{tag} {i}", "Company": "Bench", "Email": f"{tag}{i}@bench.example"}
            for i in range(n)
        ]

    print("Salesforce API calls against the emulator:")
    for label, records in (
        ("Collections write", leads(1000, "c")),
        ("Bulk API 2.0 write", leads(10_000, "b")),
    ):
        emulator.reset_counters()
        started = time.perf_counter()
        gateway.write("Lead", WriteOperation.CREATE, records)
        elapsed = time.perf_counter() - started
        print(f"  {label:<28} {len(records):>6} records  {emulator.api_calls:>3} calls  {elapsed:6.2f} s")
    clock.advance(seconds=2)
    emulator.reset_counters()
    started = time.perf_counter()
    pages = list(gateway.read_changes("Lead", ["Email"], None, clock.now()))
    elapsed = time.perf_counter() - started
    count = sum(len(page.records) for page in pages)
    print(f"  {'full read':<28} {count:>6} records  {emulator.api_calls:>3} calls  {elapsed:6.2f} s")
    clock.advance(seconds=120)
    emulator.reset_counters()
    idle = sum(
        len(page.records)
        for page in gateway.read_changes("Lead", ["Email"], pages[-1].watermark, clock.now())
    )
    print(f"  {'idle incremental read':<28} {idle:>6} records  {emulator.api_calls:>3} calls")


def main() -> None:
    layer_size()
    cold_imports()
    # Before gateway_calls: that one keeps an emulator in this process, and the outbound runs'
    # peak memory must be the connector's alone.
    outbound_runs()
    # Imported here: local.bench_inbound imports this module's helpers.
    from local.bench_inbound import inbound_runs

    inbound_runs()
    gateway_calls()


if __name__ == "__main__":
    main()
