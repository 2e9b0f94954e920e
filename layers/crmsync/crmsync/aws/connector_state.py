"""`StateStore` on the state table: whether the connector is paused, and the configuration
version in force.

Access pattern (table keys `pk`, `sk`):
- connector: `pk="connector"`, `sk="state"` → `paused`, `config_version` (set by the
  configuration store's save, `config_store.py`). One consistent `GetItem` per read. A connector
  with no item, or none with `paused`, has never been started, and reads as paused: a newly
  deployed connector waits to be resumed.
"""

from __future__ import annotations

from crmsync.aws.dynamo_table import DynamoTable, Expression
from crmsync.ports import ConnectorState

CONNECTOR_KEY = {"pk": "connector", "sk": "state"}


class DynamoConnectorState:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def connector_state(self) -> ConnectorState:
        item = self._table.get(CONNECTOR_KEY)
        if item is None:
            return ConnectorState(paused=True)
        version = item.get("config_version")
        return ConnectorState(
            paused=bool(item.get("paused", True)), config_version=int(version) if version else None
        )

    def set_paused(self, paused: bool) -> None:
        self._table.update(CONNECTOR_KEY, Expression("SET paused = :paused", values={":paused": paused}))
