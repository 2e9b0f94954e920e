"""`ProspectStore` on the prospects table (the built-in marketing store).

Access patterns (table key `prospect_id`):
- prospect: `prospect_id=<id>` → `fields` (map), `tags` (sorted list), `active`, `crm_id`,
  `assigned_user`, `opportunities` (map), `modified_at` (ISO-8601), `version` (optimistic
  lock, 1 when created), `email_key` (the normalized email; absent when there is none, as
  are `crm_id`, `assigned_user` and `modified_at`), `written_by` (who saved this version:
  `CONNECTOR_WRITER` for the connector's own writes, "marketing" for the platform's) and
  `marketing_version` (the last version the marketing side saved: `version` itself when
  `written_by` is not the connector, whatever the attribute says; the connector's saves carry
  it over). Read by id with a consistent `BatchGetItem`, or a page at a time with a `Scan`
  (inbound's reconciliation).
- email index: `prospect_id="email#<email key>"` → `prospect_ids` (string set), `written_by`.
- CRM id index: `prospect_id="crm#<crm id>"` → `prospect_ids` (string set), `written_by`.
  A page of 2,000 Salesforce records is matched with 20 `BatchGetItem` calls on these index
  items (then the prospects themselves), not 2,000 index queries; an operator finds the
  prospects of an email with one `GetItem` of its index item. The table has no secondary
  index: every reader goes through the index items (the GSI `by_email` it had was read by
  none, and every prospect update wrote it). An index item's `written_by` is that of the save
  that last changed it, so the stream's filter drops those of the connector's saves (items
  written before it was kept have none, and reach the function, which skips them by key).

A change is the prospect's write: a new prospect's put (only if absent), or an update of the
attributes that changed plus `version` and `written_by` (only if its version is still the one
read; attributes the connector does not know are kept); with the index updates its email and
CRM id call for (`ADD` its id to the new keys' sets, `DELETE` it from the old keys' when they
changed), all in one transaction. A change that moves no index key writes one item: saved
alone (an action's tag) it is one conditional `UpdateItem`, billed once; saved with others it
shares their transaction (`DynamoTable.transact`). A set emptied that way leaves a key-only
index item behind; it costs nothing and is reused.

Anything reading the table as a whole (the stream consumer, a scan) must skip index items:
`is_prospect_key` tells them apart. The stream consumer also skips the versions the connector
wrote itself (`written_by`), so an outbound write never comes back as an inbound change. A
platform writing the table directly must raise `version` on every change (it is the
optimistic lock) and set `written_by` to anything but `CONNECTOR_WRITER`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, Expression, TransactionUnit, TransactWrite, assignments
from crmsync.aws.dynamo_values import iso, parse_iso
from crmsync.domain.matching import normalize_email
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import ProspectPage, ProspectVersion

EMAIL_INDEX_PREFIX = "email#"
CRM_INDEX_PREFIX = "crm#"
_INDEX_PREFIXES = (EMAIL_INDEX_PREFIX, CRM_INDEX_PREFIX)

_ABSENT = Expression("attribute_not_exists(prospect_id)")

CONNECTOR_WRITER = "crmsync"
# `marketing_version` too: an item the marketing side saved last holds a stale one (or none).
_SET_ON_EVERY_WRITE = frozenset({"version", "written_by", "marketing_version"})
MARKETING_WRITER = "marketing"


def is_prospect_key(prospect_id: str) -> bool:
    """Whether an item key of the prospects table is a prospect's (not an index item's)."""
    return not prospect_id.startswith(_INDEX_PREFIXES)


class DynamoProspectStore:
    def __init__(self, table: DynamoTable, *, writer: str = MARKETING_WRITER) -> None:
        self._table = table
        self._writer = writer

    def get_many(self, prospect_ids: Collection[str]) -> dict[str, Prospect]:
        # An id in an index item's form can never be a prospect's (`save` refuses it).
        keys = ({"prospect_id": pid} for pid in prospect_ids if is_prospect_key(pid))
        prospects = (_prospect(item) for item in self._table.get_many(keys))
        return {prospect.id: prospect for prospect in prospects}

    def scan(self, after: str | None, limit: int) -> ProspectPage:
        """The versions of the prospects among the next `limit` items of the table (index items
        are read too, and count), from the item after the key `after` (None: the start),
        eventually consistent. Only the versions are read: what a prospect holds is not decoded."""
        items, last_key = self._table.scan(
            limit,
            {"prospect_id": after} if after else None,
            attributes=("prospect_id", "version", "written_by", "marketing_version"),
        )
        prospects: list[ProspectVersion] = []
        unreadable: list[str] = []
        for item in items:
            prospect_id = item["prospect_id"]
            if not is_prospect_key(prospect_id):
                continue
            try:
                version = int(item.get("version", 0))
                prospects.append(ProspectVersion(prospect_id, version, _marketing_version(item, version)))
            except (TypeError, ValueError):
                # Written by another hand than the stores' (a version that is no number...).
                unreadable.append(prospect_id)
        return ProspectPage(
            prospects=prospects,
            read=len(items),
            next_after=last_key["prospect_id"] if last_key else None,
            unreadable=unreadable,
        )

    def find_by_emails(self, email_keys: Collection[str]) -> dict[str, list[Prospect]]:
        # Normalized again, so an email given as typed still finds its prospects.
        wanted = {key: normalized for key in email_keys if (normalized := normalize_email(key))}
        return self._find(EMAIL_INDEX_PREFIX, wanted, lambda prospect: prospect.email_key)

    def find_by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, list[Prospect]]:
        return self._find(
            CRM_INDEX_PREFIX, {crm_id: crm_id for crm_id in crm_ids if crm_id}, lambda p: p.crm_id
        )

    def _find(
        self, prefix: str, wanted: Mapping[str, str], key_of: Callable[[Prospect], str | None]
    ) -> dict[str, list[Prospect]]:
        """Prospects by index key, under the key each was asked with; keys with none left out."""
        entries = self._table.get_many({"prospect_id": prefix + key} for key in set(wanted.values()))
        ids_by_key: dict[str, set[str]] = {
            entry["prospect_id"].removeprefix(prefix): entry.get("prospect_ids", set()) for entry in entries
        }
        prospects = self.get_many(set().union(*ids_by_key.values()))
        found: dict[str, list[Prospect]] = {}
        for asked, key in wanted.items():
            # The index and the prospects are read one after the other: a prospect whose email
            # or CRM id changed in between is no longer a match.
            matches = [
                prospects[pid]
                for pid in sorted(ids_by_key.get(key, ()))
                if pid in prospects and key_of(prospects[pid]) == key
            ]
            if matches:
                found[asked] = matches
        return found

    def save(self, changes: Sequence[ProspectChange]) -> list[ProspectChange]:
        return self._table.transact([TransactionUnit(change, self._writes(change)) for change in changes])

    def _writes(self, change: ProspectChange) -> list[TransactWrite]:
        after, before = change.after, change.before
        if not is_prospect_key(after.id):
            raise ValueError(f"{after.id!r}: prospect ids must not start with {' or '.join(_INDEX_PREFIXES)}")
        if before is None:
            put = self._table.put_write(_item(after, version=1, writer=self._writer), _ABSENT)
        elif before.id != after.id:
            raise ValueError(f"a change keeps its prospect: {before.id} cannot become {after.id}")
        else:
            put = self._table.update_write(
                {"prospect_id": after.id},
                _changes(
                    _item(before, version=before.version, writer=self._writer),
                    _item(after, version=before.version + 1, writer=self._writer),
                ),
                Expression("version = :read_version", values={":read_version": before.version}),
            )
        index_writes = [
            *self._index_writes(
                EMAIL_INDEX_PREFIX, after.id, before.email_key if before else None, after.email_key
            ),
            *self._index_writes(CRM_INDEX_PREFIX, after.id, before.crm_id if before else None, after.crm_id),
        ]
        return [put, *index_writes]

    def _index_writes(
        self, prefix: str, prospect_id: str, old: str | None, new: str | None
    ) -> Iterable[TransactWrite]:
        if old == new:
            return
        values = {":ids": {prospect_id}, ":writer": self._writer}
        if old:
            yield self._table.update_write(
                {"prospect_id": prefix + old},
                Expression("DELETE prospect_ids :ids SET written_by = :writer", values=values),
            )
        if new:
            yield self._table.update_write(
                {"prospect_id": prefix + new},
                Expression("ADD prospect_ids :ids SET written_by = :writer", values=values),
            )


def _item(prospect: Prospect, *, version: int, writer: str) -> dict[str, Any]:
    return {
        "prospect_id": prospect.id,
        "fields": dict(prospect.fields),
        "tags": sorted(prospect.tags),
        "active": prospect.active,
        "crm_id": prospect.crm_id,
        "assigned_user": prospect.assigned_user,
        "opportunities": {key: dict(values) for key, values in prospect.opportunities.items()},
        "modified_at": iso(prospect.modified_at) if prospect.modified_at else None,
        "version": version,
        "email_key": prospect.email_key,
        "written_by": writer,
        "marketing_version": prospect.marketing_version if writer == CONNECTOR_WRITER else version,
    }


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Expression:
    """The update from one version's item to the next: the attributes that differ (an edit
    rewrites a field or two, and encoding the whole item again was most of its cost) and
    the ones every write sets; those that became None are removed."""
    changed = {
        name: value
        for name, value in after.items()
        if name in _SET_ON_EVERY_WRITE or (name != "prospect_id" and value != before.get(name))
    }
    assigned = assignments({name: value for name, value in changed.items() if value is not None})
    removed = {f"#remove{i}": name for i, name in enumerate(n for n, v in changed.items() if v is None)}
    text = f"SET {assigned.text}" + (f" REMOVE {', '.join(removed)}" if removed else "")
    return Expression(text, {**(assigned.names or {}), **removed}, assigned.values)


def _prospect(item: Mapping[str, Any]) -> Prospect:
    modified_at = item.get("modified_at")
    version = int(item.get("version", 0))
    return Prospect(
        id=item["prospect_id"],
        fields=item.get("fields", {}),
        tags=frozenset(item.get("tags", ())),
        active=bool(item.get("active", True)),
        crm_id=item.get("crm_id"),
        assigned_user=item.get("assigned_user"),
        opportunities=item.get("opportunities", {}),
        modified_at=parse_iso(modified_at) if modified_at else None,
        version=version,
        marketing_version=_marketing_version(item, version),
    )


def _marketing_version(item: Mapping[str, Any], version: int) -> int:
    """The last version the marketing side saved: the item's own unless the connector saved it."""
    if item.get("written_by") != CONNECTOR_WRITER:
        return version
    # A save of a connector from before the attribute: the version itself, the reading that
    # misses no marketing change (reconciliation then plans the prospect, in memory).
    return int(item.get("marketing_version", version))
