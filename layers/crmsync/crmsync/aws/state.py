"""The connector's state in the state table.

Access patterns (table keys `pk`, `sk`):
- connector state: `pk="connector"`, `sk="state"` → `paused`, `config_version`. A connector with
  no state item has never been started, and a newly deployed connector is paused.
"""

from __future__ import annotations

from typing import Any

from crmsync.ports import ConnectorState

_STATE_KEY = {"pk": "connector", "sk": "state"}


class DynamoStateStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def connector_state(self) -> ConnectorState:
        item = self._table.get_item(Key=_STATE_KEY, ConsistentRead=True).get("Item")
        if item is None:
            return ConnectorState(paused=True)
        version = item.get("config_version")
        return ConnectorState(
            paused=bool(item.get("paused", True)), config_version=int(version) if version else None
        )

    def set_paused(self, paused: bool) -> None:
        self._table.update_item(
            Key=_STATE_KEY,
            UpdateExpression="SET paused = :paused",
            ExpressionAttributeValues={":paused": paused},
        )
