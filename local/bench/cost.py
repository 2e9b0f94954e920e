"""`make bench`, cost: what a record costs in AWS, per scenario, at list prices.

Each scenario runs the functions as deployed, each in a warm container of its own
(`local.bench.functions`), against moto metered in its own process (`local.bench.meter`):
DynamoDB read and write request units counted per call as on-demand DynamoDB bills them
(`local.bench.capacity`), and SQS, Secrets Manager and DynamoDB Streams requests counted. The
prospects table's stream records that pass InboundSyncFunction's filter are delivered to it
after each scenario, so the invocations a scenario's writes cause are the scenario's. Lambda is
billed on each invocation's wall time (on moto, which answers more slowly than DynamoDB: an
upper bound) at the function's MemorySize in template.yaml, and a request per invocation; the
HTTP API a request per `POST /actions`.

The scenarios, 1,000 records each (the speed runs use more; the units per record do not depend
on the count): outbound new Leads, the same Leads edited, an idle outbound run; inbound, the
marketing side's edit of those prospects (captured from the stream, then sent), an idle inbound
run; automation actions through `POST /actions` and the actions queue's consumer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from local.bench.capacity import Tally
from local.bench.doubles import Connector, connector_with_doubles_apart
from local.bench.functions import Container, container
from local.bench.inbound import CONFIGURATION, SCORE, prospect_stream
from local.bench.meter import MeterClient
from local.bench.operator_reads import operator_reads
from local.runtime.invoke import sample_event
from local.runtime.queues import EventSourceMapping
from local.runtime.schedules import let_schedules_pass
from local.runtime.stream import marketing_store

COST_RECORDS = 1_000
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's Timeout in template.yaml
ACTIONS_TIMEOUT_MS = 60_000  # AutomationActionsFunction's
ACTIONS_BATCH = 100  # the ActionsQueue event source mapping's BatchSize
TICKS_A_MONTH = 60 * 24 * 30
"""The scheduled functions' rule is rate(1 minute) (template.yaml): an idle connector's ticks."""

# us-east-1 list prices, as published in July 2025.
PRICES_AS_OF = "July 2025"
WRITE_UNIT = 0.625 / 1e6
READ_UNIT = 0.125 / 1e6
"""DynamoDB on-demand, after the 50% cut of 1 November 2024
(https://aws.amazon.com/dynamodb/pricing/on-demand/). Reads of the stream by a Lambda trigger
are free (same page), so DynamoDB Streams requests are counted, not priced."""
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
"""Arm (the template's arm64), the first 7.5 billion GB-seconds a month
(https://aws.amazon.com/lambda/pricing/)."""
SQS_REQUEST = 0.40 / 1e6
"""Standard queue, a request per 64 KB (https://aws.amazon.com/sqs/pricing/); every message
here is under 1 KB."""
HTTP_API_REQUEST = 1.00 / 1e6
"""HTTP API, the first 300 million a month (https://aws.amazon.com/api-gateway/pricing/)."""
SECRETS_CALL = 0.05 / 10_000
"""Secrets Manager API calls (https://aws.amazon.com/secrets-manager/pricing/)."""


@dataclass
class Scenario:
    name: str
    records: int
    """Records the scenario moves; 0 for an idle run (then its figures are per run)."""
    goal: float | None
    """Dollars per million records the issue sets as the goal."""
    tally: Tally
    gb_seconds: float
    invocations: int
    api_requests: int

    @property
    def per(self) -> int:
        return self.records or 1

    def dollars(self) -> dict[str, float]:
        sqs = sum(n for request, n in self.tally.requests.items() if request.startswith("sqs."))
        secrets = sum(
            n for request, n in self.tally.requests.items() if request.startswith("secretsmanager.")
        )
        return {
            "DynamoDB": self.tally.read_units * READ_UNIT + self.tally.write_units * WRITE_UNIT,
            "Lambda": self.gb_seconds * LAMBDA_GB_SECOND + self.invocations * LAMBDA_REQUEST,
            "SQS": sqs * SQS_REQUEST,
            "API Gateway": self.api_requests * HTTP_API_REQUEST,
            "Secrets Manager": secrets * SECRETS_CALL,
        }

    @property
    def per_million(self) -> float:
        return sum(self.dollars().values()) / self.per * 1e6


def label(table: str, kind: str, index: str | None) -> str:
    """`crmsync-local-StateTable`, `audit#` → `State audit#` (an index's own writes: `Prospects
    by_email`)."""
    name = table.rsplit("-", 1)[-1].removesuffix("Table")
    return f"{name} {index}" if index else f"{name} {kind}"


class CostRun:
    """The scenarios on one connector, its functions' containers warm."""

    def __init__(self, connector: Connector, containers: Mapping[str, Container]) -> None:
        self.connector = connector
        self.containers = containers
        self.meter = MeterClient(connector.moto_url)
        self.stream = prospect_stream()
        self.scenarios: list[Scenario] = []
        self.api_requests = 0

    def capture(self) -> None:
        """What the stream holds that InboundSyncFunction's filter lets through, delivered."""
        events = self.stream.events(filtered=True)
        if events:
            self.containers["InboundSyncFunction"].handle(events)

    def measure(self, name: str, records: int, goal: float | None, act: Callable[[], None]) -> Scenario:
        marks = {function: len(c.invocations) for function, c in self.containers.items()}
        self.api_requests = 0
        self.meter.start()
        act()
        self.capture()
        tally = self.meter.tally()
        gb_seconds, invocations = 0.0, 0
        for function, box in self.containers.items():
            memory_gb = self.connector.deployment.memory_mb[function] / 1024
            durations = [d for measured in box.invocations[marks[function] :] for d in measured.durations]
            gb_seconds += sum(durations) * memory_gb
            invocations += len(durations)
        scenario = Scenario(name, records, goal, tally, gb_seconds, invocations, self.api_requests)
        self.scenarios.append(scenario)
        return scenario

    def tick(self, name: str) -> Callable[[], None]:
        """The scheduler's next tick of run `name` ("outbound", "inbound"), to be invoked when
        measured. Made due now, before the meter starts: that state write is the bench's."""
        box = self.containers[f"{name.title()}SyncFunction"]
        event = sample_event(f"{name}_sync", "scheduled")
        let_schedules_pass(name)  # back to back, not the schedule's minutes apart

        def invoke() -> None:
            report = box.handle([event]).report
            assert report.get("outcome") in ("completed", "idle"), report

        return invoke

    def post_actions(self, bodies: list[str]) -> None:
        template = sample_event("http_api", "post_action")
        events = [{**template, "body": body} for body in bodies]
        answered = self.containers["HttpApiFunction"].handle(events, HTTP_TIMEOUT_MS)
        self.api_requests += len(events)
        refused = [report for report in answered.reports if report["statusCode"] != 202]
        assert not refused, refused[:3]

    def consume_actions(self) -> None:
        from crmsync import bootstrap

        actions = self.containers["AutomationActionsFunction"]
        template = sample_event("automation_actions", "direct_message")["Records"][0]
        mapping = EventSourceMapping(
            bootstrap.settings().actions_queue_url, template, batch_size=ACTIONS_BATCH
        )
        mapping.deliver(lambda event: actions.handle([event], ACTIONS_TIMEOUT_MS).report)


@contextmanager
def warm_containers(connector: Connector) -> Iterator[dict[str, Container]]:
    """A container for each function, each invoked once (a container's first invocation reads
    the Salesforce secret, logs in and imports what it needs lazily, once in its life)."""
    with ExitStack() as stack:
        boxes = {
            function: stack.enter_context(container(connector, function))
            for function in connector.deployment.handlers
        }
        boxes["OutboundSyncFunction"].scheduled_run("outbound")
        boxes["InboundSyncFunction"].scheduled_run("inbound")
        boxes["HttpApiFunction"].handle([sample_event("http_api", "status")], HTTP_TIMEOUT_MS)
        # The sample message asks for a prospect there is none of: refused, into the error list.
        boxes["AutomationActionsFunction"].handle([sample_event("automation_actions", "direct_message")])
        yield boxes


def scenarios(run: CostRun) -> None:
    from crmsync import bootstrap
    from crmsync.domain.prospect import Prospect, ProspectChange

    org = run.connector.org
    marketing = marketing_store()

    org.insert_leads(COST_RECORDS, "cost")
    run.measure("outbound: new Leads", COST_RECORDS, 3.0, run.tick("outbound"))
    org.edit_leads("cost")
    run.measure("outbound: edited Leads", COST_RECORDS, 1.0, run.tick("outbound"))
    run.measure("outbound: idle run", 0, None, run.tick("outbound"))

    # Outbound ran on the default configuration (it maps the Phone the edits change); the
    # marketing side's edits are to a score, which the inbound bench's configuration maps.
    bootstrap.load_configuration(CONFIGURATION)

    linked = [
        stored.link.prospect_id for stored in bootstrap.link_store().by_crm_ids(_lead_ids("cost")).values()
    ]
    now = datetime.now(UTC)
    edits = [
        ProspectChange(replace(p, fields={**p.fields, "score": SCORE + 1}, modified_at=now), before=p)
        for p in marketing.get_many(linked).values()
    ]
    assert marketing.save(edits) == []
    send = run.tick("inbound")

    def capture_and_send() -> None:
        run.capture()
        send()

    run.measure("inbound: edited prospects", len(edits), 1.0, capture_and_send)
    run.measure("inbound: idle run", 0, None, run.tick("inbound"))

    asked = [
        Prospect(
            id=f"cost-action-{number:04d}",
            fields={
                "email": f"asked{number}@cost.example",
                "first_name": "Robin",
                "last_name": f"Asked {number}",
            },
        )
        for number in range(COST_RECORDS)
    ]
    assert marketing.save([ProspectChange(p) for p in asked]) == []
    run.capture()  # the marketing side's new prospects: captured before the actions, not by them
    bodies = [
        json.dumps({"action": "create_lead", "prospect_id": p.id, "idempotency_key": str(uuid.uuid4())})
        for p in asked
    ]

    def act() -> None:
        run.post_actions(bodies)
        run.consume_actions()

    run.measure("automation actions", len(bodies), 5.0, act)


def _lead_ids(tag: str) -> list[str]:
    from crmsync import bootstrap

    return [
        str(lead["Id"])
        for page in bootstrap.salesforce_gateway().read_changes(
            "Lead", ["Id", "LastName"], None, datetime.now(UTC), include_deleted=False
        )
        for lead in page.records
        if str(lead["LastName"]).startswith(f"{tag} ")
    ]


def print_costs(run: CostRun) -> None:
    print(
        f"  {'scenario':<27} {'records':>7} {'RRU/rec':>8} {'WRU/rec':>8}  {'top writers, WRU/rec':<64}"
        f" {'GB-s/rec':>9} {'$/M rec':>8} {'goal':>6}  met?"
    )
    for s in run.scenarios:
        writers = ", ".join(f"{name} {units / s.per:.1f}" for name, units in s.tally.writers(label)[:3])
        goal = f"{s.goal:6.2f}" if s.goal is not None else f"{'-':>6}"
        met = "-" if s.goal is None else ("yes" if s.per_million <= s.goal else "no")
        records = f"{s.records:,}" if s.records else "per run"
        print(
            f"  {s.name:<27} {records:>7} {s.tally.read_units / s.per:8.2f} {s.tally.write_units / s.per:8.2f}"
            f"  {writers or '-':<64} {s.gb_seconds / s.per:9.4f} {s.per_million:8.2f} {goal}  {met}"
        )
    for s in run.scenarios:
        dollars = s.dollars()
        total = sum(dollars.values()) or 1.0
        shares = ", ".join(f"{name} {amount / total:.0%}" for name, amount in dollars.items() if amount)
        transactional = s.tally.transactional_write_units / (s.tally.write_units or 1.0)
        requests = ", ".join(
            f"{r} {n / s.per:.2f}"
            for r, n in sorted(s.tally.requests.items())
            if not r.startswith("dynamodb.")
        )
        per = "run" if not s.records else "record"
        readers = ", ".join(f"{name} {units / s.per:.1f}" for name, units in s.tally.readers(label)[:3])
        print(
            f"  {s.name}: {shares or 'nothing'}; {transactional:.0%} of write units in transactions (billed 2x);"
            f" top readers, RRU/{per}: {readers or '-'}; {s.invocations} invocations; requests per {per}:"
            f" {requests or 'none'}"
            + (f", API Gateway {s.api_requests / s.per:.2f}" if s.api_requests else "")
        )
        if s.goal is not None and s.per_million > s.goal:
            top = "; ".join(
                f"{name} {units / s.per:.1f} WRU ({units / (s.tally.write_units or 1):.0%})"
                for name, units in s.tally.writers(label)[:3]
            )
            print(
                f"    missed ${s.goal:.2f}/M by ${s.per_million - s.goal:.2f}: the writes that dominate: {top}"
            )
        if not s.records:
            print(
                f"    an idle tick costs ${s.per_million / 1e6:.8f}; at one tick a minute, ${s.per_million / 1e6 * TICKS_A_MONTH:.3f} a month"
            )
    print(
        f"  prices: us-east-1 list prices as of {PRICES_AS_OF}: DynamoDB on-demand $0.625 per million write and"
        " $0.125 per million read request units (after the 1 November 2024 cut); Lambda arm64 $0.0000133334"
        " per GB-s and $0.20 per million requests; SQS $0.40 per million requests; API Gateway HTTP API $1.00"
        " per million requests; Secrets Manager $0.05 per 10,000 calls; stream reads by Lambda free"
    )
    print(
        "  Lambda GB-s: each invocation's wall time on moto (slower to answer than DynamoDB, so an upper bound)"
        " times the function's MemorySize in template.yaml"
    )


def cost_runs() -> None:
    print(
        f"what a record costs in AWS ({COST_RECORDS:,} records a scenario; each function in a warm container of its own;"
        " DynamoDB units counted per call as on-demand bills them, in moto's process):"
    )
    with connector_with_doubles_apart(metered=True) as connector, warm_containers(connector) as containers:
        run = CostRun(connector, containers)
        scenarios(run)
        print_costs(run)
        operator_reads(containers["HttpApiFunction"], run.meter, connector.org)
