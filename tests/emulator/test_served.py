"""The emulator served over HTTPS on localhost, and the real simple-salesforce client against it."""

from __future__ import annotations

import requests
from simple_salesforce import Salesforce

from local.salesforce_emulator import Emulator

from .conftest import password_login


def test_served_over_https_the_server_is_both_login_and_instance_url(emulator: Emulator) -> None:
    with emulator.serve() as server, requests.Session() as session:
        session.trust_env = False  # or REQUESTS_CA_BUNDLE from the environment would win over `verify`
        session.verify = server.ca_file
        assert server.url.startswith("https://127.0.0.1:")
        assert emulator.login_url == emulator.instance_url == server.url

        token = password_login(session, server.url).json()
        limits = session.get(
            f"{token['instance_url']}/services/data/v62.0/limits",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=5,
        )

    assert token["instance_url"] == server.url
    assert limits.status_code == 200 and limits.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert emulator.login_url == "https://login.salesforce.emulator"


def test_simple_salesforce_works_against_the_served_emulator(emulator: Emulator) -> None:
    with emulator.serve() as server, requests.Session() as session:
        session.trust_env = False
        session.verify = server.ca_file
        token = password_login(session, server.url).json()
        sf = Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=session,
            version="62.0",
        )

        created = sf.Lead.create({"LastName": "Served", "Company": "Acme"})
        lead = sf.Lead.get(created["id"])
        sf.limits()

    assert lead["LastName"] == "Served"
    assert sf.api_usage["api-usage"].used == 3
