"""`make local`: a connector left running on this machine for a person to try the `crmsync`
command on (`crmsync --local ...`), without AWS or a Salesforce org.

    python -m local.runtime.local_stack start    # in the background; `make local`
    python -m local.runtime.local_stack stop     # `make local-stop`
    python -m local.runtime.local_stack serve    # in the foreground (what `start` runs)

One process holds it all: moto served for AWS (the stack made from template.yaml), the
Salesforce emulator over HTTPS, and the stack's HTTP API on localhost (`local.runtime.http_api`).
It is seeded with a few records in every state the commands show (`seed`), then the scheduled
functions tick every `--tick-seconds`: the prospects stream and the actions queue are handed to
their functions, and the outbound and inbound schedules run, each tick a run (their schedules
are let pass, as in the demo), so that lag and runs move. A paused connector stays paused.

`.local/stack.json` says where it is (its URL, process id, what was seeded); it is written once
the stack answers, and removed when it stops. `.local/stack.log` has the process's output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STATE_DIRECTORY = ROOT / ".local"
STACK_FILE = "stack.json"
LOG_FILE = "stack.log"
TICK_SECONDS = 30.0
START_TIMEOUT_SECONDS = 180.0
ORG_CLOCK_BEHIND = timedelta(hours=1)
"""As in the demo (local/demo/__init__.py): a record the org stamps is at once in a second the
connector may read up to."""


class OrgClock:
    """The emulator's clock: the machine's, an hour behind."""

    def __call__(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - ORG_CLOCK_BEHIND

    def now(self) -> datetime:
        return self()


# ------------------------------------------------------------------ seeding


@dataclass
class Seeded:
    """What the seeding left, for stack.json and the README's examples."""

    leads: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    linked_by_email: dict[str, str] = field(default_factory=dict)
    """Prospect id → the Lead it was linked to by its email at the first run."""
    edited_both_ways: str = ""
    """A prospect whose Lead was edited in Salesforce and which marketing then edited."""
    refused_email: str = ""
    """A prospect whose email Salesforce refuses (a validation error)."""
    created_by_action: str = ""
    """A prospect an automation action made a Lead for."""
    refused_duplicate: str = ""
    """A prospect an action asked a Lead for that Salesforce's duplicate rule refuses."""
    open_errors: dict[str, int] = field(default_factory=dict)


def seed(functions: Any, emulator: Any) -> Seeded:
    """A few Leads and Contacts, linked and synced both ways, a Lead an action created, and open
    errors of two categories; runs of both directions."""
    from crmsync import bootstrap
    from crmsync.domain.prospect import Prospect

    from local.demo.inbound import Marketing
    from local.demo.org import demo_configuration
    from local.runtime.schedules import let_schedules_pass

    seeded = Seeded()
    bootstrap.load_configuration(demo_configuration())
    account = emulator.insert("Account", {"Name": "Acme Analytics"})
    people = [
        ("Ada", "Lovelace", "Analytical Engines"),
        ("Grace", "Hopper", "Compiler Works"),
        ("Alan", "Turing", "Bletchley Labs"),
        ("Katherine", "Johnson", "Orbital Math"),
        ("Edsger", "Dijkstra", "Shortest Paths"),
        ("Barbara", "Liskov", "Substitution Ltd"),
    ]
    for number, (first, last, company) in enumerate(people):
        seeded.leads.append(
            emulator.insert(
                "Lead",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Company": company,
                    "Email": f"{first.lower()}.{last.lower()}@example.org",
                    "Phone": f"+1 555 010{number}",
                    "LeadSource": "Web",
                    "Country": "United States",
                },
            )
        )
    # Out of the sample configuration's Lead scope (LeadSource): never synced.
    emulator.insert(
        "Lead",
        {
            "FirstName": "Olive",
            "LastName": "Outside",
            "Company": "Bought List",
            "LeadSource": "Purchased List",
        },
    )
    for first, last in (("Tim", "Berners-Lee"), ("Radia", "Perlman"), ("Vint", "Cerf")):
        seeded.contacts.append(
            emulator.insert(
                "Contact",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Email": f"{first.lower()}@acme.example",
                    "AccountId": account,
                },
            )
        )
    marketing = Marketing()
    imported = datetime.now(UTC) - timedelta(days=3)
    known = Prospect(
        id="imported-0001",
        fields={"email": "ADA.LOVELACE@EXAMPLE.ORG", "first_name": "Ada", "job_title": "Head of Marketing"},
        modified_at=imported,
    )
    marketing.add([known])
    seeded.linked_by_email[known.id] = seeded.leads[0]

    # The outbound run while paused, as deployed; then resumed, its catch-up run.
    let_schedules_pass("outbound")
    functions.outbound_tick()
    bootstrap.resume()
    _next_second()
    let_schedules_pass("outbound")
    functions.outbound_tick()

    # A salesperson edits a Lead; the next outbound run brings it to its prospect.
    emulator.update("Lead", seeded.leads[0], {"Phone": "+44 20 7946 0000", "Title": "Countess"})
    _next_second()
    let_schedules_pass("outbound")
    functions.outbound_tick()

    # Marketing edits: a score and grade, a job title, and an email Salesforce refuses.
    links = bootstrap.link_store().by_crm_ids(seeded.leads)
    prospect_of = {crm_id: stored.link.prospect_id for crm_id, stored in links.items()}
    seeded.edited_both_ways = prospect_of[seeded.leads[0]]
    seeded.refused_email = prospect_of[seeded.leads[1]]
    also: dict[str, dict[str, Any]] = {
        seeded.edited_both_ways: {"job_title": "Director of Analytics"},
        seeded.refused_email: {"email": "not-an-email"},
    }
    scored = [prospect_of[lead] for lead in seeded.leads[:4]]
    marketing.edit(scored, lambda n, p: {"score": 40 + 10 * n, "grade": "ABCD"[n], **also.get(p.id, {})})
    functions.capture()
    let_schedules_pass("inbound")
    functions.inbound_tick()

    # Automation actions: a new Lead for a new prospect, and one a duplicate rule refuses.
    emulator.enable_duplicate_rule("Lead", "Phone")
    new = Prospect(
        id="auto-lead-001",
        fields={
            "email": "robin@startup.example",
            "first_name": "Robin",
            "last_name": "Asked",
            "company": "Startup",
        },
    )
    twin = Prospect(
        id="auto-lead-002",
        fields={
            "email": "sam@other.example",
            "first_name": "Sam",
            "last_name": "Twin",
            "company": "Other",
            "phone": "+1 555 0103",
        },
    )
    marketing.add([new, twin])
    functions.capture()
    for prospect in (new, twin):
        body = {
            "action": "create_lead",
            "prospect_id": prospect.id,
            "idempotency_key": f"welcome/{prospect.id}",
        }
        functions.request("post_action", body=json.dumps(body))
    functions.consume_actions()
    seeded.created_by_action, seeded.refused_duplicate = new.id, twin.id

    for error in bootstrap.error_list().open_errors():
        category = str(error.failure.category)
        seeded.open_errors[category] = seeded.open_errors.get(category, 0) + 1
    return seeded


def _next_second() -> None:
    """Let the current second end: the connector reads changes up to the last whole second."""
    time.sleep(1.05 - (time.time() % 1))


# ------------------------------------------------------------------ the running stack


def tick(functions: Any) -> None:
    """What the stack's triggers would have done meanwhile."""
    from local.runtime.schedules import let_schedules_pass

    functions.capture()
    functions.consume_actions()
    with functions.lock:
        let_schedules_pass()
    functions.outbound_tick()
    functions.inbound_tick()


def serve(state: Path, *, port: int, tick_seconds: float) -> None:
    """Run the local stack until SIGTERM or Ctrl-C; stack.json says where it is meanwhile."""
    from local.runtime.aws import QUIET
    from local.runtime.connector import local_connector
    from local.runtime.functions import LocalFunctions
    from local.runtime.http_api import serve_http_api
    from local.salesforce_emulator import Emulator

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    state.mkdir(parents=True, exist_ok=True)
    stack_file = state / STACK_FILE
    emulator = Emulator(clock=OrgClock())
    with local_connector(emulator) as connector:
        os.environ.update(QUIET)
        functions = LocalFunctions(connector)
        started = time.perf_counter()
        seeded = seed(functions, emulator)
        print(f"seeded in {time.perf_counter() - started:.1f} s: {json.dumps(asdict(seeded))}", flush=True)
        with serve_http_api(port, lock=functions.lock) as url:
            stack_file.write_text(
                json.dumps(
                    {
                        "url": url,
                        "pid": os.getpid(),
                        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "moto_url": connector.moto_url,
                        "salesforce_url": connector.salesforce_url,
                        "tick_seconds": tick_seconds,
                        "seeded": asdict(seeded),
                    },
                    indent=2,
                )
                + "\n"
            )
            print(f"serving the HTTP API at {url}", flush=True)
            try:
                while True:
                    time.sleep(tick_seconds)
                    try:
                        tick(functions)
                    except Exception as exc:  # a tick's failure is logged; the stack goes on
                        print(f"tick failed: {exc!r}", flush=True)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    stack_file.unlink()


# ------------------------------------------------------------------ start, stop


def running(state: Path) -> dict[str, Any] | None:
    """The stack described by stack.json when its process lives and its API answers."""
    try:
        stack: dict[str, Any] = json.loads((state / STACK_FILE).read_text())
        os.kill(int(stack["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        with urllib.request.urlopen(f"{stack['url']}/status", timeout=30):
            pass
    except urllib.error.HTTPError:
        pass  # it answered
    except OSError:
        return None
    return stack


def start(state: Path, *, port: int, tick_seconds: float) -> int:
    stack = running(state)
    if stack is not None:
        print(
            f"A local stack already runs at {stack['url']} (pid {stack['pid']}); `make local-stop` stops it."
        )
        return 0
    state.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (state / STACK_FILE).unlink()
    log = (state / LOG_FILE).open("w")
    command = [sys.executable, "-m", "local.runtime.local_stack", "serve", "--state", str(state)]
    command += ["--port", str(port), "--tick-seconds", str(tick_seconds)]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    print(
        f"Starting the local stack (pid {process.pid}): moto, the Salesforce emulator, the HTTP API; seeding..."
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(
                f"The local stack stopped while starting (exit {process.returncode}); see {state / LOG_FILE}:"
            )
            print((state / LOG_FILE).read_text()[-3000:])
            return 1
        stack = running(state)
        if stack is not None:
            describe(stack, state)
            return 0
        time.sleep(0.5)
    process.terminate()
    print(f"The local stack did not answer within {START_TIMEOUT_SECONDS:.0f} s; see {state / LOG_FILE}")
    return 1


def describe(stack: dict[str, Any], state: Path) -> None:
    seeded = stack.get("seeded") or {}
    errors = ", ".join(f"{n} {category}" for category, n in (seeded.get("open_errors") or {}).items())
    print(f"The local stack runs at {stack['url']} (pid {stack['pid']}; its output in {state / LOG_FILE}).")
    print(
        f"Seeded: {len(seeded.get('leads', []))} Leads in scope and 1 out of it, "
        f"{len(seeded.get('contacts', []))} Contacts, a Lead an automation action made; "
        f"open errors: {errors or 'none'}."
    )
    print(f"The schedules tick every {stack.get('tick_seconds')} s. Try:")
    print("  .venv/bin/crmsync --local status")
    print("  .venv/bin/crmsync --local errors")
    print(f"  .venv/bin/crmsync --local why {seeded.get('edited_both_ways', 'PROSPECT_ID')}")
    print("`make local-stop` stops it.")


def stop(state: Path) -> int:
    try:
        stack = json.loads((state / STACK_FILE).read_text())
        pid = int(stack["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        print("No local stack runs (no .local/stack.json).")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reaped, when this process started it (check-cli)
            os.kill(pid, 0)
            time.sleep(0.1)
        print(f"The local stack (pid {pid}) did not stop within 10 s.")
        return 1
    with contextlib.suppress(FileNotFoundError):
        (state / STACK_FILE).unlink()
    print(f"The local stack (pid {pid}) stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parse = argparse.ArgumentParser(
        prog="python -m local.runtime.local_stack", description=__doc__.split("\n")[0]
    )
    parse.add_argument("what", choices=("start", "stop", "serve"))
    parse.add_argument("--state", type=Path, default=STATE_DIRECTORY, help="where stack.json and the log go")
    parse.add_argument("--port", type=int, default=0, help="the HTTP API's port (default: a free one)")
    parse.add_argument("--tick-seconds", type=float, default=TICK_SECONDS)
    args = parse.parse_args(argv)
    if args.what == "start":
        return start(args.state, port=args.port, tick_seconds=args.tick_seconds)
    if args.what == "stop":
        return stop(args.state)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.state, port=args.port, tick_seconds=args.tick_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
