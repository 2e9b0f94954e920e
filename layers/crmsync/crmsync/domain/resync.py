"""A resync of one object (docs/guide/operator-actions.md): a full re-read of its records through Bulk
API 2.0 query, applied as the outbound run applies its changes, to heal drift or adopt a new
mapping. The job says what was asked and how far it got; the use case (`sync/resync.py`) moves
it on, a share per scheduled tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.objects import CrmObject

RESYNCED_OBJECTS = (CrmObject.LEAD, CrmObject.CONTACT, CrmObject.PERSON_ACCOUNT)


class ResyncState(StrEnum):
    QUEUED = "queued"
    """Asked for; the next scheduled tick starts its Bulk API query."""
    RUNNING = "running"
    """Its query is made: ticks read and apply its pages, from where the last one stopped."""
    DONE = "done"
    FAILED = "failed"
    """Salesforce refused the query, or its job failed: `error` says why. Ask again."""

    @property
    def active(self) -> bool:
        return self in (ResyncState.QUEUED, ResyncState.RUNNING)


@dataclass(frozen=True)
class ResyncJob:
    object: CrmObject
    since: datetime | None
    """Only records changed at or after this instant (None: every record)."""
    requested_by: str
    started_at: datetime
    updated_at: datetime
    state: ResyncState = ResyncState.QUEUED
    query_job_id: str | None = None
    locator: str | None = None
    """Where the next page of results starts (None: the first page, or none left once done)."""
    read: int = 0
    """Records read from the query's results so far."""
    applied: int = 0
    """Records read whose plan changed something (a prospect, a link, its snapshot)."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """What became of the records read, as an outbound run counts it (`updated`, `unchanged`...)."""
    total: int | None = None
    """Records the query found, once Salesforce has counted them."""
    finished_at: datetime | None = None
    error: str | None = None

    def moved(self, now: datetime, **changes: Any) -> ResyncJob:
        return replace(self, updated_at=now, **changes)

    def as_answer(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "object": self.object.value,
            "since": self.since.isoformat() if self.since else None,
            "requested_by": self.requested_by,
            "read": self.read,
            "applied": self.applied,
            "total": self.total,
            "counts": dict(self.counts),
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }
