"""The Salesforce side of a local connector: the emulator with the connected app the connector
logs in through (JWT bearer, with a key pair made at run time) and its integration user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named here: the bench's connector imports this module, not the emulator
    from local.keys import JwtKeyPair
    from local.salesforce_emulator import Emulator

CLIENT_ID = "3MVG9crmsync-local-connected-app"
INTEGRATION_USER = "integration@crmsync.local"


@dataclass(frozen=True)
class OrgLogin:
    """What the connector's Salesforce secret holds to log in to a served org, and the CA
    bundle that trusts the org's self-signed certificate (`REQUESTS_CA_BUNDLE`)."""

    url: str
    ca_file: str
    private_key_pem: str
    client_id: str = CLIENT_ID
    username: str = INTEGRATION_USER


def connect_app(
    emulator: Emulator,
    keys: JwtKeyPair,
    *,
    client_id: str = CLIENT_ID,
    username: str = INTEGRATION_USER,
    first_name: str = "",
) -> None:
    """Register the connected app (its certificate from `keys`) and the integration user it
    runs as."""
    emulator.register_connected_app(client_id, certificate_pem=keys.certificate_pem)
    emulator.add_user(username, email=username, first_name=first_name, last_name="Integration")
