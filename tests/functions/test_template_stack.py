"""The tables and queues every local run uses are made from template.yaml: what is tested is
what gets deployed."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from local.aws_stack import LocalStack, TemplateError, create_stack, load_template
from tests.functions.conftest import REGION


def test_links_table_has_the_sparse_by_crm_id_index(stack: LocalStack) -> None:
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=stack.resources["LinksTable"]
    )["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_crm_id"
    assert index["KeySchema"] == [{"AttributeName": "crm_id", "KeyType": "HASH"}]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"


def test_state_and_idempotency_tables_expire_items_by_ttl(stack: LocalStack) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    ttl = {
        logical_id: dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        for logical_id, name in stack.resources.items()
        if logical_id in ("StateTable", "IdempotencyTable")
    }
    assert ttl["StateTable"]["AttributeName"] == "expires_at"
    assert ttl["IdempotencyTable"]["AttributeName"] == "expiration"
    assert {entry["TimeToLiveStatus"] for entry in ttl.values()} == {"ENABLED"}


def test_prospects_table_streams_changes_and_finds_by_email(stack: LocalStack) -> None:
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=stack.resources["ProspectsTable"]
    )["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by_email"]


def test_actions_queue_parks_messages_in_its_dead_letter_queue_after_five_receives(stack: LocalStack) -> None:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=stack.resources["ActionsQueue"], AttributeNames=["All"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.arns["ActionsDeadLetterQueue"],
        "maxReceiveCount": 5,
    }
    assert attributes["VisibilityTimeout"] == "420"


def test_function_environment_points_at_the_created_resources(stack: LocalStack) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:crmsync/salesforce-AbC123"
    environment = stack.function_environment("HttpApiFunction", secret_arn=arn)
    assert environment["CRMSYNC_LINKS_TABLE"] == stack.resources["LinksTable"]
    assert environment["CRMSYNC_ACTIONS_QUEUE_URL"] == stack.resources["ActionsQueue"]
    assert environment["CRMSYNC_SALESFORCE_SECRET_ARN"] == arn
    assert "CRMSYNC_BULK_THRESHOLD" not in environment, "batch sizes are the configuration's"
    assert not {"CRMSYNC_OUTBOUND_SCHEDULE", "CRMSYNC_INBOUND_SCHEDULE"} & set(environment), (
        "schedules are the configuration's"
    )


def test_the_scheduled_functions_tick_every_minute_and_the_configuration_sets_their_schedules() -> None:
    template = load_template()
    assert not {"OutboundSchedule", "InboundSchedule"} & set(template["Parameters"])
    for function in ("OutboundSyncFunction", "InboundSyncFunction"):
        schedule = template["Resources"][function]["Properties"]["Events"]["Schedule"]
        assert schedule["Properties"]["ScheduleExpression"] == "rate(1 minute)"


def test_a_parameter_without_default_must_be_given(stack: LocalStack) -> None:
    with pytest.raises(TemplateError, match="SalesforceSecretArn has no Default"):
        stack.function_environment("HttpApiFunction")


def test_creating_the_stack_twice_reuses_the_tables(stack: LocalStack) -> None:
    again = create_stack(region=REGION)
    assert again.resources == stack.resources


def test_a_file_that_is_not_a_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("just: text\n")
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(path)
