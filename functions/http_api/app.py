"""The connector's HTTP entry point (HTTP API, IAM-authenticated): status and connector control
(configuration, pause, resume), the operators' reads and error actions (errors, retry, dismiss,
a record's story, runs, an object's fields: docs/guide/operating.md), the automation intake
(`POST /actions`), and the operator's actions that sync (`POST /records/{id}/sync`, the resync,
the configuration's dry run). Routes stay thin: parse, ask bootstrap, answer."""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from crmsync import bootstrap
from crmsync.json_input import JsonInputError, read_json
from crmsync.log_masking import MaskingFormatter

if TYPE_CHECKING:
    from crmsync.domain.errors import Failure, StoreError

logger = Logger(logger_formatter=MaskingFormatter())
tracer = Tracer()
app = APIGatewayHttpResolver()

MAX_CONFIG_BODY_BYTES = 1024 * 1024
"""The largest `PUT /config` body read: a document is stored in at most 400 KB (compact), so
anything much larger is refused before it is parsed."""
MAX_REQUEST_BODY_BYTES = 16 * 1024
"""The largest body of an operator's request other than a configuration (a few keys)."""


@app.get("/status")
@tracer.capture_method
def get_status() -> dict[str, Any]:
    return bootstrap.status()


@app.get("/errors")
@tracer.capture_method
def get_errors() -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.error_actions import InvalidRequest

    try:
        return bootstrap.error_actions().listed(app.current_event.query_string_parameters or {})
    except InvalidRequest as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST, {"message": "the filters cannot be read", "problems": list(exc.problems)}
        )


@app.post("/errors/retry")
@tracer.capture_method
def post_errors_retry() -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.error_actions import InvalidRequest

    try:
        answer = bootstrap.error_actions().retry(read_json(_body()), _caller())
    except (JsonInputError, InvalidRequest) as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST, {"message": "nothing was retried", "problems": list(exc.problems)}
        )
    logger.info(
        "error list entries retried",
        extra={"caller": _caller(), "queued": len(answer["queued"]), "not_queued": len(answer["not_queued"])},
    )
    return answer


@app.post("/errors/dismiss")
@tracer.capture_method
def post_errors_dismiss() -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.error_actions import InvalidRequest

    try:
        answer = bootstrap.error_actions().dismiss(read_json(_body()), _caller())
    except (JsonInputError, InvalidRequest) as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST, {"message": "nothing was dismissed", "problems": list(exc.problems)}
        )
    logger.info(
        "error list entries dismissed", extra={"caller": _caller(), "dismissed": len(answer["dismissed"])}
    )
    return answer


@app.get("/records/<record_id>/why")
@tracer.capture_method
def get_record_why(record_id: str) -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.why import UnknownRecord

    try:
        return bootstrap.record_history().why(unquote(record_id))
    except UnknownRecord as exc:
        return _refused(HTTPStatus.NOT_FOUND, {"message": str(exc), "id": exc.record_id})


@app.get("/runs")
@tracer.capture_method
def get_runs() -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.error_actions import InvalidRequest
    from crmsync.sync.runs import recent_runs

    try:
        return recent_runs(bootstrap.run_log(), app.current_event.query_string_parameters or {})
    except InvalidRequest as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST, {"message": "the query cannot be read", "problems": list(exc.problems)}
        )


@app.get("/fields/<object_name>")
@tracer.capture_method
def get_fields(object_name: str) -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.domain.errors import CrmError
    from crmsync.sync.fields import UnknownObject

    try:
        return bootstrap.org_fields().fields(unquote(object_name))
    except UnknownObject as exc:
        return _refused(HTTPStatus.NOT_FOUND, {"message": str(exc), "object": exc.name})
    except CrmError as exc:
        failure = exc.failure
        return _refused(
            HTTPStatus.SERVICE_UNAVAILABLE,
            {
                "message": f"Salesforce could not describe the object: {failure.describe()}",
                "salesforce": {
                    "code": failure.code,
                    "category": failure.category.value,
                    "message": failure.message,
                },
            },
        )


@app.get("/report")
@tracer.capture_method
def get_report() -> dict[str, Any] | Response[dict[str, Any]]:
    from crmsync.sync.health_report import InvalidPeriod

    query = app.current_event.query_string_parameters or {}
    try:
        return bootstrap.health_report(since=query.get("since"), until=query.get("until"))
    except InvalidPeriod as exc:
        return _refused(HTTPStatus.BAD_REQUEST, {"message": f"the period cannot be reported: {exc}"})


@app.get("/config")
@tracer.capture_method
def get_config() -> dict[str, Any]:
    return bootstrap.configuration_report()


@app.put("/config")
@tracer.capture_method
def put_config() -> dict[str, Any] | Response[dict[str, Any]]:
    # Imported here: the configuration schema is only needed by this route, and every other
    # route (status, the automation intake) starts without it.
    from crmsync.config import ConfigurationTooLarge, InvalidConfiguration, StaleConfigurationVersion
    from crmsync.domain.errors import ErrorCategory, StoreError
    from crmsync.sync.control import SalesforceUnavailable

    try:
        body = _body()
        size = _size(body)
        if size > MAX_CONFIG_BODY_BYTES:
            return _refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {
                    "message": "the configuration document is too large; nothing was loaded",
                    "problems": [f"body: is {size:,} bytes; at most {MAX_CONFIG_BODY_BYTES:,} are read"],
                },
            )
        document = read_json(body)
    except JsonInputError as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": "the body must be the configuration document, as JSON",
                "problems": list(exc.problems),
            },
        )
    try:
        configuration = bootstrap.load_configuration(document)
    except InvalidConfiguration as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {"message": "the configuration is invalid; nothing was loaded", "problems": list(exc.problems)},
        )
    except ConfigurationTooLarge as exc:
        return _refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            {
                "message": "the configuration is too large to be stored; nothing was loaded",
                "problems": [str(exc)],
                "size": exc.size,
                "limit": exc.limit,
            },
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
    except StoreError as exc:
        failure = exc.failure
        logger.warning("configuration not stored", extra={"code": failure.code, "retryable": exc.retryable})
        if exc.retryable:
            status, why = HTTPStatus.SERVICE_UNAVAILABLE, "cannot be reached just now; push it again later"
        elif failure.category is ErrorCategory.VALIDATION:
            status, why = HTTPStatus.UNPROCESSABLE_ENTITY, "refused the document"
        else:  # not allowed, no such table: the stack itself is wrong
            status, why = HTTPStatus.INTERNAL_SERVER_ERROR, "cannot be used, and an operator has to look"
        return _refused(
            status,
            {
                "message": f"the configuration store {why}; nothing was loaded: {failure.describe()}",
                "retryable": exc.retryable,
                "store": {
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
    from crmsync.domain.errors import QueueError, StoreError
    from crmsync.sync.actions_intake import (
        MAX_ACTION_BYTES,
        InvalidAction,
        ProspectWithoutEmail,
        UnknownProspect,
    )

    try:
        raw = _body()
        size = _size(raw)
        if size > MAX_ACTION_BYTES:
            return _refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {
                    "message": "the action is too large",
                    "problems": [f"body: is {size} bytes; at most {MAX_ACTION_BYTES} are accepted"],
                },
            )
        body = read_json(raw)
    except JsonInputError as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {"message": "the body must be an action, as a JSON object", "problems": list(exc.problems)},
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
            "action": accepted.kind.value,
            "prospect_id": accepted.prospect_id,
        },
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body={"action_id": accepted.action_id, "status": "accepted"},
    )


@app.post("/records/<record_id>/sync")
@tracer.capture_method
def post_record_sync(record_id: str) -> Response[dict[str, Any]]:
    from crmsync.domain.errors import StoreError
    from crmsync.sync.manual_request import (
        InvalidManualSync,
        ManualSyncFailed,
        RunInProgress,
        UnknownRecord,
        read_request,
    )

    try:
        direction = read_request(_small_body())
    except (JsonInputError, InvalidManualSync) as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": 'the body must be {"direction": "inbound" | "outbound" | "both"}, or empty',
                "problems": list(exc.problems),
            },
        )
    try:
        report = bootstrap.manual_sync().sync(
            record_id,
            direction,
            caller=_caller(),
            run_id=f"manual-{app.lambda_context.aws_request_id}",
            remaining_ms=app.lambda_context.get_remaining_time_in_millis,
        )
    except UnknownRecord as exc:
        return _refused(HTTPStatus.NOT_FOUND, {"message": str(exc), "id": exc.record_id})
    except RunInProgress as exc:
        return _refused(HTTPStatus.CONFLICT, {"message": str(exc), "id": record_id})
    except ManualSyncFailed as exc:
        failure = exc.failure
        logger.warning("manual sync failed", extra={"code": failure.code, "id": record_id})
        return _refused(
            HTTPStatus.SERVICE_UNAVAILABLE,
            {
                "message": f"Salesforce failed the request, so nothing of that part was written: {failure.describe()}",
                "salesforce": _failure(failure),
                "done": exc.done.as_answer(),
            },
        )
    except StoreError as exc:
        return _store_failed(exc, "the manual sync did not finish")
    logger.info(
        "manual sync",
        extra={
            "id": record_id,
            "direction": direction.value,
            "caller": _caller(),
            "api_calls": report.api_calls,
        },
    )
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=report.as_answer()
    )


@app.post("/resync")
@tracer.capture_method
def post_resync() -> Response[dict[str, Any]]:
    from crmsync.domain.errors import StoreError
    from crmsync.sync.resync import InvalidResync, ResyncBusy, read_request

    try:
        crm, since = read_request(_small_body())
        job = bootstrap.resync().request(crm, since, caller=_caller())
    except (JsonInputError, InvalidResync) as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": 'the body must be {"object": "Lead" | "Contact" | "PersonAccount", "since": ISO date | null}',
                "problems": list(exc.problems),
            },
        )
    except ResyncBusy as exc:
        return _refused(HTTPStatus.CONFLICT, {"message": str(exc), "resync": exc.job.as_answer()})
    except StoreError as exc:
        return _store_failed(exc, "no resync was started")
    logger.info("resync asked for", extra={"object": crm.value, "caller": _caller()})
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body={"resync": job.as_answer()},
    )


@app.get("/resync")
@tracer.capture_method
def get_resync() -> dict[str, Any]:
    job = bootstrap.resync().progress()
    return {"resync": job.as_answer() if job is not None else None}


@app.post("/config/plan")
@tracer.capture_method
def post_config_plan() -> Response[dict[str, Any]]:
    from crmsync.domain.errors import StoreError
    from crmsync.sync.config_plan import InvalidPlanRequest, read_request
    from crmsync.sync.control import SalesforceUnavailable

    try:
        body = _body()
        size = _size(body)
        if size > MAX_CONFIG_BODY_BYTES:
            raise JsonInputError([f"body: is {size:,} bytes; at most {MAX_CONFIG_BODY_BYTES:,} are read"])
        request = read_request(read_json(body))
    except (JsonInputError, InvalidPlanRequest) as exc:
        return _refused(
            HTTPStatus.BAD_REQUEST,
            {
                "message": 'the body must be {"document": {...the configuration...}, "sample": N}',
                "problems": list(exc.problems),
            },
        )
    try:
        dry_run = bootstrap.configuration_plan().plan(request)
    except SalesforceUnavailable as exc:
        return _refused(
            HTTPStatus.SERVICE_UNAVAILABLE, {"message": str(exc), "salesforce": _failure(exc.failure)}
        )
    except StoreError as exc:
        return _store_failed(exc, "the dry run did not finish")
    logger.info(
        "configuration dry run",
        extra={"valid": dry_run.valid, "records": len(dry_run.records), "caller": _caller()},
    )
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=dry_run.as_answer()
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


def _body() -> str | bytes:
    """The request's body as sent: text, or the bytes API Gateway base64-encoded (a body it
    could not pass as UTF-8 text). The JSON reader then refuses bytes that are not UTF-8."""
    event = app.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise JsonInputError(["body: is marked base64-encoded but is not base64"]) from None


def _small_body() -> Any:
    """The JSON value of a small request body (None when it is empty)."""
    raw = _body()
    size = _size(raw)
    if size > MAX_REQUEST_BODY_BYTES:
        raise JsonInputError([f"body: is {size:,} bytes; at most {MAX_REQUEST_BODY_BYTES:,} are read"])
    if not raw.strip():
        return None
    return read_json(raw)


def _failure(failure: Failure) -> dict[str, Any]:
    return {"code": failure.code, "category": failure.category.value, "message": failure.message}


def _store_failed(exc: StoreError, what: str) -> Response[dict[str, Any]]:
    """The connector's own tables failed a request: 503 when it may work later, 500 when the
    stack itself is wrong (no such table, not allowed)."""
    logger.warning("store failure", extra={"code": exc.failure.code, "retryable": exc.retryable})
    return _refused(
        HTTPStatus.SERVICE_UNAVAILABLE if exc.retryable else HTTPStatus.INTERNAL_SERVER_ERROR,
        {
            "message": f"the connector's tables cannot be used just now; {what}: {exc.failure.describe()}",
            "retryable": exc.retryable,
            "store": _failure(exc.failure),
        },
    )


def _size(body: str | bytes) -> int:
    """The body's size in bytes, as sent."""
    return len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))


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
