"""The link store on moto: 1:1 between prospects and CRM records holds whatever the callers do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.dynamo_values import iso
from crmsync.aws.links import DynamoLinkStore
from crmsync.aws.tables import LINKS_KEY
from crmsync.domain.errors import StoreError
from crmsync.domain.lifecycle import (
    CrmRef,
    Link,
    LinkChange,
    LinkOrigin,
    LinkStatus,
    StoredLink,
    relink_deleted,
)
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot, Snapshot

from tests.adapters.capacity import CapacityMeter
from tests.adapters.dynamo_doubles import (
    CountingClient,
    DynamoTables,
    PushingBackClient,
    nothing_processed,
    transaction_cancelled_by,
)

pytest_plugins = ["tests.adapters.conftest_dynamo"]

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EMAIL_PAIR = "Email=email"


def lead(crm_id: str) -> CrmRef:
    return CrmRef(CrmObject.LEAD, crm_id)


def contact(crm_id: str) -> CrmRef:
    return CrmRef(CrmObject.CONTACT, crm_id)


def new_link(prospect_id: str, crm: CrmRef, snapshot: Snapshot | None = None) -> LinkChange:
    return LinkChange(after=Link(prospect_id, crm), snapshot=snapshot or {})


def store_of(dynamo: DynamoTables, client: object = None) -> DynamoLinkStore:
    return DynamoLinkStore(dynamo.links_table(client), now=lambda: NOW)


@pytest.fixture
def links(dynamo: DynamoTables) -> DynamoLinkStore:
    return store_of(dynamo)


def stored(links: DynamoLinkStore, prospect_id: str) -> StoredLink:
    return links.by_prospect_ids([prospect_id])[prospect_id]


# --------------------------------------------------------------------------- creating links


def test_a_new_link_is_found_by_its_prospect_and_by_its_record(links: DynamoLinkStore) -> None:
    snapshot = {EMAIL_PAIR: FieldSnapshot("ann@example.com", "ann@example.com")}

    refused = links.save([new_link("p-1", lead("00Q1"), snapshot)])

    assert refused == []
    expected = StoredLink(Link("p-1", lead("00Q1"), LinkStatus.ACTIVE), snapshot, version=1)
    assert links.by_prospect_ids(["p-1"]) == {"p-1": expected}
    assert links.by_crm_ids(["00Q1"]) == {"00Q1": expected}


def test_records_and_prospects_without_a_link_are_left_out(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1"))])

    assert links.by_crm_ids(["00Q1", "00Q-unknown"]).keys() == {"00Q1"}
    assert links.by_prospect_ids(["p-1", "p-unknown"]).keys() == {"p-1"}
    assert links.by_crm_ids([]) == {} and links.by_prospect_ids([]) == {}


def test_a_second_link_to_the_same_record_is_refused_and_nothing_of_it_is_written(
    links: DynamoLinkStore,
) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    second = new_link("p-2", lead("00Q1"))

    refused = links.save([second])

    assert refused == [second] and refused[0] is second
    assert links.by_prospect_ids(["p-2"]) == {}
    assert links.by_crm_ids(["00Q1"])["00Q1"].link.prospect_id == "p-1"


def test_a_second_link_for_the_same_prospect_is_refused_and_its_record_stays_free(
    links: DynamoLinkStore,
) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    second = new_link("p-1", lead("00Q2"))

    refused = links.save([second])

    assert refused == [second]
    assert links.by_crm_ids(["00Q2"]) == {}
    assert stored(links, "p-1").link.crm == lead("00Q1")


def test_a_refused_change_does_not_hold_back_the_others_of_its_save(links: DynamoLinkStore) -> None:
    links.save([new_link("p-9", lead("00Q9"))])
    first, taken, third = (
        new_link("p-1", lead("00Q1")),
        new_link("p-2", lead("00Q9")),
        new_link("p-3", lead("00Q3")),
    )

    refused = links.save([first, taken, third])

    assert refused == [taken]
    found = links.by_crm_ids(["00Q1", "00Q3", "00Q9"])
    assert {crm_id: s.link.prospect_id for crm_id, s in found.items()} == {
        "00Q1": "p-1",
        "00Q3": "p-3",
        "00Q9": "p-9",
    }


def test_two_new_links_to_one_record_in_one_save_link_the_first_only(links: DynamoLinkStore) -> None:
    first, second = new_link("p-1", lead("00Q1")), new_link("p-2", lead("00Q1"))

    refused = links.save([first, second])

    assert refused == [second]
    assert links.by_crm_ids(["00Q1"])["00Q1"].link.prospect_id == "p-1"
    assert links.by_prospect_ids(["p-2"]) == {}


# --------------------------------------------------------------------------- changing links


def test_a_move_frees_the_old_record_and_claims_the_new_one(links: DynamoLinkStore) -> None:
    snapshot = {EMAIL_PAIR: FieldSnapshot("ann@example.com", "ann@example.com")}
    links.save([new_link("p-1", lead("00Q1"), snapshot)])
    before = stored(links, "p-1")

    refused = links.save([LinkChange(Link("p-1", contact("003C")), before.snapshot, before)])

    assert refused == []
    assert links.by_crm_ids(["00Q1", "003C"]) == {
        "003C": StoredLink(Link("p-1", contact("003C")), snapshot, version=2)
    }
    assert links.save([new_link("p-2", lead("00Q1"))]) == [], "the freed Lead can be linked again"


def test_a_move_onto_a_record_already_linked_changes_nothing(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1")), new_link("p-2", contact("003C"))])
    before = stored(links, "p-1")
    move = LinkChange(Link("p-1", contact("003C")), before.snapshot, before)

    refused = links.save([move])

    assert refused == [move]
    assert stored(links, "p-1") == before
    found = links.by_crm_ids(["00Q1", "003C"])
    assert {crm_id: s.link.prospect_id for crm_id, s in found.items()} == {"00Q1": "p-1", "003C": "p-2"}


def test_a_change_read_before_another_was_saved_is_refused(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    read_by_both = stored(links, "p-1")
    deleted = LinkChange(
        Link("p-1", lead("00Q1"), LinkStatus.CRM_DELETED), read_by_both.snapshot, read_by_both
    )
    stale = LinkChange(
        Link("p-1", lead("00Q1"), LinkStatus.OUT_OF_SCOPE), read_by_both.snapshot, read_by_both
    )

    assert links.save([deleted]) == []
    assert links.save([stale]) == [stale]

    now = stored(links, "p-1")
    assert (now.link.status, now.version) == (LinkStatus.CRM_DELETED, 2)


def test_a_change_of_the_link_alone_is_one_conditional_update_and_a_new_link_one_transaction(
    dynamo: DynamoTables,
) -> None:
    """A snapshot or status change writes one item: a plain conditional write, billed once, and
    refused as a transaction refused it. A new link and its claim stay one transaction."""
    meter = CapacityMeter(dynamo.client)
    counting = CountingClient(meter)
    links = store_of(dynamo, counting)
    links.save([new_link("p-1", lead("00Q1"))])
    read_by_both = stored(store_of(dynamo), "p-1")
    synced = LinkChange(
        Link("p-1", lead("00Q1")), {EMAIL_PAIR: FieldSnapshot("a@b.c", "a@b.c")}, read_by_both
    )
    stale = LinkChange(
        Link("p-1", lead("00Q1"), LinkStatus.OUT_OF_SCOPE), read_by_both.snapshot, read_by_both
    )

    assert links.save([synced]) == []
    assert links.save([stale]) == [stale]

    assert counting.calls == {"transact_write_items": 1, "update_item": 2}
    assert meter.units.writes == {
        "TransactWriteItems": 4,  # the link and its claim, twice over
        "TransactWriteItems (index)": 1,  # the operators' index by CRM id lists the new link
        "UpdateItem": 1,
        "UpdateItem (refused)": 1,
    }
    assert stored(store_of(dynamo), "p-1").snapshot == synced.snapshot


def test_a_stale_move_is_refused_and_leaves_both_records_as_they_were(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    stale = stored(links, "p-1")
    links.save([LinkChange(Link("p-1", lead("00Q1"), LinkStatus.OUT_OF_SCOPE), {}, stale)])
    move = LinkChange(Link("p-1", contact("003C")), {}, stale)

    assert links.save([move]) == [move]

    assert links.by_crm_ids(["003C"]) == {}
    assert links.by_crm_ids(["00Q1"])["00Q1"].link.status is LinkStatus.OUT_OF_SCOPE


def test_a_status_change_keeps_the_record_claimed(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    before = stored(links, "p-1")

    links.save([LinkChange(Link("p-1", lead("00Q1"), LinkStatus.CRM_DELETED), before.snapshot, before)])

    assert links.by_crm_ids(["00Q1"])["00Q1"].link.status is LinkStatus.CRM_DELETED
    assert links.save([new_link("p-2", lead("00Q1"))]) != [], (
        "a deleted record may come back: it stays claimed"
    )


def deleted_in_salesforce(links: DynamoLinkStore, prospect_id: str, crm: CrmRef) -> StoredLink:
    snapshot = {EMAIL_PAIR: FieldSnapshot("ann@example.com", "ann@example.com")}
    links.save([new_link(prospect_id, crm, snapshot)])
    before = stored(links, prospect_id)
    links.save([LinkChange(Link(prospect_id, crm, LinkStatus.CRM_DELETED), before.snapshot, before)])
    return stored(links, prospect_id)


def test_a_deleted_record_replaced_by_another_stays_the_prospects_as_history(
    dynamo: DynamoTables, links: DynamoLinkStore
) -> None:
    deleted = deleted_in_salesforce(links, "p-1", lead("00Q1"))

    refused = links.save([relink_deleted(deleted, lead("00Q2"), {})])

    assert refused == []
    current = StoredLink(Link("p-1", lead("00Q2"), LinkStatus.ACTIVE, LinkOrigin.MARKETING), {}, version=3)
    assert links.by_prospect_ids(["p-1"]) == {"p-1": current}
    history = StoredLink(Link("p-1", lead("00Q1"), LinkStatus.REPLACED), deleted.snapshot, version=1)
    assert links.by_crm_ids(["00Q1", "00Q2"]) == {"00Q1": history, "00Q2": current}
    # AND the old record stays claimed: no other prospect can be linked to it
    assert links.save([new_link("p-2", lead("00Q1"))]) != []
    # AND the history is no link for the operators' index, and says what replaced it
    item = dynamo.client.get_item(TableName=dynamo.links, Key={"pk": {"S": "history#p-1#00Q1"}})["Item"]
    assert "crm_id" not in item
    assert (item["replaced_by_crm_id"]["S"], item["replaced_at"]["S"]) == ("00Q2", iso(NOW))


def test_history_is_never_changed(links: DynamoLinkStore) -> None:
    links.save([relink_deleted(deleted_in_salesforce(links, "p-1", lead("00Q1")), lead("00Q2"), {})])
    history = links.by_crm_ids(["00Q1"])["00Q1"]

    with pytest.raises(ValueError, match="never changed"):
        links.save([LinkChange(Link("p-1", lead("00Q1")), {}, history)])


def test_a_prospect_can_move_back_to_a_record_it_was_linked_to_before_a_deletion(
    links: DynamoLinkStore,
) -> None:
    links.save([relink_deleted(deleted_in_salesforce(links, "p-1", lead("00Q1")), lead("00Q2"), {})])
    current = stored(links, "p-1")

    # Salesforce merged the new Lead into the restored old one: the link moves back there
    refused = links.save([LinkChange(Link("p-1", lead("00Q1")), current.snapshot, current)])

    assert refused == []
    assert {crm_id: s.link.status for crm_id, s in links.by_crm_ids(["00Q1", "00Q2"]).items()} == {
        "00Q1": LinkStatus.ACTIVE
    }


def test_a_change_cannot_hand_a_link_to_another_prospect(links: DynamoLinkStore) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    before = stored(links, "p-1")

    with pytest.raises(ValueError, match="belongs to its prospect"):
        links.save([LinkChange(Link("p-2", lead("00Q1")), {}, before)])


# --------------------------------------------------------------------------- values and volume


def test_snapshots_keep_every_kind_of_value(links: DynamoLinkStore) -> None:
    snapshot = {
        "Email=email": FieldSnapshot("ann@example.com", "Ann@Example.com"),
        "NumberOfEmployees=employees": FieldSnapshot(250, 0),
        "AnnualRevenue=revenue": FieldSnapshot(1234.5, 0.1),
        "HasOptedOutOfEmail=opted_out": FieldSnapshot(True, False),
        "Phone=phone": FieldSnapshot(None, ""),
    }

    links.save([new_link("p-1", lead("00Q1"), snapshot)])

    read = stored(links, "p-1").snapshot
    assert read == snapshot
    kinds = {pair: (type(values.salesforce), type(values.marketing)) for pair, values in read.items()}
    assert kinds == {
        "Email=email": (str, str),
        "NumberOfEmployees=employees": (int, int),
        "AnnualRevenue=revenue": (float, float),
        "HasOptedOutOfEmail=opted_out": (bool, bool),
        "Phone=phone": (type(None), str),
    }


def test_250_links_are_read_back_by_record_id_in_batches(dynamo: DynamoTables) -> None:
    store_of(dynamo).save([new_link(f"p-{n}", lead(f"00Q{n:04d}")) for n in range(250)])
    counting = CountingClient(dynamo.client)

    found = store_of(dynamo, counting).by_crm_ids([f"00Q{n:04d}" for n in range(255)])

    assert len(found) == 250
    assert all(found[f"00Q{n:04d}"].link.prospect_id == f"p-{n}" for n in range(250))
    assert counting.calls == {"batch_get_item": 6}, "3 calls for the claims, 3 for their links"


def test_a_record_is_never_claimed_by_the_operators_index(
    dynamo: DynamoTables, links: DynamoLinkStore
) -> None:
    links.save([new_link("p-1", lead("00Q1"))])

    listed = dynamo.client.query(
        TableName=dynamo.links,
        IndexName="by_crm_id",
        KeyConditionExpression="crm_id = :id",
        ExpressionAttributeValues={":id": {"S": "00Q1"}},
    )["Items"]

    assert [item["pk"]["S"] for item in listed] == ["prospect#p-1"]


def test_a_stored_link_to_a_business_account_is_refused_on_reading(
    dynamo: DynamoTables, links: DynamoLinkStore
) -> None:
    links.save([new_link("p-1", lead("00Q1"))])
    dynamo.client.update_item(
        TableName=dynamo.links,
        Key={"pk": {"S": "prospect#p-1"}},
        UpdateExpression="SET crm_type = :account",
        ExpressionAttributeValues={":account": {"S": "Account"}},
    )

    with pytest.raises(ValueError, match="never linked to Account 00Q1"):
        links.by_prospect_ids(["p-1"])


# --------------------------------------------------------------------------- DynamoDB pushing back


def test_keys_dynamodb_leaves_unread_are_asked_again(dynamo: DynamoTables) -> None:
    store_of(dynamo).save([new_link("p-1", lead("00Q1"))])
    waits: list[float] = []
    throttled = PushingBackClient(dynamo.client, "batch_get_item", times=2, answer=nothing_processed)
    links = DynamoLinkStore(DynamoTable(throttled, dynamo.links, LINKS_KEY, sleep=waits.append))

    found = links.by_crm_ids(["00Q1"])

    assert found["00Q1"].link.prospect_id == "p-1"
    assert len(waits) == 2 and waits[0] < waits[1]


def test_a_transaction_that_met_another_is_tried_again(dynamo: DynamoTables) -> None:
    waits: list[float] = []
    conflicted = PushingBackClient(
        dynamo.client, "transact_write_items", times=2, answer=transaction_cancelled_by("TransactionConflict")
    )
    links = DynamoLinkStore(DynamoTable(conflicted, dynamo.links, LINKS_KEY, sleep=waits.append))

    refused = links.save([new_link("p-1", lead("00Q1"))])

    assert refused == [] and len(waits) == 2
    assert store_of(dynamo).by_crm_ids(["00Q1"])["00Q1"].link.prospect_id == "p-1"


def test_a_table_that_keeps_pushing_back_fails_the_call_as_retryable_and_writes_nothing(
    dynamo: DynamoTables,
) -> None:
    conflicted = PushingBackClient(
        dynamo.client,
        "transact_write_items",
        times=100,
        answer=transaction_cancelled_by("TransactionConflict"),
    )
    links = store_of(dynamo, conflicted)

    with pytest.raises(StoreError) as raised:
        links.save([new_link("p-1", lead("00Q1"))])

    assert raised.value.retryable
    assert store_of(dynamo).by_prospect_ids(["p-1"]) == {}


def test_a_transaction_cancelled_for_an_unexpected_reason_fails_the_call_for_good(
    dynamo: DynamoTables,
) -> None:
    invalid = PushingBackClient(
        dynamo.client, "transact_write_items", times=1, answer=transaction_cancelled_by("ValidationError")
    )
    links = store_of(dynamo, invalid)

    with pytest.raises(StoreError, match="ValidationError") as raised:
        links.save([new_link("p-1", lead("00Q1"))])

    assert not raised.value.retryable


def test_a_link_keeps_the_prospect_version_it_last_synced_until_a_change_gives_another(
    links: DynamoLinkStore, dynamo: DynamoTables
) -> None:
    # GIVEN a link made with version 3 of its prospect
    links.save([LinkChange(Link("p-1", lead("00Q1")), {}, synced_version=3)])
    made = stored(links, "p-1")

    # WHEN a change without a synced version (a status), then one with (a sync), are saved
    links.save([LinkChange(Link("p-1", lead("00Q1"), LinkStatus.OUT_OF_SCOPE), {}, made)])
    moved_on = stored(links, "p-1")
    synced = {EMAIL_PAIR: FieldSnapshot("a@x.com", "a@x.com")}
    links.save([LinkChange(moved_on.link, synced, moved_on, synced_version=5)])

    # THEN the first kept 3, the second recorded 5
    assert (made.synced_version, moved_on.synced_version, stored(links, "p-1").synced_version) == (3, 3, 5)

    # AND a link saved before synced versions were kept reads as 0: not known to be in step
    dynamo.client.update_item(
        TableName=dynamo.links, Key={"pk": {"S": "prospect#p-1"}}, UpdateExpression="REMOVE synced_version"
    )
    assert stored(links, "p-1").synced_version == 0


def test_the_synced_versions_of_active_links_are_read_without_their_snapshots(
    links: DynamoLinkStore, dynamo: DynamoTables
) -> None:
    links.save([LinkChange(Link(f"p-{n}", lead(f"00Q{n}")), {}, synced_version=n) for n in range(3)])
    deleted = stored(links, "p-2")
    links.save([LinkChange(Link("p-2", lead("00Q2"), LinkStatus.CRM_DELETED), {}, deleted)])
    counting = CountingClient(dynamo.client)

    versions = store_of(dynamo, counting).synced_versions(["p-0", "p-1", "p-2", "p-none"])

    assert versions == {"p-0": 0, "p-1": 1}
    assert counting.calls["batch_get_item"] == 1
