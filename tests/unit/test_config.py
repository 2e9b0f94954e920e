"""The connector configuration: defaults, the sample file, and a clear message naming every bad
entry, from the document itself and against the org's describe (docs/guide/: matching,
fields, scope, schedules)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crmsync.config import (
    OPPORTUNITY_MAPPING,
    Configuration,
    CreateUnlinked,
    InvalidConfiguration,
    OwnerDirection,
    Schedule,
    ScheduleUnit,
)
from crmsync.domain.actions import DefaultAccount
from crmsync.domain.errors import ConfigurationError
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.matching import MatchingMode
from crmsync.domain.objects import CrmObject
from crmsync.domain.prospect_fields import FieldType
from crmsync.domain.records import FieldDescription, ObjectDescription
from crmsync.domain.scope import AllRecords, CreatedAfter, Criterion, Flagged, MatchingCriteria, Operator

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json"
BEHAVIOURS = (
    "salesforce, marketing, prefer_salesforce_unless_blank, prefer_marketing_unless_blank, most_recent, none"
)


def sample_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    return document


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigurationError) as refused:
        Configuration.from_document(document)
    return str(refused.value)


def with_lead_mapping(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"version": 3, "mappings": {"Lead": list(entries)}}


def entry(marketing: str, salesforce: str, behaviour: str = "most_recent", **more: Any) -> dict[str, Any]:
    return {"marketing_field": marketing, "salesforce_field": salesforce, "behaviour": behaviour, **more}


# -- defaults and the sample file --------------------------------------------------------------


def test_the_defaults_are_the_specs() -> None:
    config = Configuration.default()
    assert config.matching is MatchingMode.EMAIL
    assert config.conflict_winner is ConflictWinner.SALESFORCE
    assert config.outbound.schedule.interval == timedelta(minutes=2)
    assert (config.inbound.every_minutes, config.inbound.max_waiting_changes) == (2, 100)
    assert config.inbound.create_unlinked is CreateUnlinked.NEVER
    assert config.owner.direction is OwnerDirection.SALESFORCE
    assert config.tags.created_from_lead == "created-from-salesforce-lead"
    assert config.tags.lead_converted_to_contact == "salesforce-lead-converted-to-contact"
    assert (config.batching.collection_size, config.batching.bulk_threshold) == (200, 2000)
    assert config.outbound.scope[CrmObject.LEAD] == AllRecords()
    assert FieldMapping("email", "Email", Behaviour.MOST_RECENT) in config.mappings[CrmObject.LEAD]


def test_a_document_with_only_a_version_is_the_default_configuration() -> None:
    assert Configuration.from_document({"version": 1}) == Configuration.default()


def test_the_sample_file_loads_and_keeps_its_values() -> None:
    config = Configuration.from_document(sample_document())
    assert config.version == 1
    assert config.objects.opportunities and config.objects.account_fields
    assert (
        FieldMapping("lead_status", "Status", Behaviour.SALESFORCE, sync_blanks=True)
        in config.mappings[CrmObject.LEAD]
    )
    assert config.outbound.scope[CrmObject.CONTACT] == Flagged("Sync_To_Marketing__c")
    assert config.outbound.scope[CrmObject.PERSON_ACCOUNT] == CreatedAfter(datetime(2025, 1, 1, tzinfo=UTC))
    assert config.outbound.scope[CrmObject.LEAD] == MatchingCriteria(
        (
            Criterion("LeadSource", Operator.IN, ("Web", "Webinar", "Trade Show")),
            Criterion("Country", Operator.NOT_EQUALS, "Antarctica"),
        )
    )
    assert config.owner.user_map == {"005000000000001AAA": "marketing-user-17"}


@pytest.mark.parametrize("config", [Configuration.default(), Configuration.from_document(sample_document())])
def test_a_configuration_survives_the_round_trip_through_its_document(config: Configuration) -> None:
    document = json.loads(json.dumps(config.to_document()))
    assert Configuration.from_document(document) == config


def test_a_mapping_given_for_one_object_replaces_only_that_objects_mapping() -> None:
    config = Configuration.from_document(with_lead_mapping(entry("city", "City", "salesforce")))
    assert config.version == 3
    assert config.mappings[CrmObject.LEAD] == (FieldMapping("city", "City", Behaviour.SALESFORCE),)
    assert config.mappings[CrmObject.CONTACT] == Configuration.default().mappings[CrmObject.CONTACT]


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("1 minute", timedelta(minutes=1)),
        ("45 minutes", timedelta(minutes=45)),
        ("1 hour", timedelta(hours=1)),
        ("12 hours", timedelta(hours=12)),
        ("daily", timedelta(days=1)),
    ],
)
def test_outbound_schedules_are_minutes_some_hours_or_daily(text: str, interval: timedelta) -> None:
    config = Configuration.from_document({"version": 1, "outbound": {"schedule": text}})
    assert config.outbound.schedule.interval == interval


def test_inbound_runs_every_so_many_minutes() -> None:
    config = Configuration.from_document({"version": 1, "inbound": {"every_minutes": 10}})
    assert config.inbound.interval == timedelta(minutes=10)


def test_a_schedule_reads_back_as_written() -> None:
    assert Schedule(ScheduleUnit.HOURS, 1).text == "1 hour"
    assert Schedule(ScheduleUnit.MINUTES, 5).text == "5 minutes"


# -- what the document itself gets refused for ------------------------------------------------


def test_an_unknown_behaviour_is_named_with_its_path_and_the_choices() -> None:
    document = with_lead_mapping(
        entry("city", "City"),
        entry("state", "State"),
        entry("country", "Country"),
        entry("notes", "D", "sometimes"),
    )
    assert refusal(document) == (
        f"mappings.Lead[3].behaviour: unknown behaviour 'sometimes' (expected one of: {BEHAVIOURS})"
    )


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("Pull", "salesforce"),
        ("push", "marketing"),
        ("bidirectional", "most_recent"),
        ("two-way", "most_recent"),
        ("dont_sync", "none"),
    ],
)
def test_another_connectors_name_for_a_behaviour_gets_the_name_used_here(theirs: str, ours: str) -> None:
    assert refusal(with_lead_mapping(entry("city", "City", theirs))) == (
        f"mappings.Lead[0].behaviour: unknown behaviour {theirs!r}: here it is called {ours!r}"
    )


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            entry("notes", "email"),
            "mappings.Lead[1]: duplicate mapping: Salesforce field 'email' is already mapped at mappings.Lead[0]",
        ),
        (
            entry("email", "Other__c"),
            "mappings.Lead[1]: duplicate mapping: marketing field 'email' is already mapped at mappings.Lead[0]",
        ),
    ],
)
def test_a_field_mapped_twice_is_refused(second: dict[str, Any], message: str) -> None:
    assert refusal(with_lead_mapping(entry("email", "Email"), second)) == message


def test_the_same_pair_in_two_objects_is_not_a_duplicate() -> None:
    document = {
        "version": 1,
        "mappings": {"Lead": [entry("email", "Email")], "Contact": [entry("email", "Email")]},
    }
    Configuration.from_document(document)


@pytest.mark.parametrize(
    ("mapping_entry", "message"),
    [
        (
            entry("city", "City", sync_blanks=True),
            "mappings.Lead[0].sync_blanks: only the one-way behaviours (salesforce, marketing) copy blanks, "
            "not 'most_recent'",
        ),
        (
            entry("city", "City", sync_blanks="yes"),
            "mappings.Lead[0].sync_blanks: must be true or false, not 'yes'",
        ),
        (
            entry("score", "Score__c"),
            "mappings.Lead[0].behaviour: score is owned by the marketing platform: use 'marketing', not 'most_recent'",
        ),
        (
            entry("city", "Billing City"),
            "mappings.Lead[0].salesforce_field: 'Billing City' is not a Salesforce API name",
        ),
        (
            {"marketing_field": "city", "behaviour": "salesforce"},
            "mappings.Lead[0].salesforce_field: is required",
        ),
        (
            entry("city", "City", direction="in"),
            "mappings.Lead[0].direction: unknown key (expected one of: marketing_field, salesforce_field, "
            "behaviour, sync_blanks)",
        ),
    ],
)
def test_a_bad_mapping_entry_is_named(mapping_entry: dict[str, Any], message: str) -> None:
    assert refusal(with_lead_mapping(mapping_entry)) == message


def test_account_fields_only_flow_onto_prospects() -> None:
    document = {"version": 1, "mappings": {"Account": [entry("company_industry", "Industry", "marketing")]}}
    assert refusal(document) == (
        "mappings.Account[0].behaviour: account fields sync one way onto prospects: "
        "use 'salesforce' or 'none', not 'marketing'"
    )


def test_a_marketing_field_no_prospect_has_is_refused_with_the_field_it_likely_meant() -> None:
    document = with_lead_mapping(entry("email", "Email"), entry("emial", "Secondary_Email__c"))
    assert refusal(document) == (
        "mappings.Lead[1].marketing_field: no prospect has a field 'emial' (did you mean 'email'?): use a "
        "built-in field or declare it under prospect_fields with its type"
    )


def test_a_declared_custom_field_may_be_mapped_and_keeps_its_type() -> None:
    document = {
        **with_lead_mapping(entry("webinar_attended", "Webinar__c", "marketing")),
        "prospect_fields": {"// why": "the webinar platform's flag", "webinar_attended": "boolean"},
    }
    config = Configuration.from_document(document)
    assert config.prospect_fields.type_of("webinar_attended") is FieldType.BOOLEAN
    assert config.prospect_fields.type_of("email") is FieldType.TEXT, "the built-in fields stay"
    assert config.to_document()["prospect_fields"] == {"webinar_attended": "boolean"}


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            {"shoe_size": "integer"},
            "prospect_fields.shoe_size: unknown prospect field type 'integer' (expected one of: text, number, "
            "boolean, date, datetime)",
        ),
        (
            {"score": "text"},
            "prospect_fields.score: is a built-in prospect field (number); declare only custom fields",
        ),
        ({"Score": "number"}, "prospect_fields.Score: differs from the field 'score' only in case"),
        (
            {"shoe size": "number"},
            "prospect_fields.shoe size: is not a field name (letters, digits and _, starting with a letter)",
        ),
        (["shoe_size"], "prospect_fields: must be an object of field name → type, not a list"),
    ],
)
def test_a_bad_prospect_field_declaration_is_named(declared: Any, message: str) -> None:
    assert refusal({"version": 1, "prospect_fields": declared}) == message


def test_account_fields_switched_on_need_a_mapping() -> None:
    assert refusal({"version": 1, "objects": {"account_fields": True}}) == (
        "mappings.Account: objects.account_fields is on but no Account field is mapped"
    )


def test_the_opportunity_mapping_is_fixed() -> None:
    assert refusal({"version": 1, "mappings": {"Opportunity": []}}) == (
        "mappings.Opportunity: the opportunity mapping is fixed (Name, Amount, StageName, CloseDate) "
        "and cannot be changed"
    )


def test_the_outbound_scope_is_for_people_and_a_business_account_has_none() -> None:
    document = {"version": 1, "outbound": {"scope": {"Account": "all"}}}

    assert refusal(document) == (
        "outbound.scope.Account: unknown key (expected one of: Lead, Contact, PersonAccount)"
    )


def test_an_unknown_criteria_operator_is_named_with_the_choices() -> None:
    document = {
        "version": 1,
        "outbound": {
            "scope": {"Lead": {"criteria": [{"field": "LeadSource", "operator": "like", "value": "W%"}]}}
        },
    }
    assert refusal(document) == (
        "outbound.scope.Lead.criteria[0].operator: unknown operator 'like' (expected one of: equals, not_equals, "
        "greater_than, greater_or_equal, less_than, less_or_equal, in, not_in, contains, starts_with)"
    )


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (
            "some",
            "outbound.scope.Lead: unknown scope 'some' (expected 'none', 'all', or an object with one of: "
            "created_after, flagged, criteria)",
        ),
        (
            {"created_after": "last tuesday"},
            "outbound.scope.Lead.created_after: must be an ISO date or date and "
            "time (e.g. '2025-01-31'), not 'last tuesday'",
        ),
        (
            {"flagged": "Sync To Marketing"},
            "outbound.scope.Lead.flagged: 'Sync To Marketing' is not a Salesforce API name",
        ),
        (
            {"criteria": []},
            "outbound.scope.Lead.criteria: must be a non-empty list of {field, operator, value} conditions",
        ),
        (
            {"criteria": [{"field": "LeadSource", "operator": "in", "value": "Web"}]},
            "outbound.scope.Lead.criteria[0].value: 'in' needs a non-empty list of values, not 'Web'",
        ),
        (
            {"criteria": [{"field": "Company", "operator": "contains", "value": 3}]},
            "outbound.scope.Lead.criteria[0].value: 'contains' needs some text, not 3",
        ),
        (
            {"criteria": [{"field": "Amount", "operator": "greater_than", "value": None}]},
            "outbound.scope.Lead.criteria[0].value: 'greater_than' needs a number, a date or some text, not null",
        ),
        (
            {"criteria": [{"field": "Company", "operator": "equals"}]},
            "outbound.scope.Lead.criteria[0].value: is required",
        ),
    ],
)
def test_a_bad_scope_is_named(scope: Any, message: str) -> None:
    assert refusal({"version": 1, "outbound": {"scope": {"Lead": scope}}}) == message


def test_a_criterion_may_compare_with_null() -> None:
    document = {
        "version": 1,
        "outbound": {
            "scope": {"Lead": {"criteria": [{"field": "Country", "operator": "equals", "value": None}]}}
        },
    }
    scope = Configuration.from_document(document).outbound.scope[CrmObject.LEAD]
    assert scope == MatchingCriteria((Criterion("Country", Operator.EQUALS, None),))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "version: is required (a whole number, raised on every change)"),
        ({"version": "2"}, "version: must be a whole number, not '2'"),
        ({"version": 0}, "version: must be from 1 to 9999999999, not 0"),
        ({"version": 10**10}, "version: must be from 1 to 9999999999, not 10000000000"),
        (
            {"version": 1, "colour": "blue"},
            "colour: unknown top-level key (expected one of: version, matching, "
            "conflict_winner, objects, mappings, outbound, inbound, owner, tags, batching, activities, automation, "
            "prospect_fields)",
        ),
        (
            {"version": 1, "matching": "fuzzy"},
            "matching: unknown matching mode 'fuzzy' (expected one of: email, crm_id)",
        ),
        (
            {"version": 1, "conflict_winner": "newest"},
            "conflict_winner: unknown conflict winner 'newest' (expected "
            "one of: salesforce, marketing, latest_timestamp)",
        ),
        (
            {"version": 1, "objects": {"leads": True}},
            "objects.leads: unknown key (expected one of: lead, contact, "
            "person_account, account_fields, opportunities)",
        ),
        ({"version": 1, "objects": {"lead": "yes"}}, "objects.lead: must be true or false, not 'yes'"),
        (
            {"version": 1, "outbound": {"schedule": "5 hours"}},
            "outbound.schedule: unknown schedule '5 hours' "
            "(expected 'N minutes' (1 to 59), 'N hours' (1, 2, 3, 4, 6, 8 or 12) or 'daily')",
        ),
        (
            {"version": 1, "outbound": {"schedule": "60 minutes"}},
            "outbound.schedule: unknown schedule "
            "'60 minutes' (expected 'N minutes' (1 to 59), 'N hours' (1, 2, 3, 4, 6, 8 or 12) or 'daily')",
        ),
        (
            {"version": 1, "inbound": {"every_minutes": 0}},
            "inbound.every_minutes: must be from 1 to 59, not 0",
        ),
        (
            {"version": 1, "inbound": {"create_unlinked": "sometimes"}},
            "inbound.create_unlinked: unknown "
            "create_unlinked setting 'sometimes' (expected one of: never, assigned_only, always)",
        ),
        (
            {"version": 1, "batching": {"collection_size": 500}},
            "batching.collection_size: must be from 1 to 200, not 500",
        ),
        (
            {"version": 1, "batching": {"read_page_size": 100}},
            "batching.read_page_size: must be from 200 to 2000, not 100",
        ),
        (
            {"version": 1, "batching": {"bulk_threshold": True}},
            "batching.bulk_threshold: must be a whole number, not True",
        ),
        (
            {"version": 1, "owner": {"direction": "marketing"}},
            "owner.direction: unknown owner direction 'marketing' (expected one of: salesforce, two_way)",
        ),
        (
            {"version": 1, "owner": {"user_map": {"bob": "m1"}}},
            "owner.user_map.bob: is not a Salesforce user id (15 or 18 characters starting with 005)",
        ),
        (
            {"version": 1, "tags": {"created_from_contact": "created-from-salesforce-lead"}},
            "tags.created_from_contact: 'created-from-salesforce-lead' is already the tag of tags.created_from_lead",
        ),
        (
            {"version": 1, "tags": {"created_from_lead": " "}},
            "tags.created_from_lead: must be a non-empty string, not ' '",
        ),
        (
            {"version": 1, "mappings": {"Lead": {"email": "Email"}}},
            "mappings.Lead: must be a list of field mappings, not an object",
        ),
    ],
)
def test_each_bad_setting_is_named(document: dict[str, Any], message: str) -> None:
    assert refusal(document) == message


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="configuration: must be an object, not a list"):
        Configuration.from_document([])  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "matching": "fuzzy",
        "mappings": {"Lead": [entry("city", "City", "sometimes")]},
        "surprise": True,
    }
    with pytest.raises(InvalidConfiguration) as refused:
        Configuration.from_document(document)
    assert len(refused.value.problems) == 4
    assert str(refused.value).startswith(
        "4 problems in the configuration:\n- surprise: unknown top-level key"
    )


def test_comments_are_allowed_anywhere() -> None:
    Configuration.from_document({"//": "hello", "version": 1, "objects": {"// why": "because", "lead": True}})


def test_every_problem_of_one_entry_and_of_its_list_is_reported_beside_each_other() -> None:
    document = {
        "version": 1,
        "objects": {"account_fields": True},
        "mappings": {
            "Lead": [
                entry("email", "Email", "sometimes", direction="in"),
                entry("phone", "Phone"),
                entry("mobile", "phone"),
                entry("fax", "Fax", sync_blanks="yes"),
            ],
            "Account": [],
        },
    }
    assert refusal(document).splitlines() == [
        "5 problems in the configuration:",
        "- mappings.Lead[0].direction: unknown key (expected one of: marketing_field, salesforce_field, behaviour, "
        "sync_blanks)",
        f"- mappings.Lead[0].behaviour: unknown behaviour 'sometimes' (expected one of: {BEHAVIOURS})",
        "- mappings.Lead[2]: duplicate mapping: Salesforce field 'phone' is already mapped at mappings.Lead[1]",
        "- mappings.Lead[3].sync_blanks: must be true or false, not 'yes'",
        "- mappings.Account: objects.account_fields is on but no Account field is mapped",
    ]


def test_the_schema_an_editor_checks_with_may_be_named_at_the_top_only() -> None:
    document = {"$schema": "./crmsync.schema.json", "version": 1}
    assert Configuration.from_document(document) == Configuration.default()

    assert refusal({"version": 1, "objects": {"$schema": "./crmsync.schema.json"}}) == (
        "objects.$schema: unknown key (expected one of: lead, contact, person_account, account_fields, opportunities)"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"version": 1, "": 1},
            ": unknown top-level key (expected one of: version, matching, conflict_winner, objects, mappings, "
            "outbound, inbound, owner, tags, batching, activities, automation, prospect_fields)",
        ),
        (
            {"version": 1, "mappings": {"[key]": []}},
            "mappings.[key]: unknown key (expected one of: Lead, Contact, PersonAccount, Account)",
        ),
        (
            {"version": 1, "owner": {"user_map": {"[key]": "m1"}}},
            "owner.user_map.[key]: is not a Salesforce user id (15 or 18 characters starting with 005)",
        ),
    ],
)
def test_a_key_is_named_as_written_whatever_it_is(document: dict[str, Any], message: str) -> None:
    assert refusal(document) == message


# -- against the org's describe ---------------------------------------------------------------


def describe(sobject: str, *fields: FieldDescription) -> ObjectDescription:
    return ObjectDescription(sobject, {f.name: f for f in fields})


def writable(name: str, field_type: str = "string") -> FieldDescription:
    return FieldDescription(name, field_type, createable=True, updateable=True)


def read_only(name: str) -> FieldDescription:
    return FieldDescription(name, "string")


EXTERNAL_KEY = FieldDescription(
    "Crmsync_Key__c", "string", createable=True, updateable=True, external_id=True
)


def org(**extra: ObjectDescription) -> dict[str, ObjectDescription]:
    names = ("Email", "FirstName", "LastName", "Company", "Title", "Phone")
    return {
        "Lead": describe("Lead", *(writable(n) for n in names), EXTERNAL_KEY),
        "Contact": describe("Contact", *(writable(n) for n in names), EXTERNAL_KEY),
        **extra,
    }


def lead_config(*entries: dict[str, Any], **settings: Any) -> Configuration:
    return Configuration.from_document({**with_lead_mapping(*entries), **settings})


def validation_problems(config: Configuration, describes: dict[str, ObjectDescription]) -> tuple[str, ...]:
    with pytest.raises(InvalidConfiguration) as refused:
        config.validate_against(describes)
    return refused.value.problems


def test_the_default_configuration_fits_a_standard_org() -> None:
    Configuration.default().validate_against(org())


def test_a_field_salesforce_does_not_have_is_refused() -> None:
    config = lead_config(
        entry("email", "Email"),
        entry("colour", "Colour__c", "salesforce"),
        prospect_fields={"colour": "text"},
    )
    assert validation_problems(config, org()) == (
        "mappings.Lead[1].salesforce_field: Lead has no field 'Colour__c'",
    )


def test_field_names_are_matched_without_case_as_salesforce_does() -> None:
    lead_config(entry("email", "EMAIL")).validate_against(org())


@pytest.mark.parametrize(
    ("described", "behaviour", "message"),
    [
        (
            FieldDescription("Rating__c", "string", calculated=True),
            "most_recent",
            "mappings.Lead[0].salesforce_field: Lead.Rating__c is a formula field; behaviour 'most_recent' writes "
            "to it, use 'salesforce' or 'none'",
        ),
        (
            read_only("Rating__c"),
            "marketing",
            "mappings.Lead[0].salesforce_field: Lead.Rating__c is not updateable or createable for the connector; "
            "behaviour 'marketing' writes to it, use 'salesforce' or 'none'",
        ),
        (
            FieldDescription("Rating__c", "string", createable=True),
            "prefer_salesforce_unless_blank",
            "mappings.Lead[0].salesforce_field: Lead.Rating__c is not updateable for the connector; behaviour "
            "'prefer_salesforce_unless_blank' writes to it, use 'salesforce' or 'none'",
        ),
    ],
)
def test_a_field_salesforce_will_not_let_the_connector_write_is_refused_for_a_writing_behaviour(
    described: FieldDescription, behaviour: str, message: str
) -> None:
    describes = org(Lead=describe("Lead", described, EXTERNAL_KEY))
    config = lead_config(entry("rating", "Rating__c", behaviour), prospect_fields={"rating": "text"})
    assert validation_problems(config, describes) == (message,)


@pytest.mark.parametrize("behaviour", ["salesforce", "none"])
def test_a_read_only_field_is_fine_for_a_behaviour_that_never_writes_salesforce(behaviour: str) -> None:
    describes = org(
        Lead=describe("Lead", FieldDescription("Rating__c", "string", calculated=True), EXTERNAL_KEY)
    )
    lead_config(entry("rating", "Rating__c", behaviour), prospect_fields={"rating": "text"}).validate_against(
        describes
    )


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (
            None,
            "Contact has no field 'Crmsync_Key__c'; automation actions stamp it with the prospect id on "
            "create, so a retried action finds its record: create it (Text, External ID, Unique) or name another",
        ),
        (
            FieldDescription("Crmsync_Key__c", "string", createable=True, updateable=True),
            "Contact.Crmsync_Key__c is not an External ID field; an upsert needs one",
        ),
        (
            FieldDescription("Crmsync_Key__c", "string", external_id=True),
            "Contact.Crmsync_Key__c is not createable and updateable for the connector",
        ),
    ],
)
def test_the_external_id_field_automation_actions_stamp_must_be_one(
    key: FieldDescription | None, problem: str
) -> None:
    names = ("Email", "FirstName", "LastName", "Company", "Title", "Phone")
    contact = describe("Contact", *(writable(n) for n in names), *([key] if key else []))
    assert validation_problems(Configuration.default(), org(Contact=contact)) == (
        f"automation.external_id_field: {problem}",
    )


def test_the_external_id_field_is_checked_under_the_name_the_configuration_gives() -> None:
    config = Configuration.from_document(
        {"version": 1, "automation": {"external_id_field": "Marketo_Key__c"}}
    )
    assert validation_problems(config, org()) == (
        "automation.external_id_field: Lead has no field 'Marketo_Key__c'; automation actions stamp it with "
        "the prospect id on create, so a retried action finds its record: create it (Text, External ID, "
        "Unique) or name another",
        "automation.external_id_field: Contact has no field 'Marketo_Key__c'; automation actions stamp it with "
        "the prospect id on create, so a retried action finds its record: create it (Text, External ID, "
        "Unique) or name another",
    )


def test_person_account_fields_are_checked_against_the_account_describe() -> None:
    document = {
        "version": 1,
        "objects": {"person_account": True},
        "mappings": {"PersonAccount": [entry("email", "PersonEmail"), entry("phone", "Fax__c")]},
    }
    describes = org(Account=describe("Account", writable("PersonEmail")))
    assert validation_problems(Configuration.from_document(document), describes) == (
        "mappings.PersonAccount[1].salesforce_field: Account has no field 'Fax__c'",
    )


def test_objects_that_do_not_sync_are_not_checked() -> None:
    document = {
        "version": 1,
        "objects": {"contact": False},
        "mappings": {"Contact": [entry("notes", "Nope__c")]},
    }
    Configuration.from_document(document).validate_against({"Lead": org()["Lead"]})


def test_a_missing_describe_is_named() -> None:
    assert validation_problems(Configuration.default(), {"Lead": org()["Lead"]}) == (
        "mappings.Contact: no describe of Contact to check the fields against",
    )


@pytest.mark.parametrize(
    ("marketing", "salesforce_type", "behaviour"),
    [
        ("job_title", "int", "most_recent"),
        ("job_title", "boolean", "salesforce"),
        ("score", "string", "marketing"),
        ("company_employees", "date", "salesforce"),
        ("opted_out", "picklist", "prefer_salesforce_unless_blank"),
        ("job_title", "address", "salesforce"),
    ],
)
def test_a_mapping_between_types_whose_values_do_not_fit_is_refused_naming_both(
    marketing: str, salesforce_type: str, behaviour: str
) -> None:
    config = lead_config(entry(marketing, "Size__c", behaviour))
    describes = org(Lead=describe("Lead", writable("Size__c", salesforce_type), EXTERNAL_KEY))
    kind = config.prospect_fields.type_of(marketing)
    (problem,) = validation_problems(config, describes)
    assert problem.startswith(
        f"mappings.Lead[0]: prospect field {marketing!r} is {kind} but Lead.Size__c is {salesforce_type}: "
        "their values do not fit each other (a "
    )


@pytest.mark.parametrize(
    ("marketing", "salesforce_type"),
    [
        ("job_title", "string"),
        ("job_title", "picklist"),
        ("email", "email"),
        ("score", "double"),
        ("score", "int"),
        ("company_annual_revenue", "currency"),
        ("opted_out", "boolean"),
        ("job_title", "reference"),
        ("job_title", "someFutureType"),
    ],
)
def test_a_mapping_between_types_that_fit_is_accepted(marketing: str, salesforce_type: str) -> None:
    config = lead_config(entry(marketing, "Size__c", "most_recent" if marketing != "score" else "marketing"))
    config.validate_against(org(Lead=describe("Lead", writable("Size__c", salesforce_type), EXTERNAL_KEY)))


def test_a_mapping_that_moves_nothing_is_not_checked_for_types() -> None:
    config = lead_config(entry("job_title", "Size__c", "none"))
    config.validate_against(org(Lead=describe("Lead", writable("Size__c", "int"), EXTERNAL_KEY)))


def test_declared_date_and_datetime_fields_map_onto_their_salesforce_kinds() -> None:
    config = lead_config(
        entry("trial_ends", "Trial_End__c", "salesforce"),
        entry("last_webinar_at", "Last_Webinar__c", "most_recent"),
        prospect_fields={"trial_ends": "date", "last_webinar_at": "datetime"},
    )
    fitting = describe(
        "Lead", writable("Trial_End__c", "date"), writable("Last_Webinar__c", "datetime"), EXTERNAL_KEY
    )
    config.validate_against(org(Lead=fitting))
    swapped = describe(
        "Lead", writable("Trial_End__c", "datetime"), writable("Last_Webinar__c", "date"), EXTERNAL_KEY
    )
    assert len(validation_problems(config, org(Lead=swapped))) == 2


def test_scope_fields_must_exist_and_a_flag_must_be_a_checkbox() -> None:
    document = {
        "version": 1,
        "outbound": {
            "scope": {
                "Lead": {"criteria": [{"field": "Region__c", "operator": "equals", "value": "EMEA"}]},
                "Contact": {"flagged": "Title"},
            }
        },
    }
    assert validation_problems(Configuration.from_document(document), org()) == (
        "outbound.scope.Lead.criteria[0].field: Lead has no field 'Region__c'",
        "outbound.scope.Contact.flagged: Contact.Title is a string, not a checkbox",
    )


def test_opportunities_need_their_fixed_fields() -> None:
    config = Configuration.from_document({"version": 1, "objects": {"opportunities": True}})
    describes = org(Opportunity=describe("Opportunity", read_only("Name"), read_only("Amount")))
    assert validation_problems(config, describes) == (
        "objects.opportunities: Opportunity has no field StageName, CloseDate",
    )
    full = org(
        Opportunity=describe("Opportunity", *(read_only(m.salesforce_field) for m in OPPORTUNITY_MAPPING))
    )
    config.validate_against(full)


def test_the_sample_file_fits_an_org_that_has_its_fields() -> None:
    config = Configuration.from_document(sample_document())
    describes: dict[str, ObjectDescription] = {}
    types = {"Sync_To_Marketing__c": "boolean", "Marketing_Score__c": "double", "NumberOfEmployees": "int"}
    for mapped, entries in config.mappings.items():
        fields = {m.salesforce_field for m in entries} | {"Sync_To_Marketing__c", "LeadSource", "Country"}
        sobject = mapped.sobject
        existing = describes.get(sobject, ObjectDescription(sobject)).fields
        described = {n: writable(n, types.get(n, "string")) for n in fields}
        describes[sobject] = ObjectDescription(sobject, {**existing, **described})
    for sobject in ("Lead", "Contact"):
        describes[sobject] = ObjectDescription(
            sobject, {**describes[sobject].fields, "Crmsync_Key__c": EXTERNAL_KEY}
        )
    describes["Opportunity"] = describe(
        "Opportunity", *(read_only(m.salesforce_field) for m in OPPORTUNITY_MAPPING)
    )
    config.validate_against(describes)


def test_the_document_is_not_modified_by_reading_it() -> None:
    document = sample_document()
    before = copy.deepcopy(document)
    Configuration.from_document(document)
    assert document == before


def test_a_default_account_named_by_id_reads_and_an_id_of_another_object_is_refused() -> None:
    account_id = "001000000000001AAA"
    document = {"version": 3, "automation": {"default_account": {"id": account_id}}}

    assert Configuration.from_document(document).automation.default_account == DefaultAccount(id=account_id)
    refused = refusal({"version": 3, "automation": {"default_account": {"id": "003000000000001AAA"}}})
    assert "automation.default_account.id: is not an Account id" in refused
