"""Failures tests can ask for: locked rows, 5xx answers, slow answers, expired sessions and
query cursors."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .errors import ApiError, RecordRefused
from .ids import is_well_formed, to_18

_SERVER_ERRORS = {
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: 1436461547-12345 (-1386428491)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad Gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later."),
    504: ("REQUEST_RUNNING_TOO_LONG", "Your request was running for too long, and has been stopped."),
}


class Faults:
    def __init__(self, expire_sessions: Callable[[], None]) -> None:
        self._expire_sessions = expire_sessions
        self._locks: dict[str, int] = {}
        self._server_errors: list[tuple[int, str]] = []
        self._delays: list[float] = []
        self._unrecorded_results: list[int] = []
        self._cursor_pages_left: int | None = None

    # --- what tests call -------------------------------------------------------------------------

    def lock_records(self, ids: Iterable[str], times: int = 1) -> None:
        """The next `times` API writes touching each record fail with UNABLE_TO_LOCK_ROW."""
        for record_id in ids:
            self._locks[to_18(record_id)] = times

    def server_errors(self, count: int = 1, status: int = 500, *, path_containing: str = "") -> None:
        """The next `count` API requests (whose path contains `path_containing`) answer `status`
        with Salesforce's error body."""
        if status not in _SERVER_ERRORS:
            raise ValueError(f"status must be one of {sorted(_SERVER_ERRORS)}")
        self._server_errors += [(status, path_containing)] * count

    def recover(self) -> None:
        """Salesforce is back: the server errors still queued are dropped."""
        self._server_errors.clear()

    def slow(self, seconds: float, count: int = 1) -> None:
        """The next `count` API requests are answered only after `seconds`."""
        self._delays += [seconds] * count

    def unrecorded_bulk_results(self, count: int = 1) -> None:
        """The next Bulk API 2.0 ingest job writes all its records but keeps no result for its
        last `count`: "Results are not recorded for batches that exceed the daily batch
        allocation" (Bulk API 2.0 Developer Guide, Get Job Successful Record Results)."""
        self._unrecorded_results.append(count)

    def expire_sessions(self) -> None:
        """Every access token issued so far stops working (INVALID_SESSION_ID)."""
        self._expire_sessions()

    def expire_query_cursors(self, after_pages: int = 0) -> None:
        """Every open query cursor expires once `after_pages` more next pages have been served,
        as after 15 minutes unused or once the user opened ten newer ones: the next page asked
        for then is refused with INVALID_QUERY_LOCATOR."""
        self._cursor_pages_left = after_pages

    # --- what the API consults -------------------------------------------------------------------

    def check_lock(self, record_id: str) -> None:
        key = to_18(record_id) if is_well_formed(record_id) else record_id
        remaining = self._locks.get(key, 0)
        if remaining <= 0:
            return
        self._locks[key] = remaining - 1
        raise RecordRefused(
            "UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records: {key}"
        )

    def next_server_error(self, path: str) -> ApiError | None:
        for index, (status, path_containing) in enumerate(self._server_errors):
            if path_containing in path:
                del self._server_errors[index]
                code, message = _SERVER_ERRORS[status]
                return ApiError(status, code, message)
        return None

    def next_unrecorded_results(self) -> int:
        return self._unrecorded_results.pop(0) if self._unrecorded_results else 0

    def query_cursors_expire_now(self) -> bool:
        """Asked before each next page is served: whether the open cursors expire first."""
        if self._cursor_pages_left is None:
            return False
        if self._cursor_pages_left == 0:
            self._cursor_pages_left = None
            return True
        self._cursor_pages_left -= 1
        return False

    def next_delay(self) -> float:
        return self._delays.pop(0) if self._delays else 0.0
