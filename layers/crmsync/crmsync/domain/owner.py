"""Owner sync (docs/guide/fields.md): Salesforce `OwnerId` ↔ the prospect's assigned user,
through a user map.

Salesforce Users are matched to marketing users by email unless the configuration's `user_map`
pairs them explicitly. Salesforce is the owner's master by default. When owner sync is two-way,
the owner is one more `most_recent` pair of the link's snapshot, held in marketing terms (the
marketing user of the record's owner): whichever side reassigned the person since the last sync
wins, and a change on both sides goes to the conflict rule. An owner with no mapping on either
side is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmsync.domain.fields import Behaviour, FieldMapping

OWNER_MAPPING = FieldMapping(
    marketing_field="assigned_user", salesforce_field="OwnerId", behaviour=Behaviour.MOST_RECENT
)
"""The owner pair in a link's snapshot when owner sync is two-way."""


def owner_map(users: Iterable[tuple[str, str | None, bool]], user_map: Mapping[str, str]) -> dict[str, str]:
    """Salesforce user id → marketing user, for the active users given as (id, email, active)."""
    mapped = {
        user_id: user_map.get(user_id) or email
        for user_id, email, active in users
        if active and (email or user_id in user_map)
    }
    return {user_id: marketing for user_id, marketing in mapped.items() if marketing}


def salesforce_user_of(marketing_user: Any, owners: Mapping[str, str]) -> str | None:
    """The Salesforce user a marketing user maps to (the lowest id when several do)."""
    if not marketing_user:
        return None
    wanted = str(marketing_user).strip().lower()
    return min((uid for uid, user in owners.items() if user.strip().lower() == wanted), default=None)


def in_marketing_terms(values: Mapping[str, Any], owners: Mapping[str, str]) -> dict[str, Any] | None:
    """A record's values with `OwnerId` as the marketing user it maps to; None when the owner
    has no mapping (the pair is then left alone)."""
    owner_id = values.get("OwnerId")
    marketing_user = owners.get(str(owner_id)) if owner_id else None
    if marketing_user is None:
        return None
    return {**values, "OwnerId": marketing_user}
