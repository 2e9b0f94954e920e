"""Automation actions: 200 of them through `POST /actions` (`functions.http_api.app.handler`):
new Leads, new Contacts (their Accounts made once per company), prospects whose email
Salesforce already has, prospects already linked, one in ten sent twice, a few the route
refuses; and a few bad messages put straight on the queue. The ActionsQueue feeds
`functions.automation_actions.app.handler` in batches of up to 100, as SQS delivers it."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.prospect import Prospect

from local.demo.inbound import InboundFunction, Marketing, prospects_of
from local.demo.org import Org
from local.demo.report import (
    Invocation,
    audit_lines,
    collections_writes,
    counts_text,
    describe_error,
    print_invocations,
)
from local.runtime.invoke import LambdaContext, info_records, invoke, sample_event
from local.runtime.queues import EventSourceMapping
from local.salesforce_emulator import Emulator, ManualClock

ACTIONS_TIMEOUT_MS = 60_000  # AutomationActionsFunction's Timeout in template.yaml
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's
ACTIONS_BATCH = 100  # the ActionsQueue event source mapping's BatchSize


KEY_FIELD = "Crmsync_Key__c"  # automation.external_id_field in the sample configuration


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
    """The stack's ActionsQueue on moto, feeding AutomationActionsFunction as Lambda's event
    source mapping does (`local.runtime.queues`): batches of up to 100, the messages it does not
    ask back deleted."""

    def __init__(self, emulator: Emulator, labels: dict[str, str]) -> None:
        self.emulator = emulator
        self.labels = labels
        self.url = bootstrap.settings().actions_queue_url
        template = sample_event("automation_actions", "direct_message")["Records"][0]
        self.mapping = EventSourceMapping(self.url, template, batch_size=ACTIONS_BATCH)
        self.invocations: list[Invocation] = []
        self.outcomes: Counter[str] = Counter()

    def send_directly(self, bodies: Sequence[str]) -> None:
        sqs = boto3.client("sqs")
        for body in bodies:
            sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def consume(self) -> None:
        self.mapping.deliver(self._invoke)

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from functions.automation_actions import app

        context = LambdaContext(
            function_name="crmsync-demo-AutomationActionsFunction", timeout_ms=ACTIONS_TIMEOUT_MS
        )
        label = f"actions batch {len(self.invocations) + 1}"
        self.labels[context.aws_request_id] = label
        calls_before = len(self.emulator.call_log)
        started = time.perf_counter()
        with info_records(app.logger) as logged:
            response = invoke(app.handler, event, context)
        outcomes: Counter[str] = Counter()
        for record in logged:
            outcomes.update(getattr(record, "outcomes", {}))
        self.outcomes += outcomes
        calls = self.emulator.call_log[calls_before:]
        again = len(response["batchItemFailures"])
        self.invocations.append(
            Invocation(
                f"{label} ({len(event['Records'])} messages)",
                None,
                f"{again} back" if again else "all done",
                outcomes,
                len(calls),
                collections_writes(calls),
                time.perf_counter() - started,
            )
        )
        return response


def post_action(body: str) -> tuple[int, dict[str, Any]]:
    from functions.http_api import app

    event = sample_event("http_api", "post_action")
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
