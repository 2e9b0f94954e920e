"""Outbound sync (Salesforce → marketing), run by EventBridge Scheduler on the OutboundSchedule.

The event carries nothing the run needs (the scheduler's default notification, see
events/outbound_sync/scheduled.json): every run reads what changed since the stored watermark.
The handler asks bootstrap for the run, gives it the Lambda deadline and its request id, and
reports what it did as metrics, one log line and the return value.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.domain.errors import ConfigurationError
from crmsync.ports import RunSummary

logger = Logger()
tracer = Tracer()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(scheduled_time=event.get("time"))
    try:
        summary = bootstrap.outbound_sync().run(
            context.get_remaining_time_in_millis, run_id=context.aws_request_id
        )
    except ConfigurationError:
        # Fail the invocation: nothing syncs until the configuration or deployment is fixed,
        # and Lambda's error metric (and the log line) make that visible.
        logger.exception("outbound run refused: the connector is not configured correctly")
        raise
    report = summary_report(summary)
    publish_metrics(summary)
    tracer.put_annotation("outcome", summary.outcome)
    logger.info(f"outbound run {summary.outcome}", extra={"run": report})
    return report


def summary_report(summary: RunSummary) -> dict[str, Any]:
    """The run summary as JSON values."""
    return {
        "direction": str(summary.direction),
        "run_id": summary.run_id,
        "outcome": summary.outcome,
        "counts": dict(summary.counts),
        "api_calls": summary.api_calls,
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
    }


def publish_metrics(summary: RunSummary) -> None:
    """One metric per count of the run (`out_of_scope` → `OutOfScope`), plus `ApiCalls`."""
    metrics.add_dimension(name="direction", value=str(summary.direction))
    for name, value in summary.counts.items():
        metrics.add_metric(name=metric_name(name), unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="ApiCalls", unit=MetricUnit.Count, value=summary.api_calls)
    metrics.add_metadata(key="outcome", value=summary.outcome)
    metrics.add_metadata(key="run_id", value=summary.run_id)


def metric_name(count: str) -> str:
    return "".join(part.capitalize() for part in count.split("_"))
