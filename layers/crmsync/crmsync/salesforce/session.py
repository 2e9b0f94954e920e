"""The HTTP session every Salesforce call goes through.

simple-salesforce, its Bulk 2.0 client and our token requests all share this session, so the
rules below hold for every call without each call site remembering them: a timeout on every
request, the current access token on every API request, one re-login when Salesforce says the
session expired, and the org's API usage read from `Sforce-Limit-Info` on every response, with
the time it was read. It also counts the API requests by kind (`api_call_kind`), for each
run's summary: which kind of call an API budget went on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from crmsync.domain.records import ApiUsage
from crmsync.salesforce.auth import AccessToken

_API_PATH = "/services/data/"
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceSession(requests.Session):
    def __init__(
        self,
        login: Callable[[requests.Session], AccessToken],
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self._login = login
        self.timeout = timeout
        self.clock = clock
        """When a usage reading was taken (the runs' clock, so they can tell its age)."""
        self._token: AccessToken | None = None
        self.api_usage: ApiUsage | None = None
        self.api_calls = 0
        self.calls_by_kind: Counter[str] = Counter()
        self.logins = 0

    @property
    def token(self) -> AccessToken:
        if self._token is None:
            self._token = self._login(self)
            self.logins += 1
        return self._token

    def relogin(self) -> AccessToken:
        self._token = None
        return self.token

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if _API_PATH not in str(url):
            return super().request(method, url, *args, **kwargs)
        response = self._send_authorized(method, url, args, kwargs)
        if _is_expired_session(response):
            self.relogin()
            response = self._send_authorized(method, url, args, kwargs)
        return response

    def _send_authorized(
        self, method: str | bytes, url: str | bytes, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        headers["Authorization"] = f"Bearer {self.token.access_token}"
        response = super().request(method, url, *args, **{**kwargs, "headers": headers})
        self.api_calls += 1
        self.calls_by_kind[api_call_kind(str(method), str(url))] += 1
        self._note_usage(response)
        return response

    def _note_usage(self, response: requests.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = ApiUsage(
                used=int(match.group(1)), limit=int(match.group(2)), read_at=self.clock()
            )


_VERSIONED_PATH = re.compile(r"/services/data/v[\d.]+/([^?]*)")


def api_call_kind(method: str, url: str) -> str:
    """Which kind of API request `url` is: `query` (a SOQL query, queryAll too), `query_more`
    (the next page of one), `collections` (sObject Collections), `bulk_ingest` and `bulk_query`
    (Bulk API 2.0 jobs, their polls and results), `limits`, `describe`, or `rest` (any other)."""
    match = _VERSIONED_PATH.search(url)
    path = match.group(1).rstrip("/") if match else ""
    if path in ("query", "queryAll"):  # the SOQL goes in the parameters
        return "query"
    if path.startswith(("query/", "queryAll/")):  # `nextRecordsUrl`: a locator in the path
        return "query_more"
    if path.startswith("composite/sobjects"):
        return "collections"
    if path.startswith("jobs/ingest"):
        return "bulk_ingest"
    if path.startswith("jobs/query"):
        return "bulk_query"
    if path == "limits":
        return "limits"
    if path.endswith("/describe") and method.upper() == "GET":
        return "describe"
    return "rest"


def _is_expired_session(response: requests.Response) -> bool:
    if response.status_code != 401:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, list) and any(
        isinstance(item, dict) and item.get("errorCode") == "INVALID_SESSION_ID" for item in body
    )
