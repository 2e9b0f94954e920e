"""The built-in prospect store on moto: prospects, and finding them by email or CRM id in batches."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from crmsync.aws.prospects import DynamoProspectStore, is_prospect_key
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import ProspectVersion

from tests.adapters.capacity import CapacityMeter
from tests.adapters.dynamo_doubles import CountingClient, DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

MODIFIED = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC)


def prospect(prospect_id: str, email: str | None = None, crm_id: str | None = None) -> Prospect:
    fields = {"email": email} if email is not None else {}
    return Prospect(id=prospect_id, fields=fields, crm_id=crm_id, modified_at=MODIFIED)


@pytest.fixture
def prospects(dynamo: DynamoTables) -> DynamoProspectStore:
    return DynamoProspectStore(dynamo.prospects_table())


def created(store: DynamoProspectStore, *new: Prospect) -> list[Prospect]:
    assert store.save([ProspectChange(p) for p in new]) == []
    found = store.get_many([p.id for p in new])
    return [found[p.id] for p in new]


def test_a_new_prospect_reads_back_as_saved_at_version_1(prospects: DynamoProspectStore) -> None:
    saved = Prospect(
        id="p-1",
        fields={
            "email": "ann@example.com",
            "first_name": "Ann",
            "score": 42,
            "revenue": 1234.5,
            "opted_out": False,
        },
        tags=frozenset({"created-from-salesforce-lead", "vip"}),
        active=True,
        crm_id="00Q1",
        assigned_user="owner@example.com",
        opportunities={
            "006A": {"name": "Renewal", "amount": 5000, "stage": "Closed Won", "close_date": "2026-12-01"}
        },
        modified_at=MODIFIED,
    )

    refused = prospects.save([ProspectChange(saved)])

    assert refused == []
    assert prospects.get_many(["p-1", "p-unknown"]) == {"p-1": replace(saved, version=1, marketing_version=1)}


def test_a_prospect_with_nothing_optional_reads_back_with_nothing(prospects: DynamoProspectStore) -> None:
    (read,) = created(prospects, Prospect(id="p-1"))

    assert read == Prospect(id="p-1", version=1, marketing_version=1)


def test_prospects_are_found_by_email_whatever_its_case_and_spaces(prospects: DynamoProspectStore) -> None:
    (ann,) = created(prospects, prospect("p-1", "  Ann.Lee@Example.COM "))
    created(prospects, prospect("p-2", "bob@example.com"))

    found = prospects.find_by_emails(["ann.lee@example.com", "ANN.LEE@example.com", "nobody@example.com"])

    assert found == {"ann.lee@example.com": [ann], "ANN.LEE@example.com": [ann]}


def test_prospects_are_found_by_the_crm_id_they_carry(prospects: DynamoProspectStore) -> None:
    first, second = created(prospects, prospect("p-1", crm_id="00Q1"), prospect("p-2", crm_id="00Q1"))
    created(prospects, prospect("p-3", crm_id="003C"))

    found = prospects.find_by_crm_ids(["00Q1", "00Q-unknown"])

    assert found == {"00Q1": [first, second]}


def test_a_page_of_emails_costs_a_few_batched_reads_and_no_query(dynamo: DynamoTables) -> None:
    store = DynamoProspectStore(dynamo.prospects_table())
    store.save([ProspectChange(prospect(f"p-{n}", f"lead{n}@example.com")) for n in range(150)])
    counting = CountingClient(dynamo.client)

    found = DynamoProspectStore(dynamo.prospects_table(counting)).find_by_emails(
        [f"lead{n}@example.com" for n in range(300)]
    )

    assert len(found) == 150
    assert counting.calls == {"batch_get_item": 5}, "3 calls for the 300 index items, 2 for 150 prospects"


def test_an_email_change_moves_the_prospect_to_its_new_email(prospects: DynamoProspectStore) -> None:
    (before,) = created(prospects, prospect("p-1", "old@example.com"))

    prospects.save([ProspectChange(replace(before, fields={"email": "New@Example.com"}), before)])

    assert prospects.find_by_emails(["old@example.com"]) == {}
    assert [p.id for p in prospects.find_by_emails(["new@example.com"])["new@example.com"]] == ["p-1"]


def test_a_removed_email_or_crm_id_no_longer_finds_the_prospect(prospects: DynamoProspectStore) -> None:
    (before,) = created(prospects, prospect("p-1", "ann@example.com", crm_id="00Q1"))

    prospects.save([ProspectChange(replace(before, fields={}, crm_id="003C"), before)])

    assert prospects.find_by_emails(["ann@example.com"]) == {}
    assert prospects.find_by_crm_ids(["00Q1"]) == {}
    assert [p.id for p in prospects.find_by_crm_ids(["003C"])["003C"]] == ["p-1"]


def test_a_stale_write_is_refused_and_leaves_the_stored_prospect_as_it_was(
    prospects: DynamoProspectStore,
) -> None:
    (read_by_both,) = created(prospects, prospect("p-1", "ann@example.com"))
    first = ProspectChange(
        replace(read_by_both, fields={"email": "ann@example.com", "title": "CTO"}), read_by_both
    )
    stale = ProspectChange(replace(read_by_both, fields={"email": "other@example.com"}), read_by_both)

    assert prospects.save([first]) == []
    assert prospects.save([stale]) == [stale]

    stored = prospects.get_many(["p-1"])["p-1"]
    assert (stored.fields, stored.version) == ({"email": "ann@example.com", "title": "CTO"}, 2)
    assert prospects.find_by_emails(["other@example.com"]) == {}, "the refused email was not indexed"


def test_an_edit_that_moves_no_index_key_is_one_conditional_update_billed_once(
    dynamo: DynamoTables, prospects: DynamoProspectStore
) -> None:
    (read_by_both,) = created(prospects, prospect("p-1", "ann@example.com"))
    meter = CapacityMeter(dynamo.client)
    counting = CountingClient(meter)
    store = DynamoProspectStore(dynamo.prospects_table(counting))
    edit = ProspectChange(
        replace(read_by_both, fields={"email": "ann@example.com", "title": "CTO"}), read_by_both
    )
    stale = ProspectChange(
        replace(read_by_both, fields={"email": "ann@example.com", "title": "CEO"}), read_by_both
    )

    assert store.save([edit]) == []
    assert store.save([stale]) == [stale], "refused as the transaction refused it"

    assert counting.calls == {"update_item": 2}
    assert meter.units.writes == {"UpdateItem": 1, "UpdateItem (refused)": 1}
    assert prospects.get_many(["p-1"])["p-1"].fields == {"email": "ann@example.com", "title": "CTO"}


def test_a_new_prospect_whose_id_exists_is_refused(prospects: DynamoProspectStore) -> None:
    created(prospects, prospect("p-1", "ann@example.com"))
    duplicate = ProspectChange(prospect("p-1", "bob@example.com"))

    assert prospects.save([duplicate]) == [duplicate]

    assert prospects.get_many(["p-1"])["p-1"].email == "ann@example.com"
    assert prospects.find_by_emails(["bob@example.com"]) == {}


def test_two_new_prospects_with_one_email_in_one_save_both_land(prospects: DynamoProspectStore) -> None:
    first, second = prospect("p-1", "shared@example.com"), prospect("p-2", "Shared@Example.com")

    refused = prospects.save([ProspectChange(first), ProspectChange(second)])

    assert refused == []
    assert [p.id for p in prospects.find_by_emails(["shared@example.com"])["shared@example.com"]] == [
        "p-1",
        "p-2",
    ]


def test_index_items_are_no_prospects_and_carry_the_writer_the_stream_filter_drops(
    dynamo: DynamoTables,
) -> None:
    connector = DynamoProspectStore(dynamo.prospects_table(), writer="crmsync")
    created(connector, prospect("p-1", "ann@example.com", crm_id="00Q1"))

    for key in ("email#ann@example.com", "crm#00Q1"):
        item = dynamo.prospects_table().get({"prospect_id": key})
        assert item == {"prospect_id": key, "prospect_ids": {"p-1"}, "written_by": "crmsync"}
    assert not dynamo.client.describe_table(TableName=dynamo.prospects)["Table"].get("GlobalSecondaryIndexes")
    prospects = connector
    assert prospects.get_many(["email#ann@example.com", "crm#00Q1"]) == {}
    assert not is_prospect_key("email#ann@example.com") and is_prospect_key("p-1")
    with pytest.raises(ValueError, match="must not start with"):
        prospects.save([ProspectChange(Prospect(id="crm#00Q1"))])


def test_a_change_rewrites_what_changed_and_keeps_what_the_connector_does_not_know(
    dynamo: DynamoTables,
) -> None:
    marketing = DynamoProspectStore(dynamo.prospects_table())
    connector = DynamoProspectStore(dynamo.prospects_table(), writer="crmsync")
    (before,) = created(marketing, prospect("p-1", "ann@example.com", crm_id="00Q1"))
    dynamo.client.update_item(
        TableName=dynamo.prospects,
        Key={"prospect_id": {"S": "p-1"}},
        UpdateExpression="SET score_model = :model",
        ExpressionAttributeValues={":model": {"S": "v7"}},
    )

    connector.save(
        [
            ProspectChange(
                replace(before, fields={"email": "ann@example.com", "title": "CTO"}, crm_id=None), before
            )
        ]
    )

    item = dynamo.client.get_item(TableName=dynamo.prospects, Key={"prospect_id": {"S": "p-1"}})["Item"]
    assert item["fields"]["M"]["title"] == {"S": "CTO"}
    assert (item["version"], item["written_by"]) == ({"N": "2"}, {"S": "crmsync"})
    assert "crm_id" not in item, "a value cleared is removed"
    assert item["score_model"] == {"S": "v7"}, "an attribute the connector does not know stays"


# --------------------------------------------------------------------------- inbound's reconciliation


def test_the_connectors_saves_carry_over_the_version_the_marketing_side_saved_last(
    dynamo: DynamoTables,
) -> None:
    marketing = DynamoProspectStore(dynamo.prospects_table())
    connector = DynamoProspectStore(dynamo.prospects_table(), writer="crmsync")
    # GIVEN a prospect the connector created: the marketing side never saved it
    (made,) = created(connector, prospect("p-1", "ann@example.com"))
    assert (made.version, made.marketing_version) == (1, 0)

    # WHEN the marketing side saves it, then the connector twice
    assert marketing.save([ProspectChange(replace(made, fields={**made.fields, "score": 5}), made)]) == []
    (scored,) = marketing.get_many(["p-1"]).values()
    for title in ("CTO", "CEO"):
        (before,) = connector.get_many(["p-1"]).values()
        assert (
            connector.save(
                [ProspectChange(replace(before, fields={**before.fields, "title": title}), before)]
            )
            == []
        )

    # THEN the prospect is at version 4, and the marketing side's last save was version 2
    (now,) = connector.get_many(["p-1"]).values()
    assert (scored.marketing_version, now.version, now.marketing_version) == (2, 4, 2)


def test_a_prospect_the_connector_saved_before_it_kept_the_marketing_version_reads_as_unknown(
    dynamo: DynamoTables, prospects: DynamoProspectStore
) -> None:
    # A save of an earlier connector: written_by crmsync, no marketing_version. Its version is
    # the reading that misses no marketing change.
    dynamo.client.put_item(
        TableName=dynamo.prospects,
        Item={"prospect_id": {"S": "p-1"}, "version": {"N": "7"}, "written_by": {"S": "crmsync"}},
    )

    assert prospects.get_many(["p-1"])["p-1"].marketing_version == 7


def test_the_table_is_read_a_bounded_share_at_a_time_from_where_the_last_share_ended(
    dynamo: DynamoTables, prospects: DynamoProspectStore
) -> None:
    # GIVEN 5 prospects with an email and a CRM id each: 15 items with their index items
    created(prospects, *[prospect(f"p-{n}", f"p{n}@example.com", crm_id=f"00Q{n}") for n in range(5)])
    counting = CountingClient(dynamo.client)
    store = DynamoProspectStore(dynamo.prospects_table(counting))

    # WHEN it is read 4 items at a time until the end
    pages = [store.scan(None, 4)]
    while pages[-1].next_after is not None:
        pages.append(store.scan(pages[-1].next_after, 4))

    # THEN each share read at most 4 items, and together they read each prospect's versions once
    assert [page.read for page in pages] == [4, 4, 4, 3]
    read = sorted((v for page in pages for v in page.prospects), key=lambda v: v.prospect_id)
    assert read == [ProspectVersion(f"p-{n}", 1, 1) for n in range(5)]
    assert counting.calls["scan"] == 4


def test_an_item_that_is_no_prospects_shape_is_set_apart_from_its_share(
    dynamo: DynamoTables, prospects: DynamoProspectStore
) -> None:
    created(prospects, prospect("p-1"))
    dynamo.client.put_item(
        TableName=dynamo.prospects, Item={"prospect_id": {"S": "p-2"}, "version": {"S": "two"}}
    )

    page = prospects.scan(None, 10)

    assert ([v.prospect_id for v in page.prospects], page.unreadable, page.read) == (["p-1"], ["p-2"], 2)
