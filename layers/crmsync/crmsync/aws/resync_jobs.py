"""`ResyncJobs` on the state table: one item, `pk="resync"`, `sk="job"`, holding the last resync
asked for (`domain.resync.ResyncJob`) and its progress. One resync at a time: a new one is put
only if the item is absent or its job has finished (a conditional put), so two requests at once
cannot both start one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmsync.aws.dynamo_table import ConditionFailed, DynamoTable, Expression
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.domain.objects import CrmObject
from crmsync.domain.resync import ResyncJob, ResyncState

_KEY = {"pk": "resync", "sk": "job"}
_NOT_ACTIVE = Expression(
    "attribute_not_exists(pk) OR #state IN (:done, :failed)",
    names={"#state": "state"},
    values={":done": ResyncState.DONE.value, ":failed": ResyncState.FAILED.value},
)


class DynamoResyncJobs:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def current(self) -> ResyncJob | None:
        item = self._table.get(_KEY)
        return _job(item) if item else None

    def start(self, job: ResyncJob) -> ResyncJob | None:
        try:
            self._table.put(_item(job), condition=_NOT_ACTIVE)
        except ConditionFailed:
            return self.current()
        return None

    def save(self, job: ResyncJob) -> None:
        self._table.put(_item(job))


def _item(job: ResyncJob) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_KEY,
        "object": job.object.value,
        "requested_by": job.requested_by,
        "started_at": iso(job.started_at),
        "updated_at": iso(job.updated_at),
        "state": job.state.value,
        "read": job.read,
        "applied": job.applied,
        "counts": dict(job.counts),
    }
    optional = {
        "since": iso(job.since) if job.since else None,
        "query_job_id": job.query_job_id,
        "locator": job.locator,
        "total": job.total,
        "finished_at": iso(job.finished_at) if job.finished_at else None,
        "error": job.error,
    }
    item.update({name: value for name, value in optional.items() if value is not None})
    return item


def _job(item: dict[str, Any]) -> ResyncJob:
    def instant(name: str) -> datetime | None:
        return parse_iso(str(item[name])) if item.get(name) else None

    started_at = instant("started_at")
    updated_at = instant("updated_at")
    assert started_at is not None and updated_at is not None
    return ResyncJob(
        object=CrmObject(item["object"]),
        since=instant("since"),
        requested_by=str(item.get("requested_by", "")),
        started_at=started_at,
        updated_at=updated_at,
        state=ResyncState(item["state"]),
        query_job_id=item.get("query_job_id"),
        locator=item.get("locator"),
        read=int(item.get("read", 0)),
        applied=int(item.get("applied", 0)),
        counts={str(name): int(count) for name, count in (item.get("counts") or {}).items()},
        total=int(item["total"]) if item.get("total") is not None else None,
        finished_at=instant("finished_at"),
        error=item.get("error"),
    )
