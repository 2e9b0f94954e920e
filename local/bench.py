"""`make bench`: the figures the issues set targets for. Prints; asserts nothing.

- the built layer's unzipped size (run `make build` first for it),
- the cold import time of each handler module (median of several fresh interpreters), next to
  a baseline of boto3 + Powertools alone,
- the Salesforce API calls of typical gateway work against the emulator.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
    gateway_calls()


if __name__ == "__main__":
    main()
