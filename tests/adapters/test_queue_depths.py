"""The stack's queue depths on moto, for the status: messages waiting, and a queue that cannot be
read reported as unknown rather than failing the status."""

from __future__ import annotations

import boto3
from crmsync.aws.queue_depths import SqsQueueDepths
from moto import mock_aws

REGION = "us-east-1"


def test_each_queue_counts_its_waiting_messages_and_one_not_there_is_unknown() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        actions = sqs.create_queue(QueueName="actions")["QueueUrl"]
        empty = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for number in range(3):
            sqs.send_message(QueueUrl=actions, MessageBody=str(number))

        depths = SqsQueueDepths(
            sqs,
            {
                "actions_queue": actions,
                "actions_dlq": empty,
                "failed_captures": actions.replace("actions", "gone"),
                "not_in_this_stack": "",
            },
        ).depths()

    assert depths == {
        "actions_queue": 3,
        "actions_dlq": 0,
        "failed_captures": None,
        "not_in_this_stack": None,
    }
