"""What the demo prints about invocations: tables of them, their counts, and the audit trail
and error list entries that say why a record looks the way it does."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crmsync import bootstrap
from crmsync.domain.audit import AuditRecord, Direction, SyncError


@dataclass
class Invocation:
    label: str
    noted: int | None
    """Changes the stream batch noted as waiting (None: not a stream batch)."""
    outcome: str
    counts: Mapping[str, int]
    api_calls: int
    collections_writes: int
    seconds: float


def collections_writes(calls: Iterable[tuple[str, str]]) -> int:
    return sum(1 for method, path in calls if method != "GET" and "/composite/sobjects" in path)


def print_invocations(title: str, invocations: Sequence[Invocation]) -> None:
    streamed = any(i.noted is not None for i in invocations)
    print()
    noted = f" {'noted':>5}" if streamed else ""
    print(f"{title:<38}{noted} {'outcome':<10} {'API calls':>9} {'Collections':>11} {'seconds':>7}  counts")
    print("-" * 110)
    for i in invocations:
        noted = f" {'-' if i.noted is None else i.noted:>5}" if streamed else ""
        counts = counts_text(i.counts)
        print(
            f"{i.label:<38}{noted} {i.outcome:<10} {i.api_calls:>9} {i.collections_writes:>11} "
            f"{i.seconds:>7.2f}  {counts}"
        )
    print("-" * 110)
    print_counter_meanings(i.counts for i in invocations)


COUNTER_MEANINGS = {
    "unchanged": (
        "read, and nothing written: both sides already agreed, the field is owned by the other "
        "side, or the record is one the connector leaves alone (out of scope and never linked, "
        "a converted Lead)"
    ),
    "reported": (
        "left as it is for a person to decide: linking or creating would break a matching rule "
        "(the record has no email, or the prospect with its email is linked to another "
        "record); the run's report names it"
    ),
    "out_of_scope": (
        "the record left the outbound scope (here: moved to Antarctica): its link stops "
        "syncing and the prospect stays, as it was"
    ),
}
"""The counters whose names do not say it all, in words."""


def print_counter_meanings(counts: Iterable[Mapping[str, int]]) -> None:
    """What the counters the tables above show mean, for those that need words."""
    shown = {name for one in counts for name, value in one.items() if value}
    for name, meaning in COUNTER_MEANINGS.items():
        if name in shown:
            print(
                textwrap.fill(f"{name}: {meaning}", width=100, initial_indent="  ", subsequent_indent="    ")
            )


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items() if value) or "-"


def audit_lines(prospect_id: str, labels: Mapping[str, str], direction: Direction | None = None) -> list[str]:
    lines = []
    for entry in bootstrap.audit_trail().audit_trail(prospect_id):
        if direction is not None and entry.direction is not direction:
            continue
        lines.append(f"      {labels.get(entry.run_id, 'outbound'):<24} {describe(entry)}")
    return lines or ["      (no audit entries)"]


def describe(entry: AuditRecord) -> str:
    if entry.field is None:
        return entry.event
    change = f"{entry.field}: {entry.old!r} -> {entry.new!r}  ({entry.rule})"
    return change if entry.event in ("field synced", "") else f"{entry.event}: {change}"


def describe_error(error: SyncError) -> str:
    fields = f" fields {', '.join(error.failure.fields)};" if error.failure.fields else ""
    return (
        f"{error.operation} {error.sobject} {error.record_id}: {error.failure.code} ({error.failure.category});"
        f"{fields} {error.failure.message} [{error.state}]"
    )
