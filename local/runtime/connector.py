"""A whole connector in this process, as `make demo` runs it: moto served for AWS (the stack's
tables and queues made from template.yaml), the Salesforce emulator over HTTPS, a JWT key pair
made now, the secret in moto's Secrets Manager, and a function's environment in `os.environ`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from crmsync import bootstrap

from local.aws_stack import LocalStack, create_stack
from local.keys import generate_jwt_key_pair
from local.runtime.aws import LOCAL_AWS, QUIET, REGION, function_environment, moto_server
from local.runtime.org import OrgLogin, connect_app
from local.salesforce_emulator import Emulator


@dataclass
class LocalConnector:
    emulator: Emulator
    stack: LocalStack
    moto_url: str
    salesforce_url: str


@contextmanager
def local_connector(emulator: Emulator, function: str = "HttpApiFunction") -> Iterator[LocalConnector]:
    """`function` deployed on this machine against `emulator`, for as long as the block runs;
    the environment is given back as it was after."""
    saved_environment = dict(os.environ)
    try:
        with moto_server() as moto_url:
            os.environ.update({**LOCAL_AWS, "AWS_ENDPOINT_URL": moto_url})
            keys = generate_jwt_key_pair()
            connect_app(emulator, keys, first_name="crmsync")
            with emulator.serve() as server:
                stack = create_stack(region=REGION, endpoint_url=moto_url)
                org = OrgLogin(url=server.url, ca_file=server.ca_file, private_key_pem=keys.private_key_pem)
                os.environ.update(function_environment(stack, function, org, endpoint_url=moto_url))
                os.environ.update(QUIET)
                bootstrap.reset()
                yield LocalConnector(
                    emulator=emulator, stack=stack, moto_url=moto_url, salesforce_url=server.url
                )
    finally:
        bootstrap.reset()
        os.environ.clear()
        os.environ.update(saved_environment)
