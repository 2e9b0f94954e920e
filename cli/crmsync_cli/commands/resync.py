"""`crmsync resync OBJECT [--since DATE]`: re-read a whole object from Salesforce (Bulk API 2.0
for large sets) to heal drift or adopt a new mapping. The connector carries it out in the
background, across its scheduled runs; on a terminal (or with `--wait`) the command follows it
with a progress bar until it is done, and Ctrl-C stops only the watching.

`crmsync resync` without an object shows (and with `--wait` follows) the resync under way."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crmsync_cli.commands.status import resync_line
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import REFUSED

POLL_SECONDS = 2.0
UNDER_WAY = frozenset({"queued", "pending", "starting", "running", "in_progress", "reading", "applying"})
"""The states of a resync still going; any other (completed, failed...) is where it ended."""
SUCCEEDED = frozenset({"completed", "done", "finished", "succeeded"})


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands,
        common,
        "resync",
        "re-read a whole object from Salesforce in the background (a progress bar follows it)",
    )
    parse.add_argument(
        "object", nargs="?", metavar="OBJECT", help="Lead, Contact or PersonAccount (none: the one under way)"
    )
    parse.add_argument("--since", metavar="DATE", help="only records changed since this date (ISO 8601)")
    waiting = parse.add_mutually_exclusive_group()
    waiting.add_argument("--wait", action="store_true", default=None, help="follow it until it is done")
    waiting.add_argument("--no-wait", dest="wait", action="store_false", help="start it and return")
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    if args.object:
        body = context.api.call("POST", "/resync", document={"object": args.object, "since": args.since})
    else:
        body = context.api.call("GET", "/resync")
    progress = progress_of(body)
    follow = args.wait if args.wait is not None else context.interactive
    if out.json and not follow:
        out.print_json(body)
        return 0
    if progress is None:
        if out.json:
            out.print_json(body)
        else:
            out.out.print("No resync under way." if not args.object else f"Resync of {args.object} asked.")
        return 0
    if follow and under_way(progress):
        progress = watch(progress, context)
        out.now = datetime.now(UTC)  # ages are told from when the watching ended
    if out.json:
        out.print_json({"resync": progress})
    else:
        out.out.print(f"Resync {resync_line(progress, out.now)}")
    return 0 if not str(progress.get("state", "")).startswith("fail") else REFUSED


def progress_of(body: Any) -> Mapping[str, Any] | None:
    """The progress in an answer: `{"resync": {...}}` (POST, GET) or the progress itself."""
    if not isinstance(body, Mapping):
        return None
    inner = body.get("resync", body) if "resync" in body else body
    return inner if isinstance(inner, Mapping) and inner else None


def under_way(progress: Mapping[str, Any]) -> bool:
    return str(progress.get("state", "")).lower() in UNDER_WAY


def watch(progress: Mapping[str, Any], context: Context) -> Mapping[str, Any]:
    """Poll `GET /resync` until the resync ends, a bar showing the records read."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TextColumn("read, {task.fields[applied]} applied"),
        TimeElapsedColumn(),
        console=context.output.err if context.output.json else context.output.out,
        transient=False,
        expand=True,
    ) as bar:
        task = bar.add_task(
            f"{progress.get('object', 'resync')} {progress.get('state', '')}",
            total=_total(progress),
            completed=int(_read(progress)),
            applied=progress.get("applied", 0),
        )
        while under_way(progress):
            try:
                context.sleep(POLL_SECONDS)
                progress = progress_of(context.api.call("GET", "/resync")) or {"state": "completed"}
            except KeyboardInterrupt:
                context.output.err.print("Stopped watching; the resync goes on (`crmsync resync` shows it).")
                return progress
            bar.update(
                task,
                description=f"{progress.get('object', 'resync')} {progress.get('state', '')}",
                total=_total(progress),
                completed=_read(progress),
                applied=progress.get("applied", 0),
            )
        if str(progress.get("state", "")).lower() in SUCCEEDED and _total(progress) is None:
            bar.update(task, total=_read(progress))
    return progress


def _total(progress: Mapping[str, Any]) -> float | None:
    total = progress.get("total")
    return float(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else None


def _read(progress: Mapping[str, Any]) -> float:
    read = progress.get("read")
    return float(read) if isinstance(read, (int, float)) and not isinstance(read, bool) else 0.0
