"""Which Salesforce failures are retried and which go straight to the error list
(docs/guide/errors.md)."""

import pytest
from crmsync.domain.errors import ErrorCategory, Failure, categorize
from crmsync.domain.retry import RetryPolicy


@pytest.mark.parametrize(
    ("code", "status", "category"),
    [
        ("UNABLE_TO_LOCK_ROW", 400, ErrorCategory.TRANSIENT),
        ("SERVER_UNAVAILABLE", 503, ErrorCategory.TRANSIENT),
        ("HTTP_502", 502, ErrorCategory.TRANSIENT),
        ("TIMEOUT", None, ErrorCategory.TRANSIENT),
        ("CONNECTION_ERROR", None, ErrorCategory.TRANSIENT),
        ("INVALID_SESSION_ID", 401, ErrorCategory.TRANSIENT),
        ("REQUEST_LIMIT_EXCEEDED", 403, ErrorCategory.LIMIT),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", 400, ErrorCategory.VALIDATION),
        ("REQUIRED_FIELD_MISSING", 400, ErrorCategory.VALIDATION),
        ("STRING_TOO_LONG", 400, ErrorCategory.VALIDATION),
        ("INVALID_EMAIL_ADDRESS", 400, ErrorCategory.VALIDATION),
        ("CANNOT_UPDATE_CONVERTED_LEAD", 400, ErrorCategory.VALIDATION),
        ("DUPLICATES_DETECTED", 400, ErrorCategory.DUPLICATE),
        ("ENTITY_IS_DELETED", 400, ErrorCategory.NOT_FOUND),
        ("INSUFFICIENT_ACCESS_OR_READONLY", 400, ErrorCategory.PERMISSION),
        ("INVALID_FIELD", 400, ErrorCategory.CONFIGURATION),
        ("SOMETHING_NEW", 400, ErrorCategory.VALIDATION),
        ("SOMETHING_NEW", 500, ErrorCategory.TRANSIENT),
    ],
)
def test_each_salesforce_code_lands_in_its_category(
    code: str, status: int | None, category: ErrorCategory
) -> None:
    assert categorize(code, status) is category


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("UNABLE_TO_LOCK_ROW", True),
        ("REQUEST_LIMIT_EXCEEDED", True),
        ("HTTP_503", True),
        ("REQUIRED_FIELD_MISSING", False),
        ("DUPLICATES_DETECTED", False),
        ("CANNOT_UPDATE_CONVERTED_LEAD", False),
        ("ENTITY_IS_DELETED", False),
    ],
)
def test_transient_and_limit_failures_are_retryable_permanent_ones_are_not(
    code: str, retryable: bool
) -> None:
    assert (
        Failure.of(code, "message", http_status=503 if code.startswith("HTTP_") else 400).retryable
        is retryable
    )


def test_a_failure_reads_as_code_message_and_fields() -> None:
    failure = Failure.of("STRING_TOO_LONG", "Last Name: data value too large", ("LastName",))
    assert failure.describe() == "STRING_TOO_LONG: Last Name: data value too large (fields: LastName)"


def test_the_retry_policy_retries_transient_failures_up_to_its_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    locked = Failure.of("UNABLE_TO_LOCK_ROW", "locked")
    assert policy.should_retry(locked, attempt=1)
    assert policy.should_retry(locked, attempt=2)
    assert not policy.should_retry(locked, attempt=3)


def test_the_retry_policy_leaves_limits_and_permanent_failures_to_later_runs() -> None:
    policy = RetryPolicy(max_attempts=5)
    assert not policy.should_retry(Failure.of("REQUEST_LIMIT_EXCEEDED", "spent", http_status=403), attempt=1)
    assert not policy.should_retry(Failure.of("REQUIRED_FIELD_MISSING", "LastName"), attempt=1)
    assert not policy.should_retry(Failure.of("INVALID_SESSION_ID", "expired", http_status=401), attempt=1)


def test_the_retry_delay_backs_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=3.0, max_attempts=9)
    assert [policy.delay_before(attempt) for attempt in range(2, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0]
