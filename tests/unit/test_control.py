"""Connector control use cases (docs/guide/control.md) on fakes: what loading a configuration asks of
Salesforce, when it saves, pause and resume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from crmsync.config import Configuration, InvalidConfiguration, StaleConfigurationVersion
from crmsync.domain.errors import CrmError, Failure
from crmsync.domain.records import FieldDescription, ObjectDescription
from crmsync.ports import ConnectorState, CrmGateway
from crmsync.sync import control


def writable(name: str, type_: str = "string") -> FieldDescription:
    return FieldDescription(name, type_, createable=True, updateable=True)


EXTERNAL_KEY = FieldDescription(
    "Crmsync_Key__c", "string", createable=True, updateable=True, external_id=True
)

ORG = {
    "Lead": ObjectDescription(
        "Lead",
        {
            **{name: writable(name) for name in ("Email", "LastName", "Company", "LeadSource")},
            "Crmsync_Key__c": EXTERNAL_KEY,
        },
    ),
    "Contact": ObjectDescription(
        "Contact",
        {
            "Email": writable("Email"),
            "LastName": writable("LastName"),
            "Sync__c": writable("Sync__c", "boolean"),
            "Crmsync_Key__c": EXTERNAL_KEY,
        },
    ),
    "Account": ObjectDescription("Account", {"Industry": writable("Industry")}),
    "Opportunity": ObjectDescription(
        "Opportunity", {name: writable(name) for name in ("Name", "Amount", "StageName", "CloseDate")}
    ),
}


class FakeOrg:
    """Answers describe from `ORG` and remembers what it was asked."""

    def __init__(self, failure: Failure | None = None) -> None:
        self.described: list[str] = []
        self.failure = failure

    def describe(self, sobject: str) -> ObjectDescription:
        if self.failure is not None:
            raise CrmError(self.failure)
        self.described.append(sobject)
        return ORG[sobject]


class FakeConfigStore:
    def __init__(self, current: Mapping[str, Any] | None = None) -> None:
        self.saved: list[Mapping[str, Any]] = [current] if current is not None else []

    def current(self) -> Mapping[str, Any] | None:
        return self.saved[-1] if self.saved else None

    def check_fits(self, document: Mapping[str, Any]) -> None:
        pass

    def save(self, document: Mapping[str, Any]) -> int:
        self.saved.append(document)
        return int(document["version"])


class FakeState:
    def __init__(self) -> None:
        self.state = ConnectorState(paused=True)

    def connector_state(self) -> ConnectorState:
        return self.state

    def set_paused(self, paused: bool) -> None:
        self.state = ConnectorState(paused=paused, config_version=self.state.config_version)


def gateway_of(org: FakeOrg) -> CrmGateway:
    return org  # type: ignore[return-value]  # describe is all loading a configuration uses


def never_called() -> CrmGateway:
    raise AssertionError("Salesforce must not be asked")


def mapping(marketing: str, salesforce: str, behaviour: str = "most_recent") -> dict[str, str]:
    return {"marketing_field": marketing, "salesforce_field": salesforce, "behaviour": behaviour}


LEADS_AND_OPPORTUNITIES = {
    "version": 4,
    "// why": "comments are kept",
    "objects": {"lead": True, "contact": False, "opportunities": True},
    "mappings": {
        "Lead": [mapping("email", "Email"), mapping("last_name", "LastName")],
        "Contact": [mapping("email", "Email")],
    },
    "outbound": {"scope": {"Contact": {"flagged": "Sync__c"}}},
}


def test_only_synced_objects_are_described_and_the_document_is_saved_as_written() -> None:
    org, store = FakeOrg(), FakeConfigStore()

    loaded = control.load_configuration(LEADS_AND_OPPORTUNITIES, lambda: gateway_of(org), store)

    assert loaded == Configuration.from_document(LEADS_AND_OPPORTUNITIES)
    # Contacts do not sync, but automation actions create them: described for the external id
    # field; Accounts are not described.
    assert sorted(org.described) == ["Contact", "Lead", "Opportunity"]
    assert store.saved == [LEADS_AND_OPPORTUNITIES]


def test_a_scope_filter_field_gets_its_object_described() -> None:
    org = FakeOrg()
    document = {
        "version": 1,
        "objects": {"lead": False, "contact": True},
        "mappings": {"Contact": []},
        "outbound": {"scope": {"Contact": {"flagged": "Sync__c"}}},
    }

    control.load_configuration(document, lambda: gateway_of(org), FakeConfigStore())

    assert sorted(org.described) == ["Contact", "Lead"]


def test_nothing_is_saved_when_describe_refuses_a_field() -> None:
    store = FakeConfigStore()
    document = {
        "version": 1,
        "objects": {"contact": False},
        "mappings": {"Lead": [mapping("job_title", "Title")]},
    }

    with pytest.raises(InvalidConfiguration) as refused:
        control.load_configuration(document, lambda: gateway_of(FakeOrg()), store)

    assert refused.value.problems == ("mappings.Lead[0].salesforce_field: Lead has no field 'Title'",)
    assert store.saved == []


def test_a_document_that_does_not_read_costs_no_salesforce_call() -> None:
    store = FakeConfigStore()

    with pytest.raises(InvalidConfiguration):
        control.load_configuration({"version": 0}, never_called, store)

    assert store.saved == []


def test_a_version_not_above_the_one_in_force_is_refused_before_salesforce_is_asked() -> None:
    store = FakeConfigStore(current={"version": 4})

    with pytest.raises(StaleConfigurationVersion) as refused:
        control.load_configuration(LEADS_AND_OPPORTUNITIES, never_called, store)

    assert (refused.value.offered, refused.value.current) == (4, 4)
    assert store.saved == [{"version": 4}]


def test_a_salesforce_that_cannot_describe_is_reported_with_its_reason_and_nothing_is_saved() -> None:
    store = FakeConfigStore()
    failure = Failure.of("SERVER_UNAVAILABLE", "down for maintenance", http_status=503)

    with pytest.raises(control.SalesforceUnavailable) as refused:
        control.load_configuration(LEADS_AND_OPPORTUNITIES, lambda: gateway_of(FakeOrg(failure)), store)

    assert refused.value.failure == failure
    assert "SERVER_UNAVAILABLE: down for maintenance" in str(refused.value)
    assert store.saved == []


def test_the_configuration_in_force_is_the_default_until_one_is_loaded() -> None:
    store = FakeConfigStore()
    assert control.current_configuration(store) == Configuration.default()
    assert control.configuration_report(store)["loaded"] is False

    store.save(LEADS_AND_OPPORTUNITIES)

    assert control.current_configuration(store) == Configuration.from_document(LEADS_AND_OPPORTUNITIES)
    assert control.configuration_report(store) == {
        "loaded": True,
        "version": 4,
        "document": LEADS_AND_OPPORTUNITIES,
    }


def test_pause_and_resume_switch_the_connector_state() -> None:
    state = FakeState()

    control.resume(state)
    assert state.connector_state().paused is False

    control.pause(state)
    assert state.connector_state().paused is True
