"""`UserDirectory` on the state table: the Salesforce users as outbound last synced them.

Access pattern (table keys `pk`, `sk`):
- user: `pk="users"`, `sk=<user id>` → `email`, `name`, `active`. Saved with `BatchWriteItem`
  (whole items, one per user), read with one consistent query.
"""

from __future__ import annotations

from collections.abc import Sequence

from crmsync.aws.dynamo_table import DynamoTable, key_equals
from crmsync.ports import SalesforceUser

PARTITION = "users"


class DynamoUserDirectory:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def save_users(self, users: Sequence[SalesforceUser]) -> None:
        latest = {user.id: user for user in users}  # one write per user, the last one given
        self._table.write_many(
            puts=[
                {
                    "pk": PARTITION,
                    "sk": user.id,
                    "email": user.email,
                    "name": user.name,
                    "active": user.active,
                }
                for user in latest.values()
            ]
        )

    def users(self) -> dict[str, SalesforceUser]:
        return {
            item["sk"]: SalesforceUser(
                id=item["sk"],
                email=item.get("email"),
                name=item.get("name", ""),
                active=bool(item.get("active", True)),
            )
            for item in self._table.query(key_equals("pk", PARTITION), consistent=True)
        }
