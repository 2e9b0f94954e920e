"""`LinkSample` on the links table's keys-only index `by_crm_id` (aws/links.py): only link items
carry `crm_id`, so the index lists links alone, a few bytes each."""

from __future__ import annotations

from crmsync.aws.dynamo_table import DynamoTable
from crmsync.aws.links import LINK_PREFIX

INDEX = "by_crm_id"


class DynamoLinkSample:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def sample_prospect_ids(self, limit: int) -> list[str]:
        items, _ = self._table.scan(limit, index=INDEX)
        return [str(item["pk"]).removeprefix(LINK_PREFIX) for item in items]
