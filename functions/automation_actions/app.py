"""Automation actions consumer (docs/guide/actions.md), fed by the ActionsQueue (SQS, batches of up to 100,
partial batch responses).

The whole batch is carried out at once by the use case (batched Salesforce and DynamoDB calls,
not one call per action); the Powertools BatchProcessor then answers SQS with the messages to
deliver again: those that met a passing failure. Refused actions are consumed and listed in
the error list. See events/automation_actions/ for sample events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.domain.errors import ConfigurationError
from crmsync.log_masking import MaskingFormatter
from crmsync.sync.actions import ActionMessage

logger = Logger(logger_formatter=MaskingFormatter())
tracer = Tracer()
metrics = Metrics()  # namespace and service from POWERTOOLS_METRICS_NAMESPACE / _SERVICE_NAME
# A batch whose every message met a passing failure is answered like any other: each is
# reported, so SQS counts one receive per message (raising would do the same, noisily).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class ActionNotCarriedOut(Exception):
    """The action met a passing failure (Salesforce or DynamoDB unreachable, a row locked, the
    prospect busy in another invocation): SQS delivers it again, then to the dead-letter queue."""


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@bootstrap.settled_after_first_invocation
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [SQSRecord(record) for record in event.get("Records", [])]
    messages = [
        ActionMessage(
            message_id=record.message_id,
            body=record.body,
            sent_at=_sent_at(record),
            receive_count=int(record.attributes.approximate_receive_count or 1),
        )
        for record in records
    ]
    try:
        report = bootstrap.automation_actions().carry_out(
            messages, context.get_remaining_time_in_millis, run_id=context.aws_request_id
        )
    except ConfigurationError:
        # Fail the invocation: every message stays on the queue until the deployment or the
        # configuration is fixed, and Lambda's error metric shows it.
        logger.exception("automation actions refused: the connector is not configured correctly")
        raise
    to_retry = report.to_retry

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in to_retry:
            raise ActionNotCarriedOut(
                f"{record.message_id}: not carried out this time; SQS delivers it again"
            )

    # One metric per outcome (`already_linked` → `ActionsAlreadyLinked`), parked ones included.
    for outcome, count in (report.counts + report.parked_counts).items():
        metrics.add_metric(
            name=f"Actions{outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=count
        )
    logger.info(
        "automation actions",
        extra={
            "outcomes": dict(report.counts),
            "parked_carried_out": dict(report.parked_counts),
            "waiting_reason": report.waiting_reason,
        },
    )
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def _sent_at(record: SQSRecord) -> datetime:
    sent = record.attributes.sent_timestamp
    return datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else datetime.now(UTC)
