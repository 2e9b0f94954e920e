"""The stores' DynamoDB client, and the exchange that has it send the JSON `DynamoTable` writes.

`exchange_wire_json` rides on three of botocore's client events (`provide-client-params`,
`before-call`, `before-parse` with its `customized_response_dict`), which botocore does not
document as an interface: a botocore release may change them. So the exchange is switched on
only under a botocore version it was verified against (`VERIFIED_BOTOCORE`: the tests of
tests/adapters/test_dynamo_wire_json.py compare every request it sends, and every response it
reads, with botocore's own); under any other, `stores_client` hands out a plain client, slower
by about half a sync run's CPU (docs/ARCHITECTURE.md, "CPU per record"), never wrong. Its
client is the stores' alone: nothing else (the action claims) is given it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
import botocore
from botocore.config import Config

if TYPE_CHECKING:
    from crmsync.aws.dynamo_table import TransactWrite

VERIFIED_BOTOCORE = frozenset({"1.43.127"})
"""The botocore versions `exchange_wire_json` is verified against. The layer ships no botocore:
in Lambda the exchange is on only while the python3.13 runtime's botocore is one of these. The
development environment's is pinned (requirements-dev.txt), and the wire tests fail under a
botocore not listed here: a version is added once those tests pass with it."""

_logger = logging.getLogger(__name__)


def stores_client() -> Any:
    """The DynamoDB client the stores share: with the exchange under a verified botocore (and
    so without botocore's parameter validation, which would check the reduced parameters the
    exchange hands it), a plain client otherwise."""
    if botocore.__version__ not in VERIFIED_BOTOCORE:
        _logger.warning(
            "botocore %s is not one the DynamoDB wire exchange is verified against (%s): plain client",
            botocore.__version__,
            ", ".join(sorted(VERIFIED_BOTOCORE)),
        )
        return boto3.client("dynamodb")
    client = boto3.client("dynamodb", config=Config(parameter_validation=False))
    exchange_wire_json(client)
    return client


_WIRE_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
)
_WIRE_BODY = "crmsync_wire_body"
_WIRE_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)
"""The JSON `TransactWrite.text` is written with too."""


def exchange_wire_json(client: Any) -> None:
    """Have `client` send the item operations' parameters as their JSON body, as written, and
    hand back their successful responses' JSON as DynamoDB wrote it.

    `DynamoTable` builds and reads DynamoDB's wire form itself (typed values, strings,
    numbers, booleans), yet botocore walks every value against the operation's model to
    serialize a request and again to parse a response, and evaluates the endpoint rules'
    JMESPath over every parameter: half of a sync run's CPU. Three of botocore's client
    events take that over: before the parameters are built they are written as JSON and
    botocore is handed only the table names (the endpoint rules route a table named by ARN
    to its account); before the call the JSON becomes the body; before a successful
    response is parsed its JSON is taken as the result and botocore parses an empty body
    (adding `ResponseMetadata`). Endpoint, signing, retries and errors stay botocore's. A
    request JSON cannot write (bytes for a binary attribute) goes botocore's own way; a
    binary attribute read comes back base64 encoded, as DynamoDB sends it (`from_attribute`
    decodes it). Registering again is a no-op.

    Only for a client made with `parameter_validation=False` (a validating client would check
    the reduced parameters it is handed and refuse them) and used through `DynamoTable`."""
    events = client.meta.events
    for operation in _WIRE_OPERATIONS:
        for event, handler in (
            ("provide-client-params", _write_parameters),
            ("before-call", _send_written),
            ("before-parse", _take_response),
        ):
            events.register(
                f"{event}.dynamodb.{operation}", handler, unique_id=f"{_WIRE_BODY}-{event}-{operation}"
            )


def _write_parameters(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> dict[str, Any] | None:
    try:
        context[_WIRE_BODY] = _wire_body(params).encode()
    except TypeError:
        return None
    return _table_names(model.name, params)


def _wire_body(params: Mapping[str, Any]) -> str:
    """The parameters as JSON; a transaction's items from the texts `TransactWrite` wrote once
    (for its size) when they come as `EncodedRequests`."""
    texts = getattr(params.get("TransactItems"), "texts", None)
    if texts is None:
        return _WIRE_JSON.encode(params)
    others = _WIRE_JSON.encode({name: value for name, value in params.items() if name != "TransactItems"})
    return f'{{"TransactItems":[{",".join(texts)}]{"," + others[1:] if others != "{}" else "}"}'


def _table_names(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters reduced to the table names they name, in the operation's shape."""
    if operation == "TransactWriteItems":
        tables = dict.fromkeys(
            request["TableName"] for item in params.get("TransactItems", ()) for request in item.values()
        )
        return {"TransactItems": [{"ConditionCheck": {"TableName": table}} for table in tables]}
    if operation in ("BatchGetItem", "BatchWriteItem"):
        nothing: dict[str, Any] | list[Any] = {} if operation == "BatchGetItem" else []
        return {"RequestItems": dict.fromkeys(params.get("RequestItems", {}), nothing)}
    return {"TableName": params["TableName"]} if "TableName" in params else {}


def _send_written(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_WIRE_BODY, None)
    if body is not None:
        params["body"] = body


def _take_response(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if response_dict["status_code"] < 300 and response_dict["body"]:
        customized_response_dict.update(json.loads(response_dict["body"]))
        response_dict["body"] = b"{}"


class EncodedRequests(list[Mapping[str, Any]]):
    """A transaction's `TransactItems` that also carries their JSON texts, so the body sent is
    joined from them instead of being written a second time. botocore sees a plain list."""

    def __init__(self, writes: Sequence[TransactWrite]) -> None:
        super().__init__(write.request for write in writes)
        self.texts = [write.text for write in writes]
