"""The `dynamo` fixture: moto, with the stack's tables made from template.yaml. Test modules
load it with `pytest_plugins = ["tests.adapters.conftest_dynamo"]`."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from local.aws_stack import create_stack
from tests.adapters.dynamo_doubles import REGION, DynamoTables
from tests.local_aws import mocked_aws, stack_template


@pytest.fixture
def dynamo(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoTables]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        yield DynamoTables(
            client=boto3.client("dynamodb", region_name=REGION),
            links=stack.resources["LinksTable"],
            prospects=stack.resources["ProspectsTable"],
            state=stack.resources["StateTable"],
        )
