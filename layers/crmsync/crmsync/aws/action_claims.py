"""`ActionClaims` on the Powertools idempotency table, keyed by the prospect id.

The actions consumer works on a whole batch at once (one Salesforce query and one Collections
call for many actions), so it cannot wrap one function call per action with Powertools'
`idempotent_function`. It uses the same persistence layer the decorator uses, step by step:
`save_inprogress` before carrying an action out (a conditional put: it fails while another
invocation holds the prospect, or once an action for it completed), `save_success` with what was
done, `delete_record` when nothing was done so a later action may try again.

Item layout (Powertools' own, table key `id`, TTL `expiration`):
`id = "crmsync.automation_actions#<md5 of the prospect id>"`, `status` (INPROGRESS, COMPLETED),
`expiration` (epoch seconds), `in_progress_expiration` (epoch milliseconds: the deadline of the
invocation holding it, after which a retry may take it over), `data` (the saved result, JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from botocore.exceptions import BotoCoreError, ClientError

from crmsync.aws.errors import client_failure, connection_failure
from crmsync.domain.errors import StoreError
from crmsync.ports import Claim

KEY_PREFIX = "crmsync.automation_actions"
"""Fixed, not the function's name: the same prospect must map to the same item whatever
function (the consumer, the inbound run carrying out parked actions) claims it."""

COMPLETED_FOR_SECONDS = 60 * 60
"""How long a completed claim answers for its prospect. It only has to outlast the window in
which two deliveries of one action can race; after it, the prospect's link answers."""

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_PERMISSION_CODES = frozenset({"AccessDeniedException", "UnrecognizedClientException"})
_CONFIGURATION_CODES = frozenset({"ResourceNotFoundException"})


class IdempotencyActionClaims:
    def __init__(self, table_name: str, client: Any) -> None:
        self._layer = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._layer.configure(
            IdempotencyConfig(
                event_key_jmespath="prospect_id",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=COMPLETED_FOR_SECONDS,
            ),
            key_prefix=KEY_PREFIX,
        )

    def claim(self, prospect_id: str, remaining_ms: int) -> Claim:
        data = {"prospect_id": prospect_id}
        try:
            with _translated():
                self._layer.save_inprogress(data, remaining_time_in_millis=max(remaining_ms, 0))
        except IdempotencyItemAlreadyExistsError as held:
            record = held.old_data_record
            if record is None:  # DynamoDB did not return the item with the refusal
                try:
                    with _translated():
                        record = self._layer.get_record(data)
                except IdempotencyItemNotFoundError:
                    return Claim(claimed=False)  # released in between: the next delivery claims it
            if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                return Claim(claimed=False, done_with=json.loads(record.response_data or "{}"))
            return Claim(claimed=False)
        return Claim(claimed=True)

    def complete(self, prospect_id: str, result: Mapping[str, Any]) -> None:
        with _translated():
            self._layer.save_success({"prospect_id": prospect_id}, dict(result))

    def release(self, prospect_id: str) -> None:
        with _translated():
            self._layer.delete_record({"prospect_id": prospect_id}, _Released())


class _Released(Exception):
    """Powertools logs why a record is deleted; nothing failed in the layer itself."""


@contextmanager
def _translated() -> Iterator[None]:
    """DynamoDB failures leave as `StoreError`s that say whether they are worth retrying."""
    try:
        yield
    except ClientError as exc:
        raise StoreError(
            client_failure(
                exc,
                transient=_TRANSIENT_CODES,
                permission=_PERMISSION_CODES,
                configuration=_CONFIGURATION_CODES,
            )
        ) from exc
    except BotoCoreError as exc:
        raise StoreError(connection_failure(exc)) from exc
