"""How the scheduled functions report a run: its summary as JSON values and as metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from crmsync.ports import RunSummary


def summary_report(summary: RunSummary) -> dict[str, Any]:
    """The run summary as JSON values."""
    return {
        "direction": str(summary.direction),
        "run_id": summary.run_id,
        "outcome": str(summary.outcome),
        "counts": dict(summary.counts),
        "api_calls": summary.api_calls,
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
    }


def scheduled_time(event: Any) -> str | None:
    """The time a scheduler event names, for the log only: a scheduled run reads nothing from
    its event, so an event without one (or that is no object at all) runs the same."""
    time = event.get("time") if isinstance(event, dict) else None
    return time[:64] if isinstance(time, str) else None


def publish_metrics(metrics: Metrics, summary: RunSummary) -> None:
    """One metric per count of the run (`out_of_scope` → `OutOfScope`), plus `ApiCalls`."""
    metrics.add_dimension(name="direction", value=str(summary.direction))
    for name, value in summary.counts.items():
        metrics.add_metric(name=metric_name(name), unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="ApiCalls", unit=MetricUnit.Count, value=summary.api_calls)
    metrics.add_metadata(key="outcome", value=str(summary.outcome))
    metrics.add_metadata(key="run_id", value=summary.run_id)


def metric_name(count: str) -> str:
    return "".join(part.capitalize() for part in count.split("_"))
