"""The bench's DynamoDB meter (`local.bench.capacity`): request units counted per call as
on-demand DynamoDB bills them, on hand-made requests and item images (no moto, no socket)."""

from __future__ import annotations

from typing import Any

import pytest

from local.bench.capacity import (
    CONDITION_FAILED,
    TRANSACTION_CANCELLED,
    Call,
    Charge,
    Item,
    TableShape,
    Tally,
    charges,
    item_size,
    key_text,
)

PEOPLE = TableShape.from_description(
    {
        "TableName": "crmsync-local-ProspectsTable",
        "KeySchema": [{"AttributeName": "prospect_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_email",
                "KeySchema": [{"AttributeName": "email_key", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }
)
STATE = TableShape.from_description(
    {
        "TableName": "crmsync-local-StateTable",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    }
)
SHAPES = {PEOPLE.name: PEOPLE, STATE.name: STATE}


def person(prospect_id: str, size: int, email: str | None = None) -> dict[str, Any]:
    """A prospect item of exactly `size` bytes as DynamoDB counts them."""
    item: dict[str, Any] = {"prospect_id": {"S": prospect_id}}
    if email is not None:
        item["email_key"] = {"S": email}
    item["pad"] = {"S": "x" * (size - item_size(item) - len("pad"))}
    assert item_size(item) == size
    return item


def state(pk: str, sk: str, size: int) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}}
    item["pad"] = {"S": "x" * (size - item_size(item) - len("pad"))}
    return item


def key(item: Item, shape: TableShape = PEOPLE) -> tuple[str, str]:
    return (shape.name, key_text(shape.key_of(item)))


def units(billed: list[Charge]) -> tuple[float, float]:
    return sum(c.read_units for c in billed), sum(c.write_units for c in billed)


def test_an_item_is_the_sum_of_its_names_and_values_as_dynamodb_sizes_them() -> None:
    item = {
        "pk": {"S": "abc"},  # 2 + 3
        "n": {"N": "12345"},  # 1 + 3 (one byte per two significant digits) + 1
        "flag": {"BOOL": True},  # 4 + 1
        "m": {"M": {"a": {"S": "xy"}}},  # 1 + 3 + (1 + 2 + 1 per element)
        "l": {"L": [{"N": "1"}, {"NULL": True}]},  # 1 + 3 + (2 + 1) + (1 + 1)
        "é": {"SS": ["ab", "c"]},  # 2 (UTF-8) + 3
    }
    assert item_size(item) == 5 + 5 + 5 + 8 + 9 + 5
    assert item_size({"z": {"N": "0.0100"}}) == 1 + 2  # zeros trimmed: one significant digit


def test_a_new_item_costs_a_unit_per_kilobyte_and_the_index_it_enters_its_own() -> None:
    new = person("p-1", 1500, email="ada@example.com")
    request = {"TableName": PEOPLE.name, "Item": new}

    billed = charges(Call("PutItem", request, before={key(new): None}, after={key(new): new}), SHAPES)

    assert units(billed) == (0, 2 + 1)
    assert {(c.index, c.write_units) for c in billed} == {(None, 2), ("by_email", 1)}
    assert {c.kind for c in billed} == {"prospect"}


def test_an_update_costs_the_larger_item_and_an_index_only_where_its_entry_changes() -> None:
    before = person("p-1", 900, email="ada@example.com")
    after = person("p-1", 1100, email="ada@example.com")
    request = {"TableName": PEOPLE.name, "Key": PEOPLE.key_of(before), "UpdateExpression": "SET pad = :p"}

    same_email = charges(
        Call("UpdateItem", request, before={key(before): before}, after={key(before): after}), SHAPES
    )
    moved = person("p-1", 1100, email="ada@elsewhere.example")
    new_email = charges(
        Call("UpdateItem", request, before={key(before): before}, after={key(before): moved}), SHAPES
    )

    assert units(same_email) == (0, 2)  # KEYS_ONLY: the entry is the same
    assert units(new_email) == (0, 2 + 1 + 1)  # the old entry deleted, the new one put


def test_deleting_an_item_that_is_not_there_still_costs_a_unit() -> None:
    request = {"TableName": STATE.name, "Key": {"pk": {"S": "error#inbound"}, "sk": {"S": "Lead#00Q1"}}}
    where = (STATE.name, key_text(request["Key"]))

    billed = charges(Call("DeleteItem", request, before={where: None}, after={where: None}), SHAPES)

    assert units(billed) == (0, 1)
    assert billed[0].kind == "error#"


def test_a_write_whose_condition_fails_costs_the_item_it_met_or_one_unit_and_writes_no_index() -> None:
    existing = person("p-1", 2500, email="ada@example.com")
    put = {"TableName": PEOPLE.name, "Item": person("p-1", 700, email="ada@example.com")}
    new = person("p-2", 700, email="bob@example.com")

    met_an_item = charges(
        Call(
            "PutItem",
            put,
            error=CONDITION_FAILED,
            before={key(existing): existing},
            after={key(existing): existing},
        ),
        SHAPES,
    )
    met_none = charges(
        Call(
            "PutItem",
            {"TableName": PEOPLE.name, "Item": new},
            error=CONDITION_FAILED,
            before={key(new): None},
            after={key(new): None},
        ),
        SHAPES,
    )

    assert units(met_an_item) == (0, 3)
    assert units(met_none) == (0, 1)
    assert all(c.index is None for c in met_an_item + met_none)


def test_a_transaction_costs_twice_each_item_and_a_cancelled_one_as_much_without_its_indexes() -> None:
    link = person("p-1", 300, email="ada@example.com")
    before_run, after_run = state("run#outbound", "1", 1200), state("run#outbound", "1", 1300)
    checked = state("connector", "state", 100)
    request = {
        "TransactItems": [
            {
                "Put": {
                    "TableName": PEOPLE.name,
                    "Item": link,
                    "ConditionExpression": "attribute_not_exists(prospect_id)",
                }
            },
            {
                "Update": {
                    "TableName": STATE.name,
                    "Key": STATE.key_of(before_run),
                    "UpdateExpression": "SET pad = :p",
                }
            },
            {
                "ConditionCheck": {
                    "TableName": STATE.name,
                    "Key": STATE.key_of(checked),
                    "ConditionExpression": "x",
                }
            },
        ]
    }
    before = {key(link): None, key(before_run, STATE): before_run, key(checked, STATE): checked}
    after = {key(link): link, key(before_run, STATE): after_run, key(checked, STATE): checked}

    committed = charges(Call("TransactWriteItems", request, before=before, after=after), SHAPES)
    cancelled = charges(
        Call("TransactWriteItems", request, error=TRANSACTION_CANCELLED, before=before, after=before), SHAPES
    )

    # 2 x (1 + 2 + 1) on the tables; the new link's index entry once (1).
    assert units(committed) == (0, 2 * (1 + 2 + 1) + 1)
    assert all(c.transactional for c in committed if c.index is None)
    assert units(cancelled) == (0, 2 * (1 + 2 + 1))
    assert all(c.index is None for c in cancelled)


def test_a_call_refused_for_another_reason_costs_nothing() -> None:
    item = person("p-1", 300)
    call = Call("PutItem", {"TableName": PEOPLE.name, "Item": item}, error="ValidationException")

    assert charges(call, SHAPES) == []


def test_reads_cost_a_unit_per_4_kilobytes_half_when_eventually_consistent() -> None:
    big = person("p-1", 5000)
    absent = {"prospect_id": {"S": "p-none"}}
    eventually = {"TableName": PEOPLE.name, "Key": PEOPLE.key_of(big)}

    assert units(charges(Call("GetItem", eventually, before={key(big): big}), SHAPES)) == (1.0, 0)
    assert units(
        charges(Call("GetItem", {**eventually, "ConsistentRead": True}, before={key(big): big}), SHAPES)
    ) == (
        2.0,
        0,
    )
    missing = {"TableName": PEOPLE.name, "Key": absent, "ConsistentRead": True}
    assert units(charges(Call("GetItem", missing, before={key(absent): None}), SHAPES)) == (1.0, 0)


def test_a_batch_bills_each_item_alone_and_nothing_for_what_it_left_unprocessed() -> None:
    small, large = person("p-1", 1536), person("p-2", 6656)
    request = {
        "RequestItems": {
            PEOPLE.name: {"Keys": [PEOPLE.key_of(small), PEOPLE.key_of(large)], "ConsistentRead": True}
        }
    }
    read = charges(Call("BatchGetItem", request, before={key(small): small, key(large): large}), SHAPES)
    assert units(read) == (1 + 2, 0)  # 4 KB + 8 KB, not 8 KB together

    writes = {
        "RequestItems": {PEOPLE.name: [{"PutRequest": {"Item": small}}, {"PutRequest": {"Item": large}}]}
    }
    left = {"UnprocessedItems": {PEOPLE.name: [{"PutRequest": {"Item": large}}]}}
    written = charges(
        Call("BatchWriteItem", writes, left, before={key(small): None}, after={key(small): small}), SHAPES
    )
    assert units(written) == (0, 2)


@pytest.mark.parametrize(("consistent", "expected"), [(True, 3.0), (False, 1.5)])
def test_a_query_bills_the_total_size_of_what_it_evaluated_per_call(
    consistent: bool, expected: float
) -> None:
    evaluated = [state("audit#p-1", str(n), 2048) for n in range(5)]  # 10 KB → 12 KB
    request = {
        "TableName": STATE.name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "audit#p-1"}},
        "ConsistentRead": consistent,
    }

    billed = charges(Call("Query", request, evaluated=evaluated), SHAPES)

    assert units(billed) == (expected, 0)
    assert billed[0].kind == "audit#"


def test_an_index_query_bills_the_index_entries_eventually_consistent() -> None:
    evaluated = [person(f"p-{n}", 3000, email="shared@example.com") for n in range(3)]
    request = {"TableName": PEOPLE.name, "IndexName": "by_email", "KeyConditionExpression": "email_key = :e"}

    billed = charges(Call("Query", request, evaluated=evaluated), SHAPES)

    # KEYS_ONLY entries are a few dozen bytes each: one 4 KB unit, halved.
    assert units(billed) == (0.5, 0)
    assert billed[0].index == "by_email"


def test_a_tally_sums_units_by_table_and_kind_and_names_the_largest_writers_first() -> None:
    tally = Tally()
    tally.add([Charge("t-StateTable", "audit#", write_units=4, transactional=True)])
    tally.add(
        [Charge("t-StateTable", "audit#", write_units=2), Charge("t-LinksTable", "prospect#", write_units=3)]
    )
    tally.count("sqs.SendMessage")

    again = Tally.from_json(tally.as_json())

    assert again.write_units == 9
    assert again.transactional_write_units == 4
    assert again.writers(lambda table, kind, index: f"{table} {kind}") == [
        ("t-StateTable audit#", 6),
        ("t-LinksTable prospect#", 3),
    ]
    assert again.requests == {"sqs.SendMessage": 1}
