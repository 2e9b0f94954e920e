"""`LinkStore` in memory, holding the contract the links table enforces (crmsync/aws/links.py):
a prospect and a CRM record each belong to one link at most, a change is refused when the link
changed since it was read, and every change is carried out whole or not at all."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from crmsync.domain.lifecycle import Link, LinkChange, LinkStatus, StoredLink
from crmsync.domain.plan import FieldSnapshot, Snapshot

from tests.fakes.stored import json_text


@dataclass(frozen=True)
class _Claim:
    prospect_id: str
    replaced_by: str | None = None
    """The record that replaced this one (deleted in Salesforce) as the prospect's."""


class FakeLinkStore:
    def __init__(self) -> None:
        self._links: dict[str, StoredLink] = {}
        """Prospect id → its link."""
        self._claims: dict[str, _Claim] = {}
        """CRM record id → the prospect that claimed it."""
        self._history: dict[tuple[str, str], StoredLink] = {}
        """(prospect id, former record id) → the link as it was when another record replaced it."""
        self.saves = 0
        """Calls to `save` (a test that makes a store fail counts on it)."""

    # ------------------------------------------------------------------ the port

    def by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, StoredLink]:
        found: dict[str, StoredLink] = {}
        for crm_id in crm_ids:
            claim = self._claims.get(crm_id)
            if claim is None:
                continue
            if claim.replaced_by is not None:
                found[crm_id] = self._history[(claim.prospect_id, crm_id)]
                continue
            stored = self._links.get(claim.prospect_id)
            if stored is not None and stored.link.crm.id == crm_id:
                found[crm_id] = stored
        return found

    def by_prospect_ids(self, prospect_ids: Collection[str]) -> dict[str, StoredLink]:
        return {pid: self._links[pid] for pid in prospect_ids if pid in self._links}

    def synced_versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        return {
            pid: stored.synced_version
            for pid, stored in self.by_prospect_ids(prospect_ids).items()
            if stored.link.status is LinkStatus.ACTIVE
        }

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        self.saves += 1
        return [change for change in changes if not self._apply(change)]

    # ------------------------------------------------------------------ what a test reads

    def all(self) -> list[StoredLink]:
        """Every prospect's link (history left out), by prospect id."""
        return [self._links[pid] for pid in sorted(self._links)]

    def history_of(self, crm_id: str) -> StoredLink | None:
        """The link a prospect had to `crm_id` before another record replaced it."""
        claim = self._claims.get(crm_id)
        if claim is None or claim.replaced_by is None:
            return None
        return self._history[(claim.prospect_id, crm_id)]

    # ------------------------------------------------------------------ carrying a change out

    def _apply(self, change: LinkChange) -> bool:
        """Carry `change` out whole, or not at all (False): the conditions of the table's
        transaction, checked before anything is written."""
        link, before = change.after, change.before
        snapshot = _as_stored(change.snapshot)
        if before is None:
            if link.prospect_id in self._links or link.crm.id in self._claims:
                return False
            self._links[link.prospect_id] = StoredLink(
                link, snapshot, version=1, synced_version=change.synced_version or 0
            )
            self._claims[link.crm.id] = _Claim(link.prospect_id)
            return True

        if before.link.status is LinkStatus.REPLACED:
            raise ValueError(f"the history of {before.link.crm.object} {before.link.crm.id} is never changed")
        if before.link.prospect_id != link.prospect_id:
            raise ValueError(
                f"a link belongs to its prospect: {before.link.prospect_id} cannot become {link.prospect_id}"
            )
        current = self._links.get(link.prospect_id)
        if current is None or current.version != before.version:
            return False
        moves = link.crm.id != before.link.crm.id
        if moves:
            new_claim = self._claims.get(link.crm.id)
            if new_claim is not None and new_claim.prospect_id != link.prospect_id:
                return False
            old_claim = self._claims.get(before.link.crm.id)
            if old_claim is None or old_claim.prospect_id != link.prospect_id:
                return False
            if change.keep_history:
                self._claims[before.link.crm.id] = replace(old_claim, replaced_by=link.crm.id)
                self._history[(link.prospect_id, before.link.crm.id)] = StoredLink(
                    replace(before.link, status=LinkStatus.REPLACED),
                    _as_stored(before.snapshot),
                    version=1,
                )
            else:
                del self._claims[before.link.crm.id]
            self._claims[link.crm.id] = _Claim(link.prospect_id)
        synced_version = current.synced_version if change.synced_version is None else change.synced_version
        self._links[link.prospect_id] = StoredLink(
            Link(link.prospect_id, link.crm, link.status, link.origin),
            snapshot,
            version=current.version + 1,
            synced_version=synced_version,
        )
        return True


def _as_stored(snapshot: Snapshot) -> Snapshot:
    """A snapshot as the table keeps it: one JSON text of `[Salesforce value, marketing value]` pairs."""
    pairs = json_text({key: [values.salesforce, values.marketing] for key, values in snapshot.items()})
    return {key: FieldSnapshot(salesforce=sf, marketing=mk) for key, (sf, mk) in pairs.items()}
