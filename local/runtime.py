"""Everything a deployed connector has, on this machine: moto in server mode for AWS (the
stack's tables and queues made from template.yaml), the Salesforce emulator over HTTPS, a
JWT key pair made now, and the secret in (moto's) Secrets Manager. Used by `make demo` and
`make bench`."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from crmsync import bootstrap
from moto.server import ThreadedMotoServer

from local.aws_stack import LocalStack, create_stack, store_jwt_secret
from local.keys import generate_jwt_key_pair
from local.salesforce_emulator import Emulator

REGION = "us-east-1"
CLIENT_ID = "3MVG9crmsync-local-connected-app"
INTEGRATION_USER = "integration@crmsync.local"


@dataclass
class LocalRuntime:
    emulator: Emulator
    stack: LocalStack
    moto_url: str
    salesforce_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def local_runtime(emulator: Emulator, function: str = "HttpApiFunction") -> Iterator[LocalRuntime]:
    saved_environment = dict(os.environ)
    port = _free_port()
    # moto's werkzeug server logs every request; the demo's report is the output that matters.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        moto_url = f"http://127.0.0.1:{port}"
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": moto_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "crmsync",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        keys = generate_jwt_key_pair()
        emulator.register_connected_app(CLIENT_ID, certificate_pem=keys.certificate_pem)
        emulator.add_user(
            INTEGRATION_USER, email=INTEGRATION_USER, first_name="crmsync", last_name="Integration"
        )
        with emulator.serve() as server:
            stack = create_stack(region=REGION, endpoint_url=moto_url)
            secret_arn = store_jwt_secret(
                login_url=server.url,
                client_id=CLIENT_ID,
                username=INTEGRATION_USER,
                private_key_pem=keys.private_key_pem,
                region=REGION,
                endpoint_url=moto_url,
            )
            os.environ.update(stack.function_environment(function, secret_arn=secret_arn))
            os.environ["REQUESTS_CA_BUNDLE"] = server.ca_file
            # After the function's own environment (its LogLevel is INFO): the handlers' log
            # lines and EMF metric blobs would drown the report the demo prints.
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
            bootstrap.reset()
            yield LocalRuntime(emulator=emulator, stack=stack, moto_url=moto_url, salesforce_url=server.url)
    finally:
        bootstrap.reset()
        moto.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
