"""`ConfigStore` on the state table: the configuration document in force, and every version
ever loaded.

Access patterns (table keys `pk`, `sk`):
- in force: `pk="config"`, `sk="current"` → `version`, `document` (the JSON text as loaded,
  comments included), `saved_at`. One consistent `GetItem` per read.
- history: `pk="config"`, `sk="v#<version, 10 digits>"` → the same attributes; a query on
  `pk="config"` lists them in version order (for operators: what ran when).
- the connector item `pk="connector"`, `sk="state"` (see `connector_state.py`) gets
  `config_version`.

The configuration's models (`crmsync.config`) are imported only by the writes that raise their
errors: reading the document in force (the automation intake reads its tags) does not load them.

Each item holds the whole document, so a document is refused (`ConfigurationTooLarge`)
before anything is written when an item holding it would pass DynamoDB's 400 KB.

A save is one transaction: the item in force is replaced only while its version is lower than
the new one (`attribute_not_exists(pk) OR version < :version`), the history item is written,
and the connector's `config_version` is set. The one condition also keeps history items from
being overwritten: a version is written only while it is above every version before it. So two operators pushing at once cannot leave the
status naming one version while another is in force, and a version can never go down. The
connector item is updated, not put: a connector that was never started has no `paused`
attribute, and reads as paused (docs/guide/control.md), before and after its first configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from crmsync.aws.connector_state import CONNECTOR_KEY
from crmsync.aws.dynamo_table import DynamoTable, Expression, TransactionUnit
from crmsync.aws.dynamo_values import MAX_ITEM_BYTES, iso, item_size, utc_now
from crmsync.domain.errors import ConfigurationError

_CURRENT_KEY = {"pk": "config", "sk": "current"}
_VERSION_DIGITS = 10


def history_key(version: int) -> dict[str, str]:
    """The key of a version's history item; zero-padded so the sort key orders versions."""
    return {"pk": "config", "sk": f"v#{version:0{_VERSION_DIGITS}d}"}


class DynamoConfigStore:
    def __init__(self, table: DynamoTable, *, now: Callable[[], datetime] = utc_now) -> None:
        self._table = table
        self._now = now

    def current(self) -> Mapping[str, Any] | None:
        item = self._table.get(_CURRENT_KEY)
        if item is None:
            return None
        document: dict[str, Any] = json.loads(item["document"])
        return document

    def check_fits(self, document: Mapping[str, Any]) -> None:
        """Raise `ConfigurationTooLarge` when `document` would not fit in its items."""
        self._items(document)

    def save(self, document: Mapping[str, Any]) -> int:
        """Store `document` as the configuration in force under its `version`; raises
        `StaleConfigurationVersion` when that version is not above the one in force, and
        `ConfigurationTooLarge` (nothing written) when it does not fit in an item. The document
        is stored as given: the caller validates it (`sync.control`)."""
        from crmsync.config import StaleConfigurationVersion

        version = _version_of(document)
        current_item, history_item = self._items(document)
        newer_than_current = Expression(
            "attribute_not_exists(pk) OR version < :version", values={":version": version}
        )
        unit = TransactionUnit(
            change=version,
            writes=[
                self._table.put_write(current_item, condition=newer_than_current),
                self._table.put_write(history_item),
                self._table.update_write(
                    CONNECTOR_KEY,
                    Expression("SET config_version = :version", values={":version": version}),
                ),
            ],
        )
        if self._table.transact([unit]):
            in_force = self._table.get(_CURRENT_KEY)
            # Refused means a version at least as high is in force: the item is there to read.
            current = int(in_force["version"]) if in_force is not None else version
            raise StaleConfigurationVersion(offered=version, current=current)
        return version

    def _items(self, document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The item in force and the history item that hold `document`, once they are known to
        fit in DynamoDB's item size (the history item's key is the longer)."""
        from crmsync.config import ConfigurationTooLarge

        version = _version_of(document)
        text = json.dumps(document, ensure_ascii=False)
        item = {"version": version, "document": text, "saved_at": iso(self._now())}
        current, history = {**_CURRENT_KEY, **item}, {**history_key(version), **item}
        size = max(item_size(current), item_size(history))
        if size > MAX_ITEM_BYTES:
            document_size = len(text.encode())
            raise ConfigurationTooLarge(size=document_size, limit=MAX_ITEM_BYTES - (size - document_size))
        return current, history


def _version_of(document: Mapping[str, Any]) -> int:
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigurationError(f"version: must be a whole number from 1, not {version!r}")
    return version
