"""`crmsync why ID`: a record's story. ID is a prospect id or a Salesforce id (15 or 18
characters).

It prints the record's link as it stands, then its timeline grouped by run, oldest first: each
line the time, the direction, and what happened (`field: old → new  (the rule that decided
it)`, or the event: linked, created, converted, merged, deleted, out of scope...); then the
link's history and the record's open errors."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from crmsync_cli.client import path_segment
from crmsync_cli.commands.errors import render_entry
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import Output, short_id, value_text, when

TIME_WIDTH = 8
DIRECTION_WIDTH = 8


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands,
        common,
        "why",
        "a record's timeline: each sync, field by field, with the rule that decided it; its link and open errors",
    )
    parse.add_argument("id", metavar="ID", help="a prospect id, or a Salesforce id (15 or 18 characters)")
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    body = context.api.call("GET", f"/records/{path_segment(args.id)}/why")
    out = context.output
    if out.json:
        out.print_json(body)
    else:
        out.out.print(render(body, out))
    return 0


def render(body: Mapping[str, Any], out: Output) -> Group:
    parts: list[RenderableType] = [_headline(body), _link_line(body.get("link"), out), Text()]
    timeline = [e for e in body.get("timeline") or [] if isinstance(e, Mapping)]
    parts.append(Text(f"Timeline ({len(timeline)} entries, oldest first)", style="bold underline"))
    if not timeline:
        parts.append(Text("  nothing has happened to this record yet", style="dim"))
    for run_id, entries in by_run(timeline):
        parts.append(_run_header(run_id, entries, out))
        parts.append(_entries(entries, out))
    history = [e for e in body.get("link_history") or [] if isinstance(e, Mapping)]
    parts += [Text(), Text("Link history", style="bold underline")]
    if history:
        parts += [Padding(Text(describe_link(entry, out)), (0, 0, 0, 2)) for entry in history]
    else:
        parts.append(Text("  no earlier link", style="dim"))
    errors = [e for e in body.get("open_errors") or [] if isinstance(e, Mapping)]
    parts += [Text(), Text(f"Open errors ({len(errors)})", style="bold underline")]
    if errors:
        parts += [render_entry(number, error, out) for number, error in enumerate(errors, start=1)]
    else:
        parts.append(Text("  none", style="dim"))
    return Group(*parts)


def _headline(body: Mapping[str, Any]) -> Text:
    line = Text()
    line.append(f"Prospect {body.get('prospect_id') or '-'}", style="bold")
    salesforce = body.get("salesforce") or {}
    if salesforce.get("id"):
        line.append("  ↔  ")
        line.append(f"{salesforce.get('object') or 'record'} {salesforce['id']}", style="bold")
    else:
        line.append("  (no Salesforce record)", style="dim")
    return line


def _link_line(link: Any, out: Output) -> Text:
    if not isinstance(link, Mapping) or not link:
        return Text("not linked", style="yellow")
    return Text(f"link: {describe_link(link, out)}")


def describe_link(link: Mapping[str, Any], out: Output) -> str:
    """A link (current or past) in a line: its status, the record, where it came from, when,
    and the event that made it."""
    crm = link.get("crm") if isinstance(link.get("crm"), Mapping) else link
    record = " ".join(str(crm[k]) for k in ("object", "id") if isinstance(crm, Mapping) and crm.get(k))
    parts = [str(link.get("status") or "")]
    if record:
        parts.append(record)
    if link.get("origin"):
        parts.append(f"origin {link['origin']}")
    if link.get("from"):
        first, last = (
            when(link["from"], out.now, seconds=False),
            when(link.get("until"), out.now, seconds=False),
        )
        parts.append(first if last in ("-", first) else f"{first} to {last}")
    for key, label in (
        ("linked_at", "since"),
        ("last_synced_at", "last synced"),
        ("replaced_at", "replaced"),
    ):
        if link.get(key):
            parts.append(f"{label} {when(link[key], out.now, seconds=False)}")
    if link.get("event"):
        parts.append(str(link["event"]))
    return " · ".join(p for p in parts if p) or "-"


def by_run(timeline: Sequence[Mapping[str, Any]]) -> Iterable[tuple[str, list[Mapping[str, Any]]]]:
    """The entries in their order, grouped by run: consecutive entries of one run together."""
    group: list[Mapping[str, Any]] = []
    current: str | None = None
    for entry in timeline:
        run_id = str(entry.get("run_id") or "")
        if group and run_id != current:
            yield current or "", group
            group = []
        current = run_id
        group.append(entry)
    if group:
        yield current or "", group


def _run_header(run_id: str, entries: Sequence[Mapping[str, Any]], out: Output) -> Text:
    directions = sorted({str(e.get("direction")) for e in entries if e.get("direction")})
    header = Text("\n")
    header.append(f"run {short_id(run_id) if run_id else '(no run)'}", style="bold cyan")
    if directions:
        header.append(f" · {' + '.join(directions)}")
    # The date once, here (today's runs show the time alone); each line shows its time of day.
    header.append(f" · {when(entries[0].get('at'), out.now)}", style="dim")
    return header


def _entries(entries: Sequence[Mapping[str, Any]], out: Output) -> Table:
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(min_width=TIME_WIDTH + 2, max_width=TIME_WIDTH + 2, no_wrap=True)
    grid.add_column(min_width=DIRECTION_WIDTH, max_width=DIRECTION_WIDTH, no_wrap=True)
    grid.add_column(ratio=1)
    for entry in entries:
        grid.add_row(
            Text("  " + clock(entry.get("at"), out)),
            Text(str(entry.get("direction") or ""), style="dim"),
            describe(entry),
        )
    return grid


def clock(value: Any, out: Output) -> str:
    """The time of day of an entry (its run's header carries the date)."""
    shown = when(value, out.now)
    return shown.rsplit(" ", 1)[-1]


def describe(entry: Mapping[str, Any]) -> Text:
    """`field: old → new  (rule)`, or the event; an event about a field names both."""
    event = str(entry.get("event") or "")
    field = entry.get("field")
    line = Text()
    if field:
        if event and event not in ("field synced", "field_synced", "synced"):
            line.append(f"{event}: ")
        line.append(str(field), style="bold")
        line.append(f": {value_text(entry.get('old'))} → {value_text(entry.get('new'))}")
    else:
        line.append(event or "-")
    if entry.get("rule"):
        line.append(f"  ({entry['rule']})", style="dim")
    return line
