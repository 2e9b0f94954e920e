"""AWS on this machine: moto, the stack made from template.yaml on it (`local.aws_stack`), the
connector's Salesforce secret, and a function's environment as deployed.

The tests run moto in process (`mock_aws`: no socket, fast); `make demo` and `make bench` serve
it (`serve_moto`) through waitress rather than moto's own werkzeug server. Werkzeug closes the
connection after every answer, so each DynamoDB call would pay a TCP connect that a Lambda
function does not pay (botocore keeps its connection to DynamoDB open); waitress keeps
connections alive as DynamoDB does.

moto and the stack's module are imported where they are used: a process that only needs this
module's constants (the bench's connector, whose memory is measured) does not load them.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.aws_stack import LocalStack
    from local.runtime.org import OrgLogin

REGION = "us-east-1"

LOCAL_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    # No X-Ray daemon to send traces to, and no CloudWatch to read the EMF metrics.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
"""The environment every local process has beside a function's own: credentials moto takes,
and Powertools' tracing and metrics off."""

QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
"""Over a function's own environment (its LogLevel is INFO) where a person reads the output
(`make demo`, `make bench`): the handlers' JSON log lines would drown it."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_moto(port: int, wrap: Callable[[WsgiApp], WsgiApp] | None = None) -> Any:
    """moto's every service, served on `port` by a waitress server in a daemon thread of this
    process (returned, to be closed). `wrap` puts a WSGI middleware in front of moto (the
    bench's capacity meter)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    server = create_server(wrap(app) if wrap else app, host="127.0.0.1", port=port)
    threading.Thread(target=server.run, name="moto", daemon=True).start()
    return server


@contextmanager
def moto_server() -> Iterator[str]:
    """moto served in this process for as long as the block runs; yields its endpoint URL."""
    # waitress logs a line per queued request on a busy machine; the output is the report's.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    port = free_port()
    server = serve_moto(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def function_environment(
    stack: LocalStack,
    function: str,
    org: OrgLogin,
    *,
    secret_arn: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """`function`'s environment as the template gives it, and the CA bundle that trusts `org`'s
    certificate. Its Salesforce secret is `secret_arn`, or one stored now that logs in to `org`
    (a stack holds one: give the first one's ARN to the environments after it)."""
    from local.aws_stack import store_jwt_secret

    if secret_arn is None:
        secret_arn = store_jwt_secret(
            login_url=org.url,
            client_id=org.client_id,
            username=org.username,
            private_key_pem=org.private_key_pem,
            region=stack.region,
            endpoint_url=endpoint_url,
        )
    return {
        **stack.function_environment(function, secret_arn=secret_arn),
        "REQUESTS_CA_BUNDLE": org.ca_file,
    }
