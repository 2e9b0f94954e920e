"""`make bench`, the container's start: the built layer's unzipped size (run `make build` first
for it), and the cold import time of each handler module (median of several fresh
interpreters), next to a baseline of boto3 + Powertools alone and the modules a route may or may
not need (the configuration's models, simple-salesforce)."""

from __future__ import annotations

import sys

from local.bench.measure import IMPORT_RUNS, ROOT, median_import_ms

POWERTOOLS = "import boto3, aws_lambda_powertools.event_handler, aws_lambda_powertools.logging"
# The handlers trace with Powertools' Tracer (ARCHITECTURE.md, Conventions); building one loads
# aws_xray_sdk, so the fair baseline for a handler includes it.
BASELINE = f"{POWERTOOLS}; from aws_lambda_powertools import Tracer; Tracer()"


def layer_size() -> None:
    layer = ROOT / ".aws-sam" / "build" / "CrmsyncLayer"
    if not layer.exists():
        print("layer: not built (run `make build` first)")
        return
    files = [p for p in layer.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    print(f"layer: {total / 1_000_000:.1f} MB unzipped, {len(files)} files")


def cold_imports() -> None:
    print(f"cold import, median of {IMPORT_RUNS} fresh interpreters (Python {sys.version.split()[0]}):")
    statements = {
        "boto3 + Powertools, no Tracer": POWERTOOLS,
        "baseline: boto3 + Powertools + Tracer": BASELINE,
    }
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        statements[f"functions/{app.parent.name}/app.py"] = f"import functions.{app.parent.name}.app"
    # The configuration's models: what a run and PUT /config load, and the intake route must not
    # (tests/functions/test_http_api_actions.py holds it to that).
    statements["crmsync.config (the configuration)"] = "import crmsync.config"
    statements["simple_salesforce (for comparison)"] = "import simple_salesforce"
    for label, statement in statements.items():
        print(f"  {label:<40} {median_import_ms(statement):8.1f} ms")
