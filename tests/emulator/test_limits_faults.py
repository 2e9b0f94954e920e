"""The daily API limit, `Sforce-Limit-Info`, call counting and the faults tests inject."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from local.salesforce_emulator import Emulator

from .conftest import Client, assert_error, client_for


def test_limits_reports_the_daily_api_requests_and_every_answer_carries_the_usage(
    emulator: Emulator, api: Client
) -> None:
    first = api.get("limits")
    second = api.get("limits/")

    assert first.json()["DailyApiRequests"] == {"Max": 100_000, "Remaining": 99_999}
    assert second.json()["DailyApiRequests"] == {"Max": 100_000, "Remaining": 99_998}
    assert {"DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DataStorageMB"} <= set(first.json())
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    assert api.get("sobjects/Lead/00Q8d0000000zzzAAA").headers["Sforce-Limit-Info"] == "api-usage=3/100000"


def test_a_spent_daily_limit_refuses_requests_with_request_limit_exceeded(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(daily_api_limit=2)
    api = client_for(emulator)
    assert api.get("limits").status_code == api.get("limits").status_code == 200

    refused = api.get("limits")

    assert_error(refused, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=2/2"
    assert emulator.api_calls == 3


def test_usage_falls_as_the_rolling_24_hours_move_on(emulator: Emulator, api: Client) -> None:
    emulator.spend_daily_api(60_000)
    assert api.get("limits").headers["Sforce-Limit-Info"] == "api-usage=60001/100000"

    emulator.set_daily_api_usage(10_000)

    answer = api.get("limits")
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=10001/100000"
    assert answer.json()["DailyApiRequests"] == {"Max": 100_000, "Remaining": 89_999}


def test_api_calls_and_the_call_log_count_api_requests_until_reset(emulator: Emulator, api: Client) -> None:
    api.get("limits")
    api.get("query", params={"q": "SELECT Id FROM Lead"})
    assert emulator.api_calls == 2
    assert emulator.call_log == [
        ("GET", "/services/data/v62.0/limits"),
        ("GET", "/services/data/v62.0/query"),
    ]

    emulator.reset_counters()

    assert (emulator.api_calls, emulator.call_log) == (0, [])
    assert emulator.daily_api_usage == 2


def test_a_request_without_a_valid_session_is_refused_as_invalid_session(
    emulator: Emulator, api: Client
) -> None:
    anonymous = api.session.get(api.url("limits"), timeout=5)
    forged = api.get("limits", headers={"Authorization": "Bearer 00Dforged!token"})

    assert_error(anonymous, 401, "INVALID_SESSION_ID", "Session expired or invalid")
    assert_error(forged, 401, "INVALID_SESSION_ID", "Session expired or invalid")


def test_expired_sessions_need_a_new_login(emulator: Emulator, api: Client) -> None:
    assert api.get("limits").status_code == 200
    emulator.faults.expire_sessions()

    assert_error(api.get("limits"), 401, "INVALID_SESSION_ID")
    assert client_for(emulator).get("limits").status_code == 200


@pytest.mark.parametrize(("status", "code"), [(500, "UNKNOWN_EXCEPTION"), (503, "SERVER_UNAVAILABLE")])
def test_server_errors_answer_the_next_requests_then_stop(
    emulator: Emulator, api: Client, status: int, code: str
) -> None:
    emulator.faults.server_errors(count=2, status=status)

    assert_error(api.get("limits"), status, code)
    assert_error(api.get("limits"), status, code)
    assert api.get("limits").status_code == 200


def test_a_slow_answer_times_out_a_client_that_will_not_wait(emulator: Emulator, api: Client) -> None:
    emulator.faults.slow(seconds=5, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(
            api.url("limits"), headers={"Authorization": f"Bearer {api.token}"}, timeout=(1, 0.05)
        )

    emulator.faults.slow(seconds=0.01, count=1)
    assert api.get("limits").status_code == 200


def test_a_locked_row_refuses_a_single_record_update(emulator: Emulator, api: Client) -> None:
    lead = emulator.insert("Lead", {"LastName": "Busy", "Company": "Acme"})
    emulator.faults.lock_records([lead], times=1)

    refused = api.request("PATCH", f"sobjects/Lead/{lead}", json={"Title": "CFO"})
    accepted = api.request("PATCH", f"sobjects/Lead/{lead}", json={"Title": "CFO"})

    assert_error(
        refused,
        400,
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {lead}",
    )
    assert accepted.status_code == 204


def test_the_test_helpers_cost_no_api_calls_and_ignore_faults(emulator: Emulator) -> None:
    lead = emulator.insert("Lead", {"LastName": "Pat", "Company": "Acme"})
    emulator.faults.lock_records([lead], times=5)
    emulator.update("Lead", lead, {"Title": "CTO"})
    assert emulator.api_calls == 0
