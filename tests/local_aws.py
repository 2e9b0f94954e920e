"""The stack on moto as every test that needs AWS makes it, at the least cost per test: the
template parsed once per process (parsing the YAML again cost a tenth of a second a test), and
the default boto3 session kept across tests, so that the service models it loaded make the next
test's clients cheap (moto patches the transport of every session alike)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from moto import mock_aws
from moto.core.models import MockAWS

from local.aws_stack import load_template


@cache
def _parsed() -> dict[str, Any]:
    return load_template()


def stack_template() -> dict[str, Any]:
    """The repository's template.yaml, parsed; the caller's own copy."""
    return copy.deepcopy(_parsed())


def mocked_aws() -> MockAWS:
    """moto's `mock_aws`, the default boto3 session kept (see above)."""
    return mock_aws(config={"core": {"reset_boto3_session": False}})
