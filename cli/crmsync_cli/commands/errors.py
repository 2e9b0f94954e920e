"""`crmsync errors`: the error list, filtered; `retry`, `dismiss` and `export` its entries.

    crmsync errors [--category C] [--object O] [--direction D] [--older-than AGE] [--newer-than AGE]
    crmsync errors retry KEY... | --category C [filters]
    crmsync errors dismiss KEY... --reason TEXT
    crmsync errors export FILE.csv [filters]

An age is `30m`, `6h`, `2d`, `1w`, or a date or date-time (ISO 8601); it is sent as the
instant it names. An entry clears itself when its record later syncs; `retry` only puts the
record back in line for the next run.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from crmsync_cli.client import NotSent
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import NOT_SENT, Output, counts, plural, when

_AGE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}

CSV_COLUMNS = (
    "key",
    "state",
    "category",
    "code",
    "message",
    "fields",
    "direction",
    "operation",
    "object",
    "record_id",
    "prospect_id",
    "attempts",
    "first_seen",
    "last_seen",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    filters = argparse.ArgumentParser(add_help=False)
    chosen = filters.add_argument_group("which entries")
    chosen.add_argument(
        "--category", default=argparse.SUPPRESS, help="validation, duplicate, permission, ..."
    )
    chosen.add_argument("--object", default=argparse.SUPPRESS, help="Lead, Contact, PersonAccount, ...")
    chosen.add_argument("--direction", choices=("inbound", "outbound"), default=argparse.SUPPRESS)
    chosen.add_argument(
        "--older-than",
        default=argparse.SUPPRESS,
        metavar="AGE",
        help="last seen before: 30m, 6h, 2d, 1w or a date",
    )
    chosen.add_argument(
        "--newer-than",
        default=argparse.SUPPRESS,
        metavar="AGE",
        help="last seen since: 30m, 6h, 2d, 1w or a date",
    )
    chosen.add_argument("--limit", type=int, default=argparse.SUPPRESS, help="at most this many entries")

    parse = command(
        commands,
        common,
        "errors",
        "the error list: what did not sync and why (retry, dismiss and export its entries)",
        parents=[filters],
    )
    parse.add_argument(
        "--after", default=None, metavar="CURSOR", help="the next page (printed below a full page)"
    )
    # The filters have no defaults (SUPPRESS): `errors --category C retry` keeps C. `filters`
    # (`with_filters`) fills in those not given.
    parse.set_defaults(run=list_errors)
    actions = parse.add_subparsers(dest="action", metavar="ACTION")

    retry = command(
        actions,
        common,
        "retry",
        "put the records of these entries (or of a whole category) back in line for the next run",
        parents=[filters],
    )
    retry.add_argument("keys", nargs="*", metavar="KEY", help="an entry's key, as `crmsync errors` shows it")
    retry.set_defaults(run=retry_errors)

    dismiss = command(
        actions,
        common,
        "dismiss",
        "take entries off the open list, keeping them as dismissed with the reason",
    )
    dismiss.add_argument("keys", nargs="+", metavar="KEY")
    dismiss.add_argument("--reason", required=True, help="why (kept with each entry)")
    dismiss.set_defaults(run=dismiss_errors)

    export = command(actions, common, "export", "write the entries to a CSV file", parents=[filters])
    export.add_argument("file", type=Path, metavar="FILE.csv")
    export.set_defaults(run=export_errors)


FILTERS = ("category", "object", "direction", "older_than", "newer_than", "limit")


def with_filters(args: argparse.Namespace) -> argparse.Namespace:
    for name in FILTERS:
        if not hasattr(args, name):
            setattr(args, name, None)
    return args


def filters_of(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    return {
        "category": args.category,
        "object": args.object,
        "direction": args.direction,
        "older_than": None if args.older_than is None else instant_of(args.older_than, now),
        "newer_than": None if args.newer_than is None else instant_of(args.newer_than, now),
    }


def instant_of(age: str, now: datetime) -> str:
    """The ISO instant an age (`2d`: two days before `now`) or a date names."""
    match = _AGE.match(age)
    if match:
        moment = now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
        return moment.astimezone(UTC).isoformat(timespec="seconds")
    try:
        moment = datetime.fromisoformat(age.strip().replace("Z", "+00:00"))
    except ValueError:
        raise NotSent(f"'{age}' is not an age (30m, 6h, 2d, 1w) or a date (2026-12-01)") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a date or time without a zone is this machine's
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------ list


def list_errors(args: argparse.Namespace, context: Context) -> int:
    args = with_filters(args)
    out = context.output
    query = {**filters_of(args, out.now), "limit": args.limit, "after": args.after}
    body = context.api.call("GET", "/errors", query=query)
    if out.json:
        out.print_json(body)
        return 0
    entries = [e for e in body.get("errors") or [] if isinstance(e, Mapping)]
    if not entries:
        out.out.print("No open errors" + (" match these filters." if any(query.values()) else "."))
        return 0
    for number, entry in enumerate(entries, start=1):
        out.out.print(render_entry(number, entry, out))
    by_category: dict[str, int] = {}
    for entry in entries:
        by_category[str(entry.get("category"))] = by_category.get(str(entry.get("category")), 0) + 1
    out.out.print(Text(f"{plural(len(entries), 'entry', 'entries')}: {counts(by_category)}", style="bold"))
    if body.get("next"):
        out.out.print(f"More: crmsync errors --after {body['next']} (with the same filters)")
    out.out.print(
        Text("crmsync errors retry KEY...  puts the records back in line for the next run", style="dim")
    )
    out.out.print(
        Text("crmsync errors dismiss KEY... --reason TEXT  takes entries off the list", style="dim")
    )
    return 0


def render_entry(number: int, entry: Mapping[str, Any], out: Output) -> Group:
    """An entry in four lines: the record and what was done to it; Salesforce's code, category
    and message; the prospect, fields, when and how often; the key to retry or dismiss it by."""
    head = Text(f"{number:>2}  ")
    head.append(f"{entry.get('object') or '?'} {entry.get('record_id') or '(not created)'}", style="bold")
    head.append(f" · {entry.get('direction', '?')} {entry.get('operation') or ''}".rstrip())
    if entry.get("state") not in (None, "open"):
        head.append(f" · {entry['state']}", style="yellow")
    problem = Text()
    problem.append(str(entry.get("code") or "?"), style="bold red")
    problem.append(f" ({entry.get('category', '?')}): {entry.get('message') or ''}")
    fields = entry.get("fields") or []
    attempts = entry.get("attempts")
    details = [f"prospect {entry['prospect_id']}"] if entry.get("prospect_id") else []
    if fields:
        details.append(f"fields {', '.join(map(str, fields))}")
    details.append(f"first seen {when(entry.get('first_seen'), out.now, seconds=False)}")
    details.append(f"last seen {when(entry.get('last_seen'), out.now, seconds=False)}")
    if isinstance(attempts, int):
        details.append(plural(attempts, "attempt"))
    seen = Text(" · ".join(details), style="dim")
    key = Text(f"key {entry.get('key', '?')}", style="cyan")
    return Group(head, Padding(Group(problem, seen, key), (0, 0, 1, 4)))


# ------------------------------------------------------------------ retry, dismiss


def retry_errors(args: argparse.Namespace, context: Context) -> int:
    args = with_filters(args)
    out = context.output
    if args.keys and args.category:
        out.problems("give KEYs or --category, not both")
        return NOT_SENT
    if not args.keys and not args.category:
        out.problems("say which entries to retry: their KEYs, or --category (with filters)")
        return NOT_SENT
    if args.keys:
        document: dict[str, Any] = {"keys": list(args.keys)}
    else:
        document = {name: value for name, value in filters_of(args, out.now).items() if value is not None}
        if args.limit is not None:
            document["limit"] = args.limit
    body = context.api.call("POST", "/errors/retry", document=document)
    if out.json:
        out.print_json(body)
    else:
        print_answer(body, out)
        out.out.print(
            Text(
                "An entry clears itself once its record syncs; one that fails again stays open.", style="dim"
            )
        )
    return 0


def dismiss_errors(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    if not args.reason.strip():
        out.problems("--reason must say why")
        return NOT_SENT
    body = context.api.call(
        "POST", "/errors/dismiss", document={"keys": list(args.keys), "reason": args.reason}
    )
    if out.json:
        out.print_json(body)
    else:
        print_answer(body, out)
    return 0


def print_answer(body: Any, out: Output) -> None:
    """What a retry or dismissal did: each list of the answer (queued, dismissed, not found...)
    with its entries, and its other values."""
    if not isinstance(body, Mapping):
        out.out.print(str(body))
        return
    for name, value in body.items():
        label = name.replace("_", " ")
        if isinstance(value, list):
            out.out.print(Text(f"{label}: {len(value)}", style="bold"))
            for item in value:
                out.out.print(Text(f"  {describe_item(item)}"))
        elif isinstance(value, Mapping):
            out.out.print(Text(f"{label}: {counts(value)}", style="bold"))
        else:
            out.out.print(f"{label}: {value}")


def describe_item(item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    record = " ".join(str(item[k]) for k in ("object", "record_id") if item.get(k))
    rest = [str(item[k]) for k in ("direction", "how", "queued_as", "reason") if item.get(k)]
    key = str(item.get("key") or item.get("prospect_id") or "")
    return "  ".join(part for part in (key, record, " · ".join(rest)) if part)


# ------------------------------------------------------------------ export


def export_errors(args: argparse.Namespace, context: Context) -> int:
    args = with_filters(args)
    out = context.output
    filters = filters_of(args, out.now)
    try:
        file = args.file.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        out.problems(f"cannot write {args.file}: {exc.strerror}")
        return NOT_SENT
    written = 0
    with file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for entry in all_entries(context, filters, args.limit):
            writer.writerow(csv_row(entry))
            written += 1
    if out.json:
        out.print_json({"file": str(args.file), "entries": written})
    else:
        out.out.print(f"{plural(written, 'entry', 'entries')} written to {args.file}")
    return 0


def all_entries(
    context: Context, filters: Mapping[str, Any], limit: int | None
) -> Iterator[Mapping[str, Any]]:
    """Every entry the filters match, page after page, `limit` at most."""
    after, given = None, 0
    while True:
        body = context.api.call("GET", "/errors", query={**filters, "after": after})
        for entry in body.get("errors") or []:
            if limit is not None and given >= limit:
                return
            given += 1
            yield entry
        after = body.get("next")
        if not after:
            return


def csv_row(entry: Mapping[str, Any]) -> dict[str, str]:
    row = {}
    for column in CSV_COLUMNS:
        value = entry.get(column)
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = ";".join(map(str, value))
        row[column] = safe_cell("" if value is None else str(value))
    return row


def safe_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: a message or a value that came from a prospect's form
    (`=HYPERLINK(...)`) must not run as a formula when the file is opened (OWASP's CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
