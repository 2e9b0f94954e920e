"""AWS client failures as domain failures: one categorisation for every AWS adapter, each
adapter naming the error codes its own service uses."""

from __future__ import annotations

from collections.abc import Collection

from botocore.exceptions import BotoCoreError, ClientError

from crmsync.domain.errors import ErrorCategory, Failure


def client_failure(
    exc: ClientError,
    *,
    transient: Collection[str],
    permission: Collection[str],
    configuration: Collection[str],
) -> Failure:
    """A 5xx or one of `transient` is worth retrying; the rest need a person (permission,
    configuration) or are the request's own fault (validation)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")) or "ClientError"
    message = str(error.get("Message", "")) or str(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in transient or status >= 500:
        category = ErrorCategory.TRANSIENT
    elif code in permission:
        category = ErrorCategory.PERMISSION
    elif code in configuration:
        category = ErrorCategory.CONFIGURATION
    else:
        category = ErrorCategory.VALIDATION
    return Failure(code, message, category=category)


def connection_failure(exc: BotoCoreError) -> Failure:
    return Failure("CONNECTION_ERROR", str(exc), category=ErrorCategory.TRANSIENT)
