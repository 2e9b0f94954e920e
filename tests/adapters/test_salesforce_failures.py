"""How the gateway surfaces Salesforce's failures: retryable or permanent, never swallowed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from crmsync.domain.errors import CrmError, ErrorCategory
from crmsync.domain.records import WriteOperation
from crmsync.domain.retry import RetryPolicy
from crmsync.salesforce.auth import AccessToken, SalesforceCredentials, login_with_secret, request_token
from crmsync.salesforce.gateway import SalesforceGateway
from crmsync.salesforce.session import SalesforceSession

from local.keys import generate_jwt_key_pair
from local.salesforce_emulator import Emulator

from .conftest import CLIENT_ID, USERNAME, make_session


def no_retry_gateway(session: SalesforceSession) -> SalesforceGateway:
    return SalesforceGateway(
        session, api_version="62.0", retry=RetryPolicy(max_attempts=1), sleep=lambda s: None
    )


def test_an_expired_session_logs_in_again_once_and_goes_on(
    emulator: Emulator, session: SalesforceSession, gateway: SalesforceGateway
) -> None:
    gateway.check_connection()
    emulator.faults.expire_sessions()

    usage = gateway.check_connection()

    assert usage.limit == 100_000
    assert session.logins == 2


def test_a_session_still_refused_after_one_relogin_fails(emulator: Emulator) -> None:
    logins = []

    def stale_login(_: object) -> AccessToken:
        logins.append(1)
        return AccessToken(access_token="00Dstale!token", instance_url=emulator.instance_url)

    session = SalesforceSession(stale_login)
    emulator.mount(session)

    with pytest.raises(CrmError) as raised:
        no_retry_gateway(session).check_connection()

    assert raised.value.failure.code == "INVALID_SESSION_ID"
    assert len(logins) == 2


def test_a_locked_row_is_retried_and_succeeds(emulator: Emulator, gateway: SalesforceGateway) -> None:
    lead = emulator.insert("Lead", {"LastName": "Busy", "Company": "Acme"})
    emulator.faults.lock_records([lead], times=1)

    [result] = gateway.write("Lead", WriteOperation.UPDATE, [{"Id": lead, "Title": "CFO"}])

    assert result.success and emulator.get(lead)["Title"] == "CFO"


def test_a_row_locked_beyond_the_retry_budget_comes_back_retryable(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    busy = emulator.insert("Lead", {"LastName": "Busy", "Company": "Acme"})
    free = emulator.insert("Lead", {"LastName": "Free", "Company": "Acme"})
    emulator.faults.lock_records([busy], times=10)
    emulator.reset_counters()

    results = gateway.write(
        "Lead", WriteOperation.UPDATE, [{"Id": busy, "Title": "x"}, {"Id": free, "Title": "y"}]
    )

    failure = results[0].failure
    assert failure is not None and failure.code == "UNABLE_TO_LOCK_ROW"
    assert failure.retryable and failure.category is ErrorCategory.TRANSIENT
    assert results[1].success
    assert emulator.api_calls == 3  # the first call, then two retries of the locked record alone


def test_a_server_error_is_retried_then_surfaces_as_retryable(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    emulator.faults.server_errors(count=1, status=503)
    assert gateway.check_connection().limit == 100_000

    emulator.faults.server_errors(count=5, status=500)
    with pytest.raises(CrmError) as raised:
        gateway.check_connection()
    assert raised.value.retryable and raised.value.failure.category is ErrorCategory.TRANSIENT


def test_a_spent_daily_limit_surfaces_as_retryable_later_not_retried_now(
    clock: object, key_pair: object, credentials: SalesforceCredentials
) -> None:
    emulator = Emulator(clock=clock, daily_api_limit=2)  # type: ignore[arg-type]
    emulator.register_connected_app(CLIENT_ID, certificate_pem=key_pair.certificate_pem)  # type: ignore[attr-defined]
    emulator.add_user(USERNAME, email=USERNAME, last_name="Integration")
    gateway = SalesforceGateway(make_session(emulator, credentials), api_version="62.0", sleep=lambda s: None)
    gateway.check_connection()
    gateway.check_connection()

    with pytest.raises(CrmError) as raised:
        gateway.check_connection()

    failure = raised.value.failure
    assert failure.code == "REQUEST_LIMIT_EXCEEDED" and failure.category is ErrorCategory.LIMIT
    assert raised.value.retryable
    assert emulator.api_calls == 3


def test_a_slow_answer_times_out_as_a_retryable_failure(
    emulator: Emulator, credentials: SalesforceCredentials
) -> None:
    gateway = no_retry_gateway(make_session(emulator, credentials, read_timeout=0.2))
    gateway.check_connection()
    emulator.faults.slow(seconds=2, count=1)

    with pytest.raises(CrmError) as raised:
        gateway.check_connection()

    assert raised.value.failure.code == "TIMEOUT" and raised.value.retryable


def test_a_create_that_timed_out_is_not_replayed(
    emulator: Emulator, credentials: SalesforceCredentials
) -> None:
    """Salesforce may have created the records before the answer was lost: sending them again
    could duplicate them, so the failure goes back to the caller instead."""
    gateway = SalesforceGateway(
        make_session(emulator, credentials, read_timeout=0.2), api_version="62.0", sleep=lambda s: None
    )
    gateway.check_connection()
    emulator.faults.slow(seconds=2, count=1)
    emulator.reset_counters()

    with pytest.raises(CrmError) as raised:
        gateway.write("Lead", WriteOperation.CREATE, [{"LastName": "Once", "Company": "Acme"}])

    assert raised.value.failure.code == "TIMEOUT"
    posts = [path for method, path in emulator.call_log if method == "POST" and "composite/sobjects" in path]
    assert len(posts) == 1
    assert len(emulator.records("Lead")) <= 1


def test_a_bad_jwt_signature_is_refused_with_a_clear_message(emulator: Emulator) -> None:
    impostor = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": emulator.login_url,
            "client_id": CLIENT_ID,
            "username": USERNAME,
            "private_key": generate_jwt_key_pair().private_key_pem,
        }
    )
    session = SalesforceSession(lambda s: request_token(s, impostor, timeout=5))
    emulator.mount(session)

    with pytest.raises(CrmError) as raised:
        session.token  # noqa: B018

    failure = raised.value.failure
    assert failure.code == "AUTHENTICATION_FAILED" and failure.category is ErrorCategory.CONFIGURATION
    assert not failure.retryable
    assert "Salesforce refused the jwt login of the secret's user at" in failure.message
    assert "invalid_grant" in failure.message
    assert USERNAME not in str(raised.value), "the username is personal data: never in a log line"


def test_a_wrong_password_is_refused_with_a_clear_message(emulator: Emulator) -> None:
    wrong = SalesforceCredentials.from_secret(
        {
            "auth": "password",
            "login_url": emulator.login_url,
            "client_id": CLIENT_ID,
            "client_secret": "app-secret",
            "username": USERNAME,
            "password": "not-the-password",
            "security_token": "TOKEN",
        }
    )
    session = SalesforceSession(lambda s: request_token(s, wrong, timeout=5))
    emulator.mount(session)

    with pytest.raises(CrmError) as raised:
        session.token  # noqa: B018

    assert "Salesforce refused the password login" in raised.value.failure.message
    assert "authentication failure" in raised.value.failure.message


@pytest.mark.parametrize("grant", ["password", "client_credentials"])
def test_the_other_grants_log_in(emulator: Emulator, grant: str) -> None:
    secret = {
        "auth": grant,
        "login_url": emulator.login_url,
        "client_id": CLIENT_ID,
        "client_secret": "app-secret",
    }
    if grant == "password":
        secret |= {"username": USERNAME, "password": "s3cret-pass", "security_token": "TOKEN"}
    credentials = SalesforceCredentials.from_secret(secret)
    gateway = SalesforceGateway(make_session(emulator, credentials), api_version="62.0")
    assert gateway.check_connection().limit == 100_000


def test_a_refused_login_reads_the_secret_again_and_tries_once_more_only_when_it_changed(
    emulator: Emulator, credentials: SalesforceCredentials
) -> None:
    # GIVEN a cached secret whose key Salesforce no longer accepts
    stale = replace(credentials, private_key=generate_jwt_key_pair().private_key_pem)
    secret = {"cached": stale, "stored": stale}
    reads: list[bool] = []

    def read(fresh: bool) -> SalesforceCredentials:
        reads.append(fresh)
        if fresh:
            secret["cached"] = secret["stored"]
        return secret["cached"]

    token_requests: list[str] = []
    session = SalesforceSession(login_with_secret(read, timeout=5))
    session.hooks["response"].append(lambda response, **_: token_requests.append(response.url))
    emulator.mount(session)

    # WHEN the secret was not rotated, THEN the login fails after one fresh read, one request
    with pytest.raises(CrmError, match="invalid_grant"):
        session.token  # noqa: B018
    assert (reads, len(token_requests)) == ([False, True], 1)

    # WHEN the good key is stored, THEN the next login reads it and succeeds on its second try
    secret["stored"] = credentials
    reads.clear()
    token_requests.clear()
    assert session.relogin().access_token
    assert (reads, len(token_requests)) == ([False, True], 2)
