"""Inbound sync (marketing → Salesforce). Two triggers:

- the prospects table's stream (change capture): the changed prospects are noted as waiting,
  records of unexpected shape go to the error list, and a run starts at once when
  `inbound.max_waiting_changes` wait (events/inbound_sync/prospect_changes.json);
- EventBridge Scheduler, a tick every minute (events/inbound_sync/scheduled.json): once the
  configuration's `inbound.every_minutes` have passed since the last scheduled run, the changes
  change capture missed are noted (the batches it gave up on, read back from the stream, and one
  share of the prospects reconciled with their links), the automation actions parked while the
  connector could not send are carried out, then a run sends whatever waits, then the marketing
  activities waiting to become Tasks. Before that the tick answers "not_due", having read the
  configuration and the last run's start only.

A stream batch fails only when its changes could not be noted (the stream then delivers it
again, and past its retries the mapping's on-failure queue keeps where it was); an early run
that fails is logged and left to the schedule, the changes still wait.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.aws.prospect_stream import read_stream_records
from crmsync.domain.audit import Direction
from crmsync.domain.errors import ConfigurationError, CrmError, StoreError
from crmsync.log_masking import MaskingFormatter
from crmsync.ports import RunOutcome, RunSummary
from crmsync.sync.missed_changes import CatchUp
from crmsync.sync.run_report import (
    metric_name,
    publish_failed_run,
    publish_run,
    publish_waiting,
    scheduled_time,
    summary_report,
)

logger = Logger(logger_formatter=MaskingFormatter())
tracer = Tracer()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@bootstrap.settled_after_first_invocation
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    inbound = bootstrap.inbound_sync()
    # A stream event has a list of records; anything else runs as the schedule does, whatever
    # it holds (no `time`, keys of its own, not even an object).
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list):
        captured = read_stream_records(records)
        start_now = inbound.capture(captured)
        noted = {
            "noted": len(captured.changes),
            **({"refused": len(captured.refused)} if captured.refused else {}),
        }
        logger.info("prospect changes noted", extra={**noted, "records": len(records)})
        if captured.refused:
            logger.warning(
                "stream records of unexpected shape listed in the error list",
                extra={"refused": [f"{r.reference}: {r.problem}" for r in captured.refused]},
            )
        if not start_now:
            return {"trigger": "stream", **noted, "outcome": "waiting"}
        try:
            summary = inbound.run(context.get_remaining_time_in_millis, run_id=context.aws_request_id)
        except (ConfigurationError, CrmError, StoreError):
            logger.exception("early inbound run failed; the changes wait for the scheduled run")
            _publish_failure()
            return {"trigger": "stream", **noted, "outcome": "failed"}
        return {"trigger": "stream", **noted, **_reported(summary)}

    logger.append_keys(scheduled_time=scheduled_time(event))
    if not inbound.due():
        logger.debug("inbound run not_due")
        return {"trigger": "schedule", "outcome": str(RunOutcome.NOT_DUE)}
    try:
        # Changes change capture missed first: the run below sends them with the others. It is
        # inbound work and costs reads, so it keeps the inbound schedule rather than every tick.
        missed = _caught_up(inbound.catch_up_missed_changes())
        # Actions parked while the connector could not send (paused, over budget) go first: the
        # prospects they link then sync like any other.
        parked = bootstrap.automation_actions().carry_out_parked(
            context.get_remaining_time_in_millis, run_id=context.aws_request_id
        )
        summary = inbound.run(
            context.get_remaining_time_in_millis, run_id=context.aws_request_id, scheduled=True
        )
    except ConfigurationError:
        logger.exception("inbound run refused: the connector is not configured correctly")
        _publish_failure()
        raise
    except Exception:
        _publish_failure()
        raise
    report = {"trigger": "schedule", **_reported(summary)}
    if missed:
        report["missed_changes"] = missed
    if parked.counts:
        logger.info("parked automation actions carried out", extra={"actions": dict(parked.counts)})
        report["parked_actions"] = dict(parked.counts)
    # Fields first: a prospect's activities go once its record has its latest values.
    activities = bootstrap.activity_sync().run(context.get_remaining_time_in_millis, context.aws_request_id)
    logger.info(f"activities {activities.outcome}", extra={"activities": dict(activities.counts)})
    report["activities"] = {"outcome": str(activities.outcome), "counts": dict(activities.counts)}
    publish_waiting(bootstrap.pending_changes(), bootstrap.parked_actions(), bootstrap.error_list())
    return report


def _caught_up(found: CatchUp) -> dict[str, int]:
    """The catch-up's counts, logged and published (`FailedBatchesExpired`, `ReconciliationFound`
    ... : a missed change is worth an operator's look); what stopped a part of it, logged."""
    for problem in found.problems:
        logger.warning(f"catching up on missed changes: {problem}")
    if found.round_took is not None:
        logger.info(
            "reconciliation covered the whole prospects table",
            extra={"round_seconds": int(found.round_took.total_seconds())},
        )
    counts = dict(found.counts)
    if counts:
        logger.info("missed changes caught up", extra={"missed_changes": counts})
        for name, value in counts.items():
            metrics.add_metric(name=metric_name(name), unit=MetricUnit.Count, value=value)
    return counts


def _reported(summary: RunSummary) -> dict[str, Any]:
    report = summary_report(summary)
    publish_run(metrics, summary, bootstrap.run_log())
    tracer.put_annotation("outcome", str(summary.outcome))
    logger.info(f"inbound run {summary.outcome}", extra={"run": report})
    return report


def _publish_failure() -> None:
    # Never in the way of the failure itself, which Lambda reports (or the log, for an early run).
    with suppress(Exception):
        publish_failed_run(metrics, Direction.INBOUND, bootstrap.clock().now(), bootstrap.run_log())
