"""The local stack's HTTP API (`local.runtime.http_api`), called as a WSGI app: a request made
into the HTTP API's payload 2.0 event for the function its route names, and the function's
answer sent back; what API Gateway answers itself (no route, a function that raised)."""

from __future__ import annotations

import io
import json
from typing import Any

from local.runtime.http_api import HttpApi, Route, template_routes

HANDLER = f"{__name__}.handler"
events: list[dict[str, Any]] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    events.append(event)
    if event["rawPath"] == "/boom":
        raise RuntimeError("the function failed")
    return {"statusCode": 201, "headers": {"x-answer": "yes"}, "body": json.dumps({"seen": event["rawPath"]})}


def request(
    api: HttpApi, method: str, path: str, query: str = "", body: bytes = b""
) -> tuple[str, dict[str, str], Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "HTTP_HOST": "127.0.0.1:4510",
        "HTTP_USER_AGENT": "crmsync-cli/test",
        "wsgi.input": io.BytesIO(body),
    }
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answered["status"], answered["headers"] = status, dict(headers)

    data = b"".join(api(environ, start_response))
    return answered["status"], answered["headers"], json.loads(data)


def api() -> HttpApi:
    events.clear()
    return HttpApi(
        [
            Route("GET", "/records/{id}/why", "HttpApiFunction", HANDLER),
            Route("POST", "/records/{id}/sync", "HttpApiFunction", HANDLER),
            Route("GET", "/boom", "HttpApiFunction", HANDLER),
        ]
    )


def test_a_request_becomes_the_routes_event_and_the_functions_answer_is_sent_back() -> None:
    served = api()

    status, headers, body = request(served, "GET", "/records/00Q8d0000000005EAA/why", "limit=5&kind=a&kind=b")

    assert status == "201 Created"
    assert headers["x-answer"] == "yes"
    assert body == {"seen": "/records/00Q8d0000000005EAA/why"}
    (event,) = events
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /records/{id}/why"
    assert event["pathParameters"] == {"id": "00Q8d0000000005EAA"}
    assert event["queryStringParameters"] == {"limit": "5", "kind": "a,b"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["headers"]["user-agent"] == "crmsync-cli/test"
    assert event["requestContext"]["authorizer"]["iam"]["userArn"].endswith(":user/local-operator")


def test_a_json_body_is_handed_over_as_text() -> None:
    served = api()

    request(served, "POST", "/records/imported-0001/sync", body=b'{"direction": "both"}')

    (event,) = events
    assert event["body"] == '{"direction": "both"}'
    assert event["isBase64Encoded"] is False


def test_a_request_no_route_takes_is_404_and_reaches_no_function() -> None:
    served = api()

    status, _, body = request(served, "GET", "/records/x/unknown")

    assert status == "404 Not Found"
    assert body == {"message": "Not Found"}
    assert events == []


def test_a_function_that_raises_is_answered_500() -> None:
    status, _, body = request(api(), "GET", "/boom")

    assert status == "500 Internal Server Error"
    assert body == {"message": "Internal Server Error"}


def test_the_routes_are_the_templates() -> None:
    routes = {route.key: route.handler for route in template_routes()}

    assert routes["GET /status"] == "functions.http_api.app.handler"
    assert routes["PUT /config"] == "functions.http_api.app.handler"
    assert routes["POST /actions"] == "functions.http_api.app.handler"
