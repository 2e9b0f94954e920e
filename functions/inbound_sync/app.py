"""Inbound sync (marketing → Salesforce). Two triggers:

- the prospects table's stream (change capture): the changed prospects are noted as waiting,
  and a run starts at once when `inbound.max_waiting_changes` wait
  (events/inbound_sync/prospect_changes.json);
- EventBridge Scheduler, a tick every minute (events/inbound_sync/scheduled.json): once the
  configuration's `inbound.every_minutes` have passed since the last scheduled run, the
  automation actions parked while the connector could not send are carried out, then a run
  sends whatever waits, then the marketing activities waiting to become Tasks. Before that the
  tick answers "not_due", having read the configuration and the last run's start only.

A stream batch fails only when its changes could not be noted (the stream then delivers it
again); an early run that fails is logged and left to the schedule, the changes still wait.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.aws.prospect_stream import pending_changes
from crmsync.domain.errors import ConfigurationError, CrmError, StoreError
from crmsync.ports import RunSummary
from crmsync.sync.run_report import publish_metrics, summary_report

logger = Logger()
tracer = Tracer()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@bootstrap.settled_after_first_invocation
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    inbound = bootstrap.inbound_sync()
    records = event.get("Records")
    if records is not None:
        changes = pending_changes(records)
        start_now = inbound.capture(changes)
        logger.info("prospect changes noted", extra={"noted": len(changes), "records": len(records)})
        if not start_now:
            return {"trigger": "stream", "noted": len(changes), "outcome": "waiting"}
        try:
            summary = inbound.run(context.get_remaining_time_in_millis, run_id=context.aws_request_id)
        except (ConfigurationError, CrmError, StoreError):
            logger.exception("early inbound run failed; the changes wait for the scheduled run")
            return {"trigger": "stream", "noted": len(changes), "outcome": "failed"}
        return {"trigger": "stream", "noted": len(changes), **_reported(summary)}

    logger.append_keys(scheduled_time=event.get("time"))
    if not inbound.due():
        logger.debug("inbound run not_due")
        return {"trigger": "schedule", "outcome": "not_due"}
    # Actions parked while the connector could not send (paused, over budget) go first: the
    # prospects they link then sync like any other.
    parked = bootstrap.automation_actions().carry_out_parked(
        context.get_remaining_time_in_millis, run_id=context.aws_request_id
    )
    try:
        summary = inbound.run(
            context.get_remaining_time_in_millis, run_id=context.aws_request_id, scheduled=True
        )
    except ConfigurationError:
        logger.exception("inbound run refused: the connector is not configured correctly")
        raise
    report = {"trigger": "schedule", **_reported(summary)}
    if parked.counts:
        logger.info("parked automation actions carried out", extra={"actions": dict(parked.counts)})
        report["parked_actions"] = dict(parked.counts)
    # Fields first: a prospect's activities go once its record has its latest values.
    activities = bootstrap.activity_sync().run(context.get_remaining_time_in_millis, context.aws_request_id)
    logger.info(f"activities {activities.outcome}", extra={"activities": dict(activities.counts)})
    report["activities"] = {"outcome": activities.outcome, "counts": dict(activities.counts)}
    return report


def _reported(summary: RunSummary) -> dict[str, Any]:
    report = summary_report(summary)
    publish_metrics(metrics, summary)
    tracer.put_annotation("outcome", summary.outcome)
    logger.info(f"inbound run {summary.outcome}", extra={"run": report})
    return report
