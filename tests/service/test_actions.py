"""The automation actions consumer on fakes: one CRM record per prospect whatever the deliveries,
in batched calls. The handler's own paths (SQS records, the partial batch response, the
failures that send a batch back) are tests/functions/test_automation_actions.py's."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.lifecycle import LinkChange
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync.actions import ActionMessage, BatchReport

from tests.fakes.connector import FakeConnector, plenty_of_time
from tests.fakes.links import FakeLinkStore

KEY_FIELD = "Crmsync_Key__c"


@dataclass
class Deliveries:
    """SQS's side: messages with ids of their own, a redelivery keeping its id."""

    connector: FakeConnector
    sent: int = 0
    messages: dict[str, ActionMessage] = field(default_factory=dict)

    def message(self, action: str, prospect_id: str, **extra: Any) -> ActionMessage:
        self.sent += 1
        body = json.dumps({"action": action, "prospect_id": prospect_id, **extra})
        made = ActionMessage(f"message-{self.sent}", body, self.connector.clock.now())
        self.messages[made.message_id] = made
        return made

    def again(self, message: ActionMessage) -> ActionMessage:
        """The same body sent again as another message (a retried send, a second automation)."""
        self.sent += 1
        return ActionMessage(f"message-{self.sent}", message.body, self.connector.clock.now())

    def redelivered(self, message: ActionMessage) -> ActionMessage:
        return ActionMessage(message.message_id, message.body, message.sent_at, message.receive_count + 1)

    def deliver(self, messages: Sequence[ActionMessage], **options: Any) -> BatchReport:
        return self.connector.actions(**options).carry_out(
            messages, plenty_of_time, self.connector.new_run_id()
        )


@pytest.fixture
def deliveries(connector: FakeConnector) -> Deliveries:
    return Deliveries(connector)


def person(prospect_id: str, email: str | None = None, **fields: Any) -> Prospect:
    values = {"email": email or f"{prospect_id}@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    values.update(fields)
    return Prospect(id=prospect_id, fields={k: v for k, v in values.items() if v is not None})


def add_prospects(connector: FakeConnector, *prospects: Prospect) -> None:
    assert connector.marketing.save([ProspectChange(p) for p in prospects]) == []


def keyed(connector: FakeConnector, sobject: str) -> Counter[str]:
    """How many records of `sobject` carry each external-id key."""
    return Counter(str(r[KEY_FIELD]) for r in connector.salesforce.records(sobject) if r.get(KEY_FIELD))


def errors(connector: FakeConnector) -> dict[str, SyncError]:
    return {e.record_id: e for e in connector.state.open_errors(Direction.INBOUND)}


def events_of(connector: FakeConnector, prospect_id: str) -> list[str]:
    return [entry.event for entry in connector.state.audit_trail(prospect_id) if entry.event]


class CrashingLinkStore:
    """The link store, except that its next save of new links dies as a Lambda would mid-batch:
    after Salesforce created the records, before any link was written."""

    def __init__(self, links: FakeLinkStore) -> None:
        self.inner = links
        self.crashes_left = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        if self.crashes_left and any(change.before is None for change in changes):
            self.crashes_left -= 1
            raise RuntimeError("Lambda died here (test)")
        return self.inner.save(changes)


@pytest.mark.parametrize("matching", ["email", "crm_id"])
def test_300_actions_delivered_with_duplicates_and_a_crash_create_exactly_one_record_per_prospect(
    connector: FakeConnector, deliveries: Deliveries, matching: str
) -> None:
    connector.configure({"version": 2, "matching": matching})
    crashing = CrashingLinkStore(connector.links)
    # GIVEN 300 prospects of 10 companies, half asked as Leads and half as Contacts
    prospects = [person(f"p-{n:03d}", company=f"Company {n // 30}") for n in range(300)]
    add_prospects(connector, *prospects)
    actions = [
        deliveries.message("create_lead" if n % 2 else "create_contact", p.id, action_id=f"action-{n}")
        for n, p in enumerate(prospects)
    ]
    # AND 10% of them delivered twice, the second copy in a later batch than the first
    twice = random.Random(7).sample(actions, 30)
    sent = actions + [deliveries.again(a) for a in twice]
    batches = [sent[start : start + 100] for start in range(0, len(sent), 100)]

    # WHEN the second batch dies after Salesforce created its records, and SQS delivers it again
    for number, batch in enumerate(batches):
        if number != 1:
            assert deliveries.deliver(batch, links=crashing).to_retry == set()
            continue
        before = set(keyed(connector, "Lead")) | set(keyed(connector, "Contact"))
        crashing.crashes_left = 1
        with pytest.raises(RuntimeError, match="Lambda died"):
            deliveries.deliver(batch, links=crashing)
        created_by_crash = (set(keyed(connector, "Lead")) | set(keyed(connector, "Contact"))) - before
        assert len(created_by_crash) > 50, "the records of the crashed batch exist in Salesforce"
        assert not connector.links.by_prospect_ids(created_by_crash), "and none is linked"
        assert all(connector.claims.held().values()), "the crash left no claim in progress"
        redelivered = [deliveries.redelivered(message) for message in batch]
        assert deliveries.deliver(redelivered, links=crashing).to_retry == set()
        for prospect_id in created_by_crash:
            assert any(
                "created for this prospect by an earlier attempt" in e
                for e in events_of(connector, prospect_id)
            )
    # AND every message is delivered once more, long after (a redrive, say)
    connector.later(hours=2)
    for start in range(0, len(actions), 100):
        assert deliveries.deliver(actions[start : start + 100]).to_retry == set()

    # THEN each prospect has exactly one CRM record, linked to it, and no duplicate exists
    leads, contacts = keyed(connector, "Lead"), keyed(connector, "Contact")
    assert set(leads) | set(contacts) == {p.id for p in prospects}
    assert not set(leads) & set(contacts)
    assert set(leads.values()) == set(contacts.values()) == {1}
    assert len(connector.salesforce.records("Lead")) == len(connector.salesforce.records("Contact")) == 150
    records = {
        r[KEY_FIELD]: r["Id"]
        for r in connector.salesforce.records("Lead") + connector.salesforce.records("Contact")
    }
    links = connector.links.by_prospect_ids(records)
    assert {pid: stored.link.crm.id for pid, stored in links.items()} == records
    # AND each company's Account exists once
    assert Counter(a["Name"] for a in connector.salesforce.records("Account")) == {
        f"Company {n}": 1 for n in range(10)
    }
    assert errors(connector) == {}


def test_a_validation_error_on_one_record_leaves_the_other_199_written_and_lists_the_failure(
    connector: FakeConnector, deliveries: Deliveries
) -> None:
    # GIVEN 200 prospects, one of whom has an email Salesforce refuses
    prospects = [person(f"p-{n:03d}") for n in range(199)] + [person("p-bad", "not-an-email")]
    add_prospects(connector, *prospects)
    connector.crm.reset_counters()

    # WHEN their 200 Lead actions are carried out together
    assert deliveries.deliver([deliveries.message("create_lead", p.id) for p in prospects]).to_retry == set()

    # THEN one Collections upsert wrote the 199, and the refused one is in the error list
    assert [(c.kind, c.sobject, c.operation, c.records) for c in connector.crm.writes()] == [
        ("collections", "Lead", "upsert", 200)
    ]
    assert set(keyed(connector, "Lead")) == {f"p-{n:03d}" for n in range(199)}
    assert len(connector.links.by_prospect_ids([p.id for p in prospects])) == 199
    [error] = errors(connector).values()
    assert (error.record_id, error.prospect_id, error.operation) == ("p-bad", "p-bad", "create_lead")
    assert (error.failure.code, error.failure.fields, error.failure.category) == (
        "INVALID_EMAIL_ADDRESS",
        ("Email",),
        "validation",
    )
    assert connector.links.by_prospect_ids(["p-bad"]) == {}
    assert events_of(connector, "p-bad")[-1].startswith("not carried out by action")


def test_an_action_for_a_prospect_that_does_not_exist_is_listed_and_the_rest_of_its_batch_goes_on(
    connector: FakeConnector, deliveries: Deliveries
) -> None:
    # GIVEN one prospect, and an action naming another that was never stored
    add_prospects(connector, person("p-1"))

    # WHEN both actions come in one batch
    report = deliveries.deliver(
        [deliveries.message("create_lead", "p-1"), deliveries.message("create_lead", "p-ghost")]
    )

    # THEN the prospect's Lead is created, and the unknown one is listed, not retried
    assert report.to_retry == set()
    assert set(keyed(connector, "Lead")) == {"p-1"}
    assert errors(connector)["p-ghost"].failure.code == "UNKNOWN_PROSPECT"
    assert connector.links.by_prospect_ids(["p-ghost"]) == {}
