"""The one resync at a time (`ResyncJobs`): the fake and the state table hold the same contract.
Each test has a table of its own (the job is one item)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from crmsync import bootstrap
from crmsync.domain.objects import CrmObject
from crmsync.domain.resync import ResyncJob, ResyncState
from crmsync.ports import ResyncJobs

from local.aws_stack import create_stack
from tests.contract.conftest import REGION
from tests.fakes.operator import FakeResyncJobs
from tests.local_aws import mocked_aws, stack_template

ASKED = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def jobs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResyncJobs]:
    if request.param == "fake":
        yield FakeResyncJobs()
        return
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mocked_aws():
        stack = create_stack(stack_template(), region=REGION)
        for name, value in stack.function_environment("HttpApiFunction", secret_arn="unused").items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield bootstrap.resync_jobs()
        bootstrap.reset()


def job(**changes: object) -> ResyncJob:
    asked = ResyncJob(
        object=CrmObject.LEAD, since=None, requested_by="arn:op", started_at=ASKED, updated_at=ASKED
    )
    return replace(asked, **changes)  # type: ignore[arg-type]


def test_none_before_any_and_a_job_reads_back_as_it_was_saved(jobs: ResyncJobs) -> None:
    assert jobs.current() is None
    started = job(since=ASKED - timedelta(days=30))
    assert jobs.start(started) is None
    assert jobs.current() == started

    moved = started.moved(
        ASKED + timedelta(minutes=1),
        state=ResyncState.RUNNING,
        query_job_id="750000000000001AAA",
        locator="MTAwMA==",
        read=1000,
        applied=12,
        total=2500,
        counts={"updated": 12, "unchanged": 988},
    )
    jobs.save(moved)
    assert jobs.current() == moved


def test_one_at_a_time_a_second_start_while_one_is_active_gets_the_active_one(jobs: ResyncJobs) -> None:
    first = job()
    assert jobs.start(first) is None
    running = first.moved(ASKED, state=ResyncState.RUNNING)
    jobs.save(running)

    assert jobs.start(job(object=CrmObject.CONTACT)) == running
    assert jobs.current() == running


@pytest.mark.parametrize("ended", [ResyncState.DONE, ResyncState.FAILED])
def test_once_it_has_ended_a_new_one_takes_its_place(jobs: ResyncJobs, ended: ResyncState) -> None:
    jobs.start(job())
    jobs.save(job(state=ended, finished_at=ASKED, error="gone" if ended is ResyncState.FAILED else None))

    second = job(object=CrmObject.CONTACT)
    assert jobs.start(second) is None
    assert jobs.current() == second
