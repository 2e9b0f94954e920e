"""`crmsync sync ID [--direction inbound|outbound|both]`: sync one record now, even while the
connector is paused or past its API budget; it prints what changed on each side and the
Salesforce API calls it spent."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from crmsync_cli.client import path_segment
from crmsync_cli.commands.errors import render_entry
from crmsync_cli.commands.why import describe
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import Output, number, table

SIDES = ("salesforce", "marketing")


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands,
        common,
        "sync",
        "sync one record now (works while paused); prints what changed and the API calls spent",
    )
    parse.add_argument(
        "id", metavar="ID", help="a prospect id, or a Salesforce Lead/Contact/Person Account id"
    )
    parse.add_argument(
        "--direction",
        choices=("inbound", "outbound", "both"),
        default="both",
        help="inbound: the prospect to Salesforce; outbound: Salesforce to the prospect (default both)",
    )
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    body = context.api.call(
        "POST", f"/records/{path_segment(args.id)}/sync", document={"direction": args.direction}
    )
    out = context.output
    if out.json:
        out.print_json(body)
    else:
        out.out.print(render(body, out))
    return 0


def render(body: Mapping[str, Any], out: Output) -> Group:
    parts: list[RenderableType] = []
    given = body.get("salesforce")
    salesforce: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    head = Text("Synced ", style="bold")
    head.append(f"prospect {body.get('prospect_id') or '-'}")
    if salesforce.get("id"):
        head.append(f" ↔ {salesforce.get('object') or 'record'} {salesforce['id']}")
    if body.get("direction"):
        head.append(f" ({body['direction']})", style="dim")
    parts.append(head)
    changes = list(changes_of(body))
    if changes:
        grid = table("side", "change")
        for side, change in changes:
            grid.add_row(Text(side, style="bold"), describe(change))
        parts.append(grid)
    else:
        parts.append(Text("Nothing to change: both sides already agree.", style="green"))
    for direction in ("outbound", "inbound"):
        done = body.get(direction)
        if isinstance(done, Mapping) and done.get("outcome"):
            line = Text(f"{direction}: ", style="bold")
            line.append(str(done["outcome"]))
            if done.get("reason"):
                line.append(f" ({done['reason']})", style="dim")
            parts.append(line)
    events = [e for e in body.get("events") or [] if e]
    parts += [Text(f"• {e.get('event') if isinstance(e, Mapping) else e}") for e in events]
    errors = [e for e in body.get("errors") or body.get("open_errors") or [] if isinstance(e, Mapping)]
    if errors:
        parts.append(Text("Refused by Salesforce (in the error list):", style="bold red"))
        parts += [render_entry(n, e, out) for n, e in enumerate(errors, start=1)]
    calls = body.get("api_calls")
    if isinstance(calls, Mapping):
        spent = Text(f"Salesforce API calls: {number(calls.get('total', calls.get('spent')))}")
        kinds = {k: v for k, v in calls.items() if k not in ("total", "spent") and v}
        if kinds:
            spent.append(" (" + ", ".join(f"{k} {number(v)}" for k, v in kinds.items()) + ")", style="dim")
        parts.append(spent)
    elif calls is not None:
        spent = Text(f"Salesforce API calls: {number(calls)}")
        if body.get("api_calls_at_most") is not None:
            spent.append(f" (at most {number(body['api_calls_at_most'])})", style="dim")
        parts.append(spent)
    return Group(*parts)


def changes_of(body: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Each change with the side it was written to, whether the answer lists them together
    (`changes: [{side, field, ...}]`) or by side (`changes: {salesforce: [...], marketing: [...]}`)."""
    changes = body.get("changes")
    if isinstance(changes, list):
        for change in changes:
            if isinstance(change, Mapping):
                yield str(change.get("side") or ""), change
    elif isinstance(changes, Mapping):
        for side, listed in changes.items():
            for change in listed or []:
                if isinstance(change, Mapping):
                    yield str(side), change
