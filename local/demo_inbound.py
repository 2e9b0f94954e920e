"""The inbound half of `make demo` (marketing → Salesforce), after the outbound half has linked
a few thousand prospects to Leads and Contacts. Everything goes through the real handlers:

1. marketing edits a few hundred linked prospects (scores, grades, a title, an email Salesforce
   refuses, a field Salesforce owns); the prospects table's stream (moto's, read as Lambda's
   event source mapping reads it) is delivered to `functions.inbound_sync.app.handler`, whose
   100th waiting change starts a run at once, then the scheduled invocation sends the rest;
2. 200 automation actions through `POST /actions` (`functions.http_api.app.handler`): new
   Leads, new Contacts (their Accounts made once per company), prospects whose email Salesforce
   already has, prospects already linked, one in ten sent twice, a few the route refuses; and
   a few bad messages put straight on the queue. `functions.automation_actions.app.handler`
   consumes the queue in batches of up to 100, as SQS delivers it;
3. marketing activities (opens, clicks, a click on a link already clicked, form submissions,
   page visits, which this configuration does not send) become Tasks at the next scheduled
   invocation;
4. the echo check: the outbound run after all this writes Salesforce's values to prospects,
   and change capture notes none of them, so nothing goes back.

The org's clock moves on before each step that writes to Salesforce, as in the outbound half.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.activities import Activity, ActivityState, ActivityType
from crmsync.domain.audit import AuditRecord, Direction, SyncError
from crmsync.domain.prospect import Prospect, ProspectChange

from local.aws_stack import LocalStack
from local.demo_lambda import LambdaContext, info_records, invoke
from local.prospect_stream import ProspectStream
from local.runtime import LocalRuntime
from local.salesforce_emulator import Emulator, ManualClock
from local.schedules import let_schedules_pass

if TYPE_CHECKING:
    from local.demo import Org, OutboundRuns

ROOT = Path(__file__).resolve().parents[1]
INBOUND_TIMEOUT_MS = 300_000  # InboundSyncFunction's Timeout in template.yaml
ACTIONS_TIMEOUT_MS = 60_000  # AutomationActionsFunction's
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's
ACTIONS_BATCH = 100  # the ActionsQueue event source mapping's BatchSize
KEY_FIELD = "Crmsync_Key__c"  # automation.external_id_field in the sample configuration

SCORED_LEADS = 250
GRADED_CONTACTS = 30
NEW_LEADS = 70
EXISTING_ACCOUNT = "Account 3"  # made by the outbound half
NEW_CONTACTS_BY_COMPANY = {"Initech": 20, "Globex Corporation": 20, EXISTING_ACCOUNT: 20, None: 15}
"""Companies of the prospects asked for as Contacts: two Salesforce does not know yet, one it
knows (an Account of the outbound half), and none (automation.default_account)."""
KNOWN_EMAILS = 30
"""Prospects whose email a Lead outside the outbound scope has: linked, not created."""
ALREADY_LINKED = 20
SENT_TWICE = 20
"""One action in ten: the automation step sends it again with its idempotency key."""


# ------------------------------------------------------------------ invocations


@dataclass
class Invocation:
    label: str
    noted: int | None
    """Changes the stream batch noted as waiting (None: not a stream batch)."""
    outcome: str
    counts: Mapping[str, int]
    api_calls: int
    collections_writes: int
    seconds: float


def collections_writes(calls: Iterable[tuple[str, str]]) -> int:
    return sum(1 for method, path in calls if method != "GET" and "/composite/sobjects" in path)


class InboundFunction:
    """InboundSyncFunction, invoked as its two triggers invoke it: the prospects table's stream
    (batches of 100, as the event source mapping delivers them) and the inbound schedule."""

    def __init__(self, stack: LocalStack, emulator: Emulator, moto_url: str) -> None:
        self.emulator = emulator
        # Reads from now on (LATEST): the outbound half's thousands of writes are behind it.
        self.stream = ProspectStream(stack, endpoint_url=moto_url)
        self.scheduled_event = json.loads((ROOT / "events" / "inbound_sync" / "scheduled.json").read_text())
        self.invocations: list[Invocation] = []
        self.labels: dict[str, str] = {}
        """Run id (the invocation's request id) → its label, for the audit trail."""

    def capture(self, label: str) -> tuple[int, list[Invocation]]:
        """Deliver what the stream holds; the number of stream records and the invocations."""
        events = self.stream.events()
        done = [
            self._invoke(f"{label}: stream batch {number}", event)[0]
            for number, event in enumerate(events, start=1)
        ]
        return sum(len(event["Records"]) for event in events), done

    def scheduled(self, label: str) -> tuple[Invocation, dict[str, Any]]:
        let_schedules_pass("inbound")  # the demo's runs come back to back, not minutes apart
        return self._invoke(f"{label}: scheduled", self.scheduled_event)

    def _invoke(self, label: str, event: dict[str, Any]) -> tuple[Invocation, dict[str, Any]]:
        from functions.inbound_sync import app

        context = LambdaContext(
            function_name="crmsync-demo-InboundSyncFunction", timeout_ms=INBOUND_TIMEOUT_MS
        )
        self.labels[context.aws_request_id] = label
        calls_before = len(self.emulator.call_log)
        started = time.perf_counter()
        report = invoke(app.handler, event, context)
        calls = self.emulator.call_log[calls_before:]
        invocation = Invocation(
            label,
            report.get("noted"),
            report["outcome"],
            report.get("counts", {}),
            len(calls),
            collections_writes(calls),
            time.perf_counter() - started,
        )
        self.invocations.append(invocation)
        return invocation, report


def print_invocations(title: str, invocations: Sequence[Invocation]) -> None:
    streamed = any(i.noted is not None for i in invocations)
    print()
    noted = f" {'noted':>5}" if streamed else ""
    print(f"{title:<38}{noted} {'outcome':<10} {'API calls':>9} {'Collections':>11} {'seconds':>7}  counts")
    print("-" * 110)
    for i in invocations:
        noted = f" {'-' if i.noted is None else i.noted:>5}" if streamed else ""
        counts = counts_text(i.counts)
        print(
            f"{i.label:<38}{noted} {i.outcome:<10} {i.api_calls:>9} {i.collections_writes:>11} "
            f"{i.seconds:>7.2f}  {counts}"
        )
    print("-" * 110)


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items() if value) or "-"


def audit_lines(prospect_id: str, labels: Mapping[str, str], direction: Direction | None = None) -> list[str]:
    lines = []
    for entry in bootstrap.audit_trail().audit_trail(prospect_id):
        if direction is not None and entry.direction is not direction:
            continue
        lines.append(f"      {labels.get(entry.run_id, 'outbound'):<24} {describe(entry)}")
    return lines or ["      (no audit entries)"]


def describe(entry: AuditRecord) -> str:
    if entry.field is None:
        return entry.event
    change = f"{entry.field}: {entry.old!r} -> {entry.new!r}  ({entry.rule})"
    return change if entry.event in ("field synced", "") else f"{entry.event}: {change}"


def describe_error(error: SyncError) -> str:
    fields = f" fields {', '.join(error.failure.fields)};" if error.failure.fields else ""
    return (
        f"{error.operation} {error.sobject} {error.record_id}: {error.failure.code} ({error.failure.category});"
        f"{fields} {error.failure.message} [{error.state}]"
    )


# ------------------------------------------------------------------ the marketing platform


class Marketing:
    """The marketing platform's writes to the prospect store: not marked as the connector's,
    so change capture sees them."""

    def __init__(self) -> None:
        table = DynamoTable(boto3.client("dynamodb"), bootstrap.settings().prospects_table, PROSPECTS_KEY)
        self.store = DynamoProspectStore(table)

    def edit(self, prospect_ids: Sequence[str], change: Callable[[int, Prospect], Mapping[str, Any]]) -> None:
        """Change each prospect's fields (one new version each): `change(n, prospect)` gives the
        fields the nth prospect gets."""
        prospects = self.store.get_many(prospect_ids)
        now = datetime.now(UTC)
        changes = [
            ProspectChange(
                replace(p, fields={**p.fields, **change(n, p)}, modified_at=now),
                before=p,
            )
            for n, p in enumerate(prospects[pid] for pid in prospect_ids)
        ]
        refused = self.store.save(changes)
        if refused:
            raise SystemExit(f"{len(refused)} marketing edits were refused by the prospect store")

    def add(self, prospects: Sequence[Prospect]) -> None:
        refused = self.store.save([ProspectChange(p) for p in prospects])
        if refused:
            raise SystemExit(f"{len(refused)} new prospects were refused by the prospect store")


def prospects_of(crm_ids: Sequence[str]) -> list[str]:
    links = bootstrap.link_store().by_crm_ids(crm_ids)
    return [links[crm_id].link.prospect_id for crm_id in crm_ids if crm_id in links]


# ------------------------------------------------------------------ 1. marketing edits


@dataclass
class Edits:
    scored: list[str]
    """Prospects of Leads: score and grade."""
    graded: list[str]
    """Prospects of Contacts: grade."""
    titled: str
    invalid_email: str
    status: str
    """Its lead_status edited, a field Salesforce owns (behaviour salesforce)."""


def edit_prospects(marketing: Marketing, org: Org) -> Edits:
    # Leads the outbound half did not touch after linking them (its changes stop well before).
    scored = prospects_of(org.leads[700 : 700 + SCORED_LEADS])
    graded = prospects_of(org.contacts[100 : 100 + GRADED_CONTACTS])
    (status,) = prospects_of([org.leads[700 + SCORED_LEADS]])
    titled, invalid_email = scored[0], scored[1]
    also = {
        titled: {"job_title": "Director of Demand Generation"},
        invalid_email: {"email": "not-an-email"},
    }
    marketing.edit(scored, lambda n, p: {"score": 10 + n % 90, "grade": "ABCD"[n % 4], **also.get(p.id, {})})
    marketing.edit(graded, lambda n, p: {"grade": "A"})
    marketing.edit([status], lambda n, p: {"lead_status": "Closed - Converted"})
    return Edits(scored, graded, titled, invalid_email, status)


def marketing_edits_demo(
    inbound: InboundFunction, marketing: Marketing, org: Org, clock: ManualClock
) -> Edits:
    print()
    print("inbound sync (marketing → Salesforce) through functions/inbound_sync/app.handler")
    clock.advance(minutes=1)
    edits = edit_prospects(marketing, org)
    print(
        f"  ✓ marketing: {len(edits.scored)} Leads' prospects scored and graded, {len(edits.graded)} Contacts' "
        "prospects graded; of the scored, one's job title set and one's email made 'not-an-email'; "
        "one more prospect's lead_status (Salesforce-owned) set"
    )
    records, batches = inbound.capture("edits")
    started_early = [b.label.split(": ")[-1] for b in batches if b.outcome != "waiting"]
    print(
        f"  ✓ prospects stream: {records} records in {len(batches)} batches, "
        f"{sum(b.noted or 0 for b in batches)} changes noted; with 100 waiting, a run started at once "
        f"({', '.join(started_early) or 'never'}); the schedule sends the rest"
    )
    inbound.scheduled("edits")
    print_invocations("inbound invocation", inbound.invocations)
    print("(Collections: sObject Collections write calls, 200 records each at most)")

    print()
    print("why: the inbound audit trail and the error list (field: old -> new (rule))")
    emulator = inbound.emulator
    titled_lead = crm_id_of(edits.titled)
    print(f"  scored, and job title set  [prospect {edits.titled}, Lead {titled_lead}]")
    for line in audit_lines(edits.titled, inbound.labels, Direction.INBOUND):
        print(line)
    status_lead = crm_id_of(edits.status)
    record = emulator.get(status_lead) or {}
    prospect = bootstrap.prospect_store().get_many([edits.status])[edits.status]
    print(
        f"  lead_status set to 'Closed - Converted' by marketing  [prospect {edits.status}, Lead {status_lead}]"
    )
    for line in audit_lines(edits.status, inbound.labels, Direction.INBOUND):
        print(line)
    print(
        f"      now: Lead Status {record.get('Status')!r}, prospect lead_status {prospect.fields.get('lead_status')!r}: "
        "behaviour salesforce, nothing sent (counted unchanged); outbound brings Salesforce's value "
        "back once it reads the Lead again"
    )
    invalid_lead = crm_id_of(edits.invalid_email)
    print(f"  email made invalid  [prospect {edits.invalid_email}, Lead {invalid_lead}]")
    errors = bootstrap.error_list().open_errors(Direction.INBOUND)
    for error in errors:
        print(f"      error list: {describe_error(error)}")
    record = emulator.get(invalid_lead) or {}
    print(
        f"      Lead still has Email {record.get('Email')!r}, Marketing_Score__c "
        f"{record.get('Marketing_Score__c')!r}: nothing of a refused record is written; it is sent "
        "again when the prospect changes"
    )
    return edits


def crm_id_of(prospect_id: str) -> str:
    stored = bootstrap.link_store().by_prospect_ids([prospect_id])[prospect_id]
    return stored.link.crm.id


# ------------------------------------------------------------------ 2. automation actions


@dataclass
class ActionProspects:
    new_leads: list[Prospect]
    new_contacts: list[Prospect]
    known_emails: list[Prospect]
    already_linked: list[str]
    invalid_email: Prospect
    without_email: Prospect


def action_prospects(emulator: Emulator, org: Org) -> ActionProspects:
    def person(prospect_id: str, email: str | None, **fields: Any) -> Prospect:
        values = {"email": email, "first_name": "Robin", "last_name": f"Asked {prospect_id}", **fields}
        return Prospect(id=prospect_id, fields={k: v for k, v in values.items() if v is not None})

    new_leads = [
        person(f"auto-lead-{n:03d}", f"robin.lead{n}@prospects.example", company=f"Startup {n % 7}")
        for n in range(NEW_LEADS)
    ]
    new_contacts: list[Prospect] = []
    for company, count in NEW_CONTACTS_BY_COMPANY.items():
        for n in range(count):
            number = len(new_contacts)
            # Typed as people type it: an Account's name is matched ignoring case and spaces.
            typed = None if company is None else (company.upper() if n % 3 == 1 else company)
            new_contacts.append(
                person(
                    f"auto-contact-{number:03d}", f"robin.contact{number}@prospects.example", company=typed
                )
            )
    scope = {"Web", "Webinar", "Trade Show"}
    outside = [
        lead
        for lead in emulator.records("Lead")
        if lead.get("LeadSource") not in scope and not lead["IsConverted"]
    ]
    known_emails = [
        person(f"auto-known-{n:03d}", str(lead["Email"]).upper(), company=lead["Company"])
        for n, lead in enumerate(outside[:KNOWN_EMAILS])
    ]
    already_linked = prospects_of(org.leads[1000 : 1000 + ALREADY_LINKED])
    return ActionProspects(
        new_leads,
        new_contacts,
        known_emails,
        already_linked,
        invalid_email=person("auto-invalid", "robin(at)prospects.example"),
        without_email=person("auto-no-email", None),
    )


def action_bodies(prospects: ActionProspects) -> tuple[list[str], list[str]]:
    """The bodies automation steps POST: those the route accepts, then those it refuses."""

    def action(kind: str, prospect_id: str) -> str:
        return json.dumps(
            {"action": kind, "prospect_id": prospect_id, "idempotency_key": f"nurture-7/step-2/{prospect_id}"}
        )

    valid = [action("create_lead", p.id) for p in prospects.new_leads]
    valid += [action("create_contact", p.id) for p in prospects.new_contacts]
    valid += [
        action("create_lead" if n % 2 else "create_contact", p.id)
        for n, p in enumerate(prospects.known_emails)
    ]
    valid += [action("create_contact", pid) for pid in prospects.already_linked]
    valid.append(action("create_lead", prospects.invalid_email.id))
    refused = [
        action("create_lead", "no-such-prospect"),
        action("create_lead", prospects.without_email.id),
        '{"action": "create_lead", "prospect_id": ',
        json.dumps({"action": "delete_lead", "prospect_id": prospects.new_leads[0].id}),
    ]
    return valid, refused


class ActionsQueue:
    """The stack's ActionsQueue on moto, and AutomationActionsFunction fed from it as Lambda's
    event source mapping feeds it: batches of up to 100, the messages it does not ask back
    deleted."""

    def __init__(self, emulator: Emulator, labels: dict[str, str]) -> None:
        self.emulator = emulator
        self.labels = labels
        self.sqs: Any = boto3.client("sqs")
        self.url = bootstrap.settings().actions_queue_url
        self.template = json.loads(
            (ROOT / "events" / "automation_actions" / "direct_message.json").read_text()
        )["Records"][0]
        self.invocations: list[Invocation] = []
        self.outcomes: Counter[str] = Counter()

    def send_directly(self, bodies: Sequence[str]) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def consume(self) -> None:
        from functions.automation_actions import app

        while batch := self._receive():
            context = LambdaContext(
                function_name="crmsync-demo-AutomationActionsFunction", timeout_ms=ACTIONS_TIMEOUT_MS
            )
            label = f"actions batch {len(self.invocations) + 1}"
            self.labels[context.aws_request_id] = label
            calls_before = len(self.emulator.call_log)
            started = time.perf_counter()
            event = {"Records": [self._as_delivered(message) for message in batch]}
            with info_records(app.logger) as logged:
                response = invoke(app.handler, event, context)
            outcomes: Counter[str] = Counter()
            for record in logged:
                outcomes.update(getattr(record, "outcomes", {}))
            self.outcomes += outcomes
            calls = self.emulator.call_log[calls_before:]
            again = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            done = [message for message in batch if message["MessageId"] not in again]
            for start in range(0, len(done), 10):  # DeleteMessageBatch takes 10 at most
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                        for n, message in enumerate(done[start : start + 10])
                    ],
                )
            self.invocations.append(
                Invocation(
                    f"{label} ({len(batch)} messages)",
                    None,
                    f"{len(again)} back" if again else "all done",
                    outcomes,
                    len(calls),
                    collections_writes(calls),
                    time.perf_counter() - started,
                )
            )

    def _receive(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < ACTIONS_BATCH:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                break
            batch += messages
        return batch

    def _as_delivered(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message["Attributes"]
        return {
            **self.template,
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                **self.template["attributes"],
                "ApproximateReceiveCount": attributes["ApproximateReceiveCount"],
                "SentTimestamp": attributes["SentTimestamp"],
            },
        }


def post_action(body: str) -> tuple[int, dict[str, Any]]:
    from functions.http_api import app

    event = json.loads((ROOT / "events" / "http_api" / "post_action.json").read_text())
    event["body"] = body
    context = LambdaContext(function_name="crmsync-demo-HttpApiFunction", timeout_ms=HTTP_TIMEOUT_MS)
    response = invoke(app.handler, event, context)
    return response["statusCode"], json.loads(response["body"])


def automation_actions_demo(
    inbound: InboundFunction, marketing: Marketing, org: Org, clock: ManualClock
) -> ActionProspects:
    emulator = inbound.emulator
    print()
    print(
        "automation actions: POST /actions (functions/http_api/app.handler) → ActionsQueue → "
        "functions/automation_actions/app.handler"
    )
    clock.advance(minutes=1)
    prospects = action_prospects(emulator, org)
    new = [
        *prospects.new_leads,
        *prospects.new_contacts,
        *prospects.known_emails,
        prospects.invalid_email,
        prospects.without_email,
    ]
    marketing.add(new)
    _, batches = inbound.capture("new prospects")
    print(
        f"  ✓ marketing: {len(new)} new prospects ({KNOWN_EMAILS} with the email of a Lead outside the outbound "
        f"scope); stream: {sum(b.noted or 0 for b in batches)} noted, "
        f"{counts_text(sum((Counter(b.counts) for b in batches), Counter()))} "
        "(inbound.create_unlinked is never: they wait for an action)"
    )

    queue = ActionsQueue(emulator, inbound.labels)
    valid, refused = action_bodies(prospects)
    # One action in ten is sent twice with its idempotency key: half of them at once (one SQS
    # batch takes both copies), half after all the others (a later batch takes the copy).
    twice = valid[:: len(valid) // SENT_TWICE][:SENT_TWICE]
    at_once, later = twice[::2], twice[1::2]
    calls_before = emulator.api_calls
    started = time.perf_counter()
    action_ids: dict[str, list[str]] = {}
    refusals: list[str] = []
    for body in [*valid, *refused]:
        for _ in range(2 if body in at_once else 1):
            status, answer = post_action(body)
            if status == 202:
                action_ids.setdefault(body, []).append(answer["action_id"])
            else:
                refusals.append(f"{status} {answer.get('problems', [answer.get('message')])[0]}")
    for body in later:
        status, answer = post_action(body)
        action_ids[body].append(answer["action_id"])
    print(
        f"  ✓ {len(valid) + len(refused)} actions POSTed in {time.perf_counter() - started:.1f} s, "
        f"{emulator.api_calls - calls_before} Salesforce calls: {len(action_ids)} accepted (202: tagged, queued)"
    )
    for refusal in refusals:
        print(f"    refused, nothing queued: {refusal}")
    same = sum(1 for body in twice if len(set(action_ids[body])) == 1)
    print(
        f"  ✓ {len(twice)} of them POSTed twice with their idempotency key ({len(at_once)} at once, "
        f"{len(later)} after the others): the same action id both times for {same}"
    )
    direct = [
        '{"action": "create_lead", "prospect_id": ',
        json.dumps({"action": "create_lead", "prospect_id": "no-such-prospect"}),
        json.dumps({"action": "create_contact", "prospect_id": prospects.without_email.id}),
    ]
    queue.send_directly(direct)
    print(
        f"  ✓ {len(direct)} bad messages put straight on ActionsQueue by a platform inside AWS "
        "(not JSON, unknown prospect, prospect without email)"
    )
    queue.consume()
    print_invocations("AutomationActionsFunction invocation", queue.invocations)
    print()
    print("outcomes of the queue's messages (the function's log line 'automation actions'):")
    for outcome, count in queue.outcomes.most_common():
        print(f"  {outcome:<16} {count:>4}  {OUTCOME_MEANING.get(outcome, '')}")

    print_records_per_prospect(emulator, prospects)
    after, _ = inbound.scheduled("after the actions")
    print(
        f"scheduled inbound invocation: the new prospects' changes that still waited, now linked: "
        f"{after.outcome}, {counts_text(after.counts)}; {after.api_calls} API calls, "
        f"{after.collections_writes} Collections writes"
    )
    print_action_whys(
        prospects,
        inbound.labels,
        sent_twice=[json.loads(at_once[0])["prospect_id"], json.loads(later[0])["prospect_id"]],
    )
    return prospects


OUTCOME_MEANING = {
    "created": "a new Lead or Contact, the prospect id in its Crmsync_Key__c",
    "linked": "an existing record with the prospect's email linked instead (email matching)",
    "already_linked": "the prospect has a record already: one CRM record per prospect",
    "duplicate": "another message of the same batch asks for the same prospect",
    "failed": "refused: in the error list with why (below)",
    "retry": "a passing failure: SQS delivers it again",
}


def print_records_per_prospect(emulator: Emulator, prospects: ActionProspects) -> None:
    asked = [
        p.id
        for p in (
            *prospects.new_leads,
            *prospects.new_contacts,
            *prospects.known_emails,
        )
    ] + prospects.already_linked
    links = bootstrap.link_store().by_prospect_ids(asked)
    records = [*emulator.records("Lead"), *emulator.records("Contact")]
    keyed = Counter(str(r[KEY_FIELD]) for r in records if r.get(KEY_FIELD))
    emails = Counter(str(r["Email"]).strip().lower() for r in records if r.get("Email"))
    stored = bootstrap.prospect_store().get_many(asked)
    twice = [pid for pid in asked if emails[str(stored[pid].email).strip().lower()] != 1]
    linked_to = Counter(stored_link.link.crm.id for stored_link in links.values())
    accounts = Counter(str(a["Name"]) for a in emulator.records("Account"))
    account_names = {str(a["Id"]): str(a["Name"]) for a in emulator.records("Account")}
    new_contacts = Counter(
        account_names[str(c["AccountId"])] for c in emulator.records("Contact") if c.get(KEY_FIELD)
    )
    print()
    print(
        f"one record per prospect: {len(links)} of the {len(asked)} prospects asked for are linked, to "
        f"{len(linked_to)} distinct records; {sum(keyed.values())} records carry a {KEY_FIELD}, "
        f"{sum(1 for n in keyed.values() if n > 1)} of them twice; "
        f"{len(twice)} of these prospects' emails are on more than one Lead or Contact"
    )
    print(
        "the new Contacts' Accounts: "
        + ", ".join(
            f"{name} ({n} Contacts; {accounts[name]} Account)" for name, n in new_contacts.most_common()
        )
        + f"  (only {EXISTING_ACCOUNT} existed before)"
    )


def print_action_whys(
    prospects: ActionProspects, labels: Mapping[str, str], sent_twice: Sequence[str]
) -> None:
    print()
    print("why: the audit trail of a few prospects asked for, and the error list")
    cases = [
        ("asked for a Lead", prospects.new_leads[1].id),
        ("asked for a Contact of a new company", prospects.new_contacts[0].id),
        ("asked for a Contact, no company", prospects.new_contacts[-1].id),
        ("asked for a Lead; Salesforce had the email", prospects.known_emails[1].id),
        ("asked for a Contact; already linked", prospects.already_linked[0]),
        ("sent twice at once", sent_twice[0]),
        ("sent again after the others", sent_twice[1]),
    ]
    for title, prospect_id in cases:
        print(f"  {title}  [prospect {prospect_id}]")
        for line in audit_lines(prospect_id, labels, Direction.INBOUND):
            print(line)
    refused = [e for e in bootstrap.error_list().open_errors(Direction.INBOUND) if e.operation != "update"]
    print(f"  error list: {len(refused)} actions refused")
    for error in refused:
        print(f"      {describe_error(error)}")


# ------------------------------------------------------------------ 3. activities


def activities_demo(
    inbound: InboundFunction, edits: Edits, prospects: ActionProspects, clock: ManualClock
) -> None:
    print()
    print("marketing activities → completed Tasks (sent by the scheduled inbound invocation)")
    clock.advance(minutes=1)
    spring = {"email_id": "em-spring", "name": "Spring launch"}
    offer, pricing = "https://example.com/spring-offer", "https://example.com/pricing"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    leads = edits.scored[2:22]
    contacts = [p.id for p in prospects.new_contacts[:10]]
    people = leads + contacts
    made: list[Activity] = []

    def happened(prospect_id: str, kind: ActivityType, minutes: int, **details: Any) -> Activity:
        activity = Activity(
            f"act-{len(made):04d}", prospect_id, kind, at + timedelta(minutes=minutes), **details
        )
        made.append(activity)
        return activity

    for pid in people:
        happened(pid, ActivityType.EMAIL_OPEN, 1, **spring)
    for pid in people[:15]:
        happened(pid, ActivityType.EMAIL_CLICK, 2, url=offer, **spring)
    repeated = [happened(pid, ActivityType.EMAIL_CLICK, 9, url=offer, **spring) for pid in people[:5]]
    for pid in people[:3]:
        happened(pid, ActivityType.EMAIL_CLICK, 10, url=pricing, **spring)
    for pid in people[10:20]:
        happened(pid, ActivityType.FORM_SUBMISSION, 15, name="Request a demo", url="https://example.com/demo")
    for pid in people[:12]:
        happened(pid, ActivityType.PAGE_VISIT, 20, url=pricing, name="Pricing")
    unlinked = prospects.invalid_email.id
    happened(unlinked, ActivityType.EMAIL_OPEN, 3, **spring)
    happened(unlinked, ActivityType.FORM_SUBMISSION, 4, name="Request a demo")
    refused = bootstrap.activity_store().record(made)
    if refused:
        raise SystemExit(f"{len(refused)} activities were refused by the activity store")
    kinds = Counter(str(a.type) for a in made)
    print(
        f"  ✓ marketing recorded {len(made)} activities of {len(people) + 1} prospects: "
        + ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        + f"; {len(repeated)} clicks repeat an earlier one; 2 are of a prospect with no link"
    )
    tasks_before = len(inbound.emulator.records("Task"))
    invocation, report = inbound.scheduled("activities")
    activities = report["activities"]
    tasks = inbound.emulator.records("Task")[tasks_before:]
    print(
        f"  ✓ scheduled invocation: fields {report['outcome']}; activities {activities['outcome']}: "
        f"{counts_text(activities['counts'])}; {len(tasks)} Tasks in {invocation.collections_writes} "
        f"Collections call(s), {invocation.api_calls} API calls in all"
    )
    if tasks:
        task = tasks[0]
        print(
            f"    e.g. Task {task['Id']}: {task['Subject']!r}, {task['Status']}, dated {task['ActivityDate']}, "
            f"WhoId {task['WhoId']}"
        )
    print()
    print("why: what became of the activities not sent")
    store = bootstrap.activity_store()
    reasons: Counter[tuple[str, str]] = Counter()
    for pid in {a.prospect_id for a in made}:
        for stored in store.of_prospect(pid):
            if stored.state is not ActivityState.SENT:
                reasons[(str(stored.state), stored.reason)] += 1
    for (state, reason), count in reasons.most_common():
        print(f"  {count:>3} {state}: {reason}")


# ------------------------------------------------------------------ 4. echo check


def echo_check(
    inbound: InboundFunction, runs: OutboundRuns, prospects: ActionProspects, clock: ManualClock
) -> None:
    print()
    print("echo check: what inbound wrote to Salesforce does not come back as a change to send")
    clock.advance(minutes=1)
    run = runs.invoke("after inbound")
    print(f"    outbound run: {counts_text(run.counts)}; {run.api_calls} API calls, {run.seconds:.2f} s")
    records, batches = inbound.capture("echo")
    noted = sum(b.noted or 0 for b in batches)
    print(
        f"  ✓ prospects stream: {records} records (outbound's writes, marked as the connector's; the "
        f"template's event filter drops them before invocation), {noted} changes noted"
    )
    invocation, _ = inbound.scheduled("echo")
    print(
        f"  ✓ scheduled inbound invocation: {invocation.outcome}, {invocation.api_calls} Salesforce API calls"
    )
    print()
    print("why: what that outbound run did to prospects the actions linked")
    labels = {run.run_id: "outbound after inbound"}
    for title, prospect_id in (
        ("a Lead created by an action", prospects.new_leads[1].id),
        ("a Lead outside the scope, linked by an action", prospects.known_emails[1].id),
        ("a Contact created by an action", prospects.new_contacts[1].id),
    ):
        print(f"  {title}  [prospect {prospect_id}]")
        for entry in bootstrap.audit_trail().audit_trail(prospect_id):
            if entry.run_id == run.run_id:
                print(f"      {labels[entry.run_id]:<24} {describe(entry)}")
    print(
        "  (the sample Lead scope takes LeadSource Web, Webinar and Trade Show only: the Leads the actions\n"
        "   created, with no LeadSource, and those they linked, of other sources, are outside it, yet they\n"
        "   sync both ways: a link made at the marketing side's request is not the outbound scope's business)"
    )


def inbound_demo(runtime: LocalRuntime, clock: ManualClock, org: Org, runs: OutboundRuns) -> None:
    inbound = InboundFunction(runtime.stack, runtime.emulator, runtime.moto_url)
    marketing = Marketing()
    edits = marketing_edits_demo(inbound, marketing, org, clock)
    prospects = automation_actions_demo(inbound, marketing, org, clock)
    activities_demo(inbound, edits, prospects, clock)
    echo_check(inbound, runs, prospects, clock)
