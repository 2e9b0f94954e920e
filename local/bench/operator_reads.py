"""`make bench`, operator reads: what `GET /status` and `GET /report` (the HTML report's data)
cost, asked of a warm HttpApiFunction once the cost scenarios have filled the run log and the
error list: DynamoDB calls and read units (metered in moto's process, as the cost scenarios
are), Salesforce API calls, and the invocation's wall time on moto (an upper bound)."""

from __future__ import annotations

from typing import Any

from local.bench.functions import Container
from local.bench.meter import MeterClient
from local.runtime.invoke import sample_event

HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's Timeout in template.yaml


def operator_reads(box: Container, meter: MeterClient, org: Any) -> None:
    """`box` is HttpApiFunction's warm container; `org` the emulator's host (`doubles.OrgHost`)."""
    print("  operator reads (HttpApiFunction, warm, after the scenarios above):")
    for route, label in (("status", "GET /status"), ("report", "GET /report (7 days)")):
        event = {**sample_event("http_api", route), "queryStringParameters": None, "rawQueryString": ""}
        meter.start()
        org.reset_counters()
        measured = box.handle([event], HTTP_TIMEOUT_MS)
        tally = meter.tally()
        (answer,) = measured.reports
        assert answer.get("statusCode") == 200, answer
        dynamodb = sum(n for request, n in tally.requests.items() if request.startswith("dynamodb."))
        calls = ", ".join(
            f"{request.removeprefix('dynamodb.')} {n}"
            for request, n in sorted(tally.requests.items())
            if request.startswith("dynamodb.")
        )
        print(
            f"    {label:<22} DynamoDB {dynamodb:>2} calls ({calls}; {tally.read_units:.1f} RRU)"
            f"  Salesforce {org.api_calls():>2} calls  {measured.durations[0] * 1000:6.0f} ms"
        )
