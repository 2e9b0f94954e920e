"""Turning whatever simple-salesforce or requests raised into a domain `Failure`."""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from crmsync.domain.errors import CrmError, Failure


def failure_from_errors(errors: Any, http_status: int | None = None) -> Failure:
    """A failure from Salesforce's error list: `[{"errorCode"|"statusCode", "message", "fields"}]`."""
    first = errors[0] if isinstance(errors, list) and errors else errors
    if isinstance(first, dict):
        code = str(first.get("errorCode") or first.get("statusCode") or f"HTTP_{http_status}")
        message = str(first.get("message", ""))
        fields = tuple(str(f) for f in first.get("fields") or ())
        return Failure.of(code, message, fields, http_status)
    text = first.decode(errors="replace") if isinstance(first, bytes) else str(first or "")
    return Failure.of(
        f"HTTP_{http_status}" if http_status else "UNKNOWN_EXCEPTION", text[:500], (), http_status
    )


def translate(exc: BaseException) -> CrmError:
    if isinstance(exc, CrmError):
        return exc
    if isinstance(exc, SalesforceError):
        return CrmError(failure_from_errors(exc.content, exc.status))
    if isinstance(exc, requests.Timeout):
        return CrmError(Failure.of("TIMEOUT", f"Salesforce did not answer in time: {exc}"))
    if isinstance(exc, requests.ConnectionError):
        return CrmError(Failure.of("CONNECTION_ERROR", f"cannot reach Salesforce: {exc}"))
    if isinstance(exc, SalesforceOperationError):
        return CrmError(Failure.of("BULK_JOB_FAILED", str(exc)[:500]))
    if isinstance(exc, requests.RequestException):
        return CrmError(Failure.of("CONNECTION_ERROR", str(exc)[:500]))
    raise exc


TRANSLATED = (SalesforceError, SalesforceOperationError, requests.RequestException, CrmError)
