"""The bench's meter of what AWS bills: a WSGI middleware in front of moto, in moto's process,
that counts every request by service and bills each DynamoDB call its request units
(`local.bench.capacity`); and the bench's client that starts and reads it.

Metered in moto's process, not the connector's: a write's units depend on the item before and
after it, which only the table knows. In the connector's process each write would take reads
of its items before and after it (more calls, in the process whose CPU and time the bench
measures); in moto's process the items are a lookup in moto's own tables away, and the
connector runs untouched. A `Query` or `Scan` that filters or projects is asked again of moto
without its filter and projection, for the items it evaluated (what DynamoDB bills).

Control, on the same endpoint: `POST /_meter/start` zeroes the tally, `GET /_meter/tally`
answers what was counted since, as JSON (`Tally.as_json`).
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from typing import Any

from local.bench.capacity import Call, Item, TableShape, Tally, charges, key_text, reads_of, writes_of

CONTROL = "/_meter/"
BILLED = frozenset(
    {
        "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
        "GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan",
    }
)  # fmt: skip
"""The calls that read or write items: billed in request units. The others (tables made,
described) are counted as requests."""
_REGION_OF_SIGNATURE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/")
_SERVICES = {
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
    "DynamoDBStreams_20120810": "dynamodbstreams",
}
_FILTERS = (
    "FilterExpression",
    "ProjectionExpression",
    "AttributesToGet",
    "Select",
    "QueryFilter",
    "ScanFilter",
)
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MeteredMoto:
    """moto's WSGI app, metered (see the module's documentation)."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._tally = Tally()
        self._shapes: dict[str, TableShape] = {}
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        """One write at a time: its items before and after it must be its own."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL):
            return self._control(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        if service.startswith("DynamoDB_") and operation in BILLED:
            return self._dynamodb(operation, body, environ, start_response)
        if not operation and b"Action=" in body:  # SQS's query protocol
            service, operation = "AmazonSQS", re.findall(rb"Action=(\w+)", body)[0].decode()
        with self._lock:
            self._tally.count(f"{_SERVICES.get(service, service or 'other')}.{operation}")
        return self._app(environ, start_response)

    # ------------------------------------------------------------------ DynamoDB

    def _dynamodb(
        self, operation: str, body: bytes, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = json.loads(body or b"{}")
        backend = _backend(environ)
        try:
            shapes = {name: self._shape(backend, name) for name in _tables_of(request)}
        except Exception:  # no such table: the call fails, and costs nothing
            return self._app(environ, start_response)
        writes = writes_of(operation, request, shapes)
        keyed = [(table, key) for table, _, key, _ in writes] + reads_of(operation, request)
        with self._writing if writes else nullcontext():
            before = {(table, key_text(key)): _item(backend, table, key) for table, key in keyed}
            status, headers, answer = _forward(self._app, environ)
            after = {(table, key_text(key)): _item(backend, table, key) for table, _, key, _ in writes}
        response = json.loads(answer or b"{}")
        error = None if status.startswith("2") else str(response.get("__type", "")).rpartition("#")[2]
        evaluated: list[Item] = []
        if operation in ("Query", "Scan") and error is None:
            evaluated = self._evaluated(request, response, environ)
        billed = charges(Call(operation, request, response, error, before, after, evaluated), shapes)
        with self._lock:
            self._tally.add(billed)
            self._tally.count(f"dynamodb.{operation}")
        start_response(status, headers)
        return [answer]

    def _evaluated(
        self, request: dict[str, Any], response: dict[str, Any], environ: dict[str, Any]
    ) -> list[Item]:
        """The items a Query or Scan read, whole: its answer's, unless it filtered or projected
        them; then its answer when asked again without the filter and projection."""
        if not any(name in request for name in _FILTERS):
            items: list[Item] = response.get("Items", [])
            return items
        bare = {name: value for name, value in request.items() if name not in _FILTERS}
        used = set(_PLACEHOLDER.findall(str(request.get("KeyConditionExpression", ""))))
        for placeholders in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if placeholders in bare:
                bare[placeholders] = {k: v for k, v in bare[placeholders].items() if k in used}
                if not bare[placeholders]:
                    del bare[placeholders]
        again = json.dumps(bare).encode()
        nested = {**environ, "wsgi.input": io.BytesIO(again), "CONTENT_LENGTH": str(len(again))}
        _, _, answer = _forward(self._app, nested)
        items = json.loads(answer or b"{}").get("Items", [])
        return items

    def _shape(self, backend: Any, table: str) -> TableShape:
        if table not in self._shapes:
            self._shapes[table] = TableShape.from_description(
                backend.get_table(table).describe("Table")["Table"]
            )
        return self._shapes[table]

    # ------------------------------------------------------------------ control

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            if environ["PATH_INFO"] == f"{CONTROL}start":
                self._tally = Tally()
            answer = json.dumps(self._tally.as_json()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]


def _forward(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    answered: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        answered.update(status=status, headers=headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answered["status"], answered["headers"], body


def _backend(environ: Mapping[str, Any]) -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    found = _REGION_OF_SIGNATURE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][found.group(1) if found else "us-east-1"]


def _item(backend: Any, table: str, key: Mapping[str, Any]) -> Item | None:
    try:
        found = backend.get_item(table, dict(key))
    except Exception:  # no such table, a malformed key: the call itself will say so
        return None
    if found is None:
        return None
    attributes: Item = found.to_json()["Attributes"]
    return attributes


def _tables_of(request: Mapping[str, Any]) -> set[str]:
    if "TableName" in request:
        return {request["TableName"]}
    if "RequestItems" in request:
        return set(request["RequestItems"])
    return {detail["TableName"] for entry in request.get("TransactItems", []) for detail in entry.values()}


class MeterClient:
    """The bench's side: start the meter, read what it counted."""

    def __init__(self, endpoint_url: str) -> None:
        self._url = endpoint_url.rstrip("/") + CONTROL

    def start(self) -> None:
        with urllib.request.urlopen(urllib.request.Request(f"{self._url}start", data=b"", method="POST")):
            pass

    def tally(self) -> Tally:
        with urllib.request.urlopen(f"{self._url}tally") as answer:
            return Tally.from_json(json.loads(answer.read()))
