"""The commands, one module each: `add` declares it and its arguments, and sets `run`, which
does it. Each prints the route's JSON with `--json`, and otherwise what a person reads at 80
columns."""

from __future__ import annotations

from types import ModuleType

from crmsync_cli.commands import config, control, errors, fields, report, resync, runs, status, sync, why

COMMANDS: tuple[ModuleType, ...] = (status, errors, why, sync, resync, config, runs, fields, report, control)
