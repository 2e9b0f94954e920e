"""Salesforce's two error shapes: a whole request refused (a JSON array of errors with an HTTP
status) and one record refused inside a request that goes on (a per-record error)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordError:
    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The shape of `errors[]` in SaveResult / UpsertResult / DeleteResult."""
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def bulk_text(self) -> str:
        """Bulk API 2.0's `sf__Error` column: `CODE:message:field1,field2 --`."""
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


class RecordRefused(Exception):
    """One record's write was refused; the rest of the request goes on."""

    def __init__(self, status_code: str, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(f"{status_code}: {message}")
        self.error = RecordError(status_code, message, tuple(fields))


@dataclass
class ApiError(Exception):
    """The whole request is refused: `[{"message", "errorCode", "fields"?}]` with `status`."""

    status: int
    error_code: str
    message: str
    fields: tuple[str, ...] | None = field(default=None)

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = list(self.fields)
        return [item]

    @classmethod
    def from_record(cls, error: RecordError, status: int = 400) -> ApiError:
        return cls(status, error.status_code, error.message, error.fields)


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")
