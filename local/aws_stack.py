"""The stack's DynamoDB tables and SQS queues, created from template.yaml itself.

Tests (moto's `mock_aws`), the demo and the bench (moto served: `local.runtime.aws`) call
`create_stack()` instead of declaring tables by hand, so the key schemas, indexes, streams, TTLs
and queue settings the code runs against are exactly the ones that get deployed.

Supported resource types: `AWS::DynamoDB::Table` and `AWS::SQS::Queue`; everything else
(functions, APIs, alarms, ...) is ignored. Settings with no local effect (SSE, point-in-time
recovery, deletion policies, tags) are not applied. Physical names are
`<stack name>-<logical id>` (queues keep a `.fifo` suffix when FIFO).

    stack = create_stack(parameters={"SalesforceSecretArn": arn})
    os.environ.update(stack.function_environment("HttpApiFunction"))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from local import moto_transactions

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
SUPPORTED = (TABLE, QUEUE)
FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")

# --------------------------------------------------------------------------- template loading


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short forms (`!Ref X`) into long ones (`{"Ref": "X"}`)."""


def _short_form(name: str) -> Any:
    def construct(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


_FUNCTION_TAGS = [
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If", "ImportValue",
    "Join", "Length", "Not", "Or", "Select", "Split", "Sub", "ToJsonString", "Transform",
]  # fmt: skip
for _tag in _FUNCTION_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _short_form(f"Fn::{_tag}"))
_CfnLoader.add_constructor("!Ref", _short_form("Ref"))
_CfnLoader.add_constructor("!Condition", _short_form("Condition"))


def load_template(path: str | Path = TEMPLATE) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template, short-form tags included, into plain data."""
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(template, dict) or "Resources" not in template:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources section)")
    return template


# --------------------------------------------------------------------------- intrinsic functions


class TemplateError(ValueError):
    """The template asks for something this local stand-in cannot resolve."""


_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass
class _Context:
    """What intrinsic functions resolve against."""

    template: dict[str, Any]
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, attr) -> value

    def ref(self, name: str) -> Any:
        stack_arn = f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}"
        pseudo = {
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"{stack_arn}/local",
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Parameters", {}):
            raise TemplateError(f"parameter {name} has no Default: give it in create_stack(parameters=...)")
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"cannot resolve Ref {name}: not a parameter or a created table/queue")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.attributes[(name, attribute)]
        except KeyError:
            raise TemplateError(f"cannot resolve Fn::GetAtt {name}.{attribute} locally") from None

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in `value`; `AWS::NoValue` drops the key/item."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref" and isinstance(argument, str):
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(self.resolve(logical_id), self.resolve(attribute))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        args = self.resolve(argument)
        if name == "Fn::Join":
            separator, items = args
            return separator.join(str(item) for item in items)
        if name == "Fn::Select":
            index, items = args
            return items[int(index)]
        if name == "Fn::Split":
            separator, text = args
            return text.split(separator)
        if name == "Fn::Equals":
            left, right = args
            return str(left) == str(right)
        if name == "Fn::Not":
            return not args[0]
        if name == "Fn::And":
            return all(args)
        if name == "Fn::Or":
            return any(args)
        if name == "Fn::ToJsonString":
            return json.dumps(args, separators=(",", ":"))
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        raise TemplateError(f"{name} is not supported locally")

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays ${Literal}
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)


# --------------------------------------------------------------------------- the stack


@dataclass
class LocalStack:
    """The created tables and queues, and how a function of the template would see them."""

    template: dict[str, Any]
    stack_name: str
    region: str
    parameters: dict[str, str]
    resources: dict[str, str]  # logical id -> table name / queue URL (what `!Ref` gives)
    arns: dict[str, str]  # logical id -> ARN
    _context: _Context = field(repr=False)

    def attribute(self, logical_id: str, name: str) -> str:
        """What `!GetAtt logical_id.name` gives (a table's StreamArn, a queue's Arn...)."""
        return self._context.get_att(logical_id, name)

    def function_environment(
        self, logical_id: str = "HttpApiFunction", secret_arn: str | None = None
    ) -> dict[str, str]:
        """Environment variables of `logical_id` (Globals first, then its own), resolved.

        `secret_arn` supplies the `SalesforceSecretArn` parameter when it was not given to
        `create_stack` (it has no Default)."""
        resource = self.template["Resources"].get(logical_id)
        if resource is None or resource.get("Type") not in FUNCTIONS:
            raise KeyError(f"{logical_id} is not a function of the template")
        variables: dict[str, Any] = {}
        globals_ = self.template.get("Globals", {}).get("Function", {})
        if resource["Type"] == "AWS::Serverless::Function":
            variables.update(globals_.get("Environment", {}).get("Variables", {}))
        variables.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
        resolved = self.resolve(variables, secret_arn=secret_arn)
        return {name: _as_env_string(value) for name, value in resolved.items()}

    def functions(self) -> list[str]:
        """The logical ids of the template's functions."""
        return [lid for lid, res in self.template["Resources"].items() if res.get("Type") in FUNCTIONS]

    def function_handler(self, logical_id: str) -> str:
        """The function's handler as a dotted path: `functions.outbound_sync.app.handler`."""
        properties = self.template["Resources"][logical_id]["Properties"]
        return f"{properties['CodeUri'].strip('/').replace('/', '.')}.{properties['Handler']}"

    def function_memory_mb(self, logical_id: str) -> int:
        """The function's MemorySize (its own, else the template's Globals; Lambda's default
        128 MB without either)."""
        properties = self.template["Resources"][logical_id].get("Properties", {})
        globals_ = self.template.get("Globals", {}).get("Function", {})
        return int(self.resolve(properties.get("MemorySize", globals_.get("MemorySize", 128))))

    def resolve(self, value: Any, *, secret_arn: str | None = None) -> Any:
        """`value` (a piece of this template, or of its SAM transform) with its intrinsic
        functions resolved against the created resources; `TemplateError` for what this local
        stand-in does not create. `secret_arn` as in `function_environment`."""
        context = self._context
        if secret_arn is not None:
            context = _Context(
                template=context.template,
                stack_name=context.stack_name,
                region=context.region,
                account_id=context.account_id,
                parameters={**context.parameters, "SalesforceSecretArn": secret_arn},
                refs=context.refs,
                attributes=context.attributes,
            )
        return context.resolve(value)


def create_stack(
    template: Mapping[str, Any] | str | Path | None = None,
    *,
    stack_name: str = "crmsync-local",
    region: str = "us-east-1",
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
) -> LocalStack:
    """Create the template's tables and queues on the configured boto3 endpoint.

    `template` is the parsed template, a path to one, or None for the repository's
    template.yaml. Parameters without a value take their Default; one with neither only fails
    when something uses it. An existing table is reused, so a restarted demo can call this again.
    The stack lives on moto, whose transactions are made to cost what DynamoDB's do."""
    moto_transactions.install()
    if template is None or isinstance(template, (str, Path)):
        body = load_template(template or TEMPLATE)
    else:
        body = dict(template)
    dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)
    values = {
        name: str(spec["Default"]) for name, spec in body.get("Parameters", {}).items() if "Default" in spec
    }
    values.update({name: str(value) for name, value in (parameters or {}).items()})
    context = _Context(body, stack_name, region, "123456789012", values)

    resources: dict[str, str] = {}
    arns: dict[str, str] = {}
    for logical_id in _creation_order(body["Resources"]):
        resource = body["Resources"][logical_id]
        if "Condition" in resource and not context.condition(resource["Condition"]):
            continue
        properties = context.resolve(resource.get("Properties", {}))
        name = f"{stack_name}-{logical_id}"
        if resource["Type"] == TABLE:
            arn, attributes = _create_table(dynamodb, name, properties)
            resources[logical_id] = name
        else:
            url, arn, attributes = _create_queue(sqs, name, properties)
            resources[logical_id] = url
        arns[logical_id] = arn
        context.account_id = arn.split(":")[4] or context.account_id
        context.refs[logical_id] = resources[logical_id]
        context.attributes.update({(logical_id, key): value for key, value in attributes.items()})

    return LocalStack(
        template=body,
        stack_name=stack_name,
        region=region,
        parameters=values,
        resources=resources,
        arns=arns,
        _context=context,
    )


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Supported resources, each after the ones it references (a DLQ before its queue)."""
    supported = {lid for lid, res in resources.items() if res.get("Type") in SUPPORTED}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in order:
            return
        if logical_id in visiting:
            raise TemplateError(f"circular reference through {logical_id}")
        visiting.add(logical_id)
        for dependency in sorted(_references(resources[logical_id]) & supported):
            visit(dependency)
        visiting.discard(logical_id)
        order.append(logical_id)

    for logical_id in sorted(supported):
        visit(logical_id)
    return order


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {match.split(".", 1)[0] for match in _SUB_VARIABLE.findall(text)}
                if isinstance(item, list):
                    found |= _references(item[1])
            elif key == "DependsOn":
                found |= {item} if isinstance(item, str) else set(item)
            else:
                found |= _references(item)
    return found


# --------------------------------------------------------------------------- DynamoDB

_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def _create_table(client: Any, name: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for key in ("ProvisionedThroughput", "OnDemandThroughput"):
        if key in properties:
            request[key] = _numbers(properties[key])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in properties:
            request[key] = [
                {k: _numbers(v) for k, v in index.items() if k in _INDEX_KEYS} for index in properties[key]
            ]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    try:
        description = client.create_table(**request)["TableDescription"]
    except client.exceptions.ResourceInUseException:
        description = client.describe_table(TableName=name)["Table"]
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    ttl = properties.get("TimeToLiveSpecification")
    if ttl and _true(ttl.get("Enabled", False)):
        current = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )

    arn: str = description["TableArn"]
    attributes = {"Arn": arn}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return arn, attributes


# --------------------------------------------------------------------------- SQS

# CloudFormation properties that are also CreateQueue attributes, under the same names.
_QUEUE_ATTRIBUTES = [
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
    "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize",
    "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy",
    "SqsManagedSseEnabled", "VisibilityTimeout",
]  # fmt: skip


def _create_queue(client: Any, name: str, properties: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in properties:
            value = properties[key]
            attributes[key] = json.dumps(value) if isinstance(value, dict) else _as_env_string(value)
    if _true(properties.get("FifoQueue", False)):
        name += ".fifo"
    url: str = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    found = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = found["Attributes"]["QueueArn"]
    return url, arn, {"Arn": arn, "QueueName": name, "QueueUrl": url}


# --------------------------------------------------------------------------- helpers


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _numbers(value: Any) -> Any:
    """CloudFormation takes "5" where the API wants 5."""
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _as_env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def store_jwt_secret(
    *,
    login_url: str,
    client_id: str,
    username: str,
    private_key_pem: str,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    name: str = "crmsync/salesforce",
) -> str:
    """Store a JWT bearer login secret in the README's format; returns its ARN."""
    secrets = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    document = {
        "auth": "jwt",
        "login_url": login_url,
        "client_id": client_id,
        "username": username,
        "private_key": private_key_pem,
    }
    arn: str = secrets.create_secret(Name=name, SecretString=json.dumps(document))["ARN"]
    return arn
