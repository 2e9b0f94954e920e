"""What an automation action came to, and what users see of it (domain.action_results)."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.domain.action_results import (
    Outcome,
    action_report,
    decided,
    done_earlier,
    failed,
    in_progress,
    link_change,
    link_refused,
    linked,
    prospect_after,
)
from crmsync.domain.actions import Action, ActionDecision, ActionFacts, ActionKind, Decision, NewRecord
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.lifecycle import CrmRef, Link, LinkOrigin, LinkStatus, StoredLink, Tags
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot
from crmsync.domain.prospect import Prospect

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEAD = CrmRef(CrmObject.LEAD, "00Q000000000001AAA")
PROSPECT = Prospect("p-1", {"email": "ada@example.com"}, version=7)
FACTS = ActionFacts(Action("a-1", ActionKind.CREATE_LEAD, "p-1"), PROSPECT)
SNAPSHOT = {"Email=email": FieldSnapshot("ada@example.com", "ada@example.com")}
CREATE = ActionDecision(
    Decision.CREATE, "no record has the email", new_record=NewRecord(CrmObject.LEAD, {}, SNAPSHOT)
)
LINK = ActionDecision(Decision.LINK, "the Lead has the email", crm=LEAD)


def report(*results: object, last_receive: frozenset[str] = frozenset()) -> object:
    return action_report(
        results,  # type: ignore[arg-type]
        at=NOW,
        run_id="run-1",
        external_id_field="Crmsync_Key__c",
        last_receive=last_receive,
    )


def test_a_created_record_is_audited_and_resolves_the_prospects_entries() -> None:
    result = linked(FACTS, CREATE, LEAD, created=True)

    got = report(result)

    assert result.outcome is Outcome.CREATED and result.carried_out
    assert [entry.event for entry in got.audit] == [f"created Lead {LEAD.id} by action a-1 (create_lead)"]
    assert got.errors == [] and got.resolved == [
        ("Lead", "p-1"),
        ("Contact", "p-1"),
        ("AutomationAction", "p-1"),
    ]


def test_a_record_an_earlier_attempt_created_is_linked_and_says_how_it_was_found() -> None:
    result = linked(FACTS, CREATE, LEAD, created=False)

    (entry,) = report(result).audit

    assert result.outcome is Outcome.LINKED
    assert "created for this prospect by an earlier attempt, found again by its Crmsync_Key__c" in entry.event


def test_a_refusal_is_listed_and_audited_and_a_passing_failure_retries_listed_as_retrying() -> None:
    refused = decided(FACTS, ActionDecision(Decision.REFUSE, "no", failure=Failure("NOT_LINKABLE", "no")))
    locked = failed(FACTS, Failure("UNABLE_TO_LOCK_ROW", "locked", category=ErrorCategory.TRANSIENT))

    got = report(refused, locked, last_receive=frozenset({"p-1"}))

    assert (refused.outcome, locked.outcome) == (Outcome.FAILED, Outcome.RETRY)
    assert [(e.failure.code, e.operation, e.retries_exhausted) for e in got.errors] == [
        ("NOT_LINKABLE", "create_lead", True),
        ("UNABLE_TO_LOCK_ROW", "create_lead", True),
    ]
    assert [e.event for e in got.audit] == ["not carried out by action a-1 (create_lead): NOT_LINKABLE: no"]


def test_another_invocation_carrying_the_prospect_out_is_no_failure_to_list() -> None:
    busy = in_progress(FACTS)
    assert busy.outcome is Outcome.RETRY and report(busy).errors == []


def test_an_unknown_prospect_is_listed_without_a_prospect_and_never_audited() -> None:
    unknown = ActionFacts(FACTS.action, None)
    result = decided(unknown, ActionDecision(Decision.REFUSE, "?", failure=Failure("UNKNOWN_PROSPECT", "?")))

    got = report(result)

    assert [(e.record_id, e.prospect_id) for e in got.errors] == [("p-1", None)]
    assert got.audit == []


def test_a_prospect_an_earlier_action_carried_out_is_already_linked() -> None:
    result = done_earlier(FACTS, {"action_id": "a-0", "crm_type": "Lead", "crm_id": LEAD.id})
    assert (result.outcome, result.crm) == (Outcome.ALREADY_LINKED, LEAD)
    assert report(result).audit[0].event.startswith("nothing created by action a-1 (create_lead): action a-0")


def test_the_link_is_new_and_marketings_or_replaces_the_deleted_record_keeping_it_as_history() -> None:
    new = link_change(FACTS, CREATE, LEAD)
    assert (new.after, new.snapshot, new.synced_version) == (
        Link("p-1", LEAD, origin=LinkOrigin.MARKETING),
        SNAPSHOT,
        7,
    )

    deleted = StoredLink(Link("p-1", CrmRef(CrmObject.LEAD, "00Q000000000009AAA"), LinkStatus.CRM_DELETED))
    relinked = link_change(ActionFacts(FACTS.action, PROSPECT, deleted), CREATE, LEAD)
    assert relinked.keep_history and relinked.before is deleted and relinked.synced_version == 7


def test_a_refused_link_is_retried_and_the_prospect_reached_is_tagged_with_its_record() -> None:
    assert link_refused(FACTS, LINK, LEAD).outcome is Outcome.RETRY

    after = prospect_after(linked(FACTS, LINK, LEAD, created=False), PROSPECT, Tags())

    assert after.tags == {"added-to-salesforce-lead"} and after.crm_id == LEAD.id
    untouched = prospect_after(
        decided(FACTS, ActionDecision(Decision.REFUSE, "x", failure=Failure("X", "x"))), PROSPECT, Tags()
    )
    assert untouched.crm_id is None
