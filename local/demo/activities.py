"""Marketing activities (opens, clicks, a click on a link already clicked, form submissions,
page visits, which this configuration does not send) become completed Tasks at the next
scheduled inbound invocation; and what became of those not sent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync import bootstrap
from crmsync.domain.activities import Activity, ActivityState, ActivityType

from local.demo.actions import ActionProspects
from local.demo.inbound import Edits, InboundFunction
from local.demo.report import counts_text
from local.salesforce_emulator import ManualClock


def activities_demo(
    inbound: InboundFunction, edits: Edits, prospects: ActionProspects, clock: ManualClock
) -> None:
    print()
    print("marketing activities → completed Tasks (sent by the scheduled inbound invocation)")
    clock.advance(minutes=1)
    spring = {"email_id": "em-spring", "name": "Spring launch"}
    offer, pricing = "https://example.com/spring-offer", "https://example.com/pricing"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    leads = edits.scored[2:22]
    contacts = [p.id for p in prospects.new_contacts[:10]]
    people = leads + contacts
    made: list[Activity] = []

    def happened(prospect_id: str, kind: ActivityType, minutes: int, **details: Any) -> Activity:
        activity = Activity(
            f"act-{len(made):04d}", prospect_id, kind, at + timedelta(minutes=minutes), **details
        )
        made.append(activity)
        return activity

    for pid in people:
        happened(pid, ActivityType.EMAIL_OPEN, 1, **spring)
    for pid in people[:15]:
        happened(pid, ActivityType.EMAIL_CLICK, 2, url=offer, **spring)
    repeated = [happened(pid, ActivityType.EMAIL_CLICK, 9, url=offer, **spring) for pid in people[:5]]
    for pid in people[:3]:
        happened(pid, ActivityType.EMAIL_CLICK, 10, url=pricing, **spring)
    for pid in people[10:20]:
        happened(pid, ActivityType.FORM_SUBMISSION, 15, name="Request a demo", url="https://example.com/demo")
    for pid in people[:12]:
        happened(pid, ActivityType.PAGE_VISIT, 20, url=pricing, name="Pricing")
    unlinked = prospects.invalid_email.id
    happened(unlinked, ActivityType.EMAIL_OPEN, 3, **spring)
    happened(unlinked, ActivityType.FORM_SUBMISSION, 4, name="Request a demo")
    refused = bootstrap.activity_store().record(made)
    if refused:
        raise SystemExit(f"{len(refused)} activities were refused by the activity store")
    kinds = Counter(str(a.type) for a in made)
    print(
        f"  ✓ marketing recorded {len(made)} activities of {len(people) + 1} prospects: "
        + ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        + f"; {len(repeated)} clicks repeat an earlier one; 2 are of a prospect with no link"
    )
    tasks_before = len(inbound.emulator.records("Task"))
    invocation, report = inbound.scheduled("activities")
    activities = report["activities"]
    tasks = inbound.emulator.records("Task")[tasks_before:]
    print(
        f"  ✓ scheduled invocation: fields {report['outcome']}; activities {activities['outcome']}: "
        f"{counts_text(activities['counts'])}; {len(tasks)} Tasks in {invocation.collections_writes} "
        f"Collections call(s), {invocation.api_calls} API calls in all"
    )
    if tasks:
        task = tasks[0]
        print(
            f"    e.g. Task {task['Id']}: {task['Subject']!r}, {task['Status']}, dated {task['ActivityDate']}, "
            f"WhoId {task['WhoId']}"
        )
    print()
    print("why: what became of the activities not sent")
    store = bootstrap.activity_store()
    reasons: Counter[tuple[str, str]] = Counter()
    for pid in {a.prospect_id for a in made}:
        for stored in store.of_prospect(pid):
            if stored.state is not ActivityState.SENT:
                reasons[(str(stored.state), stored.reason)] += 1
    for (state, reason), count in reasons.most_common():
        print(f"  {count:>3} {state}: {reason}")
