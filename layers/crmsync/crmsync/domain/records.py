"""Plain values exchanged between the core, the use cases and the CRM adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.errors import Failure

CrmRecord = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class Watermark:
    """How far an incremental read got: the last `SystemModstamp` applied and, among the records
    sharing that stamp, the last Id (records are read in (SystemModstamp, Id) order)."""

    stamp: datetime
    last_id: str = ""


@dataclass(frozen=True)
class ChangePage:
    """One page of changed records, with the watermark that is safe to store once it is applied."""

    records: list[CrmRecord]
    watermark: Watermark | None


@dataclass(frozen=True)
class Batching:
    """How records go to and come from Salesforce in batches (the configuration's `batching`)."""

    collection_size: int = 200
    """Records per sObject Collections call (Salesforce allows 200)."""
    bulk_threshold: int = 2000
    """From this many records on, writes go through Bulk API 2.0."""
    read_page_size: int = 2000
    """Records per SOQL page (Salesforce allows 200 to 2,000, and may answer with fewer)."""


class WriteOperation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"


@dataclass(frozen=True)
class WriteResult:
    """The outcome for one record of a batch, in the order the records were given."""

    record_id: str | None
    failure: Failure | None = None
    created: bool = False

    @property
    def success(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class ApiUsage:
    """Daily API requests used and allowed, as Salesforce reported them at `read_at`."""

    used: int
    limit: int
    read_at: datetime | None = None

    @property
    def percent(self) -> float:
        return round(100.0 * self.used / self.limit, 2) if self.limit else 0.0


@dataclass(frozen=True)
class FieldDescription:
    name: str
    type: str
    length: int = 0
    createable: bool = False
    updateable: bool = False
    nillable: bool = True
    calculated: bool = False
    external_id: bool = False


@dataclass(frozen=True)
class ObjectDescription:
    name: str
    fields: Mapping[str, FieldDescription] = field(default_factory=dict)
