"""Adapter tests: the real simple-salesforce client against the emulator, mounted in-process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crmsync.domain.retry import RetryPolicy
from crmsync.salesforce.auth import SalesforceCredentials, request_token
from crmsync.salesforce.gateway import SalesforceGateway
from crmsync.salesforce.session import SalesforceSession

from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.salesforce_emulator import Emulator, ManualClock

CLIENT_ID = "3MVG9crmsync-test-app"
USERNAME = "integration@crmsync.example"


@pytest.fixture(scope="session")
def key_pair() -> JwtKeyPair:
    return generate_jwt_key_pair()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def emulator(clock: ManualClock, key_pair: JwtKeyPair) -> Emulator:
    emu = Emulator(clock=clock)
    emu.register_connected_app(
        CLIENT_ID, client_secret="app-secret", certificate_pem=key_pair.certificate_pem
    )
    emu.add_user(
        USERNAME, email=USERNAME, last_name="Integration", password="s3cret-pass", security_token="TOKEN"
    )
    return emu


@pytest.fixture
def credentials(emulator: Emulator, key_pair: JwtKeyPair) -> SalesforceCredentials:
    return SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": emulator.login_url,
            "client_id": CLIENT_ID,
            "username": USERNAME,
            "private_key": key_pair.private_key_pem,
        }
    )


def make_session(
    emulator: Emulator, credentials: SalesforceCredentials, read_timeout: float = 5.0
) -> SalesforceSession:
    session = SalesforceSession(
        lambda s: request_token(s, credentials, timeout=5.0), timeout=(1.0, read_timeout)
    )
    emulator.mount(session)
    return session


@pytest.fixture
def session(emulator: Emulator, credentials: SalesforceCredentials) -> SalesforceSession:
    return make_session(emulator, credentials)


@pytest.fixture
def gateway(session: SalesforceSession) -> SalesforceGateway:
    return SalesforceGateway(
        session,
        api_version="62.0",
        retry=RetryPolicy(max_attempts=3),
        sleep=lambda seconds: None,
        bulk_poll_seconds=0,
    )
