"""`make bench`, operations: what an operator's question costs. `GET /records/{id}/why` on a Lead
synced 50 times (50 outbound runs: the Lead brought over, then 49 edits of its phone), answered by HttpApiFunction in a
warm container of its own: its DynamoDB calls and read units (metered in moto's process), its
Salesforce calls, and its wall time (the best of a few, after a first answer that warms the
container)."""

from __future__ import annotations

import json
import time

from local.bench.cost import HTTP_TIMEOUT_MS
from local.bench.doubles import connector_with_doubles_apart
from local.bench.functions import container, outbound_run
from local.bench.meter import MeterClient
from local.runtime.invoke import sample_event

SYNCS = 50
ANSWERS = 5


def why_costs() -> None:
    from crmsync import bootstrap

    with connector_with_doubles_apart(metered=True) as connector:
        org = connector.org
        org.insert_leads(1, "why")
        outbound_run(connector)
        [lead] = bootstrap.salesforce_gateway().find("Lead", ["Id"], "LastName", ["why 0"])
        for sync in range(1, SYNCS):
            org.update("Lead", lead.id, {"Phone": f"+44 20 7946 {sync:04d}"})
            outbound_run(connector)
        event = sample_event("http_api", "record_why")
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/records/{lead.id}/why"
        event["pathParameters"] = {"id": lead.id}
        meter = MeterClient(connector.moto_url)
        with container(connector, "HttpApiFunction") as http:
            http.handle([event], HTTP_TIMEOUT_MS)  # the container's first answer: imports, clients
            seconds = []
            for _ in range(ANSWERS):
                meter.start()
                started = time.perf_counter()
                answered = http.handle([event], HTTP_TIMEOUT_MS)
                seconds.append(time.perf_counter() - started)
                tally = meter.tally()
        [report] = answered.reports
        assert report["statusCode"] == 200, report
    story = json.loads(report["body"])
    calls = ", ".join(f"{name.removeprefix('dynamodb.')} {n}" for name, n in sorted(tally.requests.items()))
    print(
        f"a record's story (GET /records/{{id}}/why) on a Lead synced {SYNCS} times "
        f"({len(story['timeline'])} timeline entries): DynamoDB {calls}; {tally.read_units:.1f} read units;"
        f" {len(answered.calls)} Salesforce calls; {min(seconds) * 1000:.0f} ms"
        f" (best of {ANSWERS}, warm container, moto answering)"
    )
