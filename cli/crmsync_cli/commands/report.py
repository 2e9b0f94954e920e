"""`crmsync report --html FILE [--since DATE] [--until DATE]`: one self-contained HTML page of
sync health over a period (lag, throughput per direction, API usage against the budget, errors
by category over time, top failing records), from `GET /report`'s time series.

The page is drawn by `crmsync_cli.report.write_report`; this command only fetches its data."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crmsync_cli.client import NotSent
from crmsync_cli.context import Context, SubParsers, command

WriteReport = Callable[[dict[str, Any], Path], None]


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands,
        common,
        "report",
        "write one self-contained HTML page of sync health over a period (charts, top failing records)",
    )
    parse.add_argument("--html", type=Path, required=True, metavar="FILE", help="the page to write")
    parse.add_argument("--since", metavar="DATE", help="from this date or date-time (ISO 8601)")
    parse.add_argument("--until", metavar="DATE", help="up to this date or date-time (ISO 8601)")
    parse.set_defaults(run=run)


def renderer() -> WriteReport:
    """The page's renderer, imported here so that every other command starts without the
    plotting library; `NotSent` naming the library when this installation lacks it."""
    try:
        from crmsync_cli.report import write_report  # noqa: PLC0415 (the plotting library, for this command only)
    except ModuleNotFoundError as exc:
        raise NotSent(f"the HTML report needs {exc.name}, which is not installed here (`make venv`)") from exc
    return write_report


def run(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    write = renderer()
    data = context.api.call("GET", "/report", query={"since": args.since, "until": args.until})
    try:
        write(data, args.html)
    except OSError as exc:
        raise NotSent(f"cannot write {args.html}: {exc.strerror}") from exc
    if out.json:
        out.print_json({"file": str(args.html)})
    else:
        out.out.print(f"Report written to {args.html} (self-contained: open it in a browser).")
    return 0
