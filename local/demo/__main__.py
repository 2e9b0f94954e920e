"""`python -m local.demo`: the demo's parts, in order, on one local connector."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from local.demo.actions import automation_actions_demo
from local.demo.activities import activities_demo
from local.demo.echo import echo_check
from local.demo.gateway import gateway_demo
from local.demo.inbound import InboundFunction, Marketing, marketing_edits_demo
from local.demo.outbound import outbound_demo
from local.runtime.connector import local_connector
from local.salesforce_emulator import Emulator, ManualClock

ORG_CLOCK_BEHIND = timedelta(hours=1)


def main() -> None:
    started = time.perf_counter()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - ORG_CLOCK_BEHIND)
    emulator = Emulator(clock=clock)
    print("crmsync demo: moto (server mode) + the Salesforce emulator (HTTPS on localhost)")
    with local_connector(emulator) as connector:
        print(f"  AWS (moto):        {connector.moto_url}  tables and queues made from template.yaml")
        print(
            f"  Salesforce (emu):  {connector.salesforce_url}  (its clock an hour behind: see local/demo/__init__.py)"
        )
        gateway_demo(emulator, clock, started)

        print()
        print("outbound sync (Salesforce → marketing) through functions/outbound_sync/app.handler")
        runs, org = outbound_demo(emulator, clock)

        # Reads the prospects stream from now on (LATEST): the outbound half's writes are behind it.
        inbound = InboundFunction(connector.stack, emulator, connector.moto_url)
        marketing = Marketing()
        edits = marketing_edits_demo(inbound, marketing, org, clock)
        prospects = automation_actions_demo(inbound, marketing, org, clock)
        activities_demo(inbound, edits, prospects, clock)
        echo_check(inbound, runs, prospects, clock)
    print()
    print(f"demo finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
