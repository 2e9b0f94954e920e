"""`make bench`, the Salesforce API calls of typical gateway work against the emulator (in this
process, mounted on the gateway's session): Collections and Bulk API 2.0 writes, a full read and
an idle incremental read."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def gateway_calls() -> None:
    from crmsync.domain.records import WriteOperation
    from crmsync.salesforce.auth import SalesforceCredentials, request_token
    from crmsync.salesforce.gateway import SalesforceGateway
    from crmsync.salesforce.session import SalesforceSession

    from local.keys import generate_jwt_key_pair
    from local.runtime.org import connect_app
    from local.salesforce_emulator import Emulator, ManualClock

    clock = ManualClock(datetime(2026, 11, 22, 12, tzinfo=UTC))
    emulator = Emulator(clock=clock)
    keys = generate_jwt_key_pair()
    connect_app(emulator, keys, client_id="bench", username="bench@crmsync.local")
    credentials = SalesforceCredentials.from_secret(
        {
            "auth": "jwt",
            "login_url": emulator.login_url,
            "client_id": "bench",
            "username": "bench@crmsync.local",
            "private_key": keys.private_key_pem,
        }
    )
    session = SalesforceSession(lambda s: request_token(s, credentials, timeout=5))
    emulator.mount(session)
    gateway = SalesforceGateway(session, api_version="62.0", bulk_poll_seconds=0)

    def leads(n: int, tag: str) -> list[dict[str, object]]:
        return [
            {"LastName": f"{tag} {i}", "Company": "Bench", "Email": f"{tag}{i}@bench.example"}
            for i in range(n)
        ]

    print("Salesforce API calls against the emulator:")
    for label, records in (
        ("Collections write", leads(1000, "c")),
        ("Bulk API 2.0 write", leads(10_000, "b")),
    ):
        emulator.reset_counters()
        started = time.perf_counter()
        gateway.write("Lead", WriteOperation.CREATE, records)
        elapsed = time.perf_counter() - started
        print(f"  {label:<28} {len(records):>6} records  {emulator.api_calls:>3} calls  {elapsed:6.2f} s")
    clock.advance(seconds=2)
    emulator.reset_counters()
    started = time.perf_counter()
    pages = list(gateway.read_changes("Lead", ["Email"], None, clock.now()))
    elapsed = time.perf_counter() - started
    count = sum(len(page.records) for page in pages)
    print(f"  {'full read':<28} {count:>6} records  {emulator.api_calls:>3} calls  {elapsed:6.2f} s")
    clock.advance(seconds=120)
    emulator.reset_counters()
    idle = sum(
        len(page.records)
        for page in gateway.read_changes("Lead", ["Email"], pages[-1].watermark, clock.now())
    )
    print(f"  {'idle incremental read':<28} {idle:>6} records  {emulator.api_calls:>3} calls")
