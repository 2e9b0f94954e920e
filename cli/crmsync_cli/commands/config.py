"""`crmsync config`: the connector's configuration document.

    crmsync config validate FILE          offline: read FILE as the connector would
    crmsync config plan FILE [--sample N] dry run over N linked records; writes nothing
    crmsync config push FILE              check and load it
    crmsync config show                   the document in force (`> my-config.json` to edit it)

A file is read with the connector's own readers (strict JSON: a key twice is refused; then the
configuration's), and every problem is printed with the path of its entry. `plan` and `push`
send nothing while the file has a problem; the connector then checks the fields against the
org's describe, and `push` refuses a version that is not above the one in force.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmsync.config import Configuration, InvalidConfiguration
from crmsync.json_input import JsonInputError, read_json
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from crmsync_cli.commands.why import describe
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import NOT_SENT, REFUSED, Output, plural, table

DEFAULT_SAMPLE = 20


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(commands, common, "config", "check, dry-run, load or show the configuration")
    actions = parse.add_subparsers(dest="action", required=True, metavar="ACTION")

    validate = command(
        actions, common, "validate", "read FILE as the connector would (offline); every problem"
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    validate.set_defaults(run=validate_file)

    plan = command(
        actions,
        common,
        "plan",
        "dry run: which fields FILE would change on which side, over a sample of linked records",
    )
    plan.add_argument("file", type=Path, metavar="FILE")
    plan.add_argument(
        "--sample", type=int, default=DEFAULT_SAMPLE, metavar="N", help="records to plan (default 20)"
    )
    plan.set_defaults(run=plan_file)

    push = command(actions, common, "push", "check FILE and load it; it takes effect at the next runs")
    push.add_argument("file", type=Path, metavar="FILE")
    push.set_defaults(run=push_file)

    show = command(actions, common, "show", "print the document in force (redirect it to a file to edit)")
    show.set_defaults(run=show_document)


class Unreadable(Exception):
    """The file could not be read as JSON; `problems` say why."""

    def __init__(self, headline: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(headline)
        self.headline = headline
        self.problems = problems


def read_document(file: Path) -> Any:
    """The file's JSON, read as the connector reads a `PUT /config` body."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read {file}: {exc.strerror}") from exc
    try:
        return read_json(data, what=file.name)
    except JsonInputError as exc:
        raise Unreadable(f"{file} is not JSON the connector reads", exc.problems) from exc


def problems_of(document: Any) -> tuple[Configuration | None, tuple[str, ...]]:
    try:
        return Configuration.from_document(document), ()
    except InvalidConfiguration as exc:
        return None, exc.problems


def checked(file: Path, out: Output, *, nothing_sent: bool) -> tuple[Any, int | None]:
    """The document of `file`, or the exit status after its problems were printed."""
    suffix = "; nothing was sent" if nothing_sent else ""
    try:
        document = read_document(file)
    except Unreadable as exc:
        report(out, file, valid=False, headline=exc.headline + suffix, problems=exc.problems)
        return None, NOT_SENT
    _, problems = problems_of(document)
    if problems:
        report(
            out, file, valid=False, headline=f"{file} is not a valid configuration{suffix}", problems=problems
        )
        return None, REFUSED
    return document, None


def report(out: Output, file: Path, *, valid: bool, headline: str, problems: tuple[str, ...] = ()) -> None:
    if out.json:
        out.print_json({"file": str(file), "valid": valid, "problems": list(problems)})
    else:
        out.problems(f"{headline} ({plural(len(problems), 'problem')})" if problems else headline, problems)


def validate_file(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    document, refused = checked(args.file, out, nothing_sent=False)
    if refused is not None:
        return refused
    configuration, _ = problems_of(document)
    assert configuration is not None
    if out.json:
        out.print_json(
            {"file": str(args.file), "valid": True, "version": configuration.version, "problems": []}
        )
        return 0
    line = Text("✓ ", style="bold green")
    line.append(f"{args.file} is a valid configuration, version {configuration.version}")
    out.out.print(line)
    out.out.print(
        Text(
            "The org's fields are checked by `crmsync config plan` and `config push`.",
            style="dim",
        )
    )
    return 0


def plan_file(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    document, refused = checked(args.file, out, nothing_sent=True)
    if refused is not None:
        return refused
    body = context.api.call("POST", "/config/plan", document={"document": document, "sample": args.sample})
    if out.json:
        out.print_json(body)
        return 0 if body.get("valid", True) else REFUSED
    if body.get("valid") is False:
        out.problems(
            f"{args.file} was refused by the connector; nothing was written", body.get("problems") or []
        )
        return REFUSED
    out.out.print(render_plan(body, out))
    return 0


def render_plan(body: Mapping[str, Any], out: Output) -> Group:
    records = [r for r in body.get("records") or [] if isinstance(r, Mapping)]
    changing = [r for r in records if r.get("changes")]
    parts: list[RenderableType] = [
        Text(
            f"Dry run over {plural(len(records), 'linked record')}: "
            f"{len(changing)} would change, {len(records) - len(changing)} would not. Nothing was written.",
            style="bold",
        )
    ]
    for record in records:
        if not record.get("changes") and not record.get("note"):
            continue
        parts.append(
            Text(
                f"\n{record.get('object', '?')} {record.get('id', '-')} · prospect {record.get('prospect_id', '-')}",
                style="bold",
            )
        )
        if record.get("note"):
            parts.append(Padding(Text(str(record["note"]), style="dim"), (0, 0, 0, 2)))
        grid = table("side", "change", show_header=False)
        for change in record.get("changes") or []:
            if isinstance(change, Mapping):
                grid.add_row(Text(f"  {change.get('side', '')}", style="cyan"), describe(change))
        if grid.row_count:
            parts.append(grid)
    summary = body.get("summary")
    by_field = summary.get("by_field") if isinstance(summary, Mapping) else None
    if isinstance(by_field, Mapping) and by_field:
        parts.append(Text("\nRecords each field would change on", style="bold"))
        grid = table("side", "field", "records", show_header=False)
        for key, count in by_field.items():
            side, _, field = str(key).rpartition(":")
            grid.add_row(Text(f"  {side}", style="cyan"), field, str(count))
        parts.append(grid)
    if body.get("api_calls") is not None:
        parts.append(Text(f"\nSalesforce API calls spent on the dry run: {body['api_calls']}", style="dim"))
    return Group(*parts)


def push_file(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    document, refused = checked(args.file, out, nothing_sent=True)
    if refused is not None:
        return refused
    body = context.api.call("PUT", "/config", document=document)
    if out.json:
        out.print_json(body)
    else:
        out.out.print(
            f"Configuration version {body.get('version')} loaded; it takes effect at the next runs."
        )
    return 0


def show_document(args: argparse.Namespace, context: Context) -> int:
    out = context.output
    body = context.api.call("GET", "/config")
    if out.json:
        out.print_json(body)
        return 0
    # The document alone on stdout, so `config show > file.json` gives a file to edit and push.
    out.print_json(body.get("document"))
    if body.get("loaded"):
        out.err.print(f"configuration version {body.get('version')} is in force")
    else:
        out.err.print("no configuration loaded yet: this is the default one")
    return 0
