"""The connector's HTTP entry point (HTTP API, IAM-authenticated): status and, later, control,
manual sync and automation intake. Routes stay thin: parse, ask bootstrap, answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap

logger = Logger()
tracer = Tracer()
app = APIGatewayHttpResolver()


@app.get("/status")
@tracer.capture_method
def get_status() -> dict[str, Any]:
    return bootstrap.status()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
