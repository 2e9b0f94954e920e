"""What a command runs with (`Context`), and how a command is declared (`command`)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmsync_cli.client import ConnectorApi
from crmsync_cli.output import Output

SubParsers = Any
"""argparse's `_SubParsersAction`, a private name."""


@dataclass
class Context:
    """What a command works with: where it writes, the API (made on first use: `config
    validate` needs none), and how it waits between two polls (tests wait for nothing)."""

    output: Output
    connect: Callable[[], ConnectorApi]
    sleep: Callable[[float], None] = time.sleep
    interactive: bool = False
    """stdout is a terminal a person watches (a progress bar then follows long work)."""
    _api: ConnectorApi | None = field(default=None, init=False)

    @property
    def api(self) -> ConnectorApi:
        if self._api is None:
            self._api = self.connect()
        return self._api

    @property
    def connected(self) -> ConnectorApi | None:
        """The API, if a command got as far as making it."""
        return self._api


def command(
    commands: SubParsers,
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Subcommand `name`, with the common options (`--local`, `--url`, `--json`...) and those
    of `parents`."""
    made: argparse.ArgumentParser = commands.add_parser(
        name, parents=[common, *parents], help=help_text, description=help_text
    )
    return made
