"""The tables and queues every local run uses are made from template.yaml: what is tested is
what gets deployed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.aws_stack import LocalStack, TemplateError, create_stack, load_template
from local.iam_policies import FunctionPolicy, permissions_for, wildcard_data_grants
from local.sam_transform import transformed_template
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


def test_prospects_table_streams_changes_and_writes_no_secondary_index(stack: LocalStack) -> None:
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=stack.resources["ProspectsTable"]
    )["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert not table.get("GlobalSecondaryIndexes"), "lookups by email read the email index items"


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


def test_the_prospects_stream_sends_the_batches_it_gives_up_on_to_a_queue_the_inbound_function_drains(
    stack: LocalStack,
) -> None:
    inbound = stack.template["Resources"]["InboundSyncFunction"]["Properties"]
    mapping = stack.template["Resources"]["InboundSyncFunctionProspectChanges"]["Properties"]
    # The discarded batch's position goes to the queue.
    assert mapping["DestinationConfig"]["OnFailure"] == {
        "Destination": {"Fn::GetAtt": ["FailedCapturesQueue", "Arn"]}
    }
    # The queue is encrypted and keeps a message past the stream's 24 hours; one invocation at
    # a time reads a message.
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=stack.resources["FailedCapturesQueue"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert int(attributes["MessageRetentionPeriod"]) > 24 * 3600
    assert int(attributes["VisibilityTimeout"]) >= inbound["Timeout"]
    # The function finds the queue, takes messages off it (Lambda puts them there with the same
    # role), and reads this table's stream only.
    environment = stack.function_environment("InboundSyncFunction", secret_arn="unused")
    assert environment["CRMSYNC_FAILED_CAPTURES_QUEUE_URL"] == stack.resources["FailedCapturesQueue"]
    policy = FunctionPolicy.of(
        transformed_template(), "InboundSyncFunction", lambda value: stack.resolve(value, secret_arn="-")
    )
    failed = stack.arns["FailedCapturesQueue"]
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"):
        assert policy.allows(action, failed)
    assert not policy.allows("sqs:ReceiveMessage", stack.arns["ActionsQueue"])
    stream = stack.attribute("ProspectsTable", "StreamArn")
    for action in ("dynamodb:GetShardIterator", "dynamodb:GetRecords"):
        assert policy.allows(action, stream)
        assert not policy.allows(action, stream.replace("ProspectsTable", "LinksTable"))


def test_change_capture_falling_behind_or_batches_left_undrained_raise_alarms(stack: LocalStack) -> None:
    resources = stack.template["Resources"]
    iterator_age = resources["ProspectChangesIteratorAgeAlarm"]["Properties"]
    assert (iterator_age["Namespace"], iterator_age["MetricName"]) == ("AWS/Lambda", "IteratorAge")
    assert iterator_age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "InboundSyncFunction"}}]
    assert (iterator_age["Statistic"], iterator_age["ComparisonOperator"]) == (
        "Maximum",
        "GreaterThanThreshold",
    )
    assert iterator_age["Threshold"] < 24 * 3600 * 1000, "well before the stream drops records"
    undrained = resources["FailedCapturesAlarm"]["Properties"]
    assert (undrained["Namespace"], undrained["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert undrained["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedCapturesQueue", "QueueName"]}}
    ]
    assert undrained["Threshold"] < 24 * 3600, "while the batch's records are still in the stream"
    iterator_alarms = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"].get("MetricName") == "IteratorAge"
    ]
    assert iterator_alarms == ["ProspectChangesIteratorAgeAlarm"], "one alarm per condition"


# ------------------------------------------------------------------ security and alerting


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    """The transformed template's resources of one type, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in transformed_template()["Resources"].items()
        if resource["Type"] == kind
    }


def test_no_role_grants_a_data_action_on_every_resource_after_the_sam_transform() -> None:
    assert wildcard_data_grants(transformed_template()) == []


def test_the_wildcard_check_finds_data_actions_on_any_resource_and_managed_policies() -> None:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"],
            "Policies": [
                {
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"},
                            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
                        ]
                    }
                }
            ],
        },
    }
    assert wildcard_data_grants({"Resources": {"SomeRole": role}}) == [
        "SomeRole: managed policy arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole "
        "(grant what the function needs instead)",
        "SomeRole: dynamodb:GetItem on Resource '*'",
    ]


def test_no_function_is_given_crud_on_a_table() -> None:
    for logical_id, resource in load_template()["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            assert "DynamoDBCrudPolicy" not in policy, f"{logical_id}: name the actions its code calls"


def test_a_policy_allows_only_the_actions_and_resources_it_names(stack: LocalStack) -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:crmsync/salesforce-AbC123"
    policy = FunctionPolicy.of(
        transformed_template(), "HttpApiFunction", lambda value: stack.resolve(value, secret_arn=secret)
    )
    state = stack.arns["StateTable"]
    assert policy.allows("dynamodb:GetItem", state)
    assert not policy.allows("dynamodb:DeleteItem", stack.arns["ProspectsTable"]), "it deletes no prospect"
    links = stack.arns["LinksTable"]
    assert not policy.allows("dynamodb:Scan", links), "it scans the links' keys-only index, not the table"
    assert policy.allows("dynamodb:Scan", f"{links}/index/by_crm_id")
    assert policy.allows("dynamodb:GetItem", links), "a record's story reads its link"
    assert policy.allows("secretsmanager:GetSecretValue", secret)
    assert policy.allows("sqs:SendMessage", stack.arns["ActionsQueue"])
    assert not policy.allows("sqs:SendMessage", stack.arns["ActionsDeadLetterQueue"])
    assert policy.allows("sqs:GetQueueAttributes", stack.arns["ActionsDeadLetterQueue"]), (
        "the status counts it"
    )


def test_the_event_sources_read_the_actions_queue_and_the_prospects_stream_only(stack: LocalStack) -> None:
    """What the Lambda pollers call with the functions' roles (no handler call shows it)."""

    def policy(function: str) -> FunctionPolicy:
        return FunctionPolicy.of(
            transformed_template(), function, lambda value: stack.resolve(value, secret_arn="-")
        )

    consumer, inbound = policy("AutomationActionsFunction"), policy("InboundSyncFunction")
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert consumer.allows(action, stack.arns["ActionsQueue"])
        assert not consumer.allows(action, stack.arns["ActionsDeadLetterQueue"])
    stream = stack.attribute("ProspectsTable", "StreamArn")
    for action in ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams"):
        assert inbound.allows(f"dynamodb:{action}", stream)
        assert not inbound.allows(f"dynamodb:{action}", stream.replace("ProspectsTable", "LinksTable"))


def test_an_event_sources_failure_destination_is_one_its_functions_role_may_send_to(
    stack: LocalStack,
) -> None:
    """Lambda sends a mapping's failed batches with the function's role; SAM adds that permission
    to the role only for its own events, not for the mappings the template declares."""
    template = transformed_template()
    for logical_id, mapping in resources_of("AWS::Lambda::EventSourceMapping").items():
        destination = (
            mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        )
        if destination is None:
            continue
        function = mapping["Properties"]["FunctionName"]["Ref"]
        policy = FunctionPolicy.of(template, function, lambda value: stack.resolve(value, secret_arn="-"))
        target = stack.resolve(destination)
        action = "sns:Publish" if ":sns:" in target else "sqs:SendMessage"
        assert policy.allows(action, target), f"{logical_id}: {function} may not {action} to {target}"


def test_a_call_needs_its_items_actions_and_its_index() -> None:
    account = {"region": "eu-west-1", "account": "111122223333"}
    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/"
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "links", "Item": {}}},
            {"Update": {"TableName": "state", "Key": {}}},
            {"ConditionCheck": {"TableName": "links", "Key": {}}},
        ]
    }
    assert permissions_for("dynamodb", "TransactWriteItems", transaction, **account) == [
        ("dynamodb:PutItem", table + "links"),
        ("dynamodb:UpdateItem", table + "state"),
        ("dynamodb:ConditionCheckItem", table + "links"),
    ]
    query = {"TableName": "activities", "IndexName": "waiting"}
    assert permissions_for("dynamodb", "Query", query, **account) == [
        ("dynamodb:Query", table + "activities/index/waiting")
    ]
    queue = {"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/actions"}
    assert permissions_for("sqs", "SendMessageBatch", queue, **account) == [
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:111122223333:actions")
    ]
    assert permissions_for("sqs", "DeleteMessageBatch", queue, **account) == [
        ("sqs:DeleteMessage", "arn:aws:sqs:eu-west-1:111122223333:actions")
    ]
    stream = table + "prospects/stream/2026-11-22T12:00:00.000"
    iterator = {"ShardIterator": stream + "|1|AAAAopaque"}
    assert permissions_for("dynamodb-streams", "GetRecords", iterator, **account) == [
        ("dynamodb:GetRecords", stream)
    ]
    shard = {"StreamArn": stream, "ShardId": "shardId-1", "ShardIteratorType": "AT_SEQUENCE_NUMBER"}
    assert permissions_for("dynamodb-streams", "GetShardIterator", shard, **account) == [
        ("dynamodb:GetShardIterator", stream)
    ]


def test_every_alarm_notifies_the_alarm_topic_and_an_email_subscription_is_optional() -> None:
    template = load_template()
    alarms = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {
        "ActionsDeadLetterAlarm",
        "ScheduledRunFailuresAlarm",
        "ProspectChangesIteratorAgeAlarm",
        "FailedCapturesAlarm",
        "HttpApiFunctionErrorsAlarm",
        "OutboundSyncFunctionErrorsAlarm",
        "InboundSyncFunctionErrorsAlarm",
        "AutomationActionsFunctionErrorsAlarm",
        "OutboundLagAlarm",
        "InboundLagAlarm",
        "SyncErrorsRisingAlarm",
        "OverBudgetAlarm",
    } <= set(alarms)
    for logical_id, alarm in alarms.items():
        assert {"Ref": "AlarmTopic"} in alarm.get("AlarmActions", []), f"{logical_id} notifies nobody"
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_each_function_has_an_errors_alarm() -> None:
    template = load_template()
    watched = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for alarm in template["Resources"].values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm" and alarm["Properties"].get("MetricName") == "Errors"
    }
    functions = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert watched == functions


def test_a_burst_of_actions_reaches_at_most_two_consumers_at_once() -> None:
    (mapping,) = [
        m["Properties"]
        for m in resources_of("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["ActionsQueue", "Arn"]}
    ]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_failed_scheduled_run_or_an_undelivered_tick_lands_in_the_failures_queue() -> None:
    template = transformed_template()
    failures = {"Fn::GetAtt": ["ScheduledRunFailuresQueue", "Arn"]}
    for function in ("OutboundSyncFunction", "InboundSyncFunction"):
        invoke = template["Resources"][f"{function}EventInvokeConfig"]["Properties"]
        assert invoke["MaximumRetryAttempts"] == 0, "a retry would answer not_due and hide the failure"
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == failures
        target = template["Resources"][f"{function}Schedule"]["Properties"]["Target"]
        assert target["DeadLetterConfig"] == {"Arn": failures}


def test_the_http_api_logs_each_request_without_personal_data() -> None:
    (stage,) = resources_of("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    logged = json.loads(settings["Format"])
    assert {"requestId", "routeKey", "status"} <= set(logged)
    assert not {"sourceIp", "userAgent", "caller", "user", "userArn"} & set(logged)
    assert not any("identity" in value for value in logged.values())


def test_no_trace_keeps_a_functions_response() -> None:
    for logical_id, function in resources_of("AWS::Lambda::Function").items():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", logical_id


# ------------------------------------------------------------------ metrics: dashboard and alarms

NAMESPACE = "crmsync"


def dashboard_body() -> dict[str, Any]:
    """The dashboard's body as CloudFormation would write it: `!Sub` variables filled in (the
    parameters with their defaults, resources by their names), `${!...}` left as `${...}`."""
    template = load_template()
    source = template["Resources"]["SyncHealthDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        assert (
            name in parameters or name.split(".")[0] in template["Resources"] or name.startswith("AWS::")
        ), name
        return parameters.get(name) or f"local-{name.replace('.', '-').replace('::', '-')}"

    body: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", value, source))
    return body


def _metric_widgets() -> dict[str, dict[str, Any]]:
    """The dashboard's graphs, by title."""
    return {
        widget["properties"]["title"]: widget["properties"]
        for widget in dashboard_body()["widgets"]
        if widget["type"] == "metric"
    }


def _shown(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of each metric a graph reads, searches included."""
    shown = []
    for line in widget["metrics"]:
        if isinstance(line[0], dict):
            search = re.match(r"SEARCH\('\{([^,]+),[^}]*\} MetricName=\"(\w+)\"", line[0]["expression"])
            if search:
                shown.append((search.group(1), search.group(2), {}))
            continue
        plain = [part for part in line if not isinstance(part, dict)]
        shown.append((plain[0], plain[1], dict(zip(plain[2::2], plain[3::2], strict=True))))
    return shown


def dashboard_metric_names() -> set[str]:
    """The connector's own metrics (namespace crmsync) the dashboard shows."""
    return {
        name for widget in _metric_widgets().values() for ns, name, _ in _shown(widget) if ns == NAMESPACE
    }


def alarm_metric_names() -> set[str]:
    """The connector's own metrics the alarms watch."""
    names = set()
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        alarm = resource["Properties"]
        stats = [query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query]
        for metric in [*stats, alarm]:
            if metric.get("Namespace") == NAMESPACE:
                names.add(metric["MetricName"])
    return names


def test_the_dashboard_shows_sync_health_at_a_glance_and_its_url_is_an_output() -> None:
    widgets = _metric_widgets()
    by_title = {title: {(ns, name) for ns, name, _ in _shown(widget)} for title, widget in widgets.items()}

    def graph(words: str) -> dict[str, Any]:
        (title,) = [title for title in widgets if words in title.lower()]
        return widgets[title]

    # Lag and throughput per direction
    lag = _shown(graph("lag"))
    assert {(name, dims.get("direction")) for _, name, dims in lag} == {
        ("LagSeconds", "outbound"),
        ("LagSeconds", "inbound"),
    }
    assert graph("lag")["annotations"]["horizontal"][0]["value"] == 30, "LagAlarmMinutes' default"
    assert {dims["direction"] for _, name, dims in _shown(graph("records synced"))} == {"outbound", "inbound"}
    # API usage against the budget
    usage = graph("api usage")
    assert [name for _, name, _ in _shown(usage)] == ["ApiUsagePercent"]
    assert usage["annotations"]["horizontal"][0]["value"] == 50, "ApiBudgetPercent's default"
    # Errors by category (new, and open), what waits, run outcomes per direction
    assert ("crmsync", "SyncErrors") in by_title[next(t for t in widgets if "error list" in t)]
    assert ("crmsync", "OpenErrors") in by_title[next(t for t in widgets if "open errors" in t.lower())]
    assert {name for _, name, _ in _shown(graph("waiting"))} >= {"WaitingChanges", "ParkedActions"}
    for direction in ("outbound", "inbound"):
        outcomes = {name for _, name, _ in _shown(graph(f"{direction} runs"))}
        assert {"RunCompleted", "RunOverBudget", "RunPaused", "RunFailed"} <= outcomes
    # The functions' errors, the stream's iterator age, the dead-letter queue's depth
    functions = {dims["FunctionName"] for _, _, dims in _shown(graph("function errors"))}
    assert functions == {f"local-{f}" for f in resources_of("AWS::Lambda::Function")}
    assert [name for _, name, _ in _shown(graph("iterator age"))] == ["IteratorAge"]
    queues = {dims["QueueName"] for _, _, dims in _shown(graph("dead-letter"))}
    assert "local-ActionsDeadLetterQueue-QueueName" in queues
    # Every crmsync metric is read for this stack alone
    for widget in widgets.values():
        for ns, _, dims in _shown(widget):
            assert ns != NAMESPACE or dims in ({}, {**dims, "service": "local-AWS-StackName"})
    url = load_template()["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/")
    assert url.endswith("#dashboards:name=${SyncHealthDashboard}")


def test_lag_rising_errors_and_a_spent_budget_raise_alarms_on_the_connectors_own_metrics() -> None:
    template = load_template()
    resources, parameters = template["Resources"], template["Parameters"]
    assert parameters["LagAlarmMinutes"]["Default"] == 30
    for direction in ("Outbound", "Inbound"):
        alarm = resources[f"{direction}LagAlarm"]["Properties"]
        (lag,) = [query for query in alarm["Metrics"] if "MetricStat" in query]
        metric = lag["MetricStat"]["Metric"]
        assert (metric["Namespace"], metric["MetricName"]) == ("crmsync", "LagSeconds")
        assert {"Name": "direction", "Value": direction.lower()} in metric["Dimensions"]
        assert {"Name": "service", "Value": {"Ref": "AWS::StackName"}} in metric["Dimensions"]
        (minutes,) = [query for query in alarm["Metrics"] if query.get("ReturnData")]
        assert minutes["Expression"] == f"{lag['Id']} / 60"
        assert alarm["Threshold"] == {"Ref": "LagAlarmMinutes"}
    errors = resources["SyncErrorsRisingAlarm"]["Properties"]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in errors["Metrics"] if "MetricStat" in q} == {
        "SyncErrors"
    }
    assert errors["Threshold"] == {"Ref": "ErrorsPerHourAlarm"}
    budget = resources["OverBudgetAlarm"]["Properties"]
    assert (budget["MetricName"], budget["Threshold"]) == ("ApiUsagePercent", {"Ref": "ApiBudgetPercent"})
    assert budget["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert budget["Period"] * budget["EvaluationPeriods"] == 1800, "for half an hour, not one reading"


def test_the_functions_publish_their_metrics_for_this_stack_alone(stack: LocalStack) -> None:
    for function in ("OutboundSyncFunction", "InboundSyncFunction"):
        environment = stack.function_environment(function, secret_arn="unused")
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
        assert environment["POWERTOOLS_SERVICE_NAME"] == stack.stack_name
