"""`make bench`, outbound: runs through `functions.outbound_sync.app.handler` over 10,000 and
then 50,000 changed (new) Leads, over the 10,000 edited, and an idle run: Salesforce API calls,
records per second, CPU seconds per 1,000 records of the connector's own process, peak memory."""

from __future__ import annotations

import time
from typing import Any

from local.bench.doubles import connector_with_doubles_apart
from local.bench.functions import outbound_run
from local.bench.measure import Measured, peak_rss_mb

OUTBOUND_RECORDS = 10_000
LARGE_RUN_RECORDS = 50_000
LARGE_RUN_SECONDS = 285
"""The 50,000-record run is given OutboundSyncFunction's 300 s less its stop margin, by the wall
clock as Lambda's deadline comes: on moto (~260 records/s) it just finishes; on a loaded
machine it stops `cut_short` like a Lambda run would, and the figures say how far it got."""
READS = ("User", "Lead", "Contact")  # what a run with the default configuration reads, in order


def read(run: Measured) -> int:
    return run.counts.get("read", 0)


def calls_by_read(calls: list[tuple[str, str]]) -> str:
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


def print_run(label: str, run: Measured) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
    per_thousand = run.cpu_seconds / read(run) * 1000 if read(run) else 0.0
    print(f"  {label}: {run.report['outcome']} in {run.seconds:.1f} s; {counts or 'nothing'}")
    print(f"    Salesforce API calls: {len(run.calls)}  [{calls_by_read(run.calls)}]")
    if read(run):
        print(
            f"    {read(run) / run.seconds:,.0f} records/s; CPU of this process (crmsync and its boto3,"
            f" requests, simple-salesforce, Powertools) {run.cpu_seconds:.1f} s = {per_thousand:.2f} s per 1,000 records"
            f" (for scale, the doubles: emulator {run.emulator_cpu_seconds:.1f} s, moto {run.moto_cpu_seconds:.1f} s)"
        )
    else:
        print(f"    CPU of this process {run.cpu_seconds:.2f} s")


def outbound_runs() -> None:
    print(
        "outbound sync through functions/outbound_sync/app.handler (emulator and moto in processes of their own):"
    )
    with connector_with_doubles_apart() as connector:
        from crmsync.sync.outbound import STOP_MARGIN_MS

        from functions.outbound_sync import app  # noqa: F401  (its imports count in the baseline)

        baseline_rss = peak_rss_mb()
        # A container's first run logs in to Salesforce and imports simple-salesforce; the
        # scheduled runs after it (every 2 minutes) reuse both. Measured apart, so the figures
        # per record below are those of the runs a container spends its life on.
        print_run(
            "first run of a fresh container (idle: Salesforce login, lazy imports)", outbound_run(connector)
        )
        started = time.perf_counter()
        connector.org.insert_leads(OUTBOUND_RECORDS, "ten")
        print(f"  {OUTBOUND_RECORDS:,} new Leads seeded in {time.perf_counter() - started:.2f} s")
        first = outbound_run(connector)
        print_run(f"run over {OUTBOUND_RECORDS:,} changed Leads", first)
        after_first_rss = peak_rss_mb()

        edited = connector.org.edit_leads("ten")
        changed = outbound_run(connector)
        print_run(f"run over {edited:,} Leads edited in Salesforce (linked: field sync)", changed)

        idle = outbound_run(connector)
        print_run("idle run", idle)

        started = time.perf_counter()
        connector.org.insert_leads(LARGE_RUN_RECORDS, "fifty")
        print(f"  {LARGE_RUN_RECORDS:,} more new Leads seeded in {time.perf_counter() - started:.2f} s")
        large = outbound_run(connector, timeout_ms=LARGE_RUN_SECONDS * 1000 + STOP_MARGIN_MS)
        print_run(f"run over {LARGE_RUN_RECORDS:,} changed Leads, {LARGE_RUN_SECONDS} s allowed", large)
        after_large_rss = peak_rss_mb()
        if 0 < read(large) < LARGE_RUN_RECORDS:
            rate = read(large) / large.seconds
            print(
                f"    stopped by its deadline after {read(large):,} of {LARGE_RUN_RECORDS:,} records"
                f" (moto's pace); all {LARGE_RUN_RECORDS:,} at {rate:,.0f} records/s: ~{LARGE_RUN_RECORDS / rate:,.0f} s"
            )
    print(
        "  peak memory: ru_maxrss, the peak resident set of this process (interpreter, crmsync, boto3 and its"
        " models, simple-salesforce, Powertools; what Lambda's Max Memory Used reports):"
    )
    print(
        f"    handler imported, before any run {baseline_rss:.0f} MB; after the {OUTBOUND_RECORDS:,}-record run {after_first_rss:.0f} MB;"
        f" after the {read(large):,}-record run {after_large_rss:.0f} MB"
    )
