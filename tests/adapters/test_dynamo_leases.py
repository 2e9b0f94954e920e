"""The leases on moto: one run at a time per name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crmsync.aws.leases import DynamoLeases

from tests.adapters.dynamo_doubles import DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEASE = "outbound"


@pytest.fixture
def leases(dynamo: DynamoTables) -> DynamoLeases:
    return DynamoLeases(dynamo.state_table())


def test_a_free_lease_is_taken(leases: DynamoLeases) -> None:
    assert leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))


def test_a_lease_held_by_another_run_is_refused(leases: DynamoLeases) -> None:
    leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert not leases.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_an_expired_lease_is_taken_over(leases: DynamoLeases) -> None:
    leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert leases.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=6), NOON + timedelta(minutes=11))
    assert not leases.acquire_lease(LEASE, "run-1", NOON + timedelta(minutes=7), NOON + timedelta(minutes=12))


def test_the_holder_renews_its_lease(leases: DynamoLeases) -> None:
    leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    assert leases.acquire_lease(LEASE, "run-1", NOON + timedelta(minutes=4), NOON + timedelta(minutes=9))
    assert not leases.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=7), NOON + timedelta(minutes=12))


def test_a_lease_expires_from_the_table_a_day_after_its_end(
    dynamo: DynamoTables, leases: DynamoLeases
) -> None:
    until = NOON + timedelta(minutes=5)

    leases.acquire_lease(LEASE, "run-1", NOON, until)

    item = dynamo.state_table().get({"pk": "lease", "sk": LEASE})
    assert item is not None
    assert item["expires_at"] == int((until + timedelta(days=1)).timestamp())


def test_a_release_by_another_run_leaves_the_lease_with_its_holder(leases: DynamoLeases) -> None:
    leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    leases.release_lease(LEASE, "run-2")

    assert not leases.acquire_lease(LEASE, "run-3", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_a_released_lease_is_free_at_once(leases: DynamoLeases) -> None:
    leases.acquire_lease(LEASE, "run-1", NOON, NOON + timedelta(minutes=5))

    leases.release_lease(LEASE, "run-1")
    leases.release_lease(LEASE, "run-1")

    assert leases.acquire_lease(LEASE, "run-2", NOON + timedelta(minutes=1), NOON + timedelta(minutes=6))


def test_leases_of_different_names_do_not_block_each_other(leases: DynamoLeases) -> None:
    leases.acquire_lease("outbound", "run-1", NOON, NOON + timedelta(minutes=5))

    assert leases.acquire_lease("inbound", "run-2", NOON, NOON + timedelta(minutes=5))
