"""`CrmGateway`: `FakeCrm` and the real gateway (simple-salesforce on the emulator, mounted in
process) answer alike: the same records, pages, results, failures and request counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from crmsync.domain.errors import CrmError, ErrorCategory
from crmsync.domain.records import Batching, Watermark, WriteOperation
from crmsync.domain.retry import RetryPolicy
from crmsync.ports import CrmGateway
from crmsync.salesforce.auth import SalesforceCredentials, request_token
from crmsync.salesforce.gateway import SalesforceGateway
from crmsync.salesforce.session import SalesforceSession

from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.salesforce_emulator import Emulator
from tests.fakes.clock import FakeClock
from tests.fakes.crm import INTEGRATION_USER, FakeCrm

CLIENT_ID = "3MVG9crmsync-contract"
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass
class Crm:
    gateway: CrmGateway
    org: Emulator
    clock: FakeClock
    """The org's clock; the connector's reads the same time."""

    def calls_during(self, action: Callable[[], object]) -> int:
        before = self.gateway.api_calls
        action()
        return self.gateway.api_calls - before


@pytest.fixture(scope="module")
def key_pair() -> JwtKeyPair:
    return generate_jwt_key_pair()


@pytest.fixture(params=["fake", "salesforce"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    clock = FakeClock(START)
    if request.param == "fake":
        fake = FakeCrm(clock=clock, daily_api_limit=1_000)
        yield Crm(fake, fake.org, clock)
        return
    key_pair: JwtKeyPair = request.getfixturevalue("key_pair")
    org = Emulator(clock=clock, daily_api_limit=1_000)
    org.register_connected_app(CLIENT_ID, certificate_pem=key_pair.certificate_pem)
    org.add_user(INTEGRATION_USER, email=INTEGRATION_USER, last_name="Integration")
    credentials = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": org.login_url,
            "client_id": CLIENT_ID,
            "username": INTEGRATION_USER,
            "private_key": key_pair.private_key_pem,
        }
    )
    session = SalesforceSession(lambda s: request_token(s, credentials, timeout=5.0), clock=clock)
    org.mount(session)
    gateway = SalesforceGateway(session, api_version="62.0", sleep=lambda seconds: None, bulk_poll_seconds=0)
    yield Crm(gateway, org, clock)


def insert_leads(crm: Crm, count: int, per_second: int, **fields: object) -> list[str]:
    ids = []
    for n in range(count):
        if n and n % per_second == 0:
            crm.clock.advance(seconds=1)
        ids.append(
            crm.org.insert(
                "Lead", {"LastName": f"Lead {n}", "Company": "Acme", "Email": f"lead{n}@x.com", **fields}
            )
        )
    crm.clock.advance(seconds=2)
    return ids


# ------------------------------------------------------------------ reads


def test_changes_come_in_stamp_and_id_order_a_page_at_a_time_each_once(crm: Crm) -> None:
    ids = insert_leads(crm, 450, per_second=200)
    crm.org.delete(ids[7])
    crm.clock.advance(seconds=1)

    pages = []
    calls = crm.calls_during(
        lambda: pages.extend(
            crm.gateway.read_changes("Lead", ["Email"], None, crm.clock.now(), page_size=200)
        )
    )

    read = [record for page in pages for record in page.records]
    assert [len(page.records) for page in pages] == [200, 200, 50]
    assert calls == 3
    assert sorted(r["Id"] for r in read) == sorted(ids)
    assert [(r["SystemModstamp"], r["Id"]) for r in read] == sorted(
        (r["SystemModstamp"], r["Id"]) for r in read
    )
    assert {r["Id"] for r in read if r["IsDeleted"]} == {ids[7]}
    assert set(read[0]) == {"Id", "SystemModstamp", "Email", "IsDeleted"}
    assert pages[-1].watermark == Watermark(START + timedelta(seconds=4), ids[7])


def test_a_read_from_a_watermark_gives_what_followed_it_and_nothing_of_the_current_second(crm: Crm) -> None:
    ids = insert_leads(crm, 30, per_second=10)
    (first,) = crm.gateway.read_changes("Lead", ["Email"], None, crm.clock.now(), page_size=200)
    middle = Watermark(START + timedelta(seconds=1), sorted(ids[10:20])[4])
    crm.org.update("Lead", ids[0], {"Title": "Edited now"})  # stamped in the second a read stops before

    after = [
        r["Id"]
        for page in crm.gateway.read_changes("Lead", ["Email"], middle, crm.clock.now())
        for r in page.records
    ]
    idle = list(crm.gateway.read_changes("Lead", ["Email"], first.watermark, crm.clock.now()))

    assert after == [*sorted(ids[10:20])[5:], *sorted(ids[20:])]
    assert [(page.records, page.watermark) for page in idle] == [([], first.watermark)]


def test_a_lookup_finds_live_records_by_a_value_in_any_case_and_splits_a_long_list(crm: Crm) -> None:
    ids = insert_leads(crm, 3, per_second=10)
    crm.org.delete(ids[2])

    found = crm.gateway.find("Lead", ["Email"], "Email", ["LEAD0@X.COM", "lead1@x.com", "lead2@x.com"])
    assert sorted((r["Id"], r["Email"]) for r in found) == sorted(
        [(ids[0], "lead0@x.com"), (ids[1], "lead1@x.com")]
    )

    many = [f"someone{n}@example.com" for n in range(1200)] + ["lead1@x.com"]
    calls = crm.calls_during(lambda: crm.gateway.find("Lead", ["Email"], "Email", many))
    assert calls == 3, "as many queries as keep each URI within Salesforce's limit"


# ------------------------------------------------------------------ writes


def test_collections_writes_give_one_result_per_record_in_order(crm: Crm) -> None:
    records = [{"LastName": f"New {n}", "Company": "Acme"} for n in range(250)]
    records[3] = {"Company": "Acme"}
    records[201] = {"LastName": "Bad", "Company": "Acme", "Email": "not-an-email"}

    results = []
    calls = crm.calls_during(
        lambda: results.extend(crm.gateway.write("Lead", WriteOperation.CREATE, records))
    )

    assert calls == 2
    assert [r.success for r in results].count(False) == 2
    missing, invalid = results[3].failure, results[201].failure
    assert missing is not None and (missing.code, missing.fields, missing.category) == (
        "REQUIRED_FIELD_MISSING",
        ("LastName",),
        ErrorCategory.VALIDATION,
    )
    assert invalid is not None and invalid.code == "INVALID_EMAIL_ADDRESS"
    assert all(r.created for r in results if r.success)
    assert {r.record_id for r in results if r.success} == {lead["Id"] for lead in crm.org.records("Lead")}
    assert {lead["CreatedById"] for lead in crm.org.records("Lead")} == {
        user["Id"] for user in crm.org.records("User") if user["Username"] == INTEGRATION_USER
    }


def test_updates_and_upserts_say_which_record_each_wrote(crm: Crm) -> None:
    first = crm.org.insert("Lead", {"LastName": "First", "Company": "Acme", "Crmsync_Key__c": "p-1"})
    converted = crm.org.insert("Lead", {"LastName": "Converted", "Company": "Acme"})
    crm.org.convert_lead(converted)

    updated = crm.gateway.write(
        "Lead", WriteOperation.UPDATE, [{"Id": first[:15], "Title": "CTO"}, {"Id": converted, "Title": "CEO"}]
    )
    upserted = crm.gateway.write(
        "Lead",
        WriteOperation.UPSERT,
        [
            {"Crmsync_Key__c": "p-1", "Title": "CFO"},
            {"Crmsync_Key__c": "p-2", "LastName": "New", "Company": "Acme"},
        ],
        external_id_field="Crmsync_Key__c",
    )

    assert (updated[0].success, updated[0].record_id) == (True, first)
    assert updated[1].failure is not None and updated[1].failure.code == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert updated[1].record_id == converted
    assert [(r.success, r.created) for r in upserted] == [(True, False), (True, True)]
    assert upserted[0].record_id == first
    assert crm.org.get(first)["Title"] == "CFO"  # type: ignore[index]


def test_from_the_bulk_threshold_on_one_bulk_job_carries_the_records(crm: Crm) -> None:
    ids = insert_leads(crm, 30, per_second=100)
    bulk = Batching(collection_size=10, bulk_threshold=30)
    records = [{"Id": i, "Title": "Bulk"} for i in ids]
    records[5] = {"Id": ids[5], "Email": "not-an-email"}

    results = []
    calls = crm.calls_during(
        lambda: results.extend(crm.gateway.write("Lead", WriteOperation.UPDATE, records, batching=bulk))
    )
    small = crm.calls_during(
        lambda: crm.gateway.write("Lead", WriteOperation.UPDATE, records[:29], batching=bulk)
    )

    assert (calls, small) == (7, 3), "a job with a failure: 7 requests; 29 records: 3 Collections calls"
    assert [r.record_id for r in results] == ids
    assert [i for i, r in enumerate(results) if not r.success] == [5]
    assert {crm.org.get(i)["Title"] for i in ids if i != ids[5]} == {"Bulk"}  # type: ignore[index]


def test_a_locked_row_is_written_on_the_retry_and_a_lasting_lock_is_the_records_failure(crm: Crm) -> None:
    briefly, lastingly = insert_leads(crm, 2, per_second=10)
    crm.org.faults.lock_records([briefly], times=1)
    crm.org.faults.lock_records([lastingly], times=RetryPolicy().max_attempts)

    results = crm.gateway.write(
        "Lead", WriteOperation.UPDATE, [{"Id": briefly, "Title": "A"}, {"Id": lastingly, "Title": "B"}]
    )

    assert results[0].success
    assert results[1].failure is not None and (results[1].failure.code, results[1].failure.retryable) == (
        "UNABLE_TO_LOCK_ROW",
        True,
    )


def test_a_request_failing_past_the_retries_fails_the_call_and_a_create_is_never_replayed(crm: Crm) -> None:
    attempts = RetryPolicy().max_attempts
    crm.org.faults.server_errors(count=attempts, status=503)

    with pytest.raises(CrmError) as read:
        list(crm.gateway.read_changes("Lead", ["Email"], None, crm.clock.now()))
    crm.org.faults.server_errors(count=1, status=500)
    with pytest.raises(CrmError) as created:
        crm.gateway.write("Lead", WriteOperation.CREATE, [{"LastName": "Once", "Company": "Acme"}])

    assert (read.value.failure.code, read.value.retryable) == ("SERVER_UNAVAILABLE", True)
    assert created.value.retryable
    assert crm.org.records("Lead") == []
    crm.org.faults.recover()
    assert (
        crm.calls_during(
            lambda: crm.gateway.write("Lead", WriteOperation.CREATE, [{"LastName": "X", "Company": "A"}])
        )
        == 1
    )


# ------------------------------------------------------------------ usage and describe


def test_each_request_spends_one_of_the_orgs_calls_and_the_last_answer_says_how_many(crm: Crm) -> None:
    crm.org.spend_daily_api(900)
    list(crm.gateway.read_changes("Lead", ["Email"], None, crm.clock.now()))
    usage = crm.gateway.api_usage
    assert usage is not None and (usage.limit, usage.read_at) == (1_000, crm.clock.now())
    spent = usage.used

    crm.clock.advance(minutes=2)
    checked = crm.gateway.check_connection()

    assert checked.used == spent + 1 == crm.org.daily_api_usage
    assert (checked.limit, checked.read_at) == (1_000, crm.clock.now())
    crm.org.set_daily_api_usage(1_000)
    with pytest.raises(CrmError) as refused:
        crm.gateway.check_connection()
    assert (refused.value.failure.code, refused.value.failure.category) == (
        "REQUEST_LIMIT_EXCEEDED",
        ErrorCategory.LIMIT,
    )


def test_describe_gives_the_objects_fields_as_salesforce_describes_them(crm: Crm) -> None:
    lead = crm.gateway.describe("Lead")

    assert lead.name == "Lead"
    email, key, name = lead.fields["Email"], lead.fields["Crmsync_Key__c"], lead.fields["Name"]
    assert (email.type, email.createable, email.updateable) == ("email", True, True)
    assert key.external_id and not email.external_id
    assert not name.createable
    with pytest.raises(CrmError) as unknown:
        crm.gateway.describe("Nothing__c")
    assert unknown.value.failure.code == "NOT_FOUND"


def test_each_request_is_counted_under_its_kind(crm: Crm) -> None:
    ids = insert_leads(crm, 30, per_second=100)
    crm.gateway.describe("Lead")  # the real gateway's login happens before: not a kind of call
    before = {kind: n for kind, n in crm.gateway.api_calls_by_kind.items() if kind != "login"}

    calls = crm.calls_during(
        lambda: (
            list(crm.gateway.read_changes("Lead", ["Email"], None, crm.clock.now(), page_size=200)),
            crm.gateway.write("Lead", WriteOperation.UPDATE, [{"Id": i, "Title": "x"} for i in ids[:2]]),
            crm.gateway.write(
                "Lead",
                WriteOperation.UPDATE,
                [{"Id": i, "Title": "y"} for i in ids],
                batching=Batching(collection_size=10, bulk_threshold=30),
            ),
            crm.gateway.describe("Lead"),
            crm.gateway.check_connection(),
        )
    )

    after = {kind: n for kind, n in crm.gateway.api_calls_by_kind.items() if kind != "login"}
    spent = {kind: n - before.get(kind, 0) for kind, n in after.items() if n != before.get(kind, 0)}
    assert spent == {"query": 1, "collections": 1, "bulk_ingest": 6, "describe": 1, "limits": 1}
    assert sum(spent.values()) == calls
