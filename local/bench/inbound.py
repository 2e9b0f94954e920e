"""`make bench`, inbound: marketing changes to Salesforce through
`functions.inbound_sync.app.handler`, in InboundSyncFunction's warm container (a process of its
own: `local.bench.functions`). Prints; asserts nothing.

- 1,000 changed prospects, set up as in production: Leads linked by an outbound run, scored by
  the marketing side through the prospect store, captured from the prospects table's real
  stream by the handler's stream trigger (its CPU per change is measured too), then sent by
  the scheduled run: Salesforce API calls (Collections writes, reads, other), records per
  second, CPU per record;
- 10,000 changed prospects (Bulk API 2.0 from the 2,000 threshold): the same figures;
- 50,000 changed prospects (the memory target's figure), given the time they take on moto
  (see `LARGE_RUN_SECONDS`): peak memory, calls, CPU per record, and the share of the run that
  is the function's CPU;
- the automation intake route (`POST /actions`) in fresh interpreters: its import and answer
  times, and whether it loaded simple-salesforce or the configuration's models.

The 10,000 and 50,000 are set up in bulk, because linking them with outbound runs and sending
their edits through the stream would take longer on moto than the whole bench: the bench reads
the new Leads as outbound does (outbound's Lead watermark then moves past them), and saves each
one's prospect (already scored, as a marketing save leaves it) and link (with the snapshot
outbound would have saved) through the stores, noting them as waiting through
`PendingChanges.add`. Bypassed: outbound's run itself (its audit entries and run records,
which an inbound run never reads), the stream and change capture.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from local.bench.doubles import Connector, connector_with_doubles_apart
from local.bench.functions import LAMBDA_TIMEOUT_MS, Container, container, outbound_run
from local.bench.measure import PYTHONPATH, ROOT, Measured
from local.runtime.invoke import sample_event
from local.runtime.stream import ProspectStream, marketing_store

COLLECTIONS_RECORDS = 1_000
BULK_RECORDS = 10_000
LARGE_RUN_RECORDS = 50_000
LARGE_RUN_SECONDS = 900
"""On moto (~150 records/s, moto's own pace) 50,000 take about 330 s to send, past
InboundSyncFunction's 300 s timeout, where the run would stop and the next send the rest (a
test shows it). The bench gives the run the time moto needs, so the figures are those of one
run over all 50,000; the CPU share shows what DynamoDB's pace would leave of the 330 s."""
INTAKE_RUNS = 5
SCORE = 64

# As tests/functions/test_inbound_sync.py: score and grade are the marketing side's to write.
# Changes wait for the schedule however many there are, so one scheduled run takes the batch.
CONFIGURATION: dict[str, Any] = {
    "version": 2,
    "mappings": {
        "Lead": [
            {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
            {"marketing_field": "first_name", "salesforce_field": "FirstName", "behaviour": "most_recent"},
            {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
            {"marketing_field": "company", "salesforce_field": "Company", "behaviour": "most_recent"},
            {"marketing_field": "score", "salesforce_field": "Marketing_Score__c", "behaviour": "marketing"},
            {"marketing_field": "grade", "salesforce_field": "Marketing_Grade__c", "behaviour": "marketing"},
        ],
    },
    "inbound": {"max_waiting_changes": 1_000_000},
}
LEAD_MAPPINGS: list[dict[str, Any]] = CONFIGURATION["mappings"]["Lead"]


# ------------------------------------------------------------------ set-up


def new_leads(connector: Connector, count: int, tag: str) -> list[dict[str, Any]]:
    """`count` new Leads of `tag`, read back (with the fields the configuration maps) as
    outbound reads them: changed since its Lead watermark, which then moves past them."""
    from crmsync import bootstrap

    connector.org.insert_leads(count, tag)
    watermarks = bootstrap.watermarks()
    mapped = [mapping["salesforce_field"] for mapping in LEAD_MAPPINGS]
    until = datetime.now(UTC).replace(microsecond=0)
    leads: list[dict[str, Any]] = []
    last_page = None
    for page in bootstrap.salesforce_gateway().read_changes(
        "Lead",
        ["Id", "SystemModstamp", *mapped],
        watermarks.watermark("outbound#Lead"),
        until,
        include_deleted=False,
    ):
        leads += [dict(lead) for lead in page.records if str(lead["LastName"]).startswith(f"{tag} ")]
        last_page = page
    if last_page is not None and last_page.watermark is not None:
        watermarks.save_watermark("outbound#Lead", last_page.watermark)
    return leads


def changed_prospects_in_bulk(connector: Connector, count: int, tag: str) -> float:
    """Linked prospects, each scored by the marketing side, waiting for the inbound run (see
    the module's docstring for what this bypasses). Returns the seconds it took."""
    from crmsync import bootstrap
    from crmsync.domain.fields import Behaviour, FieldMapping
    from crmsync.domain.lifecycle import CrmRef, Link, LinkChange
    from crmsync.domain.objects import CrmObject
    from crmsync.domain.plan import FieldSnapshot
    from crmsync.domain.prospect import Prospect, ProspectChange
    from crmsync.ports import PendingChange

    started = time.perf_counter()
    mappings = [
        FieldMapping(m["marketing_field"], m["salesforce_field"], Behaviour(m["behaviour"]))
        for m in LEAD_MAPPINGS
    ]
    now = datetime.now(UTC)
    scored: list[ProspectChange] = []
    links: list[LinkChange] = []
    for lead in new_leads(connector, count, tag):
        fields = {m.marketing_field: lead.get(m.salesforce_field) for m in mappings}
        prospect = Prospect(
            id=uuid.uuid4().hex,
            fields={**{k: v for k, v in fields.items() if v is not None}, "score": SCORE},
            crm_id=lead["Id"],
            modified_at=now,
        )
        scored.append(ProspectChange(prospect))
        snapshot = {
            m.key: FieldSnapshot(fields[m.marketing_field], fields[m.marketing_field]) for m in mappings
        }
        links.append(
            LinkChange(after=Link(prospect.id, CrmRef(CrmObject.LEAD, lead["Id"])), snapshot=snapshot)
        )
    # The marketing side's save: the prospects' first version, not the connector's.
    marketing = marketing_store()
    assert marketing.save(scored) == []
    assert bootstrap.link_store().save(links) == []
    bootstrap.pending_changes().add([PendingChange(change.after.id, 1) for change in scored])
    return time.perf_counter() - started


def changed_prospects_captured(connector: Connector, inbound: Container, count: int, tag: str) -> Measured:
    """`count` new Leads linked by an outbound run, then scored by the marketing side through
    the prospect store; the stream's records are delivered to the function as Lambda's event
    source mapping would. Returns the capture invocations."""
    from crmsync import bootstrap
    from crmsync.domain.prospect import ProspectChange

    connector.org.insert_leads(count, tag)
    linked = outbound_run(connector)
    assert linked.counts.get("created") == count, linked.counts
    lead_ids = [
        str(lead["Id"])
        for page in bootstrap.salesforce_gateway().read_changes(
            "Lead", ["Id", "LastName"], None, datetime.now(UTC), include_deleted=False
        )
        for lead in page.records
        if str(lead["LastName"]).startswith(f"{tag} ")
    ]
    stream = prospect_stream()
    marketing = marketing_store()
    prospect_ids = [
        stored.link.prospect_id for stored in bootstrap.link_store().by_crm_ids(lead_ids).values()
    ]
    now = datetime.now(UTC)
    scored = [
        ProspectChange(
            replace(prospect, fields={**prospect.fields, "score": SCORE}, modified_at=now), before=prospect
        )
        for prospect in marketing.get_many(prospect_ids).values()
    ]
    assert marketing.save(scored) == []
    return inbound.handle(stream.events())


def prospect_stream() -> ProspectStream:
    """The prospects table's stream, from now on."""
    import boto3
    from crmsync import bootstrap

    client = boto3.client("dynamodb")
    table = client.describe_table(TableName=bootstrap.settings().prospects_table)["Table"]
    return ProspectStream(table["LatestStreamArn"], region=client.meta.region_name)


# ------------------------------------------------------------------ figures


def sent(run: Measured) -> int:
    return sum(run.counts.get(count, 0) for count in ("updated", "unchanged", "failed"))


def calls_by_kind(calls: list[tuple[str, str]]) -> str:
    """Salesforce's requests as issue 4 counts them, then each kind's requests by endpoint."""
    kinds: dict[str, Counter[str]] = {}
    for method, path in calls:
        resource = path.split("/services/data/", 1)[-1].split("/", 1)[-1].split("?", 1)[0].rstrip("/")
        endpoint = "/".join(
            "{id}" if len(part) in (15, 18) and part.isalnum() else part for part in resource.split("/")
        )
        if resource == "composite/sobjects":
            kind = "Collections writes"
        elif resource.startswith(("query", "queryAll")):
            kind = "reads"
        elif resource.startswith("jobs/ingest"):
            kind = "Bulk API 2.0"
        else:
            kind = "other"
        kinds.setdefault(kind, Counter())[f"{method} {endpoint}"] += 1
    return (
        "; ".join(
            f"{kind} {sum(endpoints.values())} [{', '.join(f'{e} {n}' for e, n in endpoints.items())}]"
            for kind, endpoints in kinds.items()
        )
        or "none"
    )


def print_run(label: str, run: Measured) -> None:
    report = run.report
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items() if v)
    print(f"  {label}: {report['outcome']} in {run.seconds:.1f} s; {counts or 'nothing'}")
    print(f"    Salesforce API calls: {len(run.calls)} = {calls_by_kind(run.calls)}")
    if sent(run):
        print(
            f"    {sent(run) / run.seconds:,.0f} records/s; CPU of the function's process {run.cpu_seconds:.2f} s"
            f" = {run.cpu_seconds / sent(run) * 1000:.2f} ms per record (s per 1,000 records)"
            f" (for scale, the doubles: emulator {run.emulator_cpu_seconds:.1f} s, moto {run.moto_cpu_seconds:.1f} s)"
        )


def print_capture(capture: Measured) -> None:
    noted = sum(report["noted"] for report in capture.reports)
    print(
        f"    change capture: {len(capture.reports)} stream invocations noted {noted:,} changes in {capture.seconds:.1f} s;"
        f" CPU {capture.cpu_seconds:.2f} s = {capture.cpu_seconds / max(noted, 1) * 1000:.2f} ms per change;"
        f" Salesforce API calls: {len(capture.calls)}"
    )


_INTAKE_ANSWER = """
import json, sys, time
started = time.perf_counter()
from functions.http_api import app
imported = time.perf_counter()
class Context:  # not local.runtime's: the fresh interpreter is to load the route's modules alone
    function_name = "crmsync-bench-HttpApiFunction"; memory_limit_in_mb = 512; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:crmsync-bench-HttpApiFunction"
response = app.handler(json.loads(sys.argv[1]), Context())
answered = time.perf_counter()
print(json.dumps({"status": response["statusCode"], "import": imported - started, "answer": answered - started,
                  "simple_salesforce": "simple_salesforce" in sys.modules,
                  "configuration": "crmsync.config" in sys.modules}))
"""


def intake_route() -> None:
    """POST /actions in fresh interpreters (a cold HttpApiFunction), against moto."""
    import os

    from crmsync import bootstrap
    from crmsync.domain.prospect import Prospect, ProspectChange

    event = sample_event("http_api", "post_action")
    prospect_id = json.loads(event["body"])["prospect_id"]
    bootstrap.prospect_store().save(
        [ProspectChange(Prospect(prospect_id, {"email": "intake@bench.example"}))]
    )
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    answers = []
    for _ in range(INTAKE_RUNS + 1):  # the first warms the bytecode cache, as a deployed package has it
        output = subprocess.run(
            [sys.executable, "-c", _INTAKE_ANSWER, json.dumps(event)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        answers.append(json.loads(output.stdout.strip().splitlines()[-1]))
    answers = answers[1:]

    def loaded(module: str) -> str:
        return "yes" if any(answer[module] for answer in answers) else "no"

    print(
        f"  automation intake route (POST /actions) in a fresh interpreter, median of {INTAKE_RUNS}:"
        f" import {statistics.median(a['import'] for a in answers) * 1000:.0f} ms,"
        f" answered {sorted({a['status'] for a in answers})} after {statistics.median(a['answer'] for a in answers) * 1000:.0f} ms;"
        f" simple_salesforce imported: {loaded('simple_salesforce')}; crmsync.config imported: {loaded('configuration')}"
    )


def inbound_runs() -> None:
    print(
        "inbound sync through functions/inbound_sync/app.handler, in a process of its own (InboundSyncFunction's"
        " warm container; emulator and moto in processes of their own):"
    )
    with connector_with_doubles_apart() as connector:
        from crmsync import bootstrap

        bootstrap.load_configuration(CONFIGURATION)
        with container(connector, "InboundSyncFunction") as inbound:
            # Nothing waits yet: the run touches no Salesforce, and builds the AWS clients a warm
            # container has.
            print_run("first (idle) run, nothing waiting", inbound.scheduled_run("inbound"))
            # The first run with something to send logs in to Salesforce and imports
            # simple-salesforce, once per container: measured apart from the runs after it.
            changed_prospects_captured(connector, inbound, 1, "login")
            print_run(
                "first run with a change (Salesforce login, lazy imports)", inbound.scheduled_run("inbound")
            )
            capture = changed_prospects_captured(connector, inbound, COLLECTIONS_RECORDS, "collections")
            collections = inbound.scheduled_run("inbound")
            print_run(
                f"run over {COLLECTIONS_RECORDS:,} changed prospects (linked by outbound, captured from the stream)",
                collections,
            )
            print_capture(capture)

            seconds = changed_prospects_in_bulk(connector, BULK_RECORDS, "bulk")
            print(f"  {BULK_RECORDS:,} changed prospects set up in bulk in {seconds:.0f} s")
            bulk = inbound.scheduled_run("inbound")
            print_run(f"run over {BULK_RECORDS:,} changed prospects", bulk)

            seconds = changed_prospects_in_bulk(connector, LARGE_RUN_RECORDS, "large")
            print(f"  {LARGE_RUN_RECORDS:,} changed prospects set up in bulk in {seconds:.0f} s")
            large = inbound.scheduled_run("inbound", timeout_ms=LARGE_RUN_SECONDS * 1000)
            print_run(
                f"run over {LARGE_RUN_RECORDS:,} changed prospects, {LARGE_RUN_SECONDS} s allowed (moto's pace)",
                large,
            )
            print(
                f"    {large.seconds:.0f} s on moto, of which this process's CPU {large.cpu_seconds:.0f} s"
                f" (InboundSyncFunction's timeout is {LAMBDA_TIMEOUT_MS // 1000} s)"
            )
        print(
            f"  peak memory of the function's process (VmHWM, its peak resident set): handler imported {inbound.imported_peak_mb:.0f} MB;"
            f" after the {COLLECTIONS_RECORDS:,} run {collections.peak_memory_mb:.0f} MB, the {BULK_RECORDS:,} run"
            f" {bulk.peak_memory_mb:.0f} MB, the {LARGE_RUN_RECORDS:,} run {large.peak_memory_mb:.0f} MB"
        )
        intake_route()
