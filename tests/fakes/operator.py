"""Fakes of the operator actions' own ports: the resync job (`ResyncJobs`), Bulk API 2.0 query
jobs over the fake org (`BulkQuery`), and the links' sample (`LinkSample`). The first is held to
its adapter by tests/contract/test_resync_jobs.py; Bulk queries by the adapter's own tests
(tests/adapters/test_salesforce_bulk_query.py: a query job's records are the REST API's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crmsync.domain.records import SalesforceRecord
from crmsync.domain.resync import ResyncJob
from crmsync.ports import BulkQueryPage

from tests.fakes.clock import FakeClock
from tests.fakes.crm import FakeCrm
from tests.fakes.links import FakeLinkStore


class FakeResyncJobs:
    def __init__(self) -> None:
        self._job: ResyncJob | None = None

    def current(self) -> ResyncJob | None:
        return self._job

    def start(self, job: ResyncJob) -> ResyncJob | None:
        if self._job is not None and self._job.state.active:
            return self._job
        self._job = job
        return None

    def save(self, job: ResyncJob) -> None:
        self._job = job


class FakeBulkQuery:
    """Query jobs over the fake's org: a job's records are read when it is made (Salesforce takes
    its snapshot then), through the fake's own reads (typed as the gateway types them), and served
    a page at a time by locator. `requests` lists what was asked (create, state, results); the
    snapshot's reads also show among the fake's `calls`, as queries."""

    def __init__(self, crm: FakeCrm, clock: FakeClock) -> None:
        self._crm = crm
        self._clock = clock
        self._jobs: dict[str, list[SalesforceRecord]] = {}
        self.requests: list[str] = []

    def start_query(self, sobject: str, fields: Sequence[str], since: datetime | None) -> str:
        self.requests.append("create")
        pages = self._crm.read_changes(sobject, list(fields), None, self._clock.now(), include_deleted=False)
        records = [
            record
            for page in pages
            for record in page.records
            if since is None or (record.stamp is not None and record.stamp >= since)
        ]
        job_id = f"750{len(self._jobs) + 1:015d}"
        self._jobs[job_id] = records
        return job_id

    def query_progress(self, job_id: str) -> tuple[bool, int | None]:
        self.requests.append("state")
        return True, len(self._jobs[job_id])

    def query_page(self, job_id: str, sobject: str, locator: str | None, max_records: int) -> BulkQueryPage:
        self.requests.append("results")
        records = self._jobs[job_id]
        start = int(locator or 0)
        page = records[start : start + max_records]
        end = start + len(page)
        return BulkQueryPage(records=page, next_locator=str(end) if end < len(records) else None)


class FakeLinkSample:
    """The links' index as the dry run reads it: linked prospects in one order (the fake's, by id)."""

    def __init__(self, links: FakeLinkStore) -> None:
        self._links = links

    def sample_prospect_ids(self, limit: int) -> list[str]:
        return sorted(stored.link.prospect_id for stored in self._links.all())[:limit]
