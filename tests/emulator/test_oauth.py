"""The OAuth 2.0 token endpoint: three grants, refusals in OAuth's `{"error", "error_description"}`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.salesforce_emulator import Emulator, ManualClock

from .conftest import CLIENT_ID, CLIENT_SECRET, USERNAME, password_login


@pytest.fixture
def session(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    emulator.mount(session)
    return session


def token_request(session: requests.Session, emulator: Emulator, form: dict[str, str]) -> requests.Response:
    return session.post(f"{emulator.login_url}/services/oauth2/token", data=form, timeout=5)


def assertion(key: str, clock: ManualClock, **claims: Any) -> str:
    payload = {
        "iss": CLIENT_ID,
        "sub": USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": int(clock.now().timestamp()) + 180,
    } | claims
    return jwt.encode(payload, key, algorithm="RS256")


def jwt_login(session: requests.Session, emulator: Emulator, token: str) -> requests.Response:
    return token_request(
        session, emulator, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token}
    )


def assert_refused(response: requests.Response, error: str, description: str) -> None:
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_a_password_login_answers_with_the_documented_token_response(
    emulator: Emulator, session: requests.Session, clock: ManualClock
) -> None:
    response = password_login(session, emulator.login_url)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert body["instance_url"] == emulator.instance_url
    assert body["token_type"] == "Bearer"
    assert body["issued_at"] == str(int(clock.now().timestamp() * 1000))
    assert body["id"].startswith(f"{emulator.login_url}/id/00D")
    expected = hmac.new(CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert base64.b64decode(body["signature"]) == expected.digest()


def test_a_wrong_password_or_a_missing_security_token_is_an_authentication_failure(
    emulator: Emulator, session: requests.Session
) -> None:
    assert_refused(
        password_login(session, emulator.login_url, password="wrong"),
        "invalid_grant",
        "authentication failure",
    )
    assert_refused(
        password_login(session, emulator.login_url, password="s3cret-pass"),
        "invalid_grant",
        "authentication failure",
    )


def test_an_unknown_client_id_or_a_wrong_client_secret_is_refused(
    emulator: Emulator, session: requests.Session
) -> None:
    assert_refused(
        password_login(session, emulator.login_url, client_id="nope"),
        "invalid_client_id",
        "client identifier invalid",
    )
    assert_refused(
        password_login(session, emulator.login_url, client_secret="nope"),
        "invalid_client",
        "invalid client credentials",
    )


@pytest.mark.parametrize(
    "audience", ["https://login.salesforce.com", "https://test.salesforce.com", "emulator"]
)
def test_a_jwt_bearer_login_signed_with_the_apps_key_is_accepted(
    emulator: Emulator, session: requests.Session, clock: ManualClock, key_pair: JwtKeyPair, audience: str
) -> None:
    aud = emulator.login_url if audience == "emulator" else audience
    response = jwt_login(session, emulator, assertion(key_pair.private_key_pem, clock, aud=aud))

    assert response.status_code == 200
    token = response.json()
    assert token["instance_url"] == emulator.instance_url
    limits = session.get(
        f"{token['instance_url']}/services/data/v62.0/limits",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert limits.status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        ({"exp": 0}, "invalid_grant", "invalid assertion"),
        ({"sub": "stranger@crmsync.example"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"aud": "https://example.com"}, "invalid_grant", "audience is invalid"),
        ({"iss": "unknown-app"}, "invalid_client_id", "client identifier invalid"),
    ],
)
def test_a_jwt_assertion_that_does_not_check_out_is_refused(
    emulator: Emulator,
    session: requests.Session,
    clock: ManualClock,
    key_pair: JwtKeyPair,
    case: tuple[dict[str, Any], str, str],
) -> None:
    claims, error, description = case
    assert_refused(
        jwt_login(session, emulator, assertion(key_pair.private_key_pem, clock, **claims)), error, description
    )


def test_a_jwt_signed_with_another_key_is_an_invalid_assertion(
    emulator: Emulator, session: requests.Session, clock: ManualClock
) -> None:
    impostor = generate_jwt_key_pair().private_key_pem
    assert_refused(
        jwt_login(session, emulator, assertion(impostor, clock)), "invalid_grant", "invalid assertion"
    )
    assert_refused(jwt_login(session, emulator, "not-a-jwt"), "invalid_grant", "invalid assertion")


def test_the_jwt_expiry_is_judged_by_the_emulator_clock(
    emulator: Emulator, session: requests.Session, clock: ManualClock, key_pair: JwtKeyPair
) -> None:
    token = assertion(key_pair.private_key_pem, clock)
    clock.advance(seconds=181)
    assert_refused(jwt_login(session, emulator, token), "invalid_grant", "invalid assertion")


def test_client_credentials_act_as_the_first_user_or_the_configured_one(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator()
    other = emulator.add_user("other@crmsync.example", email="other@crmsync.example", last_name="Other")
    emulator.register_connected_app("runner", client_secret="s", run_as="other@crmsync.example")
    session = requests.Session()
    emulator.mount(session)

    default = token_request(
        session,
        emulator,
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    configured = token_request(
        session, emulator, {"grant_type": "client_credentials", "client_id": "runner", "client_secret": "s"}
    )
    wrong = token_request(
        session, emulator, {"grant_type": "client_credentials", "client_id": "runner", "client_secret": "x"}
    )

    assert default.status_code == 200 and not default.json()["id"].endswith(other)
    assert configured.status_code == 200 and configured.json()["id"].endswith(other)
    assert_refused(wrong, "invalid_client", "invalid client credentials")


def test_an_inactive_user_cannot_log_in(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_user(
        "gone@crmsync.example", email="gone@crmsync.example", last_name="Gone", password="p", is_active=False
    )
    assert_refused(
        password_login(session, emulator.login_url, username="gone@crmsync.example", password="p"),
        "invalid_grant",
        "authentication failure",
    )


def test_an_unknown_grant_type_is_refused(emulator: Emulator, session: requests.Session) -> None:
    assert_refused(
        token_request(session, emulator, {"grant_type": "authorization_code"}),
        "unsupported_grant_type",
        "grant type not supported",
    )


def test_token_requests_do_not_count_as_api_calls(emulator: Emulator, session: requests.Session) -> None:
    password_login(session, emulator.login_url)
    password_login(session, emulator.login_url, password="wrong")
    assert emulator.api_calls == 0 and emulator.call_log == []
