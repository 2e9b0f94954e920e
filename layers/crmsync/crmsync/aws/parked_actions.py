"""`ParkedActions` on the state table: automation actions kept while the connector cannot carry
them out (paused, over its API budget).

Leaving them on the queue would not do: every receive counts towards the redrive policy, and
after five the actions would land in the dead-letter queue while nothing was wrong with them.

Access pattern (table keys `pk`, `sk`):
- parked action: `pk="parked_action"`, `sk="<ISO sent_at>#<SQS message id>"` → `message_id`,
  `body` (the message as received), `sent_at`. No TTL: a parked action stays until it is
  carried out. A redelivered message has its id and send time, so parking it again writes the
  same item. One consistent query, oldest first, reads them back; a `COUNT` query counts them
  for the status and the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from crmsync.aws.dynamo_table import DynamoTable, key_equals
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.ports import ParkedAction

PARTITION = "parked_action"


class DynamoParkedActions:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def park(self, actions: Sequence[ParkedAction]) -> None:
        # One item per message: a batch write refuses two puts of one key.
        unique = {_key(action)["sk"]: action for action in actions}
        self._table.write_many(
            puts=[
                {
                    **_key(action),
                    "message_id": action.message_id,
                    "body": action.body,
                    "sent_at": iso(action.sent_at),
                }
                for action in unique.values()
            ]
        )

    def waiting(self, limit: int) -> list[ParkedAction]:
        items = self._table.query(key_equals("pk", PARTITION), consistent=True, limit=limit)
        return [
            ParkedAction(message_id=item["message_id"], body=item["body"], sent_at=parse_iso(item["sent_at"]))
            for item in items
        ]

    def count(self, at_most: int) -> int:
        return self._table.count(key_equals("pk", PARTITION), at_most=at_most)

    def remove(self, actions: Sequence[ParkedAction]) -> None:
        self._table.write_many(deletes=[_key(action) for action in actions])


def _key(action: ParkedAction) -> dict[str, str]:
    return {"pk": PARTITION, "sk": f"{iso(action.sent_at)}#{action.message_id}"}
