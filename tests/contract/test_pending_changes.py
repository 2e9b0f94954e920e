"""`PendingChanges`: `FakePendingChanges` and the state table hold the same contract. Each test
has the table to itself (the pending changes are one partition, read whole)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmsync import bootstrap
from crmsync.ports import PendingChange, PendingChanges

from tests.fakes.pending import FakePendingChanges


@pytest.fixture(params=["fake", "dynamodb"])
def pending(request: pytest.FixtureRequest) -> Iterator[PendingChanges]:
    if request.param == "fake":
        yield FakePendingChanges()
        return
    request.getfixturevalue("aws")
    store = bootstrap.pending_changes()
    yield store
    store.done(store.waiting(10_000))


def test_a_prospect_waits_once_at_the_latest_version_noted(pending: PendingChanges) -> None:
    pending.add([PendingChange("p-2", 3), PendingChange("p-1", 1), PendingChange("p-2", 5)])
    pending.add([PendingChange("p-1", 0)])  # noted by an outbound run: put over what waits

    assert pending.waiting(10) == [PendingChange("p-1", 0), PendingChange("p-2", 5)]
    assert pending.versions(["p-1", "p-2", "p-3"]) == {"p-1": 0, "p-2": 5}
    assert pending.count(1) == 1 and pending.count(10) == 2


def test_waiting_prospects_come_in_id_order_a_page_at_a_time(pending: PendingChanges) -> None:
    pending.add([PendingChange(f"p-{n}", n) for n in (4, 1, 3, 2, 5)])

    first = pending.waiting(2)
    second = pending.waiting(2, after=first[-1].prospect_id)
    last = pending.waiting(2, after=second[-1].prospect_id)

    assert [c.prospect_id for c in first + second + last] == ["p-1", "p-2", "p-3", "p-4", "p-5"]
    assert pending.waiting(2, after="p-5") == []


def test_done_keeps_a_prospect_that_changed_again_since_the_version_sent(pending: PendingChanges) -> None:
    pending.add([PendingChange("sent", 2), PendingChange("changed-again", 4)])

    kept = pending.done(
        [PendingChange("sent", 2), PendingChange("changed-again", 3), PendingChange("none", 1)]
    )

    assert kept == [PendingChange("changed-again", 3)]
    assert pending.waiting(10) == [PendingChange("changed-again", 4)]


def test_a_change_found_late_never_lowers_what_waits(pending: PendingChanges) -> None:
    pending.add([PendingChange("newer", 7), PendingChange("same", 3)])

    noted = pending.add_unless_newer(
        [
            PendingChange("newer", 5),
            PendingChange("same", 3),
            PendingChange("new", 2),
            PendingChange("new", 4),
        ]
    )

    assert noted == [PendingChange("new", 4)]
    assert pending.versions(["newer", "same", "new"]) == {"newer": 7, "same": 3, "new": 4}
