"""The query and queryAll resources: the documented QueryResult shape, paging from a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.salesforce_emulator import Emulator, ManualClock

from .conftest import Client, assert_error, client_for


def query(api: Client, soql: str, resource: str = "query") -> dict[str, Any]:
    response = api.get(resource, params={"q": soql})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def paged(make_emulator: Callable[..., Emulator]) -> tuple[Emulator, Client]:
    emulator = make_emulator(query_batch_size=2)
    return emulator, client_for(emulator)


def test_a_query_returns_the_selected_fields_in_select_order_with_attributes(
    emulator: Emulator, api: Client
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme", "Email": "lee@acme.example"})

    body = query(api, "SELECT email, Id, LASTNAME FROM lead")

    assert body == {
        "totalSize": 1,
        "done": True,
        "records": [
            {
                "attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{lead}"},
                "Email": "lee@acme.example",
                "Id": lead,
                "LastName": "Lee",
            }
        ],
    }
    assert list(body["records"][0]) == ["attributes", "Email", "Id", "LastName"]


def test_results_come_in_pages_served_from_a_snapshot(paged: tuple[Emulator, Client]) -> None:
    emulator, api = paged
    ids = [emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"}) for n in range(5)]

    first = query(api, "SELECT Id, Title FROM Lead ORDER BY Id")
    emulator.update("Lead", ids[3], {"Title": "Changed after the first page"})
    emulator.delete(ids[4])
    second = api.get(first["nextRecordsUrl"].removeprefix("/services/data/v62.0/")).json()
    third = api.get(second["nextRecordsUrl"].removeprefix("/services/data/v62.0/")).json()

    assert (first["totalSize"], first["done"]) == (5, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g") and first[
        "nextRecordsUrl"
    ].endswith("-2")
    assert [len(p["records"]) for p in (first, second, third)] == [2, 2, 1]
    assert third["done"] is True and "nextRecordsUrl" not in third
    assert second["records"][1]["Title"] is None
    assert [r["Id"] for p in (first, second, third) for r in p["records"]] == ids


def test_a_query_options_batch_size_sets_the_page_size_of_its_cursor(emulator: Emulator, api: Client) -> None:
    for n in range(450):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})

    def sizes(options: str) -> list[int]:
        page = api.get(
            "query", params={"q": "SELECT Id FROM Lead"}, headers={"Sforce-Query-Options": options}
        ).json()
        sizes = [len(page["records"])]
        while not page["done"]:
            page = api.get(page["nextRecordsUrl"].removeprefix("/services/data/v62.0/")).json()
            sizes.append(len(page["records"]))
        return sizes

    assert sizes("batchSize=200") == [200, 200, 50]
    assert sizes("batchSize=50") == [200, 200, 50], "Salesforce's minimum is 200"
    assert sizes("") == [450]


def test_an_asked_batch_size_is_an_upper_bound_the_org_may_go_under(paged: tuple[Emulator, Client]) -> None:
    emulator, api = paged
    for n in range(3):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})

    first = api.get(
        "query", params={"q": "SELECT Id FROM Lead"}, headers={"Sforce-Query-Options": "batchSize=1000"}
    ).json()

    assert (len(first["records"]), first["done"]) == (2, False)


def test_query_all_includes_deleted_and_merged_records(emulator: Emulator, api: Client) -> None:
    master = emulator.insert("Lead", {"LastName": "Keep", "Company": "Acme"})
    loser = emulator.insert("Lead", {"LastName": "Lose", "Company": "Acme"})
    emulator.merge(master, [loser])

    live = query(api, "SELECT Id FROM Lead")
    everything = query(api, "SELECT Id, IsDeleted, MasterRecordId FROM Lead ORDER BY Id", "queryAll")

    assert [r["Id"] for r in live["records"]] == [master]
    assert [(r["IsDeleted"], r["MasterRecordId"]) for r in everything["records"]] == [
        (False, None),
        (True, master),
    ]


def test_where_order_by_limit_and_quoted_values(emulator: Emulator, api: Client) -> None:
    obrien = emulator.insert(
        "Lead", {"LastName": "O'Brien", "Company": "Acme", "Email": "o'brien@example.com"}
    )
    emulator.insert("Lead", {"LastName": "Other", "Company": "Acme", "Email": "other@example.com"})

    found = query(api, "SELECT Id FROM Lead WHERE Email IN ('o\\'brien@example.com', 'x\\' OR Name != \\'')")
    ordered = query(api, "SELECT LastName FROM Lead ORDER BY LastName DESC LIMIT 1")

    assert [r["Id"] for r in found["records"]] == [obrien]
    assert [r["LastName"] for r in ordered["records"]] == ["Other"]


def test_count_answers_with_the_total_only(emulator: Emulator, api: Client) -> None:
    for n in range(3):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})
    assert query(api, "SELECT COUNT() FROM Lead") == {"totalSize": 3, "done": True, "records": []}


def test_bad_queries_are_refused_with_salesforces_codes(api: Client) -> None:
    assert_error(api.get("query", params={"q": "SELECT FROM"}), 400, "MALFORMED_QUERY")
    assert_error(api.get("query", params={"q": "SELECT Shoe__c FROM Lead"}), 400, "INVALID_FIELD")
    assert_error(api.get("query", params={"q": "SELECT Id FROM Shoe"}), 400, "INVALID_TYPE")
    assert_error(api.get("query/01g8d0000000000042-2000"), 400, "INVALID_QUERY_LOCATOR")


def next_page(api: Client, page: dict[str, Any]) -> Any:
    return api.get(page["nextRecordsUrl"].removeprefix("/services/data/v62.0/"))


def test_a_cursor_unused_for_fifteen_minutes_expires(paged: tuple[Emulator, Client]) -> None:
    emulator, api = paged
    for n in range(5):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})
    clock = emulator.clock
    assert isinstance(clock, ManualClock)

    # GIVEN a cursor whose next page is asked for within 15 minutes of the last
    first = query(api, "SELECT Id FROM Lead")
    clock.advance(minutes=15)
    second = next_page(api, first)
    assert second.status_code == 200

    # WHEN more than 15 minutes then pass without it being used, THEN it is gone
    clock.advance(minutes=15, seconds=1)
    assert_error(next_page(api, second.json()), 400, "INVALID_QUERY_LOCATOR")


def test_opening_an_eleventh_cursor_releases_the_oldest(paged: tuple[Emulator, Client]) -> None:
    emulator, api = paged
    for n in range(3):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})
    oldest, *others = [query(api, "SELECT Id FROM Lead") for _ in range(11)]

    assert_error(next_page(api, oldest), 400, "INVALID_QUERY_LOCATOR")
    assert next_page(api, others[0]).status_code == 200


def test_a_test_can_expire_the_open_cursors_after_some_pages(paged: tuple[Emulator, Client]) -> None:
    emulator, api = paged
    for n in range(7):
        emulator.insert("Lead", {"LastName": f"Lead {n}", "Company": "Acme"})
    first = query(api, "SELECT Id FROM Lead")
    emulator.faults.expire_query_cursors(after_pages=1)

    second = next_page(api, first)
    assert second.status_code == 200
    assert_error(next_page(api, second.json()), 400, "INVALID_QUERY_LOCATOR")
    # A new query opens a new cursor, which pages as usual.
    again = query(api, "SELECT Id FROM Lead")
    assert next_page(api, again).status_code == 200
