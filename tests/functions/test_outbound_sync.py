"""Outbound sync (Salesforce → marketing) through its handler, with the scheduler's sample event.

What a user sees after each scheduled run: the prospects and their tags and fields, the links,
the audit trail, the error list, and the Salesforce API calls spent (`Emulator.call_log`).
The org's clock runs an hour behind (see `OutboundConnector`); a test moves it on before every
change it makes after a run, as time would.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.prospects import is_prospect_key
from crmsync.domain.audit import AuditRecord
from crmsync.domain.errors import ConfigurationError, CrmError, ErrorCategory
from crmsync.domain.lifecycle import LinkStatus, StoredLink
from crmsync.domain.plan import Reason
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.sync.run_report import metric_name

from functions.outbound_sync import app
from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.runtime.schedules import let_schedules_pass
from local.salesforce_emulator import Emulator, ManualClock
from tests.unit.test_architecture import imports_after

from .conftest import CLIENT_ID, REGION, USERNAME, LambdaContext, OutboundConnector, load_event

ADMIN_EMAIL = "admin@crmsync.emulator"  # every emulated org's administrator; owns what tests insert
LEAD_TAG = "created-from-salesforce-lead"
CONTACT_TAG = "created-from-salesforce-contact"
CONVERTED_TAG = "salesforce-lead-converted-to-contact"


# ------------------------------------------------------------------ invoking the handler


def new_context(remaining_millis: int = 60_000) -> LambdaContext:
    """A fresh invocation: every Lambda request has its own id (the run id)."""
    return LambdaContext(aws_request_id=str(uuid.uuid4()), remaining_millis=remaining_millis)


def run_outbound(context: LambdaContext | None = None) -> dict[str, Any]:
    """One scheduled invocation, as EventBridge Scheduler delivers it, once the schedule is due."""
    let_schedules_pass("outbound")
    report: dict[str, Any] = app.handler(load_event("outbound_sync", "scheduled"), context or new_context())
    return report


# ------------------------------------------------------------------ what a user sees


def all_prospects() -> list[Prospect]:
    """Every prospect of the built-in store (its index items left out)."""
    client = boto3.client("dynamodb", region_name=REGION)
    table = bootstrap.settings().prospects_table
    ids = [
        item["prospect_id"]["S"]
        for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="prospect_id")
        for item in page["Items"]
        if is_prospect_key(item["prospect_id"]["S"])
    ]
    return list(bootstrap.prospect_store().get_many(ids).values())


def link_of(crm_id: str) -> StoredLink | None:
    return bootstrap.link_store().by_crm_ids([crm_id]).get(crm_id)


def prospect_linked_to(crm_id: str) -> Prospect:
    stored = link_of(crm_id)
    assert stored is not None, f"{crm_id} is not linked to any prospect"
    return bootstrap.prospect_store().get_many([stored.link.prospect_id])[stored.link.prospect_id]


def audit_trail(prospect_id: str) -> list[AuditRecord]:
    return bootstrap.audit_trail().audit_trail(prospect_id)


def writes_to_salesforce(salesforce: Emulator) -> list[tuple[str, str]]:
    """Every API request that was not a read."""
    return [(method, path) for method, path in salesforce.call_log if method != "GET"]


# ------------------------------------------------------------------ Salesforce data


def insert_lead(salesforce: Emulator, **fields: Any) -> str:
    return salesforce.insert("Lead", {"LastName": "Hopper", "Company": "US Navy", **fields})


def insert_leads(salesforce: Emulator, clock: ManualClock, count: int, per_second: int) -> list[str]:
    """`count` Leads, `per_second` of them sharing each `SystemModstamp`."""
    ids = []
    for number in range(count):
        if number and number % per_second == 0:
            clock.advance(seconds=1)
        ids.append(insert_lead(salesforce, LastName=f"Lead {number:05d}", Email=f"lead{number}@example.com"))
    return ids


def later(connector: OutboundConnector) -> None:
    """Time passes in the org between two runs."""
    connector.clock.advance(minutes=1)


def assert_each_record_has_one_prospect(prospects: Iterable[Prospect], record_ids: list[str]) -> None:
    carried = Counter(p.crm_id for p in prospects)
    assert carried == Counter(record_ids), "every record has exactly one prospect, and no other exists"
    links = bootstrap.link_store().by_crm_ids(record_ids)
    assert set(links) == set(record_ids)
    assert len({stored.link.prospect_id for stored in links.values()}) == len(record_ids)


# ------------------------------------------------------------------ new records and scope


@pytest.mark.over_https  # the one test of this function whose org is served: a socket and TLS
def test_a_new_lead_becomes_a_prospect_tagged_with_its_origin_and_carrying_its_mapped_fields(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead created in Salesforce (default configuration: every Lead is in scope)
    lead_id = insert_lead(
        salesforce,
        FirstName="Grace",
        Email="grace@example.com",
        Title="Rear Admiral",
        Phone="+1 555 0100",
        Description="not a mapped field",
    )

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN a tagged prospect carries the Lead's mapped fields, linked to the Lead
    assert report["outcome"] == "completed"
    assert report["counts"]["created"] == 1
    assert datetime.fromisoformat(report["started_at"]) <= datetime.fromisoformat(report["finished_at"])
    prospect = prospect_linked_to(lead_id)
    assert prospect.fields == {
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company": "US Navy",
        "job_title": "Rear Admiral",
        "phone": "+1 555 0100",
    }
    assert prospect.tags == {LEAD_TAG}
    assert prospect.active
    assert prospect.crm_id == lead_id
    assert prospect.assigned_user == ADMIN_EMAIL, "the Lead's owner, matched to a marketing user by email"
    stored = link_of(lead_id)
    assert stored is not None and stored.link.status is LinkStatus.ACTIVE
    assert any(lead_id in entry.event for entry in audit_trail(prospect.id))
    assert all_prospects() == [prospect]
    assert bootstrap.error_list().open_errors() == []
    assert writes_to_salesforce(salesforce) == []


def test_a_lead_outside_the_scope_criteria_does_not_become_a_prospect(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN only web Leads sync
    bootstrap.load_configuration(
        {
            "version": 2,
            "outbound": {
                "scope": {
                    "Lead": {"criteria": [{"field": "LeadSource", "operator": "equals", "value": "Web"}]}
                }
            },
        }
    )
    web_lead = insert_lead(salesforce, Email="web@example.com", LeadSource="Web")
    phoned_lead = insert_lead(salesforce, Email="phoned@example.com", LeadSource="Phone Inquiry")

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN only the web Lead has a prospect; the other is simply not synced (not an error)
    assert report["outcome"] == "completed"
    assert [p.crm_id for p in all_prospects()] == [web_lead]
    assert link_of(phoned_lead) is None
    assert bootstrap.error_list().open_errors() == []


# ------------------------------------------------------------------ matching


def test_in_email_mode_a_contact_links_to_the_prospect_with_its_email_and_fields_follow_the_behaviours(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a prospect the marketing platform already has (default: email matching, most_recent)
    existing = Prospect(
        id="prospect-ada",
        fields={
            "email": "ada@example.com",
            "first_name": "Ada",
            "job_title": "Analyst",
            "phone": "+44 20 1111",
        },
        modified_at=datetime.now(UTC) - timedelta(days=1),
    )
    assert bootstrap.prospect_store().save([ProspectChange(existing)]) == []
    # AND a Contact with the same email (other case) created in Salesforce
    contact_id = salesforce.insert(
        "Contact",
        {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ADA@example.com", "Phone": "+44 20 2222"},
    )

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN the Contact is linked to that prospect, and no second prospect exists
    assert report["outcome"] == "completed"
    assert report["counts"]["linked"] == 1
    stored = link_of(contact_id)
    assert stored is not None and stored.link.prospect_id == existing.id
    (prospect,) = all_prospects()
    assert prospect.id == existing.id
    assert CONTACT_TAG not in prospect.tags, "an existing prospect was linked, not created"
    # AND each field followed its behaviour (most_recent, never synced before)
    assert prospect.fields == {
        "email": "ada@example.com",  # the same email, whatever its case: untouched
        "first_name": "Ada",  # equal on both sides
        "last_name": "Lovelace",  # blank on the prospect: filled from Salesforce
        "job_title": "Analyst",  # blank in Salesforce: the prospect's value stands
        "phone": "+44 20 2222",  # both set and different: Salesforce wins (default conflict rule)
    }
    rules = {entry.field: entry.rule for entry in audit_trail(existing.id) if entry.field}
    assert rules == {"last_name": Reason.BLANK_FILLED, "phone": Reason.CONFLICT_SALESFORCE}
    # AND outbound sync wrote nothing to Salesforce (the Title goes with the next inbound run)
    assert writes_to_salesforce(salesforce) == []
    contact = salesforce.get(contact_id)
    assert contact is not None and contact["Title"] is None


def test_in_crm_id_mode_a_contact_with_an_existing_prospects_email_gets_a_prospect_of_its_own(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN CRM-id matching and a prospect with the email the Contact will have
    bootstrap.load_configuration({"version": 2, "matching": "crm_id"})
    existing = Prospect(id="prospect-ada", fields={"email": "ada@example.com"}, modified_at=datetime.now(UTC))
    assert bootstrap.prospect_store().save([ProspectChange(existing)]) == []
    contact_id = salesforce.insert("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN the Contact has a new prospect of its own, tagged, and the existing one is untouched
    assert report["counts"]["created"] == 1
    new = prospect_linked_to(contact_id)
    assert new.id != existing.id
    assert new.crm_id == contact_id
    assert new.tags == {CONTACT_TAG}
    assert new.fields["email"] == "ada@example.com"
    assert bootstrap.prospect_store().get_many([existing.id])[existing.id].version == 1
    assert bootstrap.link_store().by_prospect_ids([existing.id]) == {}
    assert len(all_prospects()) == 2


# ------------------------------------------------------------------ lifecycle


def test_a_converted_lead_hands_its_prospect_to_the_contact_and_is_never_written(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead synced to a prospect
    lead_id = insert_lead(salesforce, FirstName="Grace", Email="grace@example.com")
    run_outbound()
    prospect = prospect_linked_to(lead_id)

    # WHEN the Lead is converted, and the next run happens
    later(outbound_connector)
    _, contact_id = salesforce.convert_lead(lead_id)
    converted = salesforce.get(lead_id)
    assert converted is not None
    salesforce.reset_counters()
    report = run_outbound()

    # THEN the same prospect is linked to the Contact, with the conversion tag
    assert report["outcome"] == "completed"
    assert report["counts"]["converted"] == 1
    assert prospect_linked_to(contact_id).id == prospect.id
    assert link_of(lead_id) is None
    (after,) = all_prospects()
    assert CONVERTED_TAG in after.tags
    assert CONTACT_TAG not in after.tags
    events = [entry.event for entry in audit_trail(prospect.id)]
    assert any(lead_id in event and contact_id in event and "convert" in event for event in events)
    # AND the converted Lead was not written to: no write request at all, nor a new stamp
    assert writes_to_salesforce(salesforce) == []
    lead = salesforce.get(lead_id)
    assert lead is not None
    assert (lead["LastModifiedDate"], lead["SystemModstamp"]) == (
        converted["LastModifiedDate"],
        converted["SystemModstamp"],
    )
    assert bootstrap.error_list().open_errors() == []


def test_a_deleted_lead_deactivates_its_prospect_and_a_restored_one_relinks(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead synced to a prospect
    lead_id = insert_lead(salesforce, Email="grace@example.com")
    run_outbound()
    prospect = prospect_linked_to(lead_id)

    # WHEN the Lead is deleted in Salesforce
    later(outbound_connector)
    salesforce.delete(lead_id)
    deleted = run_outbound()

    # THEN its prospect is kept but inactive, and the link says the record was deleted
    assert deleted["counts"]["deleted"] == 1
    (kept,) = all_prospects()
    assert kept.id == prospect.id
    assert not kept.active
    stored = link_of(lead_id)
    assert stored is not None and stored.link.status is LinkStatus.CRM_DELETED

    # WHEN the Lead is restored from the recycle bin
    later(outbound_connector)
    salesforce.undelete(lead_id)
    restored = run_outbound()

    # THEN the link is active again; the prospect waits for the marketing side to reactivate it
    assert restored["counts"]["restored"] == 1
    stored = link_of(lead_id)
    assert stored is not None
    assert stored.link.status is LinkStatus.ACTIVE
    assert stored.link.prospect_id == prospect.id
    assert not prospect_linked_to(lead_id).active
    assert bootstrap.error_list().open_errors() == []


def test_a_lead_merged_away_hands_its_prospect_to_the_surviving_lead(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead synced to a prospect
    first = insert_lead(salesforce, LastName="Lovelace", Email="ada@example.com")
    run_outbound()
    prospect = prospect_linked_to(first)
    # AND a duplicate Lead created later, which email matching cannot link (the prospect with
    # its email has a record already): it is reported
    later(outbound_connector)
    duplicate = insert_lead(salesforce, FirstName="Ada", LastName="Lovelace", Email="ada@example.com")
    run_outbound()
    assert link_of(duplicate) is None
    assert [error.record_id for error in bootstrap.error_list().open_errors()] == [duplicate]

    # WHEN the first Lead is merged into the duplicate, and the next run happens
    later(outbound_connector)
    salesforce.merge(duplicate, [first])
    report = run_outbound()

    # THEN the surviving Lead carries the prospect, and there is still one prospect
    assert report["counts"]["merged"] == 1
    survivor_link = link_of(duplicate)
    assert survivor_link is not None
    assert survivor_link.link.prospect_id == prospect.id
    assert survivor_link.link.status is LinkStatus.ACTIVE
    assert link_of(first) is None
    assert [p.id for p in all_prospects()] == [prospect.id]
    assert any("merged" in entry.event for entry in audit_trail(prospect.id))
    # AND the prospect now follows the surviving Lead: its first name reaches the prospect
    assert prospect_linked_to(duplicate).fields["first_name"] == "Ada"
    # AND the survivor is no longer reported as unsynced: it is linked now
    assert bootstrap.error_list().open_errors() == []


# ------------------------------------------------------------------ reading changes


def test_a_salesforce_edit_of_a_most_recent_field_updates_the_prospect_and_is_audited(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a Lead synced to a prospect (Title <-> job_title is most_recent by default)
    lead_id = insert_lead(salesforce, Email="grace@example.com", Title="CTO")
    run_outbound()
    prospect = prospect_linked_to(lead_id)

    # WHEN the Title is edited in Salesforce, and the next run happens
    later(outbound_connector)
    salesforce.update("Lead", lead_id, {"Title": "CEO"})
    report = run_outbound()

    # THEN the prospect has the new value, and the audit trail says what changed and why
    assert report["counts"]["updated"] == 1
    assert prospect_linked_to(lead_id).fields["job_title"] == "CEO"
    (entry,) = [e for e in audit_trail(prospect.id) if e.run_id == report["run_id"] and e.field]
    assert (entry.field, entry.side, entry.old, entry.new) == ("job_title", "marketing", "CTO", "CEO")
    assert entry.rule == Reason.CHANGED_IN_SALESFORCE


# ------------------------------------------------------------------ one run at a time


def test_two_invocations_at_once_sync_each_lead_exactly_once(outbound_connector: OutboundConnector) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN new Leads, and a Salesforce slow enough to answer that two runs overlap
    lead_ids = insert_leads(salesforce, outbound_connector.clock, count=50, per_second=50)
    salesforce.faults.slow(1.0, count=2)
    start_together = Barrier(2)
    let_schedules_pass("outbound")

    def invoke() -> dict[str, Any]:
        start_together.wait()
        report: dict[str, Any] = app.handler(load_event("outbound_sync", "scheduled"), new_context())
        return report

    # WHEN two invocations (a tick the scheduler delivered twice) start at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = [future.result() for future in [pool.submit(invoke), pool.submit(invoke)]]

    # THEN one syncs, the other finds it busy (or, had it looked a moment later, not due any
    # more), and each Lead has one prospect
    (ran,) = [report for report in reports if report["outcome"] == "completed"]
    (other,) = [report for report in reports if report is not ran]
    assert other["outcome"] in ("busy", "not_due")
    assert_each_record_has_one_prospect(all_prospects(), lead_ids)


# ------------------------------------------------------------------ connector control


def test_a_paused_connector_syncs_only_users_and_catches_up_once_resumed(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a paused connector, and a Lead created meanwhile
    bootstrap.pause()
    lead_id = insert_lead(salesforce, Email="grace@example.com")

    # WHEN the scheduled run happens
    paused = run_outbound()

    # THEN Salesforce Users are synced, and no record is
    assert paused["outcome"] == "paused"
    assert paused["counts"]["users"] == 2
    users = bootstrap.user_directory().users().values()
    assert {user.email for user in users} == {ADMIN_EMAIL, USERNAME}
    assert all_prospects() == []

    # WHEN the connector is resumed, and the next run happens
    bootstrap.resume()
    resumed = run_outbound()

    # THEN the Lead created while paused arrives
    assert resumed["outcome"] == "completed"
    assert prospect_linked_to(lead_id).crm_id == lead_id


def test_an_invalid_stored_configuration_fails_the_run_with_a_message_naming_the_entry(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a stored configuration with an unknown behaviour (stored past validation)
    bootstrap.config_store().save(
        {
            "version": 2,
            "mappings": {
                "Lead": [{"marketing_field": "email", "salesforce_field": "Email", "behaviour": "sometimes"}]
            },
        }
    )
    lead_id = insert_lead(salesforce, Email="grace@example.com")

    # WHEN the scheduled run happens, THEN it fails, naming the bad entry, and moves nothing
    with pytest.raises(ConfigurationError, match=r"mappings\.Lead\[0\]\.behaviour: unknown behaviour"):
        run_outbound()
    assert all_prospects() == []

    # AND once the configuration is fixed, the next run syncs (the failed run held nothing)
    bootstrap.load_configuration({"version": 3})
    assert run_outbound()["outcome"] == "completed"
    assert prospect_linked_to(lead_id).crm_id == lead_id


# ------------------------------------------------------------------ Salesforce access


def rotate_connected_app_key(salesforce: Emulator) -> JwtKeyPair:
    """An administrator gives the connected app a new certificate; the old key no longer logs
    in, and sessions end (as a warm container's token does when it expires)."""
    new_key = generate_jwt_key_pair()
    salesforce.register_connected_app(CLIENT_ID, certificate_pem=new_key.certificate_pem)
    salesforce.faults.expire_sessions()
    return new_key


def store_private_key(private_key_pem: str) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = bootstrap.settings().salesforce_secret_arn
    document = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({**document, "private_key": private_key_pem})
    )


def test_a_key_rotated_in_the_secret_is_used_at_the_next_login_without_waiting_for_the_cache(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN a warm container that logged in (the secret is cached for 5 minutes)
    assert run_outbound()["outcome"] == "completed"

    # WHEN the connected app's key pair is rotated and the new private key stored in the secret
    store_private_key(rotate_connected_app_key(salesforce).private_key_pem)
    lead_id = insert_lead(salesforce, Email="grace@example.com")

    # THEN the next run's login, refused with the cached key, reads the secret again and logs in
    report = run_outbound()
    assert report["outcome"] == "completed"
    assert prospect_linked_to(lead_id).crm_id == lead_id


def test_a_login_refused_for_its_credentials_fails_the_run_without_naming_the_integration_user(
    outbound_connector: OutboundConnector,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a warm container, and a key pair rotated in Salesforce but not yet in the secret
    assert run_outbound()["outcome"] == "completed"
    rotate_connected_app_key(outbound_connector.salesforce)

    # WHEN the next run happens, THEN it fails with Salesforce's reason, as a configuration fault
    with pytest.raises(CrmError) as failed:
        run_outbound()
    failure = failed.value.failure
    assert (failure.code, failure.category) == ("AUTHENTICATION_FAILED", ErrorCategory.CONFIGURATION)
    assert "invalid_grant" in failure.message
    # AND neither the error nor any log line names the integration user
    assert USERNAME not in str(failed.value)
    assert USERNAME not in capsys.readouterr().out + caplog.text


# ------------------------------------------------------------------ the handler itself


def test_the_run_is_published_as_one_metric_per_count_its_api_calls_and_its_health(
    outbound_connector: OutboundConnector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN metrics on (the test environment turns them off), the handler imported with the
    # function's environment in place, as Lambda does, and a new Lead
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    importlib.reload(app)
    app.metrics.clear_metrics()
    insert_lead(outbound_connector.salesforce, Email="grace@example.com")
    capsys.readouterr()

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN one embedded-metric document carries every count of the run and its API calls
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (run,) = [d for d in documents if d.get("direction") == "outbound"]
    (directive,) = run["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "crmsync"
    assert sorted(directive["Dimensions"][0]) == ["direction", "service"]
    published = {metric["Name"]: run[metric["Name"]] for metric in directive["Metrics"]}
    expected = {metric_name(name): [value] for name, value in report["counts"].items()}
    assert published == {
        **expected,
        "ApiCalls": [report["api_calls"]],
        "RecordsSynced": [1],
        "SyncErrors": [0],
        "RunCompleted": [1],
        "LagSeconds": [0],
    }
    assert published["Created"] == [1]
    assert run["outcome"] == "completed"


def test_the_handler_module_does_not_import_simple_salesforce_at_start() -> None:
    loaded = imports_after("import functions.outbound_sync.app")
    assert "simple_salesforce" not in loaded
    assert "crmsync.salesforce.gateway" not in loaded


def test_the_sample_event_is_the_schedulers_default_notification() -> None:
    event = load_event("outbound_sync", "scheduled")
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "aws.scheduler",
        "Scheduled Event",
        "{}",
    )


# ------------------------------------------------------------------ accounts and opportunities


def test_mapped_account_fields_reach_the_prospects_of_the_accounts_contacts(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN account fields mapped onto prospects, and a Contact of an Account synced
    bootstrap.load_configuration(
        {
            "version": 2,
            "objects": {"account_fields": True},
            "mappings": {
                "Account": [
                    {
                        "marketing_field": "company_industry",
                        "salesforce_field": "Industry",
                        "behaviour": "salesforce",
                    }
                ]
            },
        }
    )
    account = salesforce.insert("Account", {"Name": "Analytical Engines", "Industry": "Technology"})
    contact = salesforce.insert(
        "Contact", {"LastName": "Lovelace", "Email": "ada@example.com", "AccountId": account}
    )
    first = run_outbound()
    assert first["counts"]["created"] == 1
    assert prospect_linked_to(contact).fields["company_industry"] == "Technology"

    # WHEN the Account's industry changes in Salesforce
    later(outbound_connector)
    salesforce.update("Account", account, {"Industry": "Education"})
    report = run_outbound()

    # THEN the Contact's prospect follows, and the audit trail says which rule moved it
    assert report["counts"]["updated"] == 1
    prospect = prospect_linked_to(contact)
    assert prospect.fields["company_industry"] == "Education"
    (entry,) = [e for e in audit_trail(prospect.id) if e.field == "company_industry" and e.new == "Education"]
    assert entry.old == "Technology"
    assert entry.rule == Reason.SALESFORCE_ALWAYS.value


def test_an_opportunity_is_attached_to_the_prospects_of_its_contacts(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN opportunities synced, and a Contact synced to a prospect
    bootstrap.load_configuration({"version": 2, "objects": {"opportunities": True}})
    contact = salesforce.insert("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
    run_outbound()

    # WHEN an Opportunity with that Contact in a contact role is created
    later(outbound_connector)
    opportunity = salesforce.insert(
        "Opportunity",
        {"Name": "Difference Engine", "StageName": "Prospecting", "CloseDate": "2026-12-31", "Amount": 17000},
    )
    salesforce.insert("OpportunityContactRole", {"OpportunityId": opportunity, "ContactId": contact})
    report = run_outbound()

    # THEN the prospect carries the opportunity's name, amount, stage and close date
    assert report["counts"]["opportunities"] == 1
    assert prospect_linked_to(contact).opportunities == {
        opportunity: {
            "name": "Difference Engine",
            "amount": 17000,
            "stage": "Prospecting",
            "close_date": "2026-12-31",
        }
    }

    # AND a later stage change follows
    later(outbound_connector)
    salesforce.update("Opportunity", opportunity, {"StageName": "Closed Won"})
    run_outbound()
    assert prospect_linked_to(contact).opportunities[opportunity]["stage"] == "Closed Won"


def test_past_its_api_budget_the_connector_waits_and_says_so(outbound_connector: OutboundConnector) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN the org's other integrations spent 60% of today's API requests (budget: 50%)
    salesforce.spend_daily_api(60_000)
    lead_id = insert_lead(salesforce, Email="grace@example.com")

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN no record moves and the run says why
    assert report["outcome"] == "over_budget"
    assert link_of(lead_id) is None
    assert all_prospects() == []


@pytest.mark.person_accounts
def test_a_person_account_becomes_one_prospect_and_its_hidden_contact_adds_none(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN Person Accounts synced, and a Person Account created in Salesforce
    bootstrap.load_configuration({"version": 2, "objects": {"person_account": True}})
    person = salesforce.insert(
        "Account", {"FirstName": "Mary", "LastName": "Somerville", "PersonEmail": "mary@example.com"}
    )

    # WHEN the scheduled run happens
    report = run_outbound()

    # THEN one prospect carries the Person Account's mapped fields, tagged as a contact
    assert report["outcome"] == "completed"
    (prospect,) = all_prospects()
    assert prospect_linked_to(person).id == prospect.id
    assert prospect.fields == {"email": "mary@example.com", "first_name": "Mary", "last_name": "Somerville"}
    assert prospect.tags == {CONTACT_TAG}
    assert link_of(person).link.crm.object.value == "PersonAccount"


@pytest.mark.person_accounts
def test_a_lead_converted_into_a_person_account_hands_its_prospect_to_the_account_and_its_edits_follow(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN Person Accounts synced, and a Lead synced to a prospect
    bootstrap.load_configuration({"version": 2, "objects": {"person_account": True}})
    lead_id = insert_lead(salesforce, FirstName="Mary", LastName="Jackson", Email="mary@example.com")
    run_outbound()
    prospect = prospect_linked_to(lead_id)

    # WHEN the Lead is converted into a person account, and the next runs happen
    later(outbound_connector)
    account_id, person_contact = salesforce.convert_lead(lead_id, person_account=True)
    report = run_outbound()
    later(outbound_connector)
    again = run_outbound()

    # THEN the same prospect is linked to the Person Account, never to its hidden person contact
    assert report["counts"]["converted"] == 1
    assert prospect_linked_to(account_id).id == prospect.id
    stored = link_of(account_id)
    assert stored is not None and stored.link.crm.object.value == "PersonAccount"
    assert link_of(person_contact) is None and link_of(lead_id) is None
    (after,) = all_prospects()
    assert CONVERTED_TAG in after.tags and CONTACT_TAG not in after.tags
    # AND no run reports the Person Account as another prospect's, and nothing was written to Salesforce
    assert again["outcome"] == "completed"
    assert bootstrap.error_list().open_errors() == []
    assert writes_to_salesforce(salesforce) == []

    # AND later edits of the account's person fields reach the prospect
    later(outbound_connector)
    salesforce.update(
        "Account",
        account_id,
        {"FirstName": "Mae", "PersonEmail": "mae.jackson@example.com", "Phone": "+1 555 0199"},
    )
    edited = run_outbound()
    assert edited["counts"]["updated"] == 1
    assert prospect_linked_to(account_id).fields == {
        "email": "mae.jackson@example.com",
        "first_name": "Mae",
        "last_name": "Jackson",
        "company": "US Navy",
        "phone": "+1 555 0199",
    }
    assert bootstrap.error_list().open_errors() == []


def test_a_salesforce_outage_fails_the_run_without_moving_the_watermark_and_the_next_run_catches_up(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN new Leads, and a Salesforce that answers 500 for longer than the retry budget
    lead_ids = [insert_lead(salesforce, LastName=f"Lead {n}", Email=f"lead{n}@example.com") for n in range(3)]
    salesforce.faults.server_errors(count=50, status=500)

    # WHEN the scheduled run happens, it fails as retryable and syncs nothing
    with pytest.raises(CrmError) as failed:
        run_outbound()
    assert failed.value.retryable
    assert all_prospects() == []

    # THEN once Salesforce answers again, the next run syncs every Lead exactly once
    salesforce.faults.recover()
    report = run_outbound()
    assert report["outcome"] == "completed"
    assert_each_record_has_one_prospect(all_prospects(), lead_ids)
