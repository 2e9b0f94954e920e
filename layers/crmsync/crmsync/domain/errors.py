"""Failures, their categories, and which of them are worth retrying.

Every adapter turns what went wrong (a Salesforce error code, an HTTP status, a timeout) into a
`Failure`. Whether a failure is retried or goes to the error list is decided here, from its
category, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCategory(StrEnum):
    VALIDATION = "validation"
    DUPLICATE = "duplicate"
    PERMISSION = "permission"
    TRANSIENT = "transient"
    LIMIT = "limit"
    NOT_FOUND = "not_found"
    CONFIGURATION = "configuration"


RETRYABLE_CATEGORIES = frozenset({ErrorCategory.TRANSIENT, ErrorCategory.LIMIT})

_CATEGORY_BY_CODE: dict[str, ErrorCategory] = {
    # The record or the org is busy, or the request never completed: try again.
    "UNABLE_TO_LOCK_ROW": ErrorCategory.TRANSIENT,
    "SERVER_UNAVAILABLE": ErrorCategory.TRANSIENT,
    "UNKNOWN_EXCEPTION": ErrorCategory.TRANSIENT,
    "QUERY_TIMEOUT": ErrorCategory.TRANSIENT,
    "REQUEST_RUNNING_TOO_LONG": ErrorCategory.TRANSIENT,
    "TIMEOUT": ErrorCategory.TRANSIENT,
    "CONNECTION_ERROR": ErrorCategory.TRANSIENT,
    "INVALID_SESSION_ID": ErrorCategory.TRANSIENT,
    "INVALID_QUERY_LOCATOR": ErrorCategory.TRANSIENT,
    # The org's API allowance is spent: later, not now.
    "REQUEST_LIMIT_EXCEEDED": ErrorCategory.LIMIT,
    "TOTAL_REQUESTS_LIMIT_EXCEEDED": ErrorCategory.LIMIT,
    "API_BUDGET_EXCEEDED": ErrorCategory.LIMIT,
    # The data breaks a rule of the org: retried only when the record changes again.
    "DUPLICATES_DETECTED": ErrorCategory.DUPLICATE,
    "DUPLICATE_VALUE": ErrorCategory.DUPLICATE,
    "DUPLICATE_EXTERNAL_ID": ErrorCategory.DUPLICATE,
    "REQUIRED_FIELD_MISSING": ErrorCategory.VALIDATION,
    "STRING_TOO_LONG": ErrorCategory.VALIDATION,
    "INVALID_EMAIL_ADDRESS": ErrorCategory.VALIDATION,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": ErrorCategory.VALIDATION,
    "FIELD_INTEGRITY_EXCEPTION": ErrorCategory.VALIDATION,
    "CANNOT_UPDATE_CONVERTED_LEAD": ErrorCategory.VALIDATION,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": ErrorCategory.VALIDATION,
    "NUMBER_OUTSIDE_VALID_RANGE": ErrorCategory.VALIDATION,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": ErrorCategory.VALIDATION,
    "INVALID_CROSS_REFERENCE_KEY": ErrorCategory.VALIDATION,
    "MALFORMED_ID": ErrorCategory.VALIDATION,
    "JSON_PARSER_ERROR": ErrorCategory.VALIDATION,
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": ErrorCategory.VALIDATION,
    "BAD_REQUEST": ErrorCategory.VALIDATION,
    "ENTITY_IS_DELETED": ErrorCategory.NOT_FOUND,
    "NOT_FOUND": ErrorCategory.NOT_FOUND,
    "INVALID_ID_FIELD": ErrorCategory.NOT_FOUND,
    "INSUFFICIENT_ACCESS_OR_READONLY": ErrorCategory.PERMISSION,
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": ErrorCategory.PERMISSION,
    "INSUFFICIENT_ACCESS": ErrorCategory.PERMISSION,
    "INVALID_FIELD_FOR_INSERT_UPDATE": ErrorCategory.PERMISSION,
    "API_DISABLED_FOR_ORG": ErrorCategory.PERMISSION,
    "FUNCTIONALITY_NOT_ENABLED": ErrorCategory.PERMISSION,
    # The connector is set up wrongly (mapping, credentials): fix the configuration.
    "INVALID_FIELD": ErrorCategory.CONFIGURATION,
    "INVALID_TYPE": ErrorCategory.CONFIGURATION,
    "MALFORMED_QUERY": ErrorCategory.CONFIGURATION,
    "AUTHENTICATION_FAILED": ErrorCategory.CONFIGURATION,
    "INVALID_CREDENTIALS": ErrorCategory.CONFIGURATION,
}


def categorize(code: str, http_status: int | None = None) -> ErrorCategory:
    """The category of a Salesforce error code; unknown codes on a 5xx are transient."""
    known = _CATEGORY_BY_CODE.get(code)
    if known is not None:
        return known
    if http_status is not None and http_status >= 500:
        return ErrorCategory.TRANSIENT
    if http_status in (401, 403):
        return ErrorCategory.PERMISSION
    if http_status == 404:
        return ErrorCategory.NOT_FOUND
    return ErrorCategory.VALIDATION


@dataclass(frozen=True)
class Failure:
    """What went wrong with one record or one request, as a user reads it in the error list."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    category: ErrorCategory = field(default=ErrorCategory.VALIDATION)

    @classmethod
    def of(
        cls, code: str, message: str, fields: tuple[str, ...] = (), http_status: int | None = None
    ) -> Failure:
        return cls(code=code, message=message, fields=tuple(fields), category=categorize(code, http_status))

    @property
    def retryable(self) -> bool:
        return self.category in RETRYABLE_CATEGORIES

    def describe(self) -> str:
        where = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        return f"{self.code}: {self.message}{where}"


class ExternalFailure(Exception):
    """A call outside the core failed as a whole, after the adapter's own retries; `failure`
    says what went wrong, `retryable` whether trying again later may work."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure

    @property
    def retryable(self) -> bool:
        return self.failure.retryable


class CrmError(ExternalFailure):
    """A request to the CRM failed as a whole (not one record of a batch)."""


class StoreError(ExternalFailure):
    """A call to the connector's own tables (DynamoDB) failed as a whole, after its retries:
    throttled, unreachable, or refused as malformed or not allowed."""


class QueueError(ExternalFailure):
    """A message could not be put on a queue, after the client's own retries: throttled,
    unreachable, or refused (no such queue, not allowed)."""


class ConfigurationError(ValueError):
    """The connector's settings or credentials are wrong; the message names the bad entry."""
