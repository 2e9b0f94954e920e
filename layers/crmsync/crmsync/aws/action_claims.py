"""`ActionClaims` on the idempotency table, keyed by the prospect id.

The actions consumer works on a whole batch at once (one Salesforce query and one Collections
call for many actions), so it cannot wrap one function call per action with Powertools'
`idempotent_function`. It makes the same three moves on the same items: a conditional put
before carrying an action out (it fails while another invocation holds the prospect, or once an
action for it completed), an update with what was done, a delete when nothing was done so a
later action may try again. Time comes from the injected clock, not from the wall: a claim
lapses when the clock says its holder's deadline has passed.

Item layout (Powertools' own, table key `id`, TTL `expiration`, so items written by earlier
versions, which drove Powertools' persistence layer, keep their meaning):
`id = "crmsync.automation_actions#<md5 of the prospect id as JSON>"`, `status` (INPROGRESS,
COMPLETED), `expiration` (epoch seconds), `in_progress_expiration` (epoch milliseconds: the
deadline of the invocation holding it, after which a retry may take it over), `data` (the saved
result, JSON).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from crmsync.aws.dynamo_table import ConditionFailed, DynamoTable, Expression
from crmsync.aws.dynamo_values import epoch_seconds
from crmsync.ports import Claim, Clock

KEY_PREFIX = "crmsync.automation_actions"
"""Fixed, not the function's name: the same prospect must map to the same item whatever
function (the consumer, the inbound run carrying out parked actions) claims it."""

COMPLETED_FOR = timedelta(hours=1)
"""How long a completed claim answers for its prospect. It only has to outlast the window in
which two deliveries of one action can race; after it, the prospect's link answers."""

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"

_CLAIMABLE = Expression(
    "attribute_not_exists(#id) OR #expiration < :now"
    " OR (#status = :in_progress AND attribute_exists(#deadline) AND #deadline < :now_ms)",
    names={
        "#id": "id",
        "#expiration": "expiration",
        "#status": "status",
        "#deadline": "in_progress_expiration",
    },
)


def claim_key(prospect_id: str) -> str:
    """The item's `id`, as Powertools' persistence layer derives it from `{"prospect_id": ...}`."""
    digest = hashlib.md5(json.dumps(prospect_id).encode(), usedforsecurity=False).hexdigest()
    return f"{KEY_PREFIX}#{digest}"


class IdempotencyActionClaims:
    def __init__(self, table: DynamoTable, *, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def claim(self, prospect_id: str, remaining_ms: int) -> Claim:
        now = self._clock.now()
        now_ms = int(now.timestamp() * 1000)
        key = claim_key(prospect_id)
        try:
            self._table.put(
                {
                    "id": key,
                    "status": IN_PROGRESS,
                    "expiration": epoch_seconds(now + COMPLETED_FOR),
                    "in_progress_expiration": now_ms + max(remaining_ms, 0),
                },
                Expression(
                    _CLAIMABLE.text,
                    _CLAIMABLE.names,
                    {":now": int(now.timestamp()), ":now_ms": now_ms, ":in_progress": IN_PROGRESS},
                ),
            )
        except ConditionFailed:
            held = self._table.get({"id": key})
            if held is not None and held.get("status") == COMPLETED:
                return Claim(claimed=False, done_with=json.loads(held.get("data") or "{}"))
            # Held by a live invocation, or released in between: the next delivery claims it.
            return Claim(claimed=False)
        return Claim(claimed=True)

    def complete(self, prospect_id: str, result: Mapping[str, Any]) -> None:
        self._table.update(
            {"id": claim_key(prospect_id)},
            Expression(
                "SET #data = :data, #expiration = :expiration, #status = :status",
                {"#data": "data", "#expiration": "expiration", "#status": "status"},
                {
                    ":data": json.dumps(dict(result), sort_keys=True, default=str),
                    ":expiration": epoch_seconds(self._clock.now() + COMPLETED_FOR),
                    ":status": COMPLETED,
                },
            ),
        )

    def release(self, prospect_id: str) -> None:
        self._table.delete({"id": claim_key(prospect_id)})
