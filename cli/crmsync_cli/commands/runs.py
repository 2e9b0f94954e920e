"""`crmsync runs [--direction D] [--limit N]`: recent runs, newest first, with their outcome,
counts, Salesforce API calls and duration, and the API calls by kind (query, collections, bulk,
limits, describe, login): where the org's API allowance goes."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.text import Text

from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import counts, duration, number, plural, short_id, table, when

QUIET_OUTCOMES = ("completed", "idle", "not_due")


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands, common, "runs", "recent runs: outcome, counts, API calls (by kind) and duration"
    )
    parse.add_argument("--direction", choices=("inbound", "outbound"))
    parse.add_argument(
        "--limit", type=int, metavar="N", help="at most N runs (the route's default otherwise)"
    )
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    body = context.api.call("GET", "/runs", query={"direction": args.direction, "limit": args.limit})
    out = context.output
    if out.json:
        out.print_json(body)
        return 0
    runs = [r for r in body.get("runs") or [] if isinstance(r, Mapping)]
    if not runs:
        out.out.print("No runs yet.")
        return 0
    out.out.print(render(runs, out.now))
    return 0


def render(runs: list[Mapping[str, Any]], now: Any) -> Group:
    grid = table("started", "run", "outcome", "took", "API", "counts · API calls by kind")
    by_kind: Counter[str] = Counter()
    for entry in runs:
        kinds = entry.get("api_calls_by_kind") or {}
        by_kind.update({k: v for k, v in kinds.items() if isinstance(v, int)})
        outcome = str(entry.get("outcome", "?"))
        detail = Text(counts(entry.get("counts")))
        if any(kinds.values()):
            detail.append("\n" + counts(kinds), style="dim")
        grid.add_row(
            when(entry.get("started_at"), now),
            Text(f"{entry.get('direction', '?')}\n{short_id(entry.get('run_id'))}"),
            Text(outcome, style="" if outcome in QUIET_OUTCOMES else "yellow"),
            duration(entry.get("duration_s")),
            number(entry.get("api_calls")),
            detail,
        )
    total = sum(v for v in (r.get("api_calls") for r in runs) if isinstance(v, int))
    footer = Text(f"\n{plural(len(runs), 'run')}, {plural(total, 'Salesforce API call')}", style="bold")
    if by_kind:
        footer.append(f": {counts(dict(by_kind.most_common()))}")
    return Group(grid, footer)
