"""Emulator tests: its HTTP answers, checked against the shapes in Salesforce's documentation,
through a plain requests session with the emulator mounted in process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.salesforce_emulator import Emulator, ManualClock

CLIENT_ID = "3MVG9emulator-tests"
CLIENT_SECRET = "app-secret"
USERNAME = "api@crmsync.example"
PASSWORD = "s3cret-pass"
SECURITY_TOKEN = "TOKEN"
API_VERSION = "62.0"


@dataclass
class Client:
    """A requests session holding one access token, talking to one API version."""

    session: requests.Session
    instance_url: str
    token: str

    def url(self, path: str) -> str:
        return f"{self.instance_url}/services/data/v{API_VERSION}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else self.url(path)
        return self.session.request(method, url, headers=headers, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="session")
def key_pair() -> JwtKeyPair:
    return generate_jwt_key_pair()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def make_emulator(clock: ManualClock, key_pair: JwtKeyPair) -> Callable[..., Emulator]:
    def make(**options: Any) -> Emulator:
        emulator = Emulator(clock=clock, **options)
        emulator.register_connected_app(
            CLIENT_ID, client_secret=CLIENT_SECRET, certificate_pem=key_pair.certificate_pem
        )
        emulator.add_user(
            USERNAME, email=USERNAME, last_name="Api", password=PASSWORD, security_token=SECURITY_TOKEN
        )
        return emulator

    return make


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


def password_login(session: requests.Session, login_url: str, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
        "password": PASSWORD + SECURITY_TOKEN,
    } | overrides
    return session.post(f"{login_url}/services/oauth2/token", data=form, timeout=5)


def client_for(emulator: Emulator) -> Client:
    session = requests.Session()
    emulator.mount(session)
    token = password_login(session, emulator.login_url).json()
    return Client(session, token["instance_url"], token["access_token"])


@pytest.fixture
def api(emulator: Emulator) -> Client:
    return client_for(emulator)


def assert_error(
    response: requests.Response, status: int, code: str, message: str | None = None
) -> dict[str, Any]:
    """Salesforce's error body: a JSON array of {"message", "errorCode", "fields"?}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) <= {"message", "errorCode", "fields"}
    assert body[0]["errorCode"] == code
    if message is not None:
        assert body[0]["message"] == message
    error: dict[str, Any] = body[0]
    return error
