"""The bad-input corpus: hostile inputs for every surface that takes input from outside
(`POST /actions`, actions queue messages, `PUT /config`, the prospects stream's records and the
scheduler's events), kept as data beside the tests that drive them through the real handlers,
on moto and the Salesforce emulator (reached in process).

Each `<surface>.json` is a list of entries: an `id`, `why` it is hostile, the input (see
`build_text`), and what the connector must answer. Every entry is an ordinary test (so
`make test` runs them); `make fuzz` runs them alone and prints, per surface, how many were
tried, refused cleanly (with a message naming what was wrong) and accepted. A crash (a 500, an
uncaught exception, a good record of the same batch lost) fails its test.

One stack, one emulator and one deployed connector per test module: the entries of a surface
share them, each using ids of its own.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crmsync import bootstrap

from local.aws_stack import LocalStack, create_stack
from local.keys import JwtKeyPair, generate_jwt_key_pair
from local.runtime import invoke
from local.runtime.aws import LOCAL_AWS, REGION, function_environment
from local.runtime.org import OrgLogin, connect_app
from local.salesforce_emulator import Emulator, ManualClock
from tests.emulated_salesforce import salesforce_reached
from tests.local_aws import mocked_aws, stack_template

CORPUS = Path(__file__).resolve().parent
CLIENT_ID = "3MVG9crmsync-corpus"
USERNAME = "integration@crmsync.example"
ORG_CLOCK_BEHIND = timedelta(hours=1)
"""The org's clock runs an hour behind, so every record it stamps is in a settled second."""

SURFACE = "corpus_surface"
ANSWER = "corpus_answer"
REFUSED = "refused cleanly"
ACCEPTED = "accepted"


@dataclass
class LambdaContext(invoke.LambdaContext):
    """The runtime's context with a deadline that stands still."""

    function_name: str = "crmsync-corpus"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    remaining_millis: int | None = 120_000


@dataclass
class Deployed:
    """A connector deployed on moto, its org and the org's clock."""

    stack: LocalStack
    salesforce: Emulator
    clock: ManualClock


@contextmanager
def deployed(function: str, key_pair: JwtKeyPair) -> Iterator[Deployed]:
    """`function`'s environment on a fresh stack, its Salesforce secret naming a fresh org."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in LOCAL_AWS.items():
            env.setenv(name, value)
        with mocked_aws():
            stack = create_stack(stack_template(), region=REGION)
            clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - ORG_CLOCK_BEHIND)
            salesforce = Emulator(clock=clock)
            connect_app(salesforce, key_pair, client_id=CLIENT_ID, username=USERNAME)
            with salesforce_reached(salesforce, env) as reached:
                login = OrgLogin(reached.url, reached.ca_file, key_pair.private_key_pem, CLIENT_ID, USERNAME)
                for name, value in function_environment(stack, function, login).items():
                    env.setenv(name, value)
                bootstrap.reset()
                try:
                    yield Deployed(stack, salesforce, clock)
                finally:
                    bootstrap.reset()


@pytest.fixture(scope="session")
def key_pair() -> JwtKeyPair:
    return generate_jwt_key_pair()


# ------------------------------------------------------------------ the entries


def entries(surface: str) -> list[Any]:
    """The entries of `<surface>.json` as test parameters, each named by its id; an entry with
    `xfail` is expected to crash today, for the reason it gives (strict: it must)."""
    params = []
    for entry in json.loads((CORPUS / f"{surface}.json").read_text(encoding="utf-8")):
        assert entry.get("why"), f"{entry.get('id')}: every entry says why it is hostile"
        marks = [pytest.mark.xfail(strict=True, reason=entry["xfail"])] if "xfail" in entry else []
        params.append(pytest.param(entry, id=entry["id"], marks=marks))
    return params


def build_text(spec: str | list[Any], **placeholders: str) -> str:
    """Text from a corpus entry: a string, or a list of parts each a string or `[string, n]`
    (the string n times: an input of thousands of brackets stays one line of the file).
    `$NAME` placeholders take the entry's own values (`$P`: a prospect id of its own)."""
    parts = [spec] if isinstance(spec, str) else spec
    text = "".join(part if isinstance(part, str) else part[0] * part[1] for part in parts)
    for name, value in placeholders.items():
        text = text.replace(f"${name}", value)
    return text


def expand(value: Any) -> Any:
    """A JSON value from a corpus entry, each `{"$repeat": [text, n]}` in it made the text n times."""
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            text, times = value["$repeat"]
            return text * times
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


def entry_text(entry: dict[str, Any], **placeholders: str) -> str:
    """The entry's input as text: `text` as written, or `json` serialised."""
    if "json" in entry:
        return build_text(json.dumps(entry["json"], ensure_ascii=False), **placeholders)
    return build_text(entry["text"], **placeholders)


@pytest.fixture
def answered(request: pytest.FixtureRequest, record_property: Any) -> Any:
    """Records the entry's surface at once (a crash still counts as tried), and returns a
    function to record how it was answered: `REFUSED` or `ACCEPTED`."""
    record_property(SURFACE, request.node.module.SURFACE)

    def answer(how: str) -> None:
        record_property(ANSWER, how)

    return answer


# ------------------------------------------------------------------ the counts


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tried: Counter[str] = Counter()
    answers: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "xfailed", "xpassed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            properties = dict(getattr(report, "user_properties", ()))
            if SURFACE not in properties or getattr(report, "when", "call") != "call":
                continue
            surface = properties[SURFACE]
            tried[surface] += 1
            if outcome == "passed":
                answers[surface, properties.get(ANSWER, ACCEPTED)] += 1
            elif outcome == "xfailed":
                answers[surface, "known crash"] += 1
            else:
                answers[surface, "crashed"] += 1
    if not tried:
        return
    columns = ("tried", REFUSED, ACCEPTED, "known crash", "crashed")
    terminalreporter.section("bad-input corpus")
    terminalreporter.write_line(f"{'surface':<22}" + "".join(f"{c:>17}" for c in columns))
    for surface in sorted(tried):
        counts = [tried[surface]] + [answers[surface, c] for c in columns[1:]]
        terminalreporter.write_line(f"{surface:<22}" + "".join(f"{n:>17}" for n in counts))
    total = [sum(tried.values())] + [
        sum(n for (_, c), n in answers.items() if c == col) for col in columns[1:]
    ]
    terminalreporter.write_line(f"{'all':<22}" + "".join(f"{n:>17}" for n in total))
    if total[3]:
        terminalreporter.write_line("known crash: entries marked xfail (each names its reason)")
