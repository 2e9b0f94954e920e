"""`ProspectStore` in memory, with the built-in prospects table's contract
(crmsync/aws/prospects.py): an optimistic lock on `version`, lookups by email and CRM id through
index entries, a scan in the table's own order that counts index entries as items, and who wrote
each version (the connector's own saves carry `marketing_version` over; anyone else's set it)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from crmsync.domain.matching import normalize_email
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.ports import CapturedChanges, PendingChange, ProspectPage, ProspectVersion

from tests.fakes.stored import instant, stored

CONNECTOR_WRITER = "crmsync"
"""What the connector's own saves are marked with (bootstrap builds its store so)."""
MARKETING_WRITER = "marketing"
EMAIL_INDEX_PREFIX = "email#"
CRM_INDEX_PREFIX = "crm#"


@dataclass
class _Table:
    prospects: dict[str, tuple[Prospect, str]] = field(default_factory=dict)
    """Prospect id → the prospect as stored, and who wrote that version."""
    index: dict[str, set[str]] = field(default_factory=dict)
    """`email#<key>` / `crm#<id>` → prospect ids. An emptied entry stays, as the table's does."""
    stream: list[PendingChange] = field(default_factory=list)
    """The versions saved by anyone but the connector, not yet captured (what the table's stream
    delivers once its filter has dropped the connector's own writes)."""


class FakeProspectStore:
    def __init__(self, *, writer: str = MARKETING_WRITER, table: _Table | None = None) -> None:
        self._table = table or _Table()
        self._writer = writer

    def written_by(self, writer: str) -> FakeProspectStore:
        """The same prospects, saved as `writer` (the marketing platform, or the connector)."""
        return FakeProspectStore(writer=writer, table=self._table)

    # ------------------------------------------------------------------ the port

    def get_many(self, prospect_ids: Collection[str]) -> dict[str, Prospect]:
        found = {}
        for prospect_id in prospect_ids:
            item = self._table.prospects.get(prospect_id)
            if item is not None:
                found[prospect_id] = item[0]
        return found

    def scan(self, after: str | None, limit: int) -> ProspectPage:
        keys = sorted([*self._table.prospects, *self._table.index])
        start = 0 if after is None else next((i for i, key in enumerate(keys) if key > after), len(keys))
        read = keys[start : start + limit]
        prospects = [
            ProspectVersion(key, prospect.version, prospect.marketing_version)
            for key in read
            if key in self._table.prospects
            for prospect in [self._table.prospects[key][0]]
        ]
        # DynamoDB answers with the last key read whenever it stopped at the limit.
        next_after = read[-1] if read and len(read) == limit else None
        return ProspectPage(prospects=prospects, read=len(read), next_after=next_after)

    def find_by_emails(self, email_keys: Collection[str]) -> dict[str, list[Prospect]]:
        wanted = {key: normalized for key in email_keys if (normalized := normalize_email(key))}
        return self._find(EMAIL_INDEX_PREFIX, wanted, email=True)

    def find_by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, list[Prospect]]:
        return self._find(CRM_INDEX_PREFIX, {crm_id: crm_id for crm_id in crm_ids if crm_id}, email=False)

    def save(self, changes: Sequence[ProspectChange]) -> list[ProspectChange]:
        return [change for change in changes if not self._apply(change)]

    # ------------------------------------------------------------------ what a test reads

    def captured(self) -> CapturedChanges:
        """What change capture reads from the stream since it last read: the marketing side's
        saves, the connector's own left out."""
        changes, self._table.stream[:] = list(self._table.stream), []
        return CapturedChanges(changes=changes)

    def all(self) -> list[Prospect]:
        """Every prospect, by id."""
        return list(self.get_many(sorted(self._table.prospects)).values())

    # ------------------------------------------------------------------ inside

    def _find(self, prefix: str, wanted: dict[str, str], *, email: bool) -> dict[str, list[Prospect]]:
        found: dict[str, list[Prospect]] = {}
        for asked, key in wanted.items():
            ids = sorted(self._table.index.get(prefix + key, ()))
            matches = [
                prospect
                for prospect in self.get_many(ids).values()
                if (prospect.email_key if email else prospect.crm_id) == key
            ]
            if matches:
                found[asked] = matches
        return found

    def _apply(self, change: ProspectChange) -> bool:
        after, before = change.after, change.before
        if after.id.startswith((EMAIL_INDEX_PREFIX, CRM_INDEX_PREFIX)):
            raise ValueError(f"{after.id!r}: prospect ids must not start with email# or crm#")
        current = self._table.prospects.get(after.id)
        if before is None:
            if current is not None:
                return False
            version = 1
        else:
            if before.id != after.id:
                raise ValueError(f"a change keeps its prospect: {before.id} cannot become {after.id}")
            if current is None or current[0].version != before.version:
                return False
            version = before.version + 1
        # The connector's saves carry `marketing_version` over; anyone else's version is a marketing one.
        marketing_version = after.marketing_version if self._writer == CONNECTOR_WRITER else version
        self._table.prospects[after.id] = (
            Prospect(
                id=after.id,
                fields=stored(dict(after.fields)),
                tags=frozenset(after.tags),
                active=after.active,
                crm_id=after.crm_id,
                assigned_user=after.assigned_user,
                opportunities=stored({k: dict(v) for k, v in after.opportunities.items()}),
                modified_at=instant(after.modified_at) if after.modified_at else None,
                version=version,
                marketing_version=marketing_version,
            ),
            self._writer,
        )
        if self._writer != CONNECTOR_WRITER:
            self._table.stream.append(PendingChange(after.id, version))
        self._reindex(EMAIL_INDEX_PREFIX, after.id, before.email_key if before else None, after.email_key)
        self._reindex(CRM_INDEX_PREFIX, after.id, before.crm_id if before else None, after.crm_id)
        return True

    def _reindex(self, prefix: str, prospect_id: str, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old:
            self._table.index.setdefault(prefix + old, set()).discard(prospect_id)
        if new:
            self._table.index.setdefault(prefix + new, set()).add(prospect_id)
