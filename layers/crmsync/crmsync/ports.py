"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crmsync.domain.records import (
    ApiUsage,
    ChangePage,
    ObjectDescription,
    Watermark,
    WriteOperation,
    WriteResult,
)


class CrmGateway(Protocol):
    def read_changes(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        until: datetime,
        *,
        include_deleted: bool = True,
    ) -> Iterator[ChangePage]: ...

    def write(
        self,
        sobject: str,
        operation: WriteOperation,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> list[WriteResult]: ...

    def describe(self, sobject: str) -> ObjectDescription: ...

    def check_connection(self) -> ApiUsage: ...


@dataclass(frozen=True)
class ConnectorState:
    paused: bool
    config_version: int | None = None


class StateStore(Protocol):
    def connector_state(self) -> ConnectorState: ...

    def set_paused(self, paused: bool) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
