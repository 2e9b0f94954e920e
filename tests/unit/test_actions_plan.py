"""What carrying out one automation action means (domain/actions.py), and how a queue message is
read (sync/actions.read_message): plain values in, one decision out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from crmsync.config import Configuration
from crmsync.domain.actions import (
    Action,
    ActionFacts,
    ActionKind,
    AutomationRules,
    AutomationSettings,
    Decision,
    DefaultAccount,
    FoundRecord,
    choose_account,
    claim_key,
    decide_action,
    decide_actions,
)
from crmsync.domain.errors import ErrorCategory
from crmsync.domain.fields import Behaviour, FieldMapping
from crmsync.domain.lifecycle import CrmRef, Link, LinkStatus, StoredLink
from crmsync.domain.matching import CrmCandidate, MatchingMode
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.prospect import Prospect
from crmsync.salesforce.records import read_record
from crmsync.sync.actions import ActionMessage, BadAction, read_message
from crmsync.sync.actions_intake import MAX_ACTION_BYTES

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEFAULTS = Configuration.default()


def rules(
    matching: MatchingMode = MatchingMode.EMAIL,
    settings: AutomationSettings | None = None,
    synced: frozenset[CrmObject] = frozenset({CrmObject.LEAD, CrmObject.CONTACT}),
    lead_mapping: tuple[FieldMapping, ...] | None = None,
) -> AutomationRules:
    mappings = {crm: DEFAULTS.mappings[crm] for crm in PEOPLE}
    if lead_mapping is not None:
        mappings[CrmObject.LEAD] = lead_mapping
    return AutomationRules(matching, mappings, synced, settings or AutomationSettings())


def prospect(active: bool = True, crm_id: str | None = None, **fields: Any) -> Prospect:
    values = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", **fields}
    return Prospect(
        id="p-1", fields={k: v for k, v in values.items() if v is not None}, active=active, crm_id=crm_id
    )


def action(kind: ActionKind = ActionKind.CREATE_LEAD) -> Action:
    return Action(action_id="a-1", kind=kind, prospect_id="p-1")


def record(
    record_id: str,
    crm: CrmObject = CrmObject.LEAD,
    *,
    email: str = "ada@example.com",
    linked: bool = False,
    converted: bool = False,
    key: str | None = None,
    modified: int = 0,
) -> FoundRecord:
    candidate = CrmCandidate(
        record_id, crm, email, datetime(2026, 1, 1 + modified, tzinfo=UTC), converted=converted, linked=linked
    )
    return FoundRecord(candidate, external_id=key)


def decide(facts: ActionFacts, automation: AutomationRules | None = None) -> Any:
    return decide_action(facts, automation or rules())


# ------------------------------------------------------------------ nothing to ask Salesforce


def test_an_unknown_prospect_is_refused_as_not_found() -> None:
    decision = decide(ActionFacts(action(), None))
    assert decision.decision is Decision.REFUSE
    assert decision.failure.code == "UNKNOWN_PROSPECT"
    assert decision.failure.category is ErrorCategory.NOT_FOUND


def test_a_linked_prospect_gets_nothing_new_whatever_the_action_asks() -> None:
    linked_to = CrmRef(CrmObject.LEAD, "00Q000000000001AAA")
    decision = decide(
        ActionFacts(action(ActionKind.CREATE_CONTACT), prospect(), StoredLink(Link("p-1", linked_to)))
    )
    assert (decision.decision, decision.crm) == (Decision.ALREADY_LINKED, linked_to)
    assert "one CRM record per prospect" in decision.reason


# ------------------------------------------------------------------ a record deleted in Salesforce

DELETED = CrmRef(CrmObject.LEAD, "00Q000000000009AAA")
DELETED_LINK = StoredLink(Link("p-1", DELETED, LinkStatus.CRM_DELETED))


def test_an_inactive_prospect_whose_record_was_deleted_is_refused_until_it_is_reactivated() -> None:
    decision = decide(ActionFacts(action(), prospect(active=False), DELETED_LINK))

    assert decision.decision is Decision.REFUSE
    assert (decision.failure.code, decision.failure.category) == ("DELETED_IN_CRM", ErrorCategory.NOT_FOUND)
    assert DELETED.id in decision.failure.message and "reactivate" in decision.failure.message


@pytest.mark.parametrize("matching", list(MatchingMode))
def test_a_reactivated_prospect_whose_record_was_deleted_gets_a_new_one_replacing_it(
    matching: MatchingMode,
) -> None:
    # In crm_id mode the prospect still carries the deleted record's id: no key to match by.
    reactivated = prospect(crm_id=DELETED.id)

    decision = decide(ActionFacts(action(), reactivated, DELETED_LINK), rules(matching))

    assert (decision.decision, decision.replaces) == (Decision.CREATE, DELETED)
    assert decision.new_record.values["Crmsync_Key__c"] == "p-1"


def test_in_email_mode_a_reactivated_prospect_links_the_other_record_with_its_email() -> None:
    other = record("00Q000000000002AAA")

    decision = decide(ActionFacts(action(), prospect(), DELETED_LINK, found=[other]))

    assert (decision.decision, decision.crm, decision.replaces) == (
        Decision.LINK,
        CrmRef(CrmObject.LEAD, "00Q000000000002AAA"),
        DELETED,
    )


def test_a_deleted_record_found_restored_is_linked_again_and_replaces_nothing() -> None:
    restored = record(DELETED.id, linked=True, key="p-1")

    decision = decide(ActionFacts(action(), prospect(), DELETED_LINK, found=[restored, record("00Q2")]))

    assert (decision.decision, decision.crm, decision.replaces) == (Decision.LINK, DELETED, None)
    assert "back from the recycle bin" in decision.reason


def test_a_record_replacing_a_deleted_one_is_claimed_apart_from_the_prospects_first_record() -> None:
    assert claim_key("p-1", None) == claim_key("p-1", Link("p-1", DELETED)) == "p-1"
    assert claim_key("p-1", DELETED_LINK.link) == f"p-1 replacing {DELETED.id}"
    assert ActionFacts(action(), prospect(), DELETED_LINK).claim_key == f"p-1 replacing {DELETED.id}"


def test_a_prospect_without_email_is_never_created() -> None:
    decision = decide(ActionFacts(action(), prospect(email="  ")))
    assert decision.failure.code == "PROSPECT_WITHOUT_EMAIL"


def test_an_action_for_an_object_the_connector_does_not_sync_is_refused_naming_the_setting() -> None:
    decision = decide(ActionFacts(action(), prospect()), rules(synced=frozenset({CrmObject.CONTACT})))
    assert decision.failure.code == "OBJECT_NOT_SYNCED"
    assert "objects.lead is off" in decision.failure.message


# ------------------------------------------------------------------ email mode: link before create


def test_an_existing_contact_is_preferred_to_a_lead_and_the_choice_is_explained() -> None:
    found = [record("00Q1", modified=5), record("0031", CrmObject.CONTACT)]
    decision = decide(ActionFacts(action(), prospect(), found=found))
    assert (decision.decision, decision.crm) == (Decision.LINK, CrmRef(CrmObject.CONTACT, "0031"))
    assert "a Contact or Person Account is preferred to a Lead" in decision.reason


def test_a_converted_lead_is_never_linked_so_a_record_is_created() -> None:
    decision = decide(ActionFacts(action(), prospect(), found=[record("00Q1", converted=True)]))
    assert decision.decision is Decision.CREATE


def test_a_record_an_earlier_attempt_created_for_this_prospect_is_linked_first() -> None:
    found = [record("0031", CrmObject.CONTACT), record("00Q9", key="p-1")]
    decision = decide(ActionFacts(action(), prospect(), found=found))
    assert (decision.decision, decision.crm) == (Decision.LINK, CrmRef(CrmObject.LEAD, "00Q9"))
    assert "created for this prospect by an earlier attempt" in decision.reason


def test_when_every_record_with_the_email_is_linked_elsewhere_nothing_is_duplicated() -> None:
    decision = decide(ActionFacts(action(), prospect(), found=[record("00Q1", linked=True)]))
    assert decision.decision is Decision.REFUSE
    assert decision.failure.category is ErrorCategory.DUPLICATE
    assert "linked to another prospect" in decision.failure.message


def test_two_prospects_of_one_batch_sharing_an_email_create_one_record() -> None:
    twin = Prospect(id="p-2", fields={"email": "ADA@example.com", "last_name": "Twin"})
    batch = [
        ActionFacts(action(), prospect()),
        ActionFacts(Action("a-2", ActionKind.CREATE_LEAD, "p-2"), twin),
    ]
    first, second = decide_actions(batch, rules())
    assert first.decision is Decision.CREATE
    assert second.failure.code == "DUPLICATE_EMAIL"
    # In crm_id mode several prospects may share an email: both are created.
    assert [d.decision for d in decide_actions(batch, rules(MatchingMode.CRM_ID))] == [Decision.CREATE] * 2


def test_in_crm_id_mode_the_email_never_links_and_the_carried_crm_id_does() -> None:
    by_email = decide(ActionFacts(action(), prospect(), found=[]), rules(MatchingMode.CRM_ID))
    assert by_email.decision is Decision.CREATE
    carrying = Prospect(id="p-1", fields={"email": "ada@example.com"}, crm_id="0031")
    decision = decide(
        ActionFacts(action(), carrying, found=[record("0031", CrmObject.CONTACT)]), rules(MatchingMode.CRM_ID)
    )
    assert (decision.decision, decision.crm) == (Decision.LINK, CrmRef(CrmObject.CONTACT, "0031"))


# ------------------------------------------------------------------ what a created record gets


def test_a_created_lead_gets_the_marketing_writable_mapped_fields_and_the_prospect_key() -> None:
    mapping = (
        FieldMapping("email", "Email", Behaviour.MOST_RECENT),
        FieldMapping("last_name", "LastName", Behaviour.MOST_RECENT),
        FieldMapping("company", "Company", Behaviour.PREFER_SALESFORCE_UNLESS_BLANK),
        FieldMapping("score", "Marketing_Score__c", Behaviour.MARKETING),
        FieldMapping("lead_status", "Status", Behaviour.SALESFORCE),
        FieldMapping("notes", "Description", Behaviour.NONE),
    )
    p = prospect(company="Engines", score=42, lead_status="Working", notes="private")
    decision = decide(ActionFacts(action(), p), rules(lead_mapping=mapping))
    new = decision.new_record
    assert decision.decision is Decision.CREATE
    assert dict(new.values) == {
        "Email": "ada@example.com",
        "LastName": "Lovelace",
        "Company": "Engines",
        "Marketing_Score__c": 42,
        "Crmsync_Key__c": "p-1",
    }
    # The snapshot is what each side holds now: Salesforce's Status was not written by us.
    assert new.snapshot["Status=lead_status"].salesforce is None
    assert new.snapshot["Status=lead_status"].marketing == "Working"
    assert new.snapshot["Marketing_Score__c=score"].salesforce == 42
    assert "Description=notes" not in new.snapshot


def test_required_fields_take_the_configured_fallbacks() -> None:
    settings = AutomationSettings(
        last_name_fallback="Unknown", company_fallback="Self", external_id_field="Key__c"
    )
    decision = decide(ActionFacts(action(), prospect(last_name=None)), rules(settings=settings))
    values = decision.new_record.values
    assert (values["LastName"], values["Company"], values["Key__c"]) == ("Unknown", "Self", "p-1")


def test_a_contact_gets_its_account_by_company_else_the_configured_default() -> None:
    contact = action(ActionKind.CREATE_CONTACT)
    by_company = decide(ActionFacts(contact, prospect(company=" Initech ")))
    assert (by_company.new_record.account_name, by_company.new_record.account_id) == ("Initech", None)
    assert "Company" not in by_company.new_record.values
    by_id = AutomationSettings(default_account=DefaultAccount(id="001000000000001AAA"))
    assert decide(ActionFacts(contact, prospect()), rules(settings=by_id)).new_record.account_id == (
        "001000000000001AAA"
    )
    by_name = AutomationSettings(default_account=DefaultAccount(name="Marketing"))
    assert (
        decide(ActionFacts(contact, prospect()), rules(settings=by_name)).new_record.account_name
        == "Marketing"
    )
    refused = decide(ActionFacts(contact, prospect()))
    assert refused.failure.code == "NO_ACCOUNT_FOR_CONTACT"
    assert refused.failure.category is ErrorCategory.CONFIGURATION


def test_the_same_company_name_picks_the_same_account_in_every_batch() -> None:
    accounts = [
        read_record({"Id": "0012", "CreatedDate": "2026-01-02T00:00:00.000+0000"}),
        read_record({"Id": "0013", "CreatedDate": "2026-01-01T00:00:00.000+0000"}),
        read_record({"Id": "0011", "CreatedDate": "2026-01-01T00:00:00.000+0000"}),
    ]
    assert choose_account(accounts) == "0011"


# ------------------------------------------------------------------ reading a queue message


def read(body: str | dict[str, Any]) -> Action | BadAction:
    text = body if isinstance(body, str) else json.dumps(body)
    return read_message(ActionMessage("m-1", text, NOW))


def test_a_documented_message_is_read_with_its_id_and_acceptance_time() -> None:
    got = read(
        {
            "action_id": "a-7",
            "action": "create_contact",
            "prospect_id": "p-1",
            "idempotency_key": None,
            "accepted_at": "2026-11-22T11:00:00Z",
        }
    )
    assert got == Action(
        "a-7", ActionKind.CREATE_CONTACT, "p-1", None, datetime(2026, 11, 22, 11, tzinfo=UTC)
    )


def test_a_bare_message_gets_the_intakes_id_from_its_key_else_the_message_id() -> None:
    keyed = read(
        {"action": "create_lead", "prospect_id": "p-1001", "idempotency_key": "automation-42/step-3/p-1001"}
    )
    assert keyed.action_id == "bb6e0fd6-9256-5476-8e63-c3ae08d4588a"  # as events/automation_actions documents
    assert read({"action": "create_lead", "prospect_id": "p-1"}).action_id == "m-1"


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ('{"action": "create_lead", ', "MALFORMED_ACTION", "message: is not JSON"),
        ("[1, 2]", "MALFORMED_ACTION", "must be a JSON object"),
        ({"action": "delete_lead", "prospect_id": "p-1"}, "UNKNOWN_ACTION", "not 'delete_lead'"),
        ({"action": "create_lead"}, "INVALID_ACTION", "prospect_id: is required"),
        (
            {"action": "create_lead", "prospect_id": "p-1", "colour": "red"},
            "INVALID_ACTION",
            "colour: unknown key (allowed: action_id, accepted_at, action, prospect_id, idempotency_key)",
        ),
        (
            {"action": "create_lead", "prospect_id": "p-1", "accepted_at": "noon"},
            "INVALID_ACTION",
            "accepted_at",
        ),
        (
            {"action": "create_lead", "prospect_id": "p-1", "pad": "x" * MAX_ACTION_BYTES},
            "ACTION_TOO_LARGE",
            "bytes",
        ),
    ],
)
def test_a_bad_message_is_named_with_a_clear_error(body: Any, code: str, says: str) -> None:
    got = read(body)
    assert isinstance(got, BadAction)
    assert got.failure.code == code
    assert says in got.failure.message


def test_a_bad_message_keeps_what_it_says_about_its_prospect_and_action() -> None:
    got = read({"action": "delete_lead", "prospect_id": "p-9", "action_id": "a-9"})
    assert isinstance(got, BadAction)
    assert (got.prospect_id, got.action_id, got.kind) == ("p-9", "a-9", None)
    missing = read({"action": "create_contact", "prospect_id": ""})
    assert isinstance(missing, BadAction)
    assert (missing.prospect_id, missing.kind) == (None, ActionKind.CREATE_CONTACT)
