"""How the handlers under test reach the emulated org: in process by default, as the adapter
tests do (the real `SalesforceSession`, simple-salesforce and requests, the emulator's WSGI app
answering on the session's own transport), or over HTTPS on localhost for the tests marked
`over_https`, where a socket and TLS are what the test is about. Serving costs a thread, a
certificate and up to half a second to shut the server down, for every test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from crmsync.salesforce.session import SalesforceSession

from local.salesforce_emulator import Emulator


@dataclass(frozen=True)
class Reached:
    """Where the connector finds the org: the login URL its secret must name, and the CA bundle
    that trusts the org's certificate (empty in process, where no TLS is spoken)."""

    url: str
    ca_file: str = ""


@contextmanager
def salesforce_reached(
    org: Emulator, patch: pytest.MonkeyPatch, *, over_https: bool = False
) -> Iterator[Reached]:
    """While open, every Salesforce session the connector makes reaches `org`."""
    if over_https:
        with org.serve() as server:
            yield Reached(server.url, server.ca_file)
        return
    built = SalesforceSession.__init__

    def mounted(session: SalesforceSession, *args: Any, **kwargs: Any) -> None:
        built(session, *args, **kwargs)
        org.mount(session)

    patch.setattr(SalesforceSession, "__init__", mounted)
    yield Reached(org.login_url)
