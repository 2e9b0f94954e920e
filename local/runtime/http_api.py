"""The stack's HTTP API on localhost: each request made into the API Gateway HTTP API event
(payload format 2.0) the deployed API would send, handed to the function its route names in
template.yaml, and the function's answer sent back.

What API Gateway does before a function is reached is done here too: a request no route of the
template matches is answered 404 `{"message":"Not Found"}` without invoking anything (so a route
a handler serves but the template forgets fails here as it would deployed), and a function that
raises is answered 500 `{"message":"Internal Server Error"}`. Not done: IAM authentication (the
local caller is `LOCAL_CALLER`), throttling, the 30-second integration timeout.

Invocations go one at a time (`lock`): the handlers of one process share `bootstrap`'s
container state and `os.environ`, and the local stack's schedule ticks take the same lock.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from local.aws_stack import load_template
from local.runtime.aws import free_port
from local.runtime.invoke import LambdaContext, invoke

API_ID = "localapi01"
ACCOUNT = "123456789012"
LOCAL_CALLER = f"arn:aws:iam::{ACCOUNT}:user/local-operator"
TIMEOUT_MS = 29_000  # HttpApiFunction's Timeout in template.yaml
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")

StartResponse = Callable[..., Any]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """A route of the template: `GET /records/{id}/why`, served by `handler` (a module path and
    function name, `functions.http_api.app.handler`)."""

    method: str
    path: str
    function: str
    handler: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method not in (method, "ANY"):
            return None
        found = _pattern(self.path).fullmatch(path)
        return None if found is None else found.groupdict()

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers the most specific route: fewer parameters, no greedy one."""
        return self.path.count("+}"), self.path.count("{")


def _pattern(path: str) -> re.Pattern[str]:
    parts = []
    for segment in re.split(r"(\{[^}]+\})", path):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("".join(parts))


def template_routes(template: dict[str, Any] | None = None) -> list[Route]:
    """Every HttpApi event of the template's functions, as a route."""
    resources = (template or load_template())["Resources"]
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        code = properties["CodeUri"].strip("/").replace("/", ".")
        handler = f"{code}.{properties['Handler']}"
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                routes.append(
                    Route(
                        event["Properties"]["Method"].upper(),
                        event["Properties"]["Path"],
                        logical_id,
                        handler,
                    )
                )
    return sorted(routes, key=lambda r: r.specificity)


def handler_of(route: Route) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The route's handler, looked up at each request (a test may have wrapped it)."""
    module, function = route.handler.rsplit(".", 1)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(
        importlib.import_module(module), function
    )
    return handler


class HttpApi:
    """A WSGI app answering as the stack's HTTP API does."""

    def __init__(self, routes: Iterable[Route] | None = None, *, lock: threading.Lock | None = None) -> None:
        self.routes = list(routes) if routes is not None else template_routes()
        self.lock = lock or threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        found = self.route(environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO") or "/")
        if found is None:
            return _answer(start_response, 404, {"message": "Not Found"})
        route, parameters = found
        event = api_event(environ, route, parameters)
        try:
            with self.lock:
                response = invoke(
                    handler_of(route),
                    event,
                    LambdaContext(function_name=f"crmsync-local-{route.function}", timeout_ms=TIMEOUT_MS),
                )
        except Exception:
            logger.error("%s raised:\n%s", route.key, traceback.format_exc())
            return _answer(start_response, 500, {"message": "Internal Server Error"})
        return _lambda_answer(start_response, response)

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None


def api_event(environ: dict[str, Any], route: Route, parameters: dict[str, str]) -> dict[str, Any]:
    """The HTTP API's event (payload format 2.0) for a request: headers lower-cased, repeated
    headers and query parameters joined by commas, cookies apart, the body as text or, when it
    is not text, base64."""
    method = environ["REQUEST_METHOD"].upper()
    path = environ.get("PATH_INFO") or "/"
    raw_path = quote(path.encode("latin-1").decode("utf-8", "replace"), safe="/:@!$&'()*+,;=-._~")
    raw_query = environ.get("QUERY_STRING", "")
    headers: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            headers[name[5:].replace("_", "-").lower()] = value
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    text = _is_text(headers.get("content-type", ""))
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "authorizer": {
                "iam": {
                    "accessKey": "AKIALOCALOPERATOR000",
                    "accountId": ACCOUNT,
                    "callerId": "AIDALOCALOPERATOR000",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": LOCAL_CALLER,
                    "userId": "AIDALOCALOPERATOR000",
                }
            },
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": headers.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body:
        event["body"] = body.decode("utf-8", "replace") if text else base64.b64encode(body).decode()
    return event


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    return not kind or kind.startswith(TEXT_TYPES) or kind.endswith("+json")


def _lambda_answer(start_response: StartResponse, response: Any) -> Iterable[bytes]:
    """The HTTP answer of a payload 2.0 response (a function answering a bare value gets it
    as a JSON 200, as API Gateway does)."""
    if not isinstance(response, dict) or "statusCode" not in response:
        return _answer(start_response, 200, response)
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    headers = [(name, str(value)) for name, value in (response.get("headers") or {}).items()]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    headers += [("Set-Cookie", cookie) for cookie in response.get("cookies") or []]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("Content-Length", str(len(data))))
    start_response(_status_line(int(response["statusCode"])), headers)
    return [data]


def _answer(start_response: StartResponse, status: int, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        _status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


@contextmanager
def serve_http_api(
    port: int = 0, *, host: str = "127.0.0.1", lock: threading.Lock | None = None
) -> Iterator[str]:
    """The HTTP API served on `port` (a free one by default) by waitress in a daemon thread,
    for as long as the block runs; yields its URL."""
    from waitress.server import create_server

    port = port or free_port()
    server = create_server(HttpApi(lock=lock), host=host, port=port, threads=4, ident="crmsync-local")
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            # Closing the server under its select() makes the select fail: that is the end.
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, name="http-api", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        closing.set()
        server.close()
        thread.join(timeout=5)
