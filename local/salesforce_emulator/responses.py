"""What every API answer is made of: the parsed request and JSON/CSV responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .errors import ApiError

JSON = "application/json;charset=UTF-8"
# Bulk API 2.0 answers its CSV results (ingest results, query results) as `text/csv` with no
# charset, though the bytes are UTF-8 ("Files must be in UTF-8 format", Bulk API 2.0 Developer
# Guide, Prepare CSV Files). A client that trusts HTTP's default reads them as ISO-8859-1: see
# simple-salesforce issue #706 ("Bulk API v2 Results Encoding Issue") and pull request #688,
# which moved its query results to `.content`; its `get_ingest_results` still returns `.text`.
CSV = "text/csv"


@dataclass(frozen=True)
class Call:
    """One authenticated API request: who makes it, with which API version."""

    request: Request
    version: str
    user_id: str

    def json(self) -> Any:
        try:
            return json.loads(self.request.get_data(as_text=True) or "null")
        except ValueError as exc:
            raise ApiError(
                400, "JSON_PARSER_ERROR", f"Unexpected character in JSON request body: {exc}"
            ) from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", "Cannot deserialize instance of object from the request body"
            )
        return body


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def no_content() -> Response:
    return Response(status=204)
