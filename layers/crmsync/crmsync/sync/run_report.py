"""How the scheduled functions report a run: its summary as JSON values, and as CloudWatch
metrics in the embedded metric format (namespace `crmsync`, docs/guide/operating.md).

Every metric of the connector is named and published here, so the dashboard and the alarms
(template.yaml) have one place to agree with (`METRIC_NAMES`, checked by a test). What each run
publishes, with the dimensions `service` and `direction`:
- `Run<Outcome>` 1 (`RunCompleted`, `RunOverBudget`, ...; `RunFailed` for a run that raised);
- `LagSeconds`: seconds since the end of the direction's last run that left it in step
  (`RunOutcome.in_step`): 0 after such a run, growing while runs end paused, over budget, cut
  short, busy or failed. Not published before the first such run;
- `RecordsSynced` (the records a run changed on the other side), `SyncErrors` (the error list
  entries it made or renewed; also per `category`), `ApiCalls`, and one metric per count of
  its summary (`out_of_scope` → `OutOfScope`).
With `service` alone: `ApiUsagePercent` (the org's daily API usage, as Salesforce last reported
it to the run). After the scheduled inbound invocation, with `service` alone: `WaitingChanges`
(changed prospects waiting to be sent) and `ParkedActions`; with `category`: `OpenErrors`.

The run's own metrics go through the handler's `Metrics` (flushed by its `log_metrics`, with
the cold start); the others, whose dimensions differ, each through an EMF document of their
own, published at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from crmsync.domain.audit import Direction
from crmsync.domain.errors import ErrorCategory, StoreError
from crmsync.domain.inbound import InboundOutcome
from crmsync.domain.outbound import RecordOutcome
from crmsync.ports import ErrorList, ParkedActions, PendingChanges, RunLog, RunOutcome, RunSummary

SYNCED = {
    Direction.OUTBOUND: frozenset(
        {
            RecordOutcome.CREATED,
            RecordOutcome.LINKED,
            RecordOutcome.UPDATED,
            RecordOutcome.CONVERTED,
            RecordOutcome.DELETED,
            RecordOutcome.MERGED,
            RecordOutcome.RESTORED,
            RecordOutcome.OPPORTUNITY_ATTACHED,
        }
    ),
    Direction.INBOUND: frozenset({InboundOutcome.UPDATE, InboundOutcome.TO_CREATE}),
}
"""The counts of a run that are records it changed on the other side (`RecordsSynced`):
not those it read, found unchanged, out of scope or only reported."""

COUNTED_UP_TO = 100_000
"""Waiting changes and parked actions are counted up to this (a `COUNT` query reads about 1 MB
a call: a few calls at most)."""

FAILED = RunOutcome.FAILED.value
"""The outcome a run that raised is published as (`RunFailed`), from its handler; the run log
keeps its summary as `failed` (`sync/leases.py`), which the status counts."""


def metric_name(count: str) -> str:
    """A count's metric name: `out_of_scope` → `OutOfScope`."""
    return "".join(part.capitalize() for part in count.split("_"))


METRIC_NAMES = frozenset(
    {
        "LagSeconds",
        "RecordsSynced",
        "SyncErrors",
        "OpenErrors",
        "ApiCalls",
        "ApiUsagePercent",
        "WaitingChanges",
        "ParkedActions",
        *(f"Run{metric_name(outcome)}" for outcome in RunOutcome if outcome is not RunOutcome.NOT_DUE),
        f"Run{metric_name(FAILED)}",
    }
)
"""The metrics the dashboard and the alarms may use, whatever the runs count besides."""


@dataclass(frozen=True)
class MetricGroup:
    """Metrics published together, with one set of dimensions (`service` is added to each)."""

    dimensions: Mapping[str, str]
    values: Mapping[str, tuple[MetricUnit, float]]


def summary_report(summary: RunSummary) -> dict[str, Any]:
    """The run summary as JSON values."""
    report: dict[str, Any] = {
        "direction": str(summary.direction),
        "run_id": summary.run_id,
        "outcome": str(summary.outcome),
        "counts": dict(summary.counts),
        "api_calls": summary.api_calls,
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
    }
    if summary.errors:
        report["errors"] = dict(summary.errors)
    return report


def scheduled_time(event: Any) -> str | None:
    """The time a scheduler event names, for the log only: a scheduled run reads nothing from
    its event, so an event without one (or that is no object at all) runs the same."""
    time = event.get("time") if isinstance(event, dict) else None
    return time[:64] if isinstance(time, str) else None


# ------------------------------------------------------------------ what a run publishes


def run_metrics(summary: RunSummary, last_in_step: RunSummary | None) -> list[MetricGroup]:
    """What `summary`'s run publishes; `last_in_step` is its direction's last run that left it in
    step (read only when this one did not)."""
    direction = summary.direction
    values: dict[str, tuple[MetricUnit, float]] = {
        metric_name(name): (MetricUnit.Count, value) for name, value in summary.counts.items()
    }
    values["ApiCalls"] = (MetricUnit.Count, summary.api_calls)
    values["RecordsSynced"] = (MetricUnit.Count, records_synced(summary))
    values["SyncErrors"] = (MetricUnit.Count, sum(summary.errors.values()))
    values[f"Run{metric_name(summary.outcome.value)}"] = (MetricUnit.Count, 1)
    lag = lag_seconds(summary.finished_at, summary if summary.outcome.in_step else last_in_step)
    if lag is not None:
        values["LagSeconds"] = (MetricUnit.Seconds, lag)
    groups = [MetricGroup({"direction": direction.value}, values)]
    groups += _errors_by_category(direction, summary.errors)
    if summary.api_usage is not None and summary.api_usage.limit:
        groups.append(MetricGroup({}, {"ApiUsagePercent": (MetricUnit.Percent, summary.api_usage.percent)}))
    return groups


def failed_run_metrics(
    direction: Direction, at: datetime, last_in_step: RunSummary | None
) -> list[MetricGroup]:
    """What a run that raised publishes: `RunFailed`, and the lag it leaves."""
    values: dict[str, tuple[MetricUnit, float]] = {f"Run{metric_name(FAILED)}": (MetricUnit.Count, 1)}
    lag = lag_seconds(at, last_in_step)
    if lag is not None:
        values["LagSeconds"] = (MetricUnit.Seconds, lag)
    return [MetricGroup({"direction": direction.value}, values)]


def waiting_metrics(
    waiting_changes: int, parked_actions: int, open_errors: Mapping[str, int]
) -> list[MetricGroup]:
    """What waits after the scheduled inbound invocation, and the open errors by category
    (every category, 0 included, so a category whose errors cleared reads 0, not nothing)."""
    return [
        MetricGroup(
            {},
            {
                "WaitingChanges": (MetricUnit.Count, waiting_changes),
                "ParkedActions": (MetricUnit.Count, parked_actions),
            },
        ),
        *(
            MetricGroup(
                {"category": category.value},
                {"OpenErrors": (MetricUnit.Count, open_errors.get(category.value, 0))},
            )
            for category in ErrorCategory
        ),
    ]


def records_synced(summary: RunSummary) -> int:
    """The records `summary`'s run changed on the other side (`SYNCED`)."""
    return sum(value for name, value in summary.counts.items() if name in SYNCED[summary.direction])


def lag_seconds(now: datetime, last_in_step: RunSummary | None) -> int | None:
    if last_in_step is None:
        return None
    return max(0, round((now - last_in_step.finished_at).total_seconds()))


def _errors_by_category(direction: Direction, errors: Mapping[str, int]) -> list[MetricGroup]:
    return [
        MetricGroup(
            {"direction": direction.value, "category": category}, {"SyncErrors": (MetricUnit.Count, count)}
        )
        for category, count in sorted(errors.items())
        if count
    ]


# ------------------------------------------------------------------ publishing


def publish_run(metrics: Metrics, summary: RunSummary, run_log: RunLog) -> None:
    """Publish a run that went ahead (one read of the run log when it did not leave its direction
    in step: the lag counts from the last run that did)."""
    last = None if summary.outcome.in_step else _last_in_step(run_log, summary.direction)
    publish(metrics, run_metrics(summary, last))
    metrics.add_metadata(key="outcome", value=str(summary.outcome))
    metrics.add_metadata(key="run_id", value=summary.run_id)


def publish_failed_run(metrics: Metrics, direction: Direction, at: datetime, run_log: RunLog) -> None:
    """Publish a run that raised; a run log that cannot be read (the failure may be its own)
    leaves the lag out."""
    publish(metrics, failed_run_metrics(direction, at, _last_in_step(run_log, direction)))


def publish_waiting(pending: PendingChanges, parked: ParkedActions, error_list: ErrorList) -> None:
    """Publish what waits and the open errors: two `COUNT` queries and a read of the error list.
    A store that cannot be read leaves them out: the run they follow went as it went."""
    with suppress(StoreError):
        open_errors = Counter(error.failure.category.value for error in error_list.open_errors())
        waiting = waiting_metrics(pending.count(COUNTED_UP_TO), parked.count(COUNTED_UP_TO), open_errors)
        publish(None, waiting)


def publish(metrics: Metrics | None, groups: list[MetricGroup]) -> None:
    """The first group whose dimensions are only `direction` goes to `metrics` (the handler's,
    flushed with the invocation); every other group is an EMF document of its own."""
    for group in groups:
        if metrics is not None and set(group.dimensions) == {"direction"}:
            _add(metrics.add_dimension, metrics.add_metric, group)
            metrics = None
            continue
        document = AmazonCloudWatchEMFProvider()
        _add(document.add_dimension, document.add_metric, group)
        document.flush_metrics()


def _add(add_dimension: Callable[..., None], add_metric: Callable[..., None], group: MetricGroup) -> None:
    for name, value in group.dimensions.items():
        add_dimension(name=name, value=value)
    for name, (unit, amount) in group.values.items():
        add_metric(name=name, unit=unit, value=amount)


def _last_in_step(run_log: RunLog, direction: Direction) -> RunSummary | None:
    with suppress(StoreError):
        return run_log.last_completed_run(direction)
    return None
