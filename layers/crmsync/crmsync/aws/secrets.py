"""Reading the Salesforce credentials from Secrets Manager (cached a few minutes per container)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities import parameters

from crmsync.domain.errors import ConfigurationError

SECRET_CACHE_SECONDS = 300


def load_json_secret(secret_id: str, *, fresh: bool = False) -> dict[str, Any]:
    """The secret's JSON object, from the cache unless `fresh` (then read and cached anew)."""
    if not secret_id:
        raise ConfigurationError(
            "CRMSYNC_SALESFORCE_SECRET_ARN is not set: deploy with the SalesforceSecretArn parameter"
        )
    try:
        raw = parameters.get_secret(secret_id, max_age=SECRET_CACHE_SECONDS, force_fetch=fresh)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"cannot read secret {secret_id}: {exc}") from exc
    try:
        document = json.loads(raw if isinstance(raw, str) else raw.decode())
    except ValueError as exc:
        raise ConfigurationError(f"secret {secret_id} is not JSON (see the README for its format)") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"secret {secret_id} must hold a JSON object (see the README for its format)"
        )
    return document
