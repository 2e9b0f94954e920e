"""The automation actions consumer (docs/guide/actions.md) through its handler, with SQS events like the ones
in events/automation_actions/: moto for AWS (tables and queues made from template.yaml), the
Salesforce emulator through the real simple-salesforce client (in process; `over_https` serves it).

What a user sees after each delivery: the Leads, Contacts and Accounts in Salesforce, the
prospects' links, tags and CRM IDs, the audit trail, the error list, and what SQS is told to
deliver again (`batchItemFailures`).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure, StoreError
from crmsync.domain.lifecycle import LinkChange, LinkOrigin, LinkStatus, StoredLink
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync.actions_intake import MAX_ACTION_BYTES

from functions.automation_actions import app
from functions.inbound_sync import app as inbound_app
from functions.outbound_sync import app as outbound_app
from local.aws_stack import LocalStack
from local.keys import JwtKeyPair
from local.runtime.schedules import let_schedules_pass
from local.runtime.stream import ProspectStream
from local.salesforce_emulator import Emulator, ManualClock

from .conftest import REGION, USERNAME, LambdaContext, OutboundConnector, deploy, load_event

KEY_FIELD = "Crmsync_Key__c"
LEAD_TAG = "added-to-salesforce-lead"
CONTACT_TAG = "added-to-salesforce-contact"


@pytest.fixture
def actions_connector(
    stack: LocalStack, emulator: Emulator, key_pair: JwtKeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Emulator]:
    """A deployed, resumed connector (AutomationActionsFunction's environment) and its org."""
    deploy(stack, emulator, key_pair, monkeypatch, "AutomationActionsFunction")
    bootstrap.resume()
    yield emulator
    bootstrap.reset()


# ------------------------------------------------------------------ deliveries


def message(action: str = "create_lead", prospect_id: str = "p-1", **extra: Any) -> dict[str, Any]:
    return {"action": action, "prospect_id": prospect_id, **extra}


def sqs_record(
    body: str | dict[str, Any], message_id: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it; a redelivery keeps its message id."""
    record = json.loads(json.dumps(load_event("automation_actions", "direct_message")["Records"][0]))
    record["messageId"] = message_id or str(uuid.uuid4())
    record["body"] = body if isinstance(body, str) else json.dumps(body)
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


def deliver(records: Sequence[dict[str, Any]]) -> list[str]:
    """One invocation; the ids of the messages SQS is asked to deliver again."""
    response = app.handler({"Records": list(records)}, LambdaContext(aws_request_id=str(uuid.uuid4())))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# ------------------------------------------------------------------ the marketing side


def add_prospects(*prospects: Prospect) -> None:
    assert bootstrap.prospect_store().save([ProspectChange(p) for p in prospects]) == []


def person(prospect_id: str, email: str | None = None, **fields: Any) -> Prospect:
    values = {"email": email or f"{prospect_id}@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    values.update(fields)
    return Prospect(id=prospect_id, fields={k: v for k, v in values.items() if v is not None})


def stored(prospect_id: str) -> Prospect:
    return bootstrap.prospect_store().get_many([prospect_id])[prospect_id]


def link_of(prospect_id: str) -> StoredLink | None:
    return bootstrap.link_store().by_prospect_ids([prospect_id]).get(prospect_id)


def errors() -> dict[str, SyncError]:
    """The inbound error list by record id (the prospect id for actions)."""
    return {e.record_id: e for e in bootstrap.error_list().open_errors(Direction.INBOUND)}


def events_of(prospect_id: str) -> list[str]:
    return [entry.event for entry in bootstrap.audit_trail().audit_trail(prospect_id) if entry.event]


def writes(salesforce: Emulator) -> list[tuple[str, str]]:
    """Every API request that was not a read, its path after `/services/data/vNN.N/`."""
    return [(method, path.split("/", 4)[-1]) for method, path in salesforce.call_log if method != "GET"]


def keyed(salesforce: Emulator, sobject: str) -> Counter[str]:
    """How many records of `sobject` carry each external-id key."""
    return Counter(str(r[KEY_FIELD]) for r in salesforce.records(sobject) if r.get(KEY_FIELD))


# ------------------------------------------------------------------ creating and linking


@pytest.mark.over_https  # the one test of this function whose org is served: a socket and TLS
def test_the_sample_batch_creates_one_lead_and_one_contact_with_its_account(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    # GIVEN the sample batch's prospects: p-1001 asked twice for a Lead, p-1002 for a Contact
    add_prospects(
        person("p-1001", "ada@example.com", company="Analytical Engines", score=42),
        person(
            "p-1002",
            "charles@example.com",
            first_name="Charles",
            last_name="Babbage",
            company="Difference Ltd",
        ),
    )
    event = load_event("automation_actions", "batch_with_duplicate")

    # WHEN the batch is delivered
    retry = deliver(event["Records"])

    # THEN every message is consumed, and each prospect has exactly one record
    assert retry == []
    [lead] = salesforce.records("Lead")
    assert (lead["Email"], lead["FirstName"], lead["LastName"], lead["Company"]) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Analytical Engines",
    )
    assert lead[KEY_FIELD] == "p-1001"
    [contact] = salesforce.records("Contact")
    [account] = salesforce.records("Account")
    assert (contact["LastName"], contact["AccountId"], account["Name"]) == (
        "Babbage",
        account["Id"],
        "Difference Ltd",
    )
    # AND the prospects are linked, carry the record's id and the action's tag
    for prospect_id, record, tag in (("p-1001", lead, LEAD_TAG), ("p-1002", contact, CONTACT_TAG)):
        stored_link = link_of(prospect_id)
        assert stored_link is not None and stored_link.link.crm.id == record["Id"]
        assert stored(prospect_id).crm_id == record["Id"]
        assert tag in stored(prospect_id).tags
    # AND the link's snapshot is what was written, so the prospect syncs both ways from now on
    snapshot = link_of("p-1001").snapshot  # type: ignore[union-attr]
    assert snapshot["LastName=last_name"].salesforce == "Lovelace"
    assert snapshot["LastName=last_name"].marketing == "Lovelace"
    assert snapshot["Company=company"].salesforce == "Analytical Engines"
    # AND the audit trail says what was created, by which action
    assert events_of("p-1001") == [
        f"created Lead {lead['Id']} by action bb6e0fd6-9256-5476-8e63-c3ae08d4588a (create_lead)"
    ]
    assert errors() == {}


def test_a_direct_message_without_id_or_acceptance_time_is_carried_out_and_tags_the_prospect(
    actions_connector: Emulator,
) -> None:
    # GIVEN a platform put a bare action on the queue (no action_id, no accepted_at, no tag set)
    add_prospects(person("p-7"))
    record = sqs_record(message("create_lead", "p-7"))

    # WHEN it is delivered
    assert deliver([record]) == []

    # THEN the Lead exists, the prospect is tagged, and the action id is the SQS message id
    [lead] = actions_connector.records("Lead")
    assert LEAD_TAG in stored("p-7").tags
    assert events_of("p-7") == [f"created Lead {lead['Id']} by action {record['messageId']} (create_lead)"]


def test_in_email_mode_an_existing_contact_with_the_email_is_linked_and_nothing_is_created(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    # GIVEN a Contact already in Salesforce with the prospect's email (typed differently)
    account = salesforce.insert("Account", {"Name": "Existing Co"})
    contact = salesforce.insert(
        "Contact", {"LastName": "Hopper", "Email": " Grace@Example.com", "AccountId": account}
    )
    add_prospects(person("p-9", "grace@example.com"))
    salesforce.reset_counters()

    # WHEN an automation asks for a Lead
    assert deliver([sqs_record(message("create_lead", "p-9", action_id="a-9"))]) == []

    # THEN the Contact is linked instead, and nothing at all was written to Salesforce
    stored_link = link_of("p-9")
    assert stored_link is not None and stored_link.link.crm.id == contact
    assert stored_link.snapshot == {}, "nothing was synced yet: the next runs merge from scratch"
    assert salesforce.records("Lead") == []
    assert writes(salesforce) == []
    assert stored("p-9").crm_id == contact
    [event] = events_of("p-9")
    assert event.startswith(f"linked to existing Contact {contact} by action a-9 (create_lead): ")
    assert "the only unlinked Contact with this email" in event


def test_a_second_action_for_a_linked_prospect_creates_nothing(actions_connector: Emulator) -> None:
    salesforce = actions_connector
    add_prospects(person("p-2"))
    assert deliver([sqs_record(message("create_lead", "p-2", action_id="first"))]) == []
    [lead] = salesforce.records("Lead")
    salesforce.reset_counters()

    # WHEN another automation asks for a Contact for the same prospect
    assert deliver([sqs_record(message("create_contact", "p-2", action_id="second"))]) == []

    # THEN one CRM record per prospect: nothing new, no Salesforce call at all
    assert salesforce.records("Contact") == []
    assert salesforce.api_calls == 0
    assert events_of("p-2")[-1] == (
        f"nothing created by action second (create_contact): the prospect is already linked to Lead {lead['Id']}: "
        "one CRM record per prospect"
    )


def test_a_contact_action_for_a_new_company_creates_the_account_once_for_all_its_contacts(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    # GIVEN three prospects of a company Salesforce does not know (written three ways), one of a
    # company it knows, and one with no company while a default account is configured by name
    globex = salesforce.insert("Account", {"Name": "Globex"})
    bootstrap.load_configuration(
        {"version": 2, "automation": {"default_account": {"name": "Marketing contacts"}}}
    )
    add_prospects(
        person("p-1", company="Initech"),
        person("p-2", company="INITECH "),
        person("p-3", company="initech"),
        person("p-4", company="globex"),
        person("p-5"),
    )
    salesforce.reset_counters()

    # WHEN their Contact actions arrive in one batch
    assert deliver([sqs_record(message("create_contact", f"p-{n}")) for n in range(1, 6)]) == []

    # THEN Initech and the default account were created once each, Globex was reused
    accounts = {a["Name"]: a["Id"] for a in salesforce.records("Account")}
    assert sorted(accounts) == ["Globex", "Initech", "Marketing contacts"]
    assert accounts["Globex"] == globex
    account_of = {c[KEY_FIELD]: c["AccountId"] for c in salesforce.records("Contact")}
    assert account_of == {
        "p-1": accounts["Initech"],
        "p-2": accounts["Initech"],
        "p-3": accounts["Initech"],
        "p-4": globex,
        "p-5": accounts["Marketing contacts"],
    }
    # AND in batched calls: one Account lookup, one Account create, one Contact upsert
    assert writes(salesforce) == [
        ("POST", "composite/sobjects"),
        ("PATCH", f"composite/sobjects/Contact/{KEY_FIELD}"),
    ]


def test_a_contact_without_company_gets_the_default_account_configured_by_id(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    # GIVEN a default account configured by its id, and a prospect that names no company
    default = salesforce.insert("Account", {"Name": "Marketing contacts"})
    bootstrap.load_configuration({"version": 2, "automation": {"default_account": {"id": default}}})
    add_prospects(person("p-1"))

    # WHEN its Contact action arrives
    assert deliver([sqs_record(message("create_contact", "p-1"))]) == []

    # THEN the Contact is created under that account, not left without one
    (contact,) = salesforce.records("Contact")
    assert (contact[KEY_FIELD], contact["AccountId"]) == ("p-1", default)
    assert link_of("p-1") is not None


def test_a_contact_without_company_or_default_account_is_refused_clearly(actions_connector: Emulator) -> None:
    add_prospects(person("p-1"))

    assert deliver([sqs_record(message("create_contact", "p-1"))]) == []

    assert actions_connector.records("Contact") == []
    error = errors()["p-1"]
    assert (error.failure.code, error.operation, error.sobject) == (
        "NO_ACCOUNT_FOR_CONTACT",
        "create_contact",
        "Contact",
    )
    assert "automation.default_account" in error.failure.message


# ------------------------------------------------------------------ exactly once


class CrashingLinkStore:
    """The link store, except that its next save dies as a Lambda would mid-batch: after
    Salesforce created the records, before any link was written."""

    def __init__(self) -> None:
        self.inner = bootstrap.link_store()
        self.crashes_left = 0
        self.crash: Exception = RuntimeError("Lambda died here (test)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        if self.crashes_left and any(change.before is None for change in changes):
            self.crashes_left -= 1
            raise self.crash
        return self.inner.save(changes)


@pytest.fixture
def crashing_links(actions_connector: Emulator) -> Iterator[CrashingLinkStore]:
    links = CrashingLinkStore()
    # Undone before the connector's teardown resets bootstrap's (cached) builders.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bootstrap, "link_store", lambda: links)
        yield links


def test_the_same_action_delivered_twice_in_one_batch_is_carried_out_once(
    actions_connector: Emulator,
) -> None:
    add_prospects(person("p-1"))
    body = json.dumps(message("create_lead", "p-1", action_id="a-1"))

    assert deliver([sqs_record(body), sqs_record(body), sqs_record(message("create_contact", "p-1"))]) == []

    assert len(actions_connector.records("Lead")) == 1
    assert actions_connector.records("Contact") == []


def test_two_prospects_sharing_an_email_in_one_batch_get_one_record_and_a_clear_error(
    actions_connector: Emulator,
) -> None:
    add_prospects(person("p-1", "twin@example.com"), person("p-2", "twin@example.com"))

    assert (
        deliver([sqs_record(message("create_lead", "p-1")), sqs_record(message("create_lead", "p-2"))]) == []
    )

    [lead] = actions_connector.records("Lead")
    assert lead[KEY_FIELD] == "p-1"
    assert errors()["p-2"].failure.code == "DUPLICATE_EMAIL"


# ------------------------------------------------------------------ failures


def test_every_bad_action_gets_its_clear_error_and_the_rest_of_the_batch_goes_on(
    actions_connector: Emulator,
) -> None:
    add_prospects(person("p-good"), Prospect(id="p-no-email", fields={"last_name": "Nobody"}))
    event = load_event("automation_actions", "malformed")
    not_json, unknown_action, unknown_prospect = event["Records"]
    oversized = sqs_record(message("create_lead", "p-good", padding="x" * MAX_ACTION_BYTES))

    retry = deliver(
        [
            not_json,
            unknown_action,
            unknown_prospect,
            oversized,
            sqs_record(message("create_lead", "p-no-email")),
            sqs_record(message("create_lead", "p-good")),
        ]
    )

    assert retry == []
    [lead] = actions_connector.records("Lead")
    assert lead[KEY_FIELD] == "p-good"
    listed = errors()
    assert listed[not_json["messageId"]].failure.code == "MALFORMED_ACTION"
    assert "not JSON" in listed[not_json["messageId"]].failure.message
    assert listed["p-1001"].failure.code == "UNKNOWN_ACTION"
    assert (
        "action: must be one of create_lead, create_contact, not 'delete_lead'"
        in listed["p-1001"].failure.message
    )
    assert listed["p-does-not-exist"].failure.code == "UNKNOWN_PROSPECT"
    assert listed[oversized["messageId"]].failure.code == "ACTION_TOO_LARGE"
    assert listed["p-no-email"].failure.code == "PROSPECT_WITHOUT_EMAIL"
    assert "never created in Salesforce" in listed["p-no-email"].failure.message
    assert len(listed) == 5


@pytest.mark.parametrize(
    ("poison", "code", "says"),
    [
        pytest.param(
            json.dumps({"action": ["create_lead"], "prospect_id": "p-x"}),
            "UNKNOWN_ACTION",
            "action: must be one of create_lead, create_contact, not an array",
            id="action is a list",
        ),
        pytest.param(
            json.dumps({"action": {"create": "lead"}, "prospect_id": "p-x"}),
            "UNKNOWN_ACTION",
            "action: must be one of create_lead, create_contact, not an object",
            id="action is an object",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": ' + "[" * 3000 + "]" * 3000 + "}",
            "MALFORMED_ACTION",
            "message: is nested more than 32 levels deep",
            id="nested 3000 levels deep",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": "p-x", "prospect_id": "p-y"}',
            "MALFORMED_ACTION",
            "prospect_id: appears more than once in one object (duplicate keys are refused)",
            id="duplicate key",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": "p-\\ud800"}',
            "MALFORMED_ACTION",
            "prospect_id: is not Unicode text",
            id="lone surrogate",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": "p-x", "idempotency_key": NaN}',
            "MALFORMED_ACTION",
            "message: NaN is not a JSON number",
            id="NaN",
        ),
    ],
)
def test_one_poison_message_is_listed_on_its_own_and_the_nine_good_actions_beside_it_are_carried_out(
    actions_connector: Emulator, poison: str, code: str, says: str
) -> None:
    salesforce = actions_connector
    good = [f"p-{n}" for n in range(1, 10)]
    add_prospects(*(person(prospect_id) for prospect_id in good))
    poisoned = sqs_record(poison)
    batch = [sqs_record(message("create_lead", pid)) for pid in good[:4]]
    batch += [poisoned] + [sqs_record(message("create_lead", pid)) for pid in good[4:]]

    # WHEN the batch is delivered, THEN nothing comes back to the queue (nor to the DLQ later)
    assert deliver(batch) == []

    # AND each of the nine good actions created its Lead and linked its prospect
    assert sorted(keyed(salesforce, "Lead")) == good
    assert all(link_of(pid) is not None for pid in good)
    # AND the poison message is consumed into the error list, saying what was wrong with it
    [listed] = errors().values()
    assert listed.failure.code == code
    assert says in listed.failure.message
    assert listed.record_id == poisoned["messageId"] or listed.record_id == "p-x"


def test_salesforce_down_sends_the_batch_back_and_the_next_delivery_creates_it_once(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    add_prospects(person("p-1"), person("p-2"))
    batch = [sqs_record(message("create_lead", "p-1")), sqs_record(message("create_lead", "p-2"))]
    # GIVEN Salesforce answers 503 to everything, beyond the gateway's own retries
    salesforce.faults.server_errors(count=50, status=503)

    # WHEN the batch is delivered, THEN SQS is asked to deliver both again
    assert sorted(deliver(batch)) == sorted(r["messageId"] for r in batch)
    assert salesforce.records("Lead") == []
    assert errors()["p-1"].failure.code == "SERVER_UNAVAILABLE"
    assert errors()["p-1"].state == "retrying"

    # WHEN Salesforce is back and SQS delivers them again (the claims were given back)
    salesforce.faults.recover()
    assert deliver(batch) == []

    # THEN each was created once, and the error list is clear again
    assert set(keyed(salesforce, "Lead")) == {"p-1", "p-2"}
    assert errors() == {}


def test_an_action_still_failing_on_its_last_receive_stays_listed_as_no_longer_retrying(
    actions_connector: Emulator,
) -> None:
    add_prospects(person("p-1"))
    actions_connector.faults.server_errors(count=50, status=500)

    assert len(deliver([sqs_record(message("create_lead", "p-1"), receive_count=5)])) == 1

    error = errors()["p-1"]
    assert error.failure.retryable and error.state == "open", (
        "the dead-letter queue is next: a person must look"
    )


# ------------------------------------------------------------------ paused


def test_a_paused_connector_sends_nothing_and_carries_the_actions_out_after_the_resume(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    add_prospects(person("p-1"), person("p-2"), person("p-3"))
    bootstrap.pause()
    salesforce.reset_counters()

    # WHEN actions arrive while paused, THEN they are consumed (not redelivered towards the
    # dead-letter queue) and nothing reaches Salesforce
    first = [sqs_record(message("create_lead", "p-1")), sqs_record(message("create_lead", "p-2"))]
    assert deliver(first) == []
    assert deliver(first) == [], "a redelivery is parked once"
    assert salesforce.api_calls == 0
    assert salesforce.records("Lead") == []

    # WHEN the connector resumes and the inbound run carries out what was parked
    bootstrap.resume()
    report = bootstrap.automation_actions().carry_out_parked(lambda: 60_000, run_id="inbound-run")

    # THEN both are created, once
    assert report.counts == {"created": 2}
    assert set(keyed(salesforce, "Lead")) == {"p-1", "p-2"}
    assert bootstrap.automation_actions().carry_out_parked(lambda: 60_000, run_id="again").counts == {}

    # AND actions parked later are carried out at the start of the next delivery
    bootstrap.pause()
    assert deliver([sqs_record(message("create_lead", "p-3"))]) == []
    bootstrap.resume()
    add_prospects(person("p-4"))
    assert deliver([sqs_record(message("create_lead", "p-4"))]) == []
    assert set(keyed(salesforce, "Lead")) == {"p-1", "p-2", "p-3", "p-4"}


def test_past_its_api_budget_the_connector_parks_actions_instead_of_spending_more(
    actions_connector: Emulator,
) -> None:
    salesforce = actions_connector
    add_prospects(person("p-1"))
    # GIVEN other integrations spent 60% of today's API calls (the connector may use 50%)
    salesforce.spend_daily_api(60_000)

    record = sqs_record(message("create_lead", "p-1"))
    assert deliver([record]) == []

    assert salesforce.records("Lead") == []
    assert writes(salesforce) == []
    parked = bootstrap.parked_actions()
    assert [p.message_id for p in parked.waiting(10)] == [record["messageId"]], "it waits, parked"


def test_a_warm_container_past_its_budget_asks_salesforce_again_once_a_minute_and_goes_on_once_usage_fell(
    actions_connector: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    salesforce = actions_connector
    clock = ManualClock(datetime.now(UTC))
    monkeypatch.setattr(bootstrap, "clock", lambda: clock)
    add_prospects(*(person(f"p-{n}") for n in range(1, 5)))
    # GIVEN a warm container that saw 60% of today's API calls spent (budget: 50%) and parked
    salesforce.spend_daily_api(60_000)
    assert deliver([sqs_record(message("create_lead", "p-1"))]) == []
    assert salesforce.records("Lead") == []

    # WHEN the next batch comes within the minute, THEN it is parked on that reading, no call
    salesforce.reset_counters()
    clock.advance(seconds=30)
    assert deliver([sqs_record(message("create_lead", "p-2"))]) == []
    assert salesforce.api_calls == 0

    # WHEN a batch comes once the reading is over a minute old and usage is still past the
    # budget, THEN one limits call says so, and the batch is parked
    clock.advance(seconds=31)
    assert deliver([sqs_record(message("create_lead", "p-3"))]) == []
    assert salesforce.call_log == [("GET", "/services/data/v62.0/limits/")]
    assert salesforce.records("Lead") == []

    # WHEN the org's usage falls (its rolling 24 hours moved on) and a batch comes a minute later
    salesforce.set_daily_api_usage(10_000)
    salesforce.reset_counters()
    clock.advance(seconds=61)
    assert deliver([sqs_record(message("create_lead", "p-4"))]) == []

    # THEN one limits call reads the lower usage, and the parked actions and the batch are
    # carried out
    assert salesforce.call_log[0] == ("GET", "/services/data/v62.0/limits/")
    assert [path for _, path in salesforce.call_log].count("/services/data/v62.0/limits/") == 1
    assert set(keyed(salesforce, "Lead")) == {"p-1", "p-2", "p-3", "p-4"}


def test_dynamodb_throttling_the_links_sends_the_actions_back_and_the_redelivery_links_what_was_created(
    actions_connector: Emulator, crashing_links: CrashingLinkStore
) -> None:
    salesforce = actions_connector
    add_prospects(person("p-1"), person("p-2", company="Acme"))
    batch = [sqs_record(message("create_lead", "p-1")), sqs_record(message("create_contact", "p-2"))]
    # GIVEN DynamoDB throttles the link writes beyond the store's own retries
    crashing_links.crashes_left = 1
    crashing_links.crash = StoreError(
        Failure(
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput",
            category=ErrorCategory.TRANSIENT,
        )
    )

    # WHEN the batch is delivered, THEN both come back, their records made but not linked
    assert sorted(deliver(batch)) == sorted(r["messageId"] for r in batch)
    assert set(keyed(salesforce, "Lead")) | set(keyed(salesforce, "Contact")) == {"p-1", "p-2"}
    assert errors()["p-1"].failure.code == "ThrottlingException"

    # WHEN SQS delivers them again, THEN the same records are linked, and nothing is duplicated
    assert deliver(batch) == []
    assert len(salesforce.records("Lead")) == len(salesforce.records("Contact")) == 1
    assert link_of("p-1").link.crm.id == salesforce.records("Lead")[0]["Id"]  # type: ignore[union-attr]
    assert link_of("p-2").link.crm.id == salesforce.records("Contact")[0]["Id"]  # type: ignore[union-attr]
    assert len(salesforce.records("Account")) == 1
    assert errors() == {}


def test_an_action_for_a_prospect_another_invocation_is_carrying_out_waits_for_it(
    actions_connector: Emulator,
) -> None:
    add_prospects(person("p-1"))
    # GIVEN another invocation holds the prospect (a duplicate delivery, running right now)
    claims = bootstrap.action_claims()
    assert claims.claim("p-1", remaining_ms=60_000).claimed
    record = sqs_record(message("create_lead", "p-1"))

    # WHEN this delivery comes, THEN it sends nothing and asks SQS to deliver it again later
    assert deliver([record]) == [record["messageId"]]
    assert actions_connector.records("Lead") == []
    assert errors() == {}, "waiting on another invocation is no failure"

    # WHEN the other invocation is done with it, THEN the redelivery goes through
    claims.release("p-1")
    assert deliver([record]) == []
    assert set(keyed(actions_connector, "Lead")) == {"p-1"}


# ------------------------------------------------------------------ a record deleted in Salesforce


def run_outbound() -> dict[str, Any]:
    """One scheduled outbound run: it reads what Salesforce deleted and restored."""
    let_schedules_pass("outbound")
    report: dict[str, Any] = outbound_app.handler(
        load_event("outbound_sync", "scheduled"), LambdaContext(aws_request_id=str(uuid.uuid4()))
    )
    assert report["outcome"] == "completed"
    return report


def run_inbound(stream: ProspectStream) -> dict[str, Any]:
    """Change capture of what the prospects stream holds, then one scheduled inbound run."""
    context = LambdaContext(aws_request_id=str(uuid.uuid4()))
    for event in stream.events():
        inbound_app.handler(event, context)
    let_schedules_pass("inbound")
    report: dict[str, Any] = inbound_app.handler(load_event("inbound_sync", "scheduled"), context)
    return report


def marketing_saves(prospect_id: str, active: bool = True, **fields: Any) -> None:
    """The marketing side saves the prospect: brings it back (a form fill, a re-import), edits it."""
    marketing = DynamoProspectStore(
        DynamoTable(
            boto3.client("dynamodb", region_name=REGION), bootstrap.settings().prospects_table, PROSPECTS_KEY
        )
    )
    prospect = marketing.get_many([prospect_id])[prospect_id]
    after = replace(prospect, active=active, fields={**prospect.fields, **fields})
    assert marketing.save([ProspectChange(after, before=prospect)]) == []


def reactivate(prospect_id: str) -> None:
    assert not stored(prospect_id).active
    marketing_saves(prospect_id)


def history_of(crm_id: str) -> StoredLink:
    former = bootstrap.link_store().by_crm_ids([crm_id])[crm_id]
    assert former.link.status is LinkStatus.REPLACED
    return former


def test_an_action_for_a_prospect_whose_lead_was_deleted_is_refused_until_it_is_reactivated_then_creates_one(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce, clock = outbound_connector.salesforce, outbound_connector.clock
    stream = ProspectStream.of(outbound_connector.stack)
    # GIVEN a prospect whose Lead, made by an action, was deleted in Salesforce: outbound read
    # the deletion, deactivated the prospect and marked the link
    add_prospects(person("p-1", company="Acme"))
    assert deliver([sqs_record(message("create_lead", "p-1", action_id="first"))]) == []
    [old] = salesforce.records("Lead")
    clock.advance(minutes=1)
    salesforce.delete(old["Id"])
    run_outbound()
    assert link_of("p-1").link.status is LinkStatus.CRM_DELETED  # type: ignore[union-attr]
    salesforce.reset_counters()

    # WHEN an automation asks for a Lead again while the prospect is inactive
    assert deliver([sqs_record(message("create_lead", "p-1", action_id="second"))]) == []

    # THEN it is refused with a clear entry in the error list, and nothing reaches Salesforce
    error = errors()["p-1"]
    assert (error.failure.code, error.operation, error.sobject) == ("DELETED_IN_CRM", "create_lead", "Lead")
    assert f"Lead {old['Id']}, the prospect's record, was deleted in Salesforce" in error.failure.message
    assert "reactivate it on the marketing side" in error.failure.message
    assert salesforce.api_calls == 0
    assert salesforce.records("Lead") == []
    assert link_of("p-1").link.crm.id == old["Id"]  # type: ignore[union-attr]
    assert events_of("p-1")[-1].startswith("not carried out by action second (create_lead): DELETED_IN_CRM")

    # WHEN the marketing side reactivates the prospect, and the automation asks again
    reactivate("p-1")
    assert deliver([sqs_record(message("create_lead", "p-1", action_id="third"))]) == []

    # THEN a new Lead is created (the upsert on the prospect id does not reuse the deleted one)
    [new] = salesforce.records("Lead")
    assert new["Id"] != old["Id"] and new[KEY_FIELD] == "p-1"
    assert [r["Id"] for r in salesforce.records("Lead", include_deleted=True)] == [old["Id"], new["Id"]]
    # AND the prospect is linked to it, carries its id, and the error is resolved
    current = link_of("p-1")
    assert current is not None
    assert (current.link.crm.id, current.link.status, current.link.origin) == (
        new["Id"],
        LinkStatus.ACTIVE,
        LinkOrigin.MARKETING,
    )
    assert stored("p-1").crm_id == new["Id"] and stored("p-1").active
    assert errors() == {}
    # AND the old link is kept as history, and the audit trail says what happened
    assert history_of(old["Id"]).link.prospect_id == "p-1"
    assert events_of("p-1")[-2:] == [
        f"relinked: Lead {old['Id']} was deleted in Salesforce; created Lead {new['Id']} by action third "
        "(create_lead)",
        # The new Lead's owner, read back when it was created (the outbound run had synced the users).
        f"assigned user None -> {USERNAME} (Salesforce owner)",
    ]

    # WHEN the same action is delivered again, THEN nothing more is created
    assert deliver([sqs_record(message("create_lead", "p-1", action_id="third"))]) == []
    assert len(salesforce.records("Lead")) == 1

    # AND the new Lead syncs both ways from then on: outbound brings its changes to the prospect,
    # inbound sends the prospect's to it, and the history is left alone
    clock.advance(minutes=1)
    salesforce.update("Lead", new["Id"], {"Title": "CTO"})
    run_outbound()
    assert stored("p-1").fields["job_title"] == "CTO"
    marketing_saves("p-1", last_name="King")
    assert run_inbound(stream)["counts"] == {"updated": 1}
    assert salesforce.get(new["Id"])["LastName"] == "King"  # type: ignore[index]
    assert salesforce.get(old["Id"], include_deleted=True)["LastName"] == "Lovelace"  # type: ignore[index]


def test_in_email_mode_a_reactivated_prospect_links_the_other_lead_with_its_email_and_the_restored_one_stays_apart(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce, clock = outbound_connector.salesforce, outbound_connector.clock
    # GIVEN a prospect linked by email to a Lead made in Salesforce, which was then deleted
    add_prospects(person("p-1", "ada@example.com"))
    old = salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com"}
    )
    run_outbound()
    assert link_of("p-1").link.crm.id == old  # type: ignore[union-attr]
    clock.advance(minutes=1)
    salesforce.delete(old)
    run_outbound()
    # AND a salesperson made another Lead with that email since
    other = salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Engines", "Email": "ADA@example.com"}
    )
    reactivate("p-1")
    salesforce.reset_counters()

    # WHEN an automation asks for a Lead for the reactivated prospect
    assert deliver([sqs_record(message("create_lead", "p-1", action_id="again"))]) == []

    # THEN the other Lead is linked, nothing is written to Salesforce, and the audit trail says so
    assert writes(salesforce) == []
    assert link_of("p-1").link.crm.id == other  # type: ignore[union-attr]
    assert history_of(old).link.prospect_id == "p-1"
    assert events_of("p-1")[-1].startswith(
        f"relinked: Lead {old} was deleted in Salesforce; linked to existing Lead {other} by action again"
    )

    # WHEN the old Lead is restored from the recycle bin and outbound reads it
    clock.advance(minutes=1)
    salesforce.undelete(old)
    report = run_outbound()

    # THEN it is neither linked a second time nor made into a prospect of its own: it is reported
    assert report["counts"].get("created", 0) == 0 and report["counts"]["reported"] == 1
    assert link_of("p-1").link.crm.id == other  # type: ignore[union-attr]
    assert history_of(old).link.prospect_id == "p-1"
    assert [
        p.id for p in bootstrap.prospect_store().find_by_emails(["ada@example.com"])["ada@example.com"]
    ] == ["p-1"]
    [reported] = [e for e in bootstrap.error_list().open_errors(Direction.OUTBOUND) if e.record_id == old]
    assert reported.failure.code == "NOT_SYNCED"
    assert "merge the two records in Salesforce" in reported.failure.message
    assert "merge the two records in Salesforce" in events_of("p-1")[-1]


def test_in_crm_id_mode_a_reactivated_prospect_gets_a_new_lead_and_the_restored_one_no_second_prospect(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce, clock = outbound_connector.salesforce, outbound_connector.clock
    bootstrap.load_configuration({"version": 2, "matching": "crm_id"})
    # GIVEN a Lead made in Salesforce, whose prospect (carrying its id) was deactivated when the
    # Lead was deleted, and reactivated since
    old = salesforce.insert(
        "Lead", {"LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com"}
    )
    run_outbound()
    prospect_id = bootstrap.link_store().by_crm_ids([old])[old].link.prospect_id
    clock.advance(minutes=1)
    salesforce.delete(old)
    run_outbound()
    reactivate(prospect_id)

    # WHEN an automation asks for a Lead for it
    assert deliver([sqs_record(message("create_lead", prospect_id, action_id="again"))]) == []

    # THEN a new Lead is created and linked; the prospect now carries its id
    [new] = salesforce.records("Lead")
    assert new[KEY_FIELD] == prospect_id
    assert link_of(prospect_id).link.crm.id == new["Id"]  # type: ignore[union-attr]
    assert stored(prospect_id).crm_id == new["Id"]

    # WHEN the old Lead is restored from the recycle bin and outbound reads it
    clock.advance(minutes=1)
    salesforce.undelete(old)
    report = run_outbound()

    # THEN no prospect is made for it (one would duplicate the person), and it is reported
    assert report["counts"].get("created", 0) == 0 and report["counts"]["reported"] == 1
    assert bootstrap.prospect_store().find_by_crm_ids([old]) == {}
    assert history_of(old).link.prospect_id == prospect_id


def test_a_lead_an_action_creates_gives_its_owner_to_the_prospect_and_the_next_run_writes_nothing(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce, clock = outbound_connector.salesforce, outbound_connector.clock
    # GIVEN the org's users, as an outbound run syncs them, and a prospect with no assigned user
    run_outbound()
    add_prospects(person("p-1", company="Acme"))

    # WHEN an action creates its Lead
    assert deliver([sqs_record(message("create_lead", "p-1"))]) == []

    # THEN the prospect carries the Lead's owner (its marketing user) with the Lead's id, and the
    # audit trail says so where the creation is
    [lead] = salesforce.records("Lead")
    saved = stored("p-1")
    assert (saved.crm_id, saved.assigned_user) == (lead["Id"], USERNAME)
    assert events_of("p-1")[-1] == f"assigned user None -> {USERNAME} (Salesforce owner)"

    # AND the next outbound run, reading the new Lead, finds nothing to write
    clock.advance(minutes=1)
    report = run_outbound()
    assert report["counts"] == {"read": 1, "unchanged": 1}
    assert stored("p-1").version == saved.version
    assert events_of("p-1")[-1] == f"assigned user None -> {USERNAME} (Salesforce owner)"
