"""The echo check: the outbound run after the inbound steps writes Salesforce's values to
prospects, and change capture notes none of them, so nothing goes back."""

from __future__ import annotations

from crmsync import bootstrap

from local.demo.actions import ActionProspects
from local.demo.inbound import InboundFunction
from local.demo.outbound import OutboundRuns
from local.demo.report import counts_text, describe
from local.salesforce_emulator import ManualClock


def echo_check(
    inbound: InboundFunction, runs: OutboundRuns, prospects: ActionProspects, clock: ManualClock
) -> None:
    print()
    print("echo check: what inbound wrote to Salesforce does not come back as a change to send")
    clock.advance(minutes=1)
    run = runs.invoke("after inbound")
    print(f"    outbound run: {counts_text(run.counts)}; {run.api_calls} API calls, {run.seconds:.2f} s")
    records, batches = inbound.capture("echo")
    noted = sum(b.noted or 0 for b in batches)
    print(
        f"  ✓ prospects stream: {records} records (outbound's writes, marked as the connector's; the "
        f"template's event filter drops them before invocation), {noted} changes noted"
    )
    invocation, _ = inbound.scheduled("echo")
    print(
        f"  ✓ scheduled inbound invocation: {invocation.outcome}, {invocation.api_calls} Salesforce API calls"
    )
    print()
    print("why: what that outbound run did to prospects the actions linked")
    labels = {run.run_id: "outbound after inbound"}
    for title, prospect_id in (
        ("a Lead created by an action", prospects.new_leads[1].id),
        ("a Lead outside the scope, linked by an action", prospects.known_emails[1].id),
        ("a Contact created by an action", prospects.new_contacts[1].id),
    ):
        print(f"  {title}  [prospect {prospect_id}]")
        for entry in bootstrap.audit_trail().audit_trail(prospect_id):
            if entry.run_id == run.run_id:
                print(f"      {labels[entry.run_id]:<24} {describe(entry)}")
    print(
        "  (the sample Lead scope takes LeadSource Web, Webinar and Trade Show only: the Leads the actions\n"
        "   created, with no LeadSource, and those they linked, of other sources, are outside it, yet they\n"
        "   sync both ways: a link made at the marketing side's request is not the outbound scope's business)"
    )
