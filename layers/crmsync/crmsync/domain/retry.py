"""The one retry policy: how often and how long to wait before trying a failed call again."""

from __future__ import annotations

from dataclasses import dataclass

from crmsync.domain.errors import ErrorCategory, Failure

# An expired session has already had its one re-login by the time a failure reaches the
# policy; trying again would only log in again. An expired query cursor stays expired: the
# reader queries again from its last record instead.
_NOT_RETRIED_IN_CALL = frozenset({"INVALID_SESSION_ID", "INVALID_QUERY_LOCATOR"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0

    def should_retry(self, failure: Failure, attempt: int) -> bool:
        """Whether attempt number `attempt` (1-based) may be followed by another one now.

        Only transient failures are retried within a run; a spent API limit waits for a later
        run, and permanent failures go to the error list.
        """
        return (
            attempt < self.max_attempts
            and failure.category is ErrorCategory.TRANSIENT
            and failure.code not in _NOT_RETRIED_IN_CALL
        )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2 for the first retry)."""
        exponent = max(attempt - 2, 0)
        return float(min(self.base_delay_seconds * (2**exponent), self.max_delay_seconds))
