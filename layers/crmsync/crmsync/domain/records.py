"""Plain values exchanged between the core, the use cases and the CRM adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.errors import Failure


class SalesforceRecord(dict[str, Any]):
    """One Salesforce record as read, built once at the gateway's edge (`salesforce.records`).

    As a mapping it holds every field as Salesforce's REST API gave it: text, numbers,
    checkboxes as `bool`, Ids as text, null as None, dates and date-times as Salesforce's ISO
    text. Those are the values mappings move: they go onto prospects, into snapshots and back
    to Salesforce as they are, so a value read and written back is the value Salesforce sent.
    The connector's own reading of the record is typed here, once: its id, when it changed,
    whether it is deleted, converted, a person account, an active user, and the records it
    points to (a merge's survivor, a conversion's contact and account). A field the query did
    not ask for reads as not set (None, False)."""

    __slots__ = (
        "active",
        "converted",
        "converted_account_id",
        "converted_contact_id",
        "created",
        "deleted",
        "id",
        "last_modified",
        "master_record_id",
        "person_account",
        "stamp",
    )

    id: str
    stamp: datetime | None
    """`SystemModstamp`: the change watermarks are made of it."""
    last_modified: datetime | None
    """`LastModifiedDate`: when a person last changed the record."""
    created: datetime | None
    """`CreatedDate`."""
    deleted: bool
    """`IsDeleted`: in the recycle bin (a `queryAll` returns those)."""
    converted: bool
    """`IsConverted` (Leads)."""
    person_account: bool
    """`IsPersonAccount` (Accounts, and a person account's hidden Contact)."""
    active: bool
    """`IsActive` (Users)."""
    master_record_id: str | None
    """`MasterRecordId`: the record a deleted one was merged into."""
    converted_contact_id: str | None
    converted_account_id: str | None

    def __init__(
        self,
        values: Mapping[str, Any],
        *,
        id: str,
        stamp: datetime | None = None,
        last_modified: datetime | None = None,
        created: datetime | None = None,
        deleted: bool = False,
        converted: bool = False,
        person_account: bool = False,
        active: bool = False,
        master_record_id: str | None = None,
        converted_contact_id: str | None = None,
        converted_account_id: str | None = None,
    ) -> None:
        super().__init__(values)
        self.id = id
        self.stamp = stamp
        self.last_modified = last_modified
        self.created = created
        self.deleted = deleted
        self.converted = converted
        self.person_account = person_account
        self.active = active
        self.master_record_id = master_record_id
        self.converted_contact_id = converted_contact_id
        self.converted_account_id = converted_account_id

    @property
    def modified_at(self) -> datetime | None:
        """When the record last changed: `LastModifiedDate`, else `SystemModstamp`."""
        return self.last_modified or self.stamp


@dataclass(frozen=True, order=True)
class Watermark:
    """How far an incremental read got: the last `SystemModstamp` applied and, among the records
    sharing that stamp, the last Id (records are read in (SystemModstamp, Id) order)."""

    stamp: datetime
    last_id: str = ""


@dataclass(frozen=True)
class ChangePage:
    """One page of changed records, with the watermark that is safe to store once it is applied."""

    records: list[SalesforceRecord]
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
    label: str = ""


@dataclass(frozen=True)
class ObjectDescription:
    name: str
    fields: Mapping[str, FieldDescription] = field(default_factory=dict)
