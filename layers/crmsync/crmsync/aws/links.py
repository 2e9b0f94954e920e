"""`LinkStore` on the links table: 1:1 between prospects and CRM records, enforced by DynamoDB.

Access patterns (table key `pk`; ARCHITECTURE.md, "Links: two items per link, one transaction"):
- link: `pk="prospect#<prospect id>"` → `prospect_id`, `crm_id`, `crm_type` (Lead, Contact,
  PersonAccount), `status` (a `LinkStatus`), `origin` (a `LinkOrigin`; `salesforce` when
  absent), `snapshot` (JSON text: pair key → `[Salesforce
  value, marketing value]`), `version` (optimistic lock, 1 when created), `synced_version` (the
  prospect version whose marketing changes inbound dealt with last; absent on links saved
  before it was kept), `linked_at` (when the link got its current record), `updated_at`. Read by prospect id with a consistent
  `BatchGetItem`. Only link items carry `crm_id`, so the keys-only GSI `by_crm_id` lists links
  alone (operators' lookups; never on a sync path, it is eventually consistent).
- claim: `pk="crm#<crm id>"` → `prospect_id`, and `replaced_by` (the record that replaced it)
  once the link has moved on from a record deleted in Salesforce: the claim stays, so the
  record is never linked again nor given a prospect of its own. A record's link is found
  through its claim: a consistent `BatchGetItem` of claims, then one of their links (or, for a
  replaced record, of its history item).
- history: `pk="history#<prospect id>#<crm id>"` → the link a prospect had to a record deleted
  in Salesforce before an automation action gave it another (docs/guide/actions.md): `prospect_id`,
  `former_crm_id`, `crm_type`, `status` (`replaced`), `origin`, `snapshot` (as it last was),
  `version`, `replaced_by_crm_id`, `replaced_by_crm_type`, `replaced_at`. Read through the
  record's claim only; it carries no `crm_id`, so `by_crm_id` never lists it, and nothing reads
  it as a prospect's link (those are read by their own key).

Every change is one transaction, so neither a prospect nor a record is ever in two links (a
change that writes the link alone, saved by itself, is one conditional write: see
`DynamoTable.transact`):
- new link: put the link and put the claim, each only if absent (`attribute_not_exists(pk)`);
- move (conversion, merge): update the link if its version is still the one read, delete the
  old claim if it is still this prospect's, put the new claim only if absent or this
  prospect's own (a record it was linked to before a deletion replaced it);
- replacement of a record deleted in Salesforce (`LinkChange.keep_history`): as a move, except
  that the old claim is kept (marked `replaced_by`) and the history item is written;
- any other change (status, snapshot): update the link if its version is still the one read.
An update sets only the attributes that changed, with `version` and `updated_at`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from crmsync.aws.dynamo_table import DynamoTable, Expression, TransactionUnit, TransactWrite, assignments
from crmsync.aws.dynamo_values import iso, utc_now
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange, LinkOrigin, LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot, Snapshot

LINK_PREFIX = "prospect#"
CLAIM_PREFIX = "crm#"
HISTORY_PREFIX = "history#"

_ABSENT = Expression("attribute_not_exists(pk)")


class DynamoLinkStore:
    def __init__(self, table: DynamoTable, *, now: Callable[[], datetime] = utc_now) -> None:
        self._table = table
        self._now = now

    def by_crm_ids(self, crm_ids: Collection[str]) -> dict[str, StoredLink]:
        """The links of these records; a record a prospect's link has moved on from after it
        was deleted in Salesforce answers with its history (`LinkStatus.REPLACED`)."""
        claims = self._table.get_many({"pk": CLAIM_PREFIX + crm_id} for crm_id in crm_ids)
        prospect_of: dict[str, str] = {}
        replaced: dict[str, str] = {}
        for claim in claims:
            crm_id = claim["pk"].removeprefix(CLAIM_PREFIX)
            (replaced if claim.get("replaced_by") else prospect_of)[crm_id] = claim["prospect_id"]
        keys = [{"pk": LINK_PREFIX + prospect_id} for prospect_id in set(prospect_of.values())]
        keys += [{"pk": _history_key(prospect_id, crm_id)} for crm_id, prospect_id in replaced.items()]
        links: dict[str, StoredLink] = {}
        found: dict[str, StoredLink] = {}
        for item in self._table.get_many(keys):
            if item["pk"].startswith(HISTORY_PREFIX):
                found[item["former_crm_id"]] = _stored_history(item)
            else:
                links[item["prospect_id"]] = _stored_link(item)
        # Claims and links are read one after the other: a link that moved in between no
        # longer points at the record whose claim led to it, and that record has no link now.
        found.update(
            (crm_id, links[prospect_id])
            for crm_id, prospect_id in prospect_of.items()
            if prospect_id in links and links[prospect_id].link.crm.id == crm_id
        )
        return found

    def by_prospect_ids(self, prospect_ids: Collection[str]) -> dict[str, StoredLink]:
        items = self._table.get_many({"pk": LINK_PREFIX + prospect_id} for prospect_id in prospect_ids)
        links = (_stored_link(item) for item in items)
        return {stored.link.prospect_id: stored for stored in links}

    def synced_versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        items = self._table.get_many(
            ({"pk": LINK_PREFIX + prospect_id} for prospect_id in prospect_ids),
            attributes=("prospect_id", "status", "synced_version"),
        )
        return {
            item["prospect_id"]: int(item.get("synced_version", 0))
            for item in items
            if item.get("status") == LinkStatus.ACTIVE.value
        }

    def save(self, changes: Sequence[LinkChange]) -> list[LinkChange]:
        now = self._now()
        return self._table.transact(
            [TransactionUnit(change, self._writes(change, now)) for change in changes]
        )

    def _writes(self, change: LinkChange, now: datetime) -> list[TransactWrite]:
        link = change.after
        claim = {"pk": CLAIM_PREFIX + link.crm.id, "prospect_id": link.prospect_id}
        before = change.before
        if before is not None and before.link.status is LinkStatus.REPLACED:
            raise ValueError(f"the history of {before.link.crm.object} {before.link.crm.id} is never changed")
        if before is None:
            item = {
                "pk": LINK_PREFIX + link.prospect_id,
                "prospect_id": link.prospect_id,
                **_link_values(link, change.snapshot),
                "synced_version": change.synced_version,
                "version": 1,
                "linked_at": iso(now),
                "updated_at": iso(now),
            }
            return [self._table.put_write(item, _ABSENT), self._table.put_write(claim, _ABSENT)]

        if before.link.prospect_id != link.prospect_id:
            raise ValueError(
                f"a link belongs to its prospect: {before.link.prospect_id} cannot become {link.prospect_id}"
            )
        moves = link.crm.id != before.link.crm.id
        # Only what changed (most changes are a record's new snapshot after a field sync).
        unchanged: set[str] = set()
        if link.crm == before.link.crm:
            unchanged |= {"crm_id", "crm_type"}
        if link.status is before.link.status:
            unchanged.add("status")
        values = {
            name: value
            for name, value in _link_values(link, change.snapshot).items()
            if name not in unchanged
        }
        values |= {"version": before.version + 1, "updated_at": iso(now)}
        if change.synced_version is not None:
            values["synced_version"] = change.synced_version
        if moves:
            values["linked_at"] = iso(now)
        assigned = assignments(values)
        update = self._table.update_write(
            {"pk": LINK_PREFIX + link.prospect_id},
            Expression(f"SET {assigned.text}", assigned.names, assigned.values),
            Expression("version = :read_version", values={":read_version": before.version}),
        )
        if not moves:
            return [update]
        # A prospect may come back to a record it was linked to before a deletion replaced it.
        own_or_absent = Expression(
            "attribute_not_exists(pk) OR prospect_id = :prospect", values={":prospect": link.prospect_id}
        )
        new_claim = self._table.put_write(claim, own_or_absent)
        if change.keep_history:
            return [update, *self._keep_history(before, link, now), new_claim]
        release = self._table.delete_write(
            {"pk": CLAIM_PREFIX + before.link.crm.id},
            Expression("prospect_id = :prospect", values={":prospect": link.prospect_id}),
        )
        return [update, release, new_claim]

    def _keep_history(self, before: StoredLink, after: Link, now: datetime) -> list[TransactWrite]:
        """The old record stays claimed by the prospect, marked as replaced, and its link is
        kept as history: in the transaction that moves the link, so it is never lost."""
        former = before.link
        values = _link_values(replace(former, status=LinkStatus.REPLACED), before.snapshot)
        history = {
            "pk": _history_key(former.prospect_id, former.crm.id),
            "prospect_id": former.prospect_id,
            "former_crm_id": values.pop("crm_id"),
            **values,
            "version": 1,
            "replaced_by_crm_id": after.crm.id,
            "replaced_by_crm_type": after.crm.object.value,
            "replaced_at": iso(now),
        }
        retire = self._table.update_write(
            {"pk": CLAIM_PREFIX + former.crm.id},
            Expression(
                "SET replaced_by = :replaced_by",
                values={":replaced_by": after.crm.id},
            ),
            Expression("prospect_id = :prospect", values={":prospect": former.prospect_id}),
        )
        return [retire, self._table.put_write(history)]


def _history_key(prospect_id: str, crm_id: str) -> str:
    return f"{HISTORY_PREFIX}{prospect_id}#{crm_id}"


def _link_values(link: Link, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "crm_id": link.crm.id,
        "crm_type": link.crm.object.value,
        "status": link.status.value,
        "origin": link.origin.value,
        # One JSON text, not a map of maps: it is only ever read whole, and a run writes one
        # per record, where DynamoDB's typed maps cost an encoded attribute per value.
        "snapshot": json.dumps(
            {pair: [values.salesforce, values.marketing] for pair, values in snapshot.items()},
            separators=(",", ":"),
            default=str,
        ),
    }


def _stored_history(item: dict[str, Any]) -> StoredLink:
    return _stored_link({**item, "crm_id": item["former_crm_id"]})


def _stored_link(item: dict[str, Any]) -> StoredLink:
    return StoredLink(
        link=Link(
            prospect_id=item["prospect_id"],
            crm=CrmRef(CrmObject(item["crm_type"]), item["crm_id"]),
            status=LinkStatus(item["status"]),
            origin=LinkOrigin(item.get("origin", LinkOrigin.SALESFORCE.value)),
        ),
        snapshot={
            pair: FieldSnapshot(salesforce=salesforce, marketing=marketing)
            for pair, (salesforce, marketing) in json.loads(item.get("snapshot") or "{}").items()
        },
        version=int(item["version"]),
        synced_version=int(item.get("synced_version", 0)),
    )
