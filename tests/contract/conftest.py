"""Contract tests: the same assertions against each fake of tests/fakes and the adapter it
stands for (DynamoDB and SQS on moto, with the stack's tables made from template.yaml; the
Salesforce gateway on the emulator through simple-salesforce), for the behaviours the use cases
rely on. A fake that drifts from its adapter fails here, not in a service test that trusted it.

The real adapters come from `crmsync.bootstrap`, as the functions build them. One moto stack
serves a whole module: each test writes under ids of its own (`unique`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from crmsync import bootstrap

from local.aws_stack import LocalStack, create_stack
from tests.local_aws import mocked_aws, stack_template

REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalStack]:
    """The stack on moto, and InboundSyncFunction's environment (every table and queue)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        with mocked_aws():
            stack = create_stack(stack_template(), region=REGION)
            for name, value in stack.function_environment("InboundSyncFunction", secret_arn="unused").items():
                patch.setenv(name, value)
            bootstrap.reset()
            yield stack
            bootstrap.reset()


def unique(prefix: str = "p") -> str:
    """An id no other test of the module uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
