"""Connector control through the HTTP entry point's handler with its sample events: loading the
configuration (`PUT /config`), reading it (`GET /config`), pause and resume
(docs/guide/control.md)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.config import Configuration
from crmsync.domain.errors import ErrorCategory, Failure, StoreError

from functions.http_api import app
from local.aws_stack import LocalStack
from local.salesforce_emulator import Emulator

from .conftest import LambdaContext, load_event

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json").read_text())


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def put_config(document: Any) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "put_config")
    event["body"] = document if isinstance(document, str) else json.dumps(document)
    return call(event)


def get_config() -> dict[str, Any]:
    status, body = call(load_event("http_api", "get_config"))
    assert status == 200
    return body


def status() -> dict[str, Any]:
    code, body = call(load_event("http_api", "status"))
    assert code == 200
    return body


def with_version(document: dict[str, Any], version: int) -> dict[str, Any]:
    return {**document, "version": version}


def assert_nothing_loaded() -> None:
    assert get_config()["loaded"] is False
    assert status()["config_version"] is None


# ------------------------------------------------------------------ loading


@pytest.mark.over_https  # the one test of this route whose org is served: a socket and TLS
def test_the_sample_configuration_is_loaded_with_its_version(connector: LocalStack) -> None:
    # WHEN the sample event (body: config/crmsync.sample.json) is sent
    code, body = call(load_event("http_api", "put_config"))

    # THEN it is loaded under its version
    assert (code, body) == (200, {"loaded": True, "version": 1})
    # AND GET /config gives back the document as it was loaded, comments included
    assert get_config() == {"loaded": True, "version": 1, "document": SAMPLE}
    # AND the status names the version in force, and loading did not start the connector
    assert status()["config_version"] == 1
    assert status()["state"] == "paused"


def test_before_any_load_get_config_shows_the_default_configuration(connector: LocalStack) -> None:
    default = Configuration.default()
    assert get_config() == {"loaded": False, "version": default.version, "document": default.to_document()}


def test_the_next_run_reads_the_configuration_loaded_last(connector: LocalStack) -> None:
    assert bootstrap.configuration() == Configuration.default()

    put_config({"version": 1, "matching": "crm_id"})
    assert bootstrap.configuration().matching == "crm_id"

    put_config({"version": 2, "matching": "email"})
    configuration = bootstrap.configuration()
    assert (configuration.version, configuration.matching) == (2, "email")


def test_an_invalid_document_is_refused_naming_every_bad_entry_and_nothing_is_loaded(
    connector: LocalStack, emulator: Emulator
) -> None:
    document = {
        "version": 2,
        "mappings": {
            "Lead": [
                {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "sometimes"},
                {"marketing_field": "phone", "salesforce_field": "Phone", "behaviour": "most_recent"},
                {"marketing_field": "mobile", "salesforce_field": "Phone", "behaviour": "salesforce"},
            ]
        },
        "outbound": {
            "scope": {"Lead": {"criteria": [{"field": "LeadSource", "operator": "like", "value": "Web"}]}}
        },
    }
    emulator.reset_counters()

    code, body = put_config(document)

    assert code == 400
    assert body["message"] == "the configuration is invalid; nothing was loaded"
    problems = body["problems"]
    assert len(problems) == 3
    assert problems[0].startswith("mappings.Lead[0].behaviour: unknown behaviour 'sometimes'")
    assert problems[1].startswith("mappings.Lead[2]: duplicate mapping: Salesforce field 'Phone'")
    assert problems[2].startswith("outbound.scope.Lead.criteria[0].operator: unknown operator 'like'")
    assert emulator.api_calls == 0, "a document that does not read costs no Salesforce call"
    assert_nothing_loaded()


def test_fields_salesforce_does_not_have_or_will_not_let_the_connector_write_are_refused(
    connector: LocalStack,
) -> None:
    document = {
        "version": 1,
        "mappings": {
            "Lead": [
                {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
                {
                    "marketing_field": "shoe_size",
                    "salesforce_field": "Shoe_Size__c",
                    "behaviour": "salesforce",
                },
                {
                    "marketing_field": "full_name",
                    "salesforce_field": "Full_Name__c",
                    "behaviour": "marketing",
                },
                {"marketing_field": "created", "salesforce_field": "CreatedDate", "behaviour": "most_recent"},
            ]
        },
        "prospect_fields": {"shoe_size": "number", "full_name": "text", "created": "datetime"},
        "outbound": {"scope": {"Contact": {"flagged": "In_Marketing__c"}}},
    }

    code, body = put_config(document)

    assert code == 400
    assert body["problems"] == [
        "mappings.Lead[1].salesforce_field: Lead has no field 'Shoe_Size__c'",
        "mappings.Lead[2].salesforce_field: Lead.Full_Name__c is a formula field; behaviour 'marketing' "
        "writes to it, use 'salesforce' or 'none'",
        "mappings.Lead[3].salesforce_field: Lead.CreatedDate is not updateable or createable for the "
        "connector; behaviour 'most_recent' writes to it, use 'salesforce' or 'none'",
        "outbound.scope.Contact.flagged: Contact has no field 'In_Marketing__c'",
    ]
    assert_nothing_loaded()


def test_a_marketing_field_no_prospect_has_is_refused_naming_its_entry_before_any_salesforce_call(
    connector: LocalStack, emulator: Emulator
) -> None:
    document = {
        "version": 1,
        "mappings": {
            "Lead": [
                {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
                {
                    "marketing_field": "first_name",
                    "salesforce_field": "FirstName",
                    "behaviour": "most_recent",
                },
                {"marketing_field": "last_name", "salesforce_field": "LastName", "behaviour": "most_recent"},
                {"marketing_field": "emial", "salesforce_field": "Title", "behaviour": "salesforce"},
            ]
        },
    }
    emulator.reset_counters()

    code, body = put_config(document)

    assert code == 400
    assert body["problems"] == [
        "mappings.Lead[3].marketing_field: no prospect has a field 'emial' (did you mean 'email'?): use a "
        "built-in field or declare it under prospect_fields with its type"
    ]
    assert emulator.api_calls == 0
    assert_nothing_loaded()


def test_a_text_field_mapped_onto_a_salesforce_number_is_refused_naming_both_types(
    connector: LocalStack,
) -> None:
    document = {
        "version": 1,
        "objects": {"account_fields": True},
        "mappings": {
            "Lead": [
                {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
                {
                    "marketing_field": "job_title",
                    "salesforce_field": "NumberOfEmployees",
                    "behaviour": "most_recent",
                },
            ],
            "Account": [
                {
                    "marketing_field": "company_employees",
                    "salesforce_field": "NumberOfEmployees",
                    "behaviour": "salesforce",
                },
            ],
        },
    }

    code, body = put_config(document)

    assert code == 400
    assert body["problems"] == [
        "mappings.Lead[1]: prospect field 'job_title' is text but Lead.NumberOfEmployees is int: their values "
        "do not fit each other (a text prospect field maps onto Salesforce fields of type combobox, email, "
        "encryptedstring, id, multipicklist, phone, picklist, reference, string, textarea, time, url)"
    ]
    assert_nothing_loaded()


def test_read_only_fields_are_accepted_where_the_connector_only_reads_them(connector: LocalStack) -> None:
    document = {
        "version": 1,
        "mappings": {
            "Lead": [
                {"marketing_field": "email", "salesforce_field": "Email", "behaviour": "most_recent"},
                {
                    "marketing_field": "full_name",
                    "salesforce_field": "Full_Name__c",
                    "behaviour": "salesforce",
                },
                {"marketing_field": "created", "salesforce_field": "CreatedDate", "behaviour": "none"},
            ]
        },
        "prospect_fields": {"full_name": "text", "created": "datetime"},
    }

    assert put_config(document) == (200, {"loaded": True, "version": 1})


def test_a_version_not_above_the_one_in_force_is_refused_and_the_loaded_one_stays(
    connector: LocalStack,
) -> None:
    assert put_config(with_version(SAMPLE, 2))[0] == 200

    for stale in (2, 1):
        code, body = put_config(with_version(SAMPLE, stale) | {"matching": "crm_id"})
        assert code == 409
        assert body["current_version"] == 2
        assert f"version: {stale} is not newer than the configuration in force (version 2)" in body["message"]

    assert get_config()["document"] == with_version(SAMPLE, 2)
    assert status()["config_version"] == 2


def test_a_body_that_is_not_json_is_refused(connector: LocalStack) -> None:
    code, body = put_config('{"version": 2,')

    assert code == 400
    assert body["message"] == "the body must be the configuration document, as JSON"
    assert body["problems"][0].startswith("body: is not JSON")
    assert_nothing_loaded()


def test_a_body_that_is_json_but_not_an_object_is_refused(connector: LocalStack) -> None:
    code, body = put_config("[1, 2]")

    assert code == 400
    assert body["problems"] == ["configuration: must be an object, not a list"]


def test_a_document_with_a_duplicate_key_is_refused_naming_it_and_nothing_is_loaded(
    connector: LocalStack, emulator: Emulator
) -> None:
    # GIVEN an edit that added a second "behaviour" to an entry instead of changing the first
    text = json.dumps(with_version(SAMPLE, 2)).replace(
        '"behaviour": "marketing"', '"behaviour": "marketing", "behaviour": "salesforce"', 1
    )
    emulator.reset_counters()

    code, body = put_config(text)

    assert code == 400
    assert body["problems"] == [
        "mappings.Lead[7].behaviour: appears more than once in one object (duplicate keys are refused)"
    ]
    assert emulator.api_calls == 0
    assert_nothing_loaded()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            '{"version": ' + "[" * 4000 + "]" * 4000 + "}", "body: is nested more than 32", id="deep"
        ),
        pytest.param('{"version": NaN}', "body: NaN is not a JSON number", id="NaN"),
        pytest.param('{"version": 1e999}', "body: the number 1e999 is too large", id="huge float"),
    ],
)
def test_a_body_that_is_not_strict_json_is_refused_with_400(
    connector: LocalStack, body: str, problem: str
) -> None:
    code, answer = put_config(body)

    assert code == 400
    assert answer["problems"][0].startswith(problem)
    assert_nothing_loaded()


def test_a_version_beyond_what_the_history_keys_can_order_is_refused(connector: LocalStack) -> None:
    code, body = put_config(with_version(SAMPLE, 10**12))

    assert code == 400
    assert body["problems"] == ["version: must be from 1 to 9999999999, not 1000000000000"]
    assert_nothing_loaded()


def test_a_document_over_dynamodbs_item_size_is_refused_with_413_naming_the_limit(
    connector: LocalStack, emulator: Emulator
) -> None:
    # GIVEN a valid configuration of about 500 KB (its comments grew with every edit)
    document = with_version(SAMPLE, 2) | {"// history": "changed the mapping; " * 25_000}
    emulator.reset_counters()

    code, body = put_config(document)

    # THEN it is refused before anything is asked of Salesforce or written
    stored = len(json.dumps(document, ensure_ascii=False).encode())
    assert code == 413
    assert body["size"] == stored
    assert 409_000 < body["limit"] < 409_600
    assert body["problems"] == [
        f"configuration: is {stored:,} bytes as stored (compact JSON, UTF-8); at most {body['limit']:,} bytes "
        "are accepted (DynamoDB's 400 KB item limit, less the version and timestamps kept beside it): "
        "shorten it, for example its comments"
    ]
    assert emulator.api_calls == 0
    assert_nothing_loaded()

    # AND the same document with its comment shortened loads
    code, body = put_config(document | {"// history": "changed the mapping; " * 10_000})
    assert (code, body) == (200, {"loaded": True, "version": 2})


def test_a_body_far_beyond_any_configuration_is_refused_before_it_is_read(connector: LocalStack) -> None:
    code, body = put_config('{"version": 2, "// padding": "' + "x" * (1024 * 1024) + '"}')

    assert code == 413
    assert body["problems"] == ["body: is 1,048,608 bytes; at most 1,048,576 are read"]
    assert_nothing_loaded()


class FailingConfigStore:
    """The state table as the configuration store meets it when DynamoDB refuses the write."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure

    def current(self) -> None:
        return None

    def check_fits(self, document: Any) -> None:
        pass

    def save(self, document: Any) -> int:
        raise StoreError(self.failure)


@pytest.mark.parametrize(
    ("failure", "status", "says"),
    [
        pytest.param(
            Failure("ThrottlingException", "Rate exceeded", category=ErrorCategory.TRANSIENT),
            503,
            "the configuration store cannot be reached just now; push it again later; nothing was loaded: "
            "ThrottlingException: Rate exceeded",
            id="throttled",
        ),
        pytest.param(
            Failure("ValidationException", "Item size has exceeded the maximum allowed size"),
            422,
            "the configuration store refused the document; nothing was loaded: "
            "ValidationException: Item size has exceeded the maximum allowed size",
            id="refused",
        ),
        pytest.param(
            Failure("AccessDeniedException", "not authorized", category=ErrorCategory.PERMISSION),
            500,
            "the configuration store cannot be used, and an operator has to look; nothing was loaded: "
            "AccessDeniedException: not authorized",
            id="not allowed",
        ),
    ],
)
def test_every_store_failure_while_loading_is_answered_with_what_went_wrong(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch, failure: Failure, status: int, says: str
) -> None:
    monkeypatch.setattr(bootstrap, "config_store", functools.cache(lambda: FailingConfigStore(failure)))

    code, body = put_config(with_version(SAMPLE, 2))

    assert code == status
    assert body["message"] == says
    assert body["retryable"] is failure.retryable
    assert body["store"] == {
        "code": failure.code,
        "category": failure.category.value,
        "message": failure.message,
    }


@pytest.mark.outside_the_stack
def test_a_state_table_that_does_not_exist_is_answered_as_a_fault_of_the_stack(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMSYNC_STATE_TABLE", "no-such-table")
    bootstrap.reset()

    code, body = put_config(with_version(SAMPLE, 2))

    assert code == 500
    assert body["retryable"] is False
    assert body["store"]["code"] == "ResourceNotFoundException"


def test_when_salesforce_cannot_describe_the_objects_nothing_is_loaded(
    connector: LocalStack, emulator: Emulator
) -> None:
    emulator.faults.server_errors(count=10, status=503)

    code, body = call(load_event("http_api", "put_config"))

    assert code == 503
    assert body["message"].startswith(
        "cannot check the configuration against Salesforce, so it was not loaded"
    )
    assert body["salesforce"]["category"] == "transient"
    assert_nothing_loaded()


def test_a_salesforce_secret_that_cannot_be_used_is_reported_as_the_reason(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMSYNC_SALESFORCE_SECRET_ARN", "")
    bootstrap.reset()

    code, body = call(load_event("http_api", "put_config"))

    assert code == 503
    assert body["salesforce"]["category"] == "configuration"
    assert "CRMSYNC_SALESFORCE_SECRET_ARN is not set" in body["salesforce"]["message"]
    assert_nothing_loaded()


# ------------------------------------------------------------------ pause and resume


def test_a_new_connector_is_paused_and_resume_and_pause_switch_it(connector: LocalStack) -> None:
    assert status()["state"] == "paused"

    code, body = call(load_event("http_api", "resume"))
    assert (code, body["state"]) == (200, "running")
    assert status()["state"] == "running"

    code, body = call(load_event("http_api", "pause"))
    assert (code, body["state"]) == (200, "paused")
    assert status()["state"] == "paused"


def test_loading_a_configuration_leaves_a_running_connector_running(connector: LocalStack) -> None:
    call(load_event("http_api", "put_config"))
    call(load_event("http_api", "resume"))

    assert put_config(with_version(SAMPLE, 2))[0] == 200

    assert (status()["state"], status()["config_version"]) == ("running", 2)
