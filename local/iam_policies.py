"""The functions' IAM permissions, as the transformed template grants them (`local.sam_transform`).

Two uses. The template tests refuse any IAM statement that grants a data action on
`Resource: "*"`, and any AWS managed policy whose content the template cannot show. The function
tests record every AWS call a handler makes (`permissions_for`) and check each against the
function's own statements (`FunctionPolicy.allows`), with the resources resolved against the
local stack: a policy narrowed too far fails the test that exercises the call, not a deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlparse

from local.aws_stack import TemplateError

DATA_SERVICES = ("dynamodb", "sqs", "kinesis", "secretsmanager", "s3", "sns", "kms", "ssm")
"""Services whose actions read or write data: never granted on every resource."""

ACCEPTED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "logs:CreateLogGroup/CreateLogStream/PutLogEvents only; SAM attaches it to every role it makes"
    ),
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "X-Ray trace segments and sampling only; X-Ray has no resource-level permissions"
    ),
}
"""AWS managed policies a function role may carry, and why. Any other (the SQS and DynamoDB
stream event sources' execution roles: data actions on every resource) is refused: the template
declares those permissions itself, scoped to its queue and stream."""

_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def statements(role: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of an `AWS::IAM::Role`'s inline policies."""
    for policy in role.get("Properties", {}).get("Policies", []) or []:
        found = policy.get("PolicyDocument", {}).get("Statement", [])
        yield from [found] if isinstance(found, dict) else found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_data_grants(template: Mapping[str, Any]) -> list[str]:
    """What grants a data action on `Resource: "*"` (or carries a managed policy not accepted),
    one line each, in `template` (transformed)."""
    found: list[str] = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []) or []:
            name = arn if isinstance(arn, str) else str(arn)
            if name not in ACCEPTED_MANAGED_POLICIES:
                found.append(f"{logical_id}: managed policy {name} (grant what the function needs instead)")
        for statement in statements(resource):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            if "*" not in _as_list(statement.get("Resource")):
                continue
            data = [
                action
                for action in _as_list(statement.get("Action"))
                if action == "*" or action.split(":", 1)[0].lower() in DATA_SERVICES
            ]
            if data:
                found.append(f"{logical_id}: {', '.join(data)} on Resource '*'")
    return found


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(fnmatchcase(action.lower(), granted.lower()) for granted in self.actions) and any(
            fnmatchcase(resource, granted) for granted in self.resources
        )


@dataclass(frozen=True)
class FunctionPolicy:
    """What a function's execution role allows, its resources resolved to concrete ARNs."""

    function: str
    grants: tuple[Grant, ...]

    @classmethod
    def of(cls, template: Mapping[str, Any], function: str, resolve: Callable[[Any], Any]) -> FunctionPolicy:
        """`function`'s role in `template` (transformed); `resolve` turns intrinsic functions into
        values. A statement whose resources cannot be resolved locally (a resource the local
        stack does not create) grants nothing here."""
        role_id = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        grants = []
        for statement in statements(template["Resources"][role_id]):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            try:
                resources = [str(r) for r in _as_list(resolve(statement.get("Resource", [])))]
            except TemplateError:
                continue
            grants.append(Grant(tuple(_as_list(statement.get("Action"))), tuple(resources)))
        return cls(function, tuple(grants))

    def allows(self, action: str, resource: str) -> bool:
        return any(grant.allows(action, resource) for grant in self.grants)


def permissions_for(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str
) -> list[tuple[str, str]]:
    """The IAM (action, resource) pairs one API call needs, from its request parameters.

    DynamoDB authorizes a transaction item by item (`TransactWriteItems` is no IAM action) and a
    batch by the batch action; an index query by the index's ARN. DynamoDB Streams' calls are
    `dynamodb:` actions on the stream's ARN, which a shard iterator starts with (up to its first
    `|`). SQS authorizes a batch call as its single-message action (`SendMessageBatch` as
    `SendMessage`, `DeleteMessageBatch` as `DeleteMessage`)."""
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{region}:{account}:table/"
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [
                (f"dynamodb:{_TRANSACTION_ACTIONS[kind]}", table + request["TableName"])
                for item in params.get("TransactItems", [])
                for kind, request in item.items()
            ]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table + name) for name in params.get("RequestItems", {})]
        resource = table + params["TableName"]
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", resource)]
    if service == "dynamodb-streams":
        if operation == "ListStreams":
            return [("dynamodb:ListStreams", "*")]
        stream = params.get("StreamArn") or str(params.get("ShardIterator", "")).split("|", 1)[0]
        return [(f"dynamodb:{operation}", stream)]
    if service == "sqs":
        queue = urlparse(params["QueueUrl"]).path.rstrip("/").rsplit("/", 1)[-1]
        action = operation.removesuffix("Batch") if operation.endswith("MessageBatch") else operation
        return [(f"sqs:{action}", f"arn:aws:sqs:{region}:{account}:{queue}")]
    if service in ("secretsmanager", "secrets-manager"):
        return [(f"secretsmanager:{operation}", str(params["SecretId"]))]
    return [(f"{service}:{operation}", "*")]
