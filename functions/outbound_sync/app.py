"""Outbound sync (Salesforce → marketing), ticked by EventBridge Scheduler every minute.

The event carries nothing the run needs (the scheduler's default notification, see
events/outbound_sync/scheduled.json): a tick runs once the configuration's `outbound.schedule`
has passed since the last run started ("not_due" before that, having read the configuration and
that start only), and every run reads what changed since the stored watermark. The handler asks
bootstrap for the run, gives it the Lambda deadline and its request id, and reports what it did
as metrics, one log line and the return value. Then it moves on the resync an operator asked
for, if one is active (`sync/resync.py`).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.domain.audit import Direction
from crmsync.domain.errors import ConfigurationError
from crmsync.log_masking import MaskingFormatter
from crmsync.ports import RunOutcome
from crmsync.sync.run_report import publish_failed_run, publish_run, scheduled_time, summary_report

logger = Logger(logger_formatter=MaskingFormatter())
tracer = Tracer()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@bootstrap.settled_after_first_invocation
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # Only logged: whatever the event holds (no `time`, not even an object), the run is the same.
    logger.append_keys(scheduled_time=scheduled_time(event))
    try:
        summary = bootstrap.outbound_sync().run(
            context.get_remaining_time_in_millis, run_id=context.aws_request_id
        )
    except ConfigurationError:
        # Fail the invocation: nothing syncs until the configuration or deployment is fixed,
        # and Lambda's error metric (and the log line) make that visible.
        logger.exception("outbound run refused: the connector is not configured correctly")
        _publish_failure()
        raise
    except Exception:
        _publish_failure()
        raise
    report = summary_report(summary)
    # A resync an operator asked for moves on at every tick, due or not, after the run.
    resync = bootstrap.advance_resync(context.get_remaining_time_in_millis, run_id=context.aws_request_id)
    if resync is not None:
        report["resync"] = resync.as_answer()
        logger.info(f"resync {resync.state}", extra={"resync": report["resync"]})
    if summary.outcome is RunOutcome.NOT_DUE:
        logger.debug("outbound run not_due")
        return report
    publish_run(metrics, summary, bootstrap.run_log())
    tracer.put_annotation("outcome", str(summary.outcome))
    logger.info(f"outbound run {summary.outcome}", extra={"run": report})
    return report


def _publish_failure() -> None:
    # Never in the way of the failure itself, which Lambda reports.
    with suppress(Exception):
        publish_failed_run(metrics, Direction.OUTBOUND, bootstrap.clock().now(), bootstrap.run_log())
