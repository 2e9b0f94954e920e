"""The stack's DynamoDB tables as the stores see them: each one's key attributes, as
template.yaml declares them (tests/adapters/test_tables.py checks that they agree)."""

from __future__ import annotations

LINKS_KEY = ("pk",)
STATE_KEY = ("pk", "sk")
PROSPECTS_KEY = ("prospect_id",)
ACTIVITIES_KEY = ("prospect_id", "sk")
IDEMPOTENCY_KEY = ("id",)
