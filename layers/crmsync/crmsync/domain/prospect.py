"""The marketing side's person (a "prospect", docs/guide/README.md), as the core and the stores
exchange it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmsync.domain.matching import normalize_email

EMAIL_FIELD = "email"
"""The prospect field that holds its email (the match key: docs/guide/matching.md)."""


@dataclass(frozen=True)
class Prospect:
    """A prospect as stored. `version` is the store's optimistic lock: a change is saved only
    when the stored prospect still has the version it was read with."""

    id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    active: bool = True
    crm_id: str | None = None
    """The CRM ID the prospect carries (set when it was created from a record, or imported with one)."""
    assigned_user: str | None = None
    """The marketing user (by email) the prospect is assigned to; follows the record's owner."""
    opportunities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Opportunity id → name, amount, stage, close_date (docs/guide/lifecycle.md)."""
    modified_at: datetime | None = None
    version: int = 0
    marketing_version: int = 0
    """The last version the marketing side saved (0: none, the connector created it and has
    written it alone since). The connector's own saves carry it over unchanged, so it tells a
    marketing change from an outbound write without any history: inbound's reconciliation
    compares it with the version the prospect's link last synced."""

    @property
    def email(self) -> str | None:
        value = self.fields.get(EMAIL_FIELD)
        return value if isinstance(value, str) else None

    @property
    def email_key(self) -> str | None:
        return normalize_email(self.email)


@dataclass(frozen=True)
class ProspectChange:
    """Save `after` in place of `before` (None: a new prospect)."""

    after: Prospect
    before: Prospect | None = None
