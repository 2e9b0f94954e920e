"""`ProspectStore`: `FakeProspectStore` and the prospects table hold the same contract, for the
marketing side's saves and the connector's own."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from crmsync import bootstrap
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.prospects import DynamoProspectStore
from crmsync.aws.tables import PROSPECTS_KEY
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import ProspectStore

from tests.contract.conftest import REGION, unique
from tests.fakes.prospects import CONNECTOR_WRITER, FakeProspectStore


@dataclass
class Sides:
    marketing: ProspectStore
    connector: ProspectStore


@pytest.fixture(params=["fake", "dynamodb"])
def sides(request: pytest.FixtureRequest) -> Sides:
    if request.param == "fake":
        marketing = FakeProspectStore()
        return Sides(marketing, marketing.written_by(CONNECTOR_WRITER))
    request.getfixturevalue("aws")
    table = bootstrap.settings().prospects_table
    return Sides(
        DynamoProspectStore(DynamoTable(boto3.client("dynamodb", region_name=REGION), table, PROSPECTS_KEY)),
        bootstrap.prospect_store(),
    )


def saved(store: ProspectStore, prospect: Prospect) -> Prospect:
    assert store.save([ProspectChange(prospect)]) == []
    return store.get_many([prospect.id])[prospect.id]


def test_a_new_prospect_reads_back_at_version_one_with_its_values_as_stored(sides: Sides) -> None:
    edited = datetime(2026, 11, 22, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    prospect = Prospect(
        id=unique(),
        fields={"email": "Ada@Example.com", "score": 87, "rate": 2.5, "blank": None, "list": ("a", 1)},
        tags=frozenset({"b", "a"}),
        crm_id="00Q000000000001AAA",
        assigned_user="owner@example.com",
        opportunities={"006A": {"amount": 10.0, "stage": "Won"}},
        modified_at=edited,
    )

    stored = saved(sides.marketing, prospect)

    assert stored == replace(
        prospect,
        fields={"email": "Ada@Example.com", "score": 87, "rate": 2.5, "blank": None, "list": ["a", 1]},
        opportunities={"006A": {"amount": 10, "stage": "Won"}},
        modified_at=edited.astimezone(UTC),
        version=1,
        marketing_version=1,
    )


def test_the_marketing_sides_saves_set_the_marketing_version_and_the_connectors_carry_it(
    sides: Sides,
) -> None:
    by_connector = saved(sides.connector, Prospect(id=unique(), fields={"email": "c@example.com"}))
    assert (by_connector.version, by_connector.marketing_version) == (1, 0)

    edit = replace(by_connector, fields={"email": "c@example.com", "score": 5})
    assert sides.marketing.save([ProspectChange(edit, before=by_connector)]) == []
    edited = sides.connector.get_many([edit.id])[edit.id]
    assert (edited.version, edited.marketing_version) == (2, 2)

    tagged = replace(edited, tags=frozenset({"synced"}))
    assert sides.connector.save([ProspectChange(tagged, before=edited)]) == []
    after = sides.marketing.get_many([edit.id])[edit.id]
    assert (after.version, after.marketing_version) == (3, 2)


def test_a_change_from_a_stale_read_or_a_second_new_prospect_is_refused(sides: Sides) -> None:
    first = saved(sides.marketing, Prospect(id=unique(), fields={"email": "s@example.com"}))
    fresh = ProspectChange(replace(first, fields={"email": "s@example.com", "score": 1}), before=first)
    stale = ProspectChange(replace(first, fields={"email": "s@example.com", "score": 2}), before=first)
    twice = ProspectChange(Prospect(id=first.id))

    assert sides.connector.save([fresh, stale, twice]) == [stale, twice]
    assert sides.marketing.get_many([first.id])[first.id].fields["score"] == 1


def test_a_prospect_is_found_by_its_email_as_typed_or_normalized_and_by_its_crm_id(sides: Sides) -> None:
    email = f"{unique()}@Example.COM"
    crm_id = unique("00Q")
    one = saved(sides.marketing, Prospect(id=unique(), fields={"email": email}, crm_id=crm_id))
    two = saved(sides.marketing, Prospect(id=unique(), fields={"email": email.lower()}))

    found = sides.connector.find_by_emails([email.upper(), f"{unique()}@example.com"])
    assert list(found) == [email.upper()]
    assert sorted(p.id for p in found[email.upper()]) == sorted([one.id, two.id])
    assert sides.connector.find_by_crm_ids([crm_id, unique("00Q")]) == {crm_id: [one]}

    # A prospect whose email or CRM id changed is no longer found under the old one.
    moved = replace(one, fields={"email": f"{unique()}@example.com"}, crm_id=None)
    assert sides.connector.save([ProspectChange(moved, before=one)]) == []
    assert [p.id for p in sides.connector.find_by_emails([email])[email]] == [two.id]
    assert sides.connector.find_by_crm_ids([crm_id]) == {}


def test_a_scan_in_shares_reads_every_prospect_once_and_counts_the_index_items(sides: Sides) -> None:
    ids = {
        saved(sides.marketing, Prospect(id=unique(), fields={"email": f"{unique()}@x.com"})).id
        for _ in range(7)
    }

    seen: list[str] = []
    read = 0
    after: str | None = None
    while True:
        page = sides.connector.scan(after, 4)
        assert page.read <= 4
        read += page.read
        seen += [v.prospect_id for v in page.prospects]
        assert all(v.version == v.marketing_version == 1 for v in page.prospects if v.prospect_id in ids)
        if page.next_after is None:
            break
        after = page.next_after

    assert ids <= set(seen) and len(seen) == len(set(seen))
    assert read >= len(seen) + len(ids), "each prospect's email index item is read too"


def test_index_items_are_never_read_as_prospects(sides: Sides) -> None:
    email = f"{unique()}@example.com"
    saved(sides.marketing, Prospect(id=unique(), fields={"email": email}))

    assert sides.connector.get_many([f"email#{email}"]) == {}
    with pytest.raises(ValueError, match="must not start with"):
        sides.connector.save([ProspectChange(Prospect(id=f"crm#{unique()}"))])
