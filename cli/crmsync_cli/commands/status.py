"""`crmsync status`: is the connector healthy, and how far behind is each direction.

Exit status 0 when the connector says it is healthy, 1 when it is not, 2 when it cannot be
asked. Paused counts as healthy: pausing is an operator's choice, not a fault, and a script
gating on `status` should fail for what needs a person (a failing direction, the API budget
spent, Salesforce not answering), not for a pause someone asked for. A script that needs the
connector running reads `state` from `--json`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.text import Text

from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import ago, counts, duration, instant, number, table, when

HEALTHY, UNHEALTHY = 0, 1

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "over_budget": "bold red",
    "failing": "bold red",
}

WAITING = (
    ("changed_prospects", "changed prospects"),
    ("parked_actions", "parked actions"),
    ("actions_queue", "actions queue"),
    ("actions_dlq", "actions DLQ"),
    ("failed_captures", "failed captures"),
)


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands,
        common,
        "status",
        "paused / running / over budget / failing; each direction's lag, what waits, API use, "
        "open errors (exit status 1 when not healthy)",
    )
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    body = context.api.call("GET", "/status")
    out = context.output
    if out.json:
        out.print_json(body)
    else:
        out.out.print(render(body, out.now))
    return HEALTHY if is_healthy(body) else UNHEALTHY


def is_healthy(body: Mapping[str, Any]) -> bool:
    healthy = body.get("healthy")
    if isinstance(healthy, bool):
        return healthy
    # A connector older than this command says only whether it runs and Salesforce answers.
    salesforce = body.get("salesforce") or {}
    return state_of(body) in ("running", "paused") and salesforce.get("reachable") is not False


def state_of(body: Mapping[str, Any]) -> str:
    return str(body.get("state") or body.get("connector") or "unknown")


def render(body: Mapping[str, Any], now: Any) -> Group:
    state = state_of(body)
    headline = Text()
    headline.append(state.replace("_", " ").upper(), style=STATE_STYLES.get(state, "bold"))
    healthy = is_healthy(body)
    headline.append("  healthy" if healthy else "  NOT HEALTHY", style="green" if healthy else "bold red")
    config_version = body.get("config_version")
    headline.append(
        f"  ·  crmsync {body.get('version', '?')}  ·  "
        + (f"configuration v{config_version}" if config_version is not None else "no configuration loaded")
    )
    parts: list[Any] = [headline, _salesforce(body), Text()]
    directions = body.get("directions")
    if isinstance(directions, Mapping) and directions:
        parts.append(_directions(directions, now))
        parts += _failing(directions)
        parts.append(Text())
    parts += _details(body, now)
    return Group(*parts)


def _salesforce(body: Mapping[str, Any]) -> Text:
    salesforce = body.get("salesforce") or {}
    api = body.get("api") or salesforce.get("api_usage") or {}
    if salesforce.get("reachable") is False:
        error = salesforce.get("error") or {}
        line = Text("Salesforce does not answer: ", style="bold red")
        line.append(f"{error.get('code', '?')} ({error.get('category', '?')}): {error.get('message', '')}")
        return line
    line = Text("Salesforce answers" if salesforce.get("reachable") else "Salesforce: not asked")
    if api:
        line.append(f"  ·  API calls today {number(api.get('used'))} of {number(api.get('limit'))}")
        percent = api.get("percent")
        budget = api.get("budget_percent")
        share = f"{percent:.1f}%" if isinstance(percent, (int, float)) else "?"
        if budget is not None:
            over = isinstance(percent, (int, float)) and percent >= budget
            line.append(f" ({share}; budget {number(budget)}%)", style="bold red" if over else "")
        else:
            line.append(f" ({share})")
    return line


def _directions(directions: Mapping[str, Any], now: Any) -> Any:
    grid = table("", "last completed sync", "lag", "last run")
    for name, direction in directions.items():
        if not isinstance(direction, Mapping):
            grid.add_row(name, "-", "-", "-")
            continue
        completed = direction.get("last_completed_run") or None
        last = direction.get("last_run") or None
        if completed:
            done = Text(when(completed.get("finished_at"), now))
            done.append(f"\n{counts(completed.get('counts'))}", style="dim")
        else:
            done = Text("never")
        lag = direction.get("lag_seconds")
        lag_text = Text(
            duration(lag) if lag is not None else "-", style="bold red" if direction.get("failing") else ""
        )
        if last:
            outcome = str(last.get("outcome", "?"))
            last_text = Text(outcome, style="" if outcome in ("completed", "idle") else "yellow")
            last_text.append(f" {when(last.get('finished_at'), now)}")
        else:
            last_text = Text("-")
        grid.add_row(Text(name, style="bold"), done, lag_text, last_text)
    return grid


def _failing(directions: Mapping[str, Any]) -> list[Text]:
    lines = []
    for name, direction in directions.items():
        if not isinstance(direction, Mapping) or not direction.get("failing"):
            continue
        why = _why_failing(direction)
        lines.append(Text(f"! {name} is failing" + (f": {why}" if why else ""), style="bold red"))
    return lines


def _why_failing(direction: Mapping[str, Any]) -> str:
    failing = direction.get("failing")
    if isinstance(failing, str):
        return failing
    if isinstance(failing, Mapping):
        return str(failing.get("why") or failing.get("reason") or "")
    for key in ("failing_because", "failing_why", "why", "reason"):
        if direction.get(key):
            return str(direction[key])
    return ""


def _details(body: Mapping[str, Any], now: Any) -> list[Any]:
    grid = table("", "", show_header=False)
    waiting = body.get("waiting")
    if isinstance(waiting, Mapping):
        # What waits, those above zero; messages in the DLQ need a person.
        shown = Text()
        for key, label in WAITING:
            if waiting.get(key):
                shown.append("  ·  " if shown else "")
                shown.append(
                    f"{label} {number(waiting[key])}", style="bold red" if key == "actions_dlq" else ""
                )
        grid.add_row(Text("Waiting", style="bold"), shown if shown else Text("nothing"))
    open_errors = body.get("open_errors")
    if isinstance(open_errors, Mapping):
        total = sum(n for n in open_errors.values() if isinstance(n, int))
        errors = Text(counts(open_errors, separator="  ·  ") if total else "none")
        if total:
            errors.append("   (crmsync errors)", style="dim")
        grid.add_row(Text("Open errors", style="bold"), errors)
    resync = body.get("resync")
    if isinstance(resync, Mapping):
        grid.add_row(Text("Resync", style="bold"), resync_line(resync, now))
    schedules = body.get("schedules")
    if isinstance(schedules, Mapping) and "error" not in schedules:
        lines = []
        for name, schedule in schedules.items():
            if isinstance(schedule, Mapping):
                due = instant(schedule.get("next_due_at"))
                lines.append(
                    f"{name} every {schedule.get('every', '?')}, next "
                    + (when(due.isoformat(), now) if due and due > now else "at the next tick")
                )
        grid.add_row(Text("Schedules", style="bold"), "\n".join(lines))
    return [grid] if grid.row_count else []


def resync_line(resync: Mapping[str, Any], now: Any) -> str:
    total = resync.get("total")
    read = number(resync.get("read"))
    of = f" of {number(total)}" if total is not None else ""
    since = f", started {ago(resync.get('started_at'), now)}" if resync.get("started_at") else ""
    return (
        f"{resync.get('object', '?')}: {read}{of} read, {number(resync.get('applied'))} applied "
        f"({resync.get('state', '?')}{since})"
    )
