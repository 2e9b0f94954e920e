"""What every command prints alike: the consoles (tables for people on stdout, problems on
stderr), `--json`, times and ages, counts, and refusals.

Tables are laid out for 80 columns: rich measures the terminal, wraps long cells in their own
column, and takes 80 columns when the output is not a terminal (a pipe, a file, a test)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

NOT_SENT = 2
REFUSED = 1


@dataclass
class Output:
    """Where a command writes: `out` for what it answers, `err` for what went wrong; `json`
    when the route's JSON is all it prints. `now` is the time ages are counted to."""

    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    json: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def print_json(self, value: Any) -> None:
        # Plain print: rich would wrap long strings at the console's width and break the JSON.
        self.out.file.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def problems(self, headline: str, problems: Iterable[str] = ()) -> None:
        # Wrapped at words on a terminal; elsewhere (a log, a pipe) a problem is one line to
        # grep or copy.
        unwrapped = not self.err.is_terminal
        self.err.print(Text(f"crmsync: {headline}", style="bold red"), soft_wrap=unwrapped)
        for problem in problems:
            self.err.print(Text(f"  - {problem}"), soft_wrap=unwrapped)


def table(*columns: str, **options: Any) -> Table:
    """A table without an outer box: columns apart by two spaces, a rule under the header."""
    made = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold", **options)
    for column in columns:
        made.add_column(column)
    return made


def instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: Any, now: datetime, *, seconds: bool = True) -> str:
    """An ISO time as people read it, in this machine's time zone: the time alone when it is
    today, the date and time otherwise; "-" when there is none."""
    moment = instant(value)
    if moment is None:
        return "-" if value in (None, "") else str(value)
    local, today = moment.astimezone(), now.astimezone()
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if local.date() == today.date():
        return local.strftime(clock)
    return local.strftime(f"%Y-%m-%d {clock}")


def duration(seconds: Any) -> str:
    """`38 s`, `5 min`, `2 h 10 min`, `3 d 4 h`; "-" when unknown."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{seconds:.1f} s" if 0 < seconds < 10 and seconds != total else f"{total} s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if total < 3600:
        return f"{minutes} min"
    if total < 86400:
        rest = minutes - hours * 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours - days * 24
    return f"{days} d {rest} h" if rest else f"{days} d"


def ago(value: Any, now: datetime) -> str:
    moment = instant(value)
    if moment is None:
        return "never" if value is None else str(value)
    return f"{duration(max(0.0, (now - moment).total_seconds()))} ago"


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def counts(values: Mapping[str, Any] | None, *, separator: str = ", ") -> str:
    """A run's counts, those above zero, as `read 12, created 11`."""
    shown = [f"{name} {number(value)}" for name, value in (values or {}).items() if value]
    return separator.join(shown) or "-"


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def value_text(value: Any) -> str:
    """A field's value as the timeline and plans show it: text in quotes, a blank as `(blank)`."""
    if value is None or value == "":
        return "(blank)"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def short_id(value: Any, keep: int = 8) -> str:
    text = str(value or "")
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def listing(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values) if values else "-"
