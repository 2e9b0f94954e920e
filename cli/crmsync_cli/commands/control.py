"""`crmsync pause` and `crmsync resume`: stop automatic sync, and start it again (it catches up
on everything that changed meanwhile). Manual syncs, the status and the configuration work
while paused."""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text

from crmsync_cli.commands.status import state_of
from crmsync_cli.context import Context, SubParsers, command


def add(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    pause = command(commands, common, "pause", "stop automatic sync from the next run on")
    pause.set_defaults(run=lambda args, context: control(context, "pause"))
    resume = command(
        commands, common, "resume", "start automatic sync again; it catches up on what changed meanwhile"
    )
    resume.set_defaults(run=lambda args, context: control(context, "resume"))


def control(context: Context, verb: str) -> int:
    body: Any = context.api.call("POST", f"/{verb}")
    out = context.output
    if out.json:
        out.print_json(body)
        return 0
    state = state_of(body) if isinstance(body, dict) else "?"
    line = Text("The connector is now ")
    line.append(state, style="bold")
    line.append(
        ": automatic sync stops from the next run; changes and actions wait for `crmsync resume`."
        if verb == "pause"
        else ": the next runs catch up on what changed meanwhile."
    )
    out.out.print(line)
    return 0
