"""`Leases` on the state table: one run at a time per name (`sync/leases.py` decides when).

Access pattern (table keys `pk`, `sk`; `expires_at` is the table's TTL, epoch seconds):
- lease: `pk="lease"`, `sk=<name>` → `holder`, `lease_until` (epoch seconds),
  `expires_at` = `lease_until` + 1 day (the expired item stays a day for operators). Taken with
  one conditional put that succeeds only when no lease is there, it has expired
  (`lease_until < now`) or the holder already has it (a renewal); released with a delete that
  happens only if the holder still has it.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from crmsync.aws.dynamo_table import ConditionFailed, DynamoTable, Expression
from crmsync.aws.dynamo_values import epoch_seconds

EXPIRED_LEASE_KEPT = timedelta(days=1)
PARTITION = "lease"


class DynamoLeases:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        lease_until = epoch_seconds(until)
        try:
            self._table.put(
                {
                    "pk": PARTITION,
                    "sk": name,
                    "holder": holder,
                    "lease_until": lease_until,
                    "expires_at": lease_until + int(EXPIRED_LEASE_KEPT.total_seconds()),
                },
                Expression(
                    "attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
                    values={":now": int(now.timestamp()), ":holder": holder},
                ),
            )
        except ConditionFailed:
            return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        # A lease that expired and was taken by another run is theirs to release: not an error.
        with suppress(ConditionFailed):
            self._table.delete(
                {"pk": PARTITION, "sk": name}, Expression("holder = :holder", values={":holder": holder})
            )
