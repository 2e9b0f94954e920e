"""A handler invoked as Lambda invokes it: with a context whose deadline comes nearer by the wall
clock (or, in a test, stands still), and with the output a person reads kept apart from the
metrics Powertools prints for CloudWatch."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.warnings import PowertoolsUserWarning

from local.runtime.aws import REGION

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample_event(function: str, name: str) -> dict[str, Any]:
    """A sample event of `events/<function>/<name>.json`, as its trigger sends it."""
    event: dict[str, Any] = json.loads((EVENTS / function / f"{name}.json").read_text())
    return event


@dataclass
class LambdaContext:
    """A Lambda invocation's context: its own request id, and a deadline `timeout_ms` after it
    was made, by the wall clock, as Lambda's is. A test gives `remaining_millis` instead: a
    deadline that stands still, so that no outcome depends on the machine's speed."""

    function_name: str = "crmsync-local"
    timeout_ms: int = 60_000
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_millis: int | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        if self.remaining_millis is not None:
            return self.remaining_millis
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def invoke(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: LambdaContext
) -> dict[str, Any]:
    """`handler(event, context)`. The EMF metrics Powertools prints (its cold-start metric even
    with metrics disabled) are for CloudWatch, not for a person; anything else the function
    prints is shown."""
    with contextlib.redirect_stdout(io.StringIO()) as printed, warnings.catch_warnings():
        # Disabled metrics are never flushed, so a dimension stays set on Powertools' shared
        # metric set, and it warns when the next function (here, in the same process) sets it;
        # and it warns of every invocation that publishes no metric (a stream batch's).
        warnings.filterwarnings("ignore", "Dimension .* has already been added", PowertoolsUserWarning)
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        try:
            return handler(event, context)
        finally:
            for line in printed.getvalue().splitlines():
                if not line.startswith('{"_aws"'):
                    print(line)


@contextlib.contextmanager
def info_records(logger: Logger) -> Iterator[list[logging.LogRecord]]:
    """The INFO records `logger` emits meanwhile, kept rather than printed. The demo runs the
    functions at WARNING so that no JSON lines drown the report, but some functions say only
    in their INFO lines what the report shows (the actions consumer answers SQS with the
    messages to deliver again, and logs what became of the others)."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    underlying = logging.getLogger(logger.name)
    printer = logger.registered_handler
    level, printer_level = underlying.level, printer.level
    keep = Keep(logging.INFO)
    printer.setLevel(max(level, printer_level))
    underlying.setLevel(logging.INFO)
    underlying.addHandler(keep)
    try:
        yield kept
    finally:
        underlying.removeHandler(keep)
        underlying.setLevel(level)
        printer.setLevel(printer_level)
