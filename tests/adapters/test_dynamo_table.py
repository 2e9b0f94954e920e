"""`DynamoTable.transact` on moto: units go in transactions in the order given, except that a
transaction that would carry one item is a plain conditional write, billed once."""

from __future__ import annotations

from crmsync.aws.dynamo_table import Expression, TransactionUnit

from tests.adapters.capacity import CapacityMeter
from tests.adapters.dynamo_doubles import CountingClient, DynamoTables

pytest_plugins = ["tests.adapters.conftest_dynamo"]

ABSENT = Expression("attribute_not_exists(pk)")
PRESENT = Expression("attribute_exists(pk)")


def test_a_transaction_of_one_item_is_a_plain_conditional_write_after_the_one_it_waits_for(
    dynamo: DynamoTables,
) -> None:
    meter = CapacityMeter(dynamo.client)
    counting = CountingClient(meter)
    table = dynamo.state_table(counting)
    both = TransactionUnit(
        "both",
        [table.put_write({"pk": "a", "sk": "1"}, ABSENT), table.put_write({"pk": "b", "sk": "1"}, ABSENT)],
    )
    # On a key of the transaction before it: it starts the next one, alone.
    then_a = TransactionUnit(
        "then a",
        [table.update_write({"pk": "a", "sk": "1"}, Expression("SET n = :n", values={":n": 1}), PRESENT)],
    )

    assert table.transact([both, then_a]) == []

    assert table.get({"pk": "a", "sk": "1"}) == {"pk": "a", "sk": "1", "n": 1}
    assert (counting.calls["transact_write_items"], counting.calls["update_item"]) == (1, 1)
    assert meter.units.writes == {"TransactWriteItems": 4, "UpdateItem": 1}


def test_a_refused_single_write_answers_as_a_refused_transaction_did(dynamo: DynamoTables) -> None:
    counting = CountingClient(dynamo.client)
    table = dynamo.state_table(counting)
    table.put({"pk": "taken", "sk": "1"})
    taken = TransactionUnit("taken", [table.put_write({"pk": "taken", "sk": "1", "n": 2}, ABSENT)])

    assert table.transact([taken]) == ["taken"]

    assert table.get({"pk": "taken", "sk": "1"}) == {"pk": "taken", "sk": "1"}
    assert counting.calls["transact_write_items"] == 0


def test_independent_single_items_still_share_a_transaction(dynamo: DynamoTables) -> None:
    """A call costs about a millisecond of CPU: a write apiece would multiply a run's CPU."""
    counting = CountingClient(dynamo.client)
    table = dynamo.state_table(counting)
    units = [TransactionUnit(n, [table.put_write({"pk": "p", "sk": str(n)}, ABSENT)]) for n in range(150)]

    assert table.transact(units) == []

    assert (counting.calls["transact_write_items"], counting.calls["put_item"]) == (2, 0)


def test_refused_changes_come_back_in_the_order_given(dynamo: DynamoTables) -> None:
    table = dynamo.state_table()
    table.put({"pk": "taken", "sk": "1"})
    table.put({"pk": "taken", "sk": "2"})
    units = [
        TransactionUnit(
            "first",
            [
                table.put_write({"pk": "taken", "sk": "1"}, ABSENT),
                table.put_write({"pk": "new", "sk": "1"}, ABSENT),
            ],
        ),
        TransactionUnit("second", [table.put_write({"pk": "taken", "sk": "2"}, ABSENT)]),
        TransactionUnit("third", [table.put_write({"pk": "new", "sk": "3"}, ABSENT)]),
    ]

    assert table.transact(units) == ["first", "second"]
    assert table.get({"pk": "new", "sk": "1"}) is None, "a refused unit writes none of its items"
    assert table.get({"pk": "new", "sk": "3"}) is not None
