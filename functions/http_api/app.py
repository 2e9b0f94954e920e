"""The connector's HTTP entry point (HTTP API, IAM-authenticated): status and connector control
(configuration, pause, resume), and the automation intake (`POST /actions`); later manual
sync. Routes stay thin: parse, ask bootstrap, answer."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
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


@app.get("/config")
@tracer.capture_method
def get_config() -> dict[str, Any]:
    return bootstrap.configuration_report()


@app.put("/config")
@tracer.capture_method
def put_config() -> dict[str, Any] | Response[dict[str, Any]]:
    # Imported here: the configuration schema is only needed by this route, and every other
    # route (status, the automation intake to come) starts without it.
    from crmsync.config import InvalidConfiguration, StaleConfigurationVersion
    from crmsync.sync.control import SalesforceUnavailable

    try:
        document = json.loads(app.current_event.decoded_body or "")
    except ValueError as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": "the body must be the configuration document, as JSON",
                "problems": [f"body: is not JSON ({exc})"],
            },
        )
    try:
        configuration = bootstrap.load_configuration(document)
    except InvalidConfiguration as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {"message": "the configuration is invalid; nothing was loaded", "problems": list(exc.problems)},
        )
    except StaleConfigurationVersion as exc:
        return _refused(HTTPStatus.CONFLICT, {"message": str(exc), "current_version": exc.current})
    except SalesforceUnavailable as exc:
        failure = exc.failure
        return _refused(
            HTTPStatus.SERVICE_UNAVAILABLE,
            {
                "message": str(exc),
                "salesforce": {
                    "code": failure.code,
                    "category": failure.category.value,
                    "message": failure.message,
                },
            },
        )
    logger.info("configuration loaded", extra={"version": configuration.version, "caller": _caller()})
    return {"loaded": True, "version": configuration.version}


@app.post("/actions")
@tracer.capture_method
def post_action() -> Response[dict[str, Any]]:
    # Imported here, like the configuration: nothing of the intake touches Salesforce, and
    # neither module imports simple_salesforce.
    from crmsync.domain.errors import StoreError
    from crmsync.ports import QueueError
    from crmsync.sync.actions_intake import (
        MAX_ACTION_BYTES,
        InvalidAction,
        ProspectWithoutEmail,
        UnknownProspect,
    )

    raw = app.current_event.decoded_body or ""
    size = len(raw.encode("utf-8"))
    if size > MAX_ACTION_BYTES:
        return _refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            {
                "message": "the action is too large",
                "problems": [f"body: is {size} bytes; at most {MAX_ACTION_BYTES} are accepted"],
            },
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": "the body must be an action, as a JSON object",
                "problems": [f"body: is not JSON ({exc})"],
            },
        )
    try:
        accepted = bootstrap.accept_action(body)
    except InvalidAction as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {"message": "the action is invalid; nothing was accepted", "problems": list(exc.problems)},
        )
    except UnknownProspect as exc:
        return _refused(HTTPStatus.NOT_FOUND, {"message": str(exc), "prospect_id": exc.prospect_id})
    except ProspectWithoutEmail as exc:
        return _refused(
            HTTPStatus.UNPROCESSABLE_ENTITY, {"message": str(exc), "prospect_id": exc.prospect_id}
        )
    except (QueueError, StoreError) as exc:
        logger.warning("action not accepted", extra={"code": exc.failure.code, "retryable": exc.retryable})
        what = "the actions queue" if isinstance(exc, QueueError) else "the prospect store"
        # Retryable (throttled, unreachable): try again later. Otherwise the stack itself is
        # wrong (no such queue, not allowed): an operator has to look.
        return _refused(
            HTTPStatus.SERVICE_UNAVAILABLE if exc.retryable else HTTPStatus.INTERNAL_SERVER_ERROR,
            {
                "message": f"{what} cannot be used just now; the action was not accepted: {exc}",
                "retryable": exc.retryable,
            },
        )
    logger.info(
        "action accepted",
        extra={
            "action_id": accepted.action_id,
            "action": accepted.action.value,
            "prospect_id": accepted.prospect_id,
        },
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body={"action_id": accepted.action_id, "status": "accepted"},
    )


@app.post("/pause")
@tracer.capture_method
def post_pause() -> dict[str, Any]:
    bootstrap.pause()
    logger.info("connector paused", extra={"caller": _caller()})
    return bootstrap.status()


@app.post("/resume")
@tracer.capture_method
def post_resume() -> dict[str, Any]:
    bootstrap.resume()
    logger.info("connector resumed", extra={"caller": _caller()})
    return bootstrap.status()


def _refused(status: HTTPStatus, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _caller() -> str:
    """Who signed the request, for the log: control actions change what the connector does."""
    return app.current_event.request_context.authorizer.iam.user_arn


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@bootstrap.settled_after_first_invocation
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
