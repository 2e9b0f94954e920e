"""The emulator's WSGI application: the OAuth token endpoint and the REST API under
/services/data, with what every API request goes through first (injected faults,
authentication, the daily limit) and the `Sforce-Limit-Info` header on every answer."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from .bulk import BulkApi
from .composite import CollectionsApi
from .errors import ApiError, not_found
from .oauth import SALESFORCE_AUDIENCES, OAuth, OAuthRefusal
from .responses import Call, error_response, json_response
from .rest import RestApi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .faults import Faults

# "In each REST call, the maximum length for the combined URI and headers is 16,384 bytes. A
# request exceeding this limit returns a 431 Request Header Fields Too Large error. If the URI
# itself exceeds this limit, the request returns a 414 URI Too Long error." (Salesforce Help,
# article 000386264, Maximum number of rows returned by SOQL queries over the REST API.) The
# refusal comes from Salesforce's web tier, as a short HTML page (the shape of simple-salesforce
# issue #710's "<h1>Bad Message 400</h1>"), before the API counts the request.
MAX_URI_AND_HEADERS_BYTES = 16_384
TOKEN_PATH = "/services/oauth2/token"
API_PATH = "/services/data"
_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d)(?:/(.*))?$")
_VERSIONS = [("Summer '24", "61.0"), ("Winter '25", "62.0"), ("Spring '25", "63.0")]


class SalesforceApp:
    def __init__(
        self,
        *,
        oauth: OAuth,
        faults: Faults,
        apis: tuple[RestApi, CollectionsApi, BulkApi],
        daily_api_limit: int,
        login_url: str,
        instance_url: str,
        lock: threading.RLock,
    ) -> None:
        self._oauth = oauth
        self._faults = faults
        self._apis = apis
        self._login_url = login_url
        self._instance_url = instance_url
        self._lock = lock
        self.daily_api_limit = daily_api_limit
        self.daily_api_usage = 0
        self.api_calls = 0
        self.call_log: list[tuple[str, str]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response, delay = self.handle(Request(environ))
        time.sleep(delay)  # served over HTTP, a slow answer really is slow
        return response(environ, start_response)

    def handle(self, request: Request) -> tuple[Response, float]:
        """The response to `request`, and how long it should take to arrive."""
        with self._lock:
            too_large = _too_large(request)
            if too_large is not None:
                return too_large, 0.0
            if request.path.rstrip("/") == TOKEN_PATH and request.method == "POST":
                return self._token(request), 0.0
            if not request.path.startswith(API_PATH):
                return error_response(not_found()), 0.0
            self.api_calls += 1
            self.call_log.append((request.method, request.path))
            delay = self._faults.next_delay()
            try:
                response = self._api(request)
            except ApiError as error:
                response = error_response(error)
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.daily_api_usage}/{self.daily_api_limit}"
            return response, delay

    def _token(self, request: Request) -> Response:
        login_url, instance_url = self._base_urls(request)
        audiences = (*SALESFORCE_AUDIENCES, self._login_url, login_url)
        try:
            body = self._oauth.token(
                request.form, login_url=login_url, instance_url=instance_url, audiences=audiences
            )
        except OAuthRefusal as refusal:
            return json_response(refusal.body, 400)
        return json_response(body)

    def _base_urls(self, request: Request) -> tuple[str, str]:
        """In process, the login and instance hosts differ; served, one host is both."""
        base = request.host_url.rstrip("/")
        if base in (self._login_url, self._instance_url):
            return self._login_url, self._instance_url
        return base, base

    def _api(self, request: Request) -> Response:
        server_error = self._faults.next_server_error(request.path)
        if server_error is not None:
            raise server_error
        if request.path.rstrip("/") == API_PATH:
            return json_response(
                [
                    {"label": label, "url": f"{API_PATH}/v{version}", "version": version}
                    for label, version in _VERSIONS
                ]
            )
        matched = _VERSIONED.match(request.path)
        if matched is None:
            raise not_found()
        session = self._oauth.session(_bearer_token(request))
        if session is None:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.daily_api_usage >= self.daily_api_limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.daily_api_usage += 1
        call = Call(request=request, version=matched.group(1), user_id=session.user_id)
        parts = [part for part in (matched.group(2) or "").split("/") if part]
        for api in self._apis:
            response = api.route(call, request.method, parts)
            if response is not None:
                return response
        raise not_found()


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""


def _too_large(request: Request) -> Response | None:
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    uri = len((environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")) + (
        len(query) + 1 if query else 0
    )
    headers = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
    if uri > MAX_URI_AND_HEADERS_BYTES:
        status, reason = 414, "URI Too Long"
    elif uri + headers > MAX_URI_AND_HEADERS_BYTES:
        status, reason = 431, "Request Header Fields Too Large"
    else:
        return None
    return Response(
        f"<h1>Bad Message {status}</h1><pre>reason: {reason}</pre>", status=status, content_type="text/html"
    )
