"""`crmsync fields OBJECT`: the org's fields of an object, with their type, whether the
connector may create and update them, and whether and how the configuration in force maps
them: the help a mapping author needs."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.text import Text

from crmsync_cli.client import path_segment
from crmsync_cli.context import Context, SubParsers, command
from crmsync_cli.output import plural, table


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    parse = command(
        commands, common, "fields", "an object's fields: type, createable/updateable, and how they are mapped"
    )
    parse.add_argument(
        "object", metavar="OBJECT", help="Lead, Contact, PersonAccount, Account or Opportunity"
    )
    parse.add_argument("--mapped", action="store_true", help="only the fields the configuration maps")
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    body = context.api.call("GET", f"/fields/{path_segment(args.object)}")
    out = context.output
    if out.json:
        out.print_json(body)
        return 0
    fields = [f for f in body.get("fields") or [] if isinstance(f, Mapping)]
    if args.mapped:
        fields = [f for f in fields if f.get("mapped")]
    out.out.print(render(str(body.get("object") or args.object), fields))
    return 0


def render(sobject: str, fields: list[Mapping[str, Any]]) -> Group:
    grid = table("field", "type", "create", "update", "mapped to (behaviour)")
    # A behaviour is one long word (prefer_salesforce_unless_blank): folded, not cut short.
    grid.columns[-1].overflow = "fold"
    for field in fields:
        mapped = field.get("mapped")
        grid.add_row(
            Text(str(field.get("name", "?")), style="bold" if mapped else ""),
            type_of(field),
            flag(field.get("createable")),
            flag(field.get("updateable")),
            Text(mapping_of(mapped), style="green") if mapped else Text("-", style="dim"),
        )
    mapped_count = sum(1 for f in fields if f.get("mapped"))
    footer = Text(f"\n{sobject}: {plural(len(fields), 'field')}, {mapped_count} mapped", style="bold")
    return Group(grid, footer)


def type_of(field: Mapping[str, Any]) -> str:
    kind = str(field.get("type", "?"))
    length = field.get("length")
    return (
        f"{kind}({length})"
        if isinstance(length, int)
        and length
        and kind in ("string", "textarea", "email", "phone", "url", "picklist")
        else kind
    )


def flag(value: Any) -> Text:
    return Text("yes") if value else Text("-", style="dim")


def mapping_of(mapped: Any) -> str:
    if isinstance(mapped, Mapping):
        return f"{mapped.get('marketing_field', '?')} ({mapped.get('behaviour', '?')})"
    if isinstance(mapped, list):
        return "\n".join(mapping_of(m) for m in mapped)
    return str(mapped)
