"""`Emulator`: a Salesforce org in a box, for tests, the demo and the benchmark.

It is used two ways: mounted on a requests session (the WSGI app is called in process) or
served over HTTPS on localhost. Its test helpers read and write the org directly; they cost
no API calls and are never hit by injected faults.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from .app import SalesforceApp
from .bulk import BulkApi
from .clock import Clock, system_clock
from .composite import CollectionsApi
from .faults import Faults
from .ids import IdFactory
from .oauth import ConnectedApp, Login, OAuth
from .query import Queries
from .rest import RestApi
from .schema import Record, build_schema
from .server import ServedEmulator, serve_https
from .store import Store
from .transport import InProcessAdapter
from .writes import ApiWriter

LOGIN_URL = "https://login.salesforce.emulator"
INSTANCE_URL = "https://crmsync.my.salesforce.emulator"


class Emulator:
    def __init__(
        self,
        clock: Clock | None = None,
        daily_api_limit: int = 100_000,
        person_accounts: bool = False,
        query_batch_size: int = 2000,
    ) -> None:
        self.clock: Clock = clock or system_clock
        self._lock = threading.RLock()
        ids = IdFactory()
        self.org_id = ids.new("00D")
        self._store = Store(build_schema(person_accounts=person_accounts), self.clock, ids)
        self._oauth = OAuth(self.clock, self.org_id)
        self.faults = Faults(self._oauth.expire_all)
        # Every org has an administrator; the test helpers act as that user.
        self._admin_id = self._store.create(
            "User",
            {
                "Username": "admin@crmsync.emulator",
                "Email": "admin@crmsync.emulator",
                "LastName": "Admin",
                "Alias": "admin",
            },
            user_id="",
        )
        writer = ApiWriter(self._store, self.faults)
        queries = Queries(self._store, query_batch_size, self.clock, self.faults)
        self._app = SalesforceApp(
            oauth=self._oauth,
            faults=self.faults,
            apis=(
                RestApi(
                    self._store,
                    writer,
                    queries,
                    lambda: (self._app.daily_api_usage, self._app.daily_api_limit),
                ),
                CollectionsApi(self._store, writer),
                BulkApi(self._store, writer, queries, self.clock, ids, faults=self.faults),
            ),
            daily_api_limit=daily_api_limit,
            login_url=LOGIN_URL,
            instance_url=INSTANCE_URL,
            lock=self._lock,
        )
        self._served: ServedEmulator | None = None

    # --- where it answers ------------------------------------------------------------------------

    @property
    def login_url(self) -> str:
        return self._served.url if self._served else LOGIN_URL

    @property
    def instance_url(self) -> str:
        return self._served.url if self._served else INSTANCE_URL

    def mount(self, session: requests.Session) -> None:
        """Answer `session`'s requests to the login and instance URLs in process."""
        adapter = InProcessAdapter(self._app.handle)
        session.mount(LOGIN_URL, adapter)
        session.mount(INSTANCE_URL, adapter)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServedEmulator]:
        """Serve the org over HTTPS; tokens issued meanwhile name the server as instance URL."""
        with serve_https(self._app, host, port) as served:
            self._served = served
            try:
                yield served
            finally:
                self._served = None

    # --- access ----------------------------------------------------------------------------------

    def register_connected_app(
        self,
        client_id: str,
        *,
        client_secret: str | None = None,
        certificate_pem: str | None = None,
        run_as: str | None = None,
    ) -> None:
        """A connected app; `run_as` is the client-credentials user (default: the first user added)."""
        with self._lock:
            self._oauth.register_app(ConnectedApp(client_id, client_secret, certificate_pem, run_as))

    def add_user(
        self,
        username: str,
        *,
        email: str,
        first_name: str = "",
        last_name: str,
        password: str | None = None,
        security_token: str = "",
        is_active: bool = True,
    ) -> str:
        with self._lock:
            user_id = self._store.create(
                "User",
                {
                    "Username": username,
                    "Email": email,
                    "FirstName": first_name,
                    "LastName": last_name,
                    "Alias": (first_name[:1] + last_name)[:8].lower() or "user",
                    "IsActive": is_active,
                },
                user_id=self._admin_id,
            )
            self._oauth.register_login(Login(user_id, username, password, security_token, is_active))
            return user_id

    # --- API accounting --------------------------------------------------------------------------

    @property
    def api_calls(self) -> int:
        """Requests made to the REST API (/services/data) since the last reset, refused ones included."""
        return self._app.api_calls

    @property
    def call_log(self) -> list[tuple[str, str]]:
        return self._app.call_log

    @property
    def daily_api_usage(self) -> int:
        """What `Sforce-Limit-Info` reports as used; not reset by `reset_counters`."""
        return self._app.daily_api_usage

    def spend_daily_api(self, requests: int) -> None:
        """Other integrations of the org spend `requests` of today's API limit."""
        with self._lock:
            self._app.daily_api_usage += requests

    def set_daily_api_usage(self, used: int) -> None:
        """The org's API usage is now `used`. Salesforce counts requests over a rolling 24 hours
        ("API Request Limits and Allocations", Salesforce Developer Limits Quick Reference), so
        usage falls as old requests leave the window, or as the allocation is raised."""
        with self._lock:
            self._app.daily_api_usage = used

    def reset_counters(self) -> None:
        with self._lock:
            self._app.api_calls = 0
            self._app.call_log = []

    # --- test helpers: the org's data, read and written directly ---------------------------------

    def insert(self, sobject: str, fields: Mapping[str, Any]) -> str:
        with self._lock:
            return self._store.create(sobject, fields, user_id=self._admin_id)

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        with self._lock:
            self._store.update(sobject, record_id, fields, user_id=self._admin_id)

    def get(self, record_id: str, include_deleted: bool = False) -> Record | None:
        with self._lock:
            record = self._store.get(record_id)
            if record is None or (record["IsDeleted"] and not include_deleted):
                return None
            return dict(record)

    def records(self, sobject: str, include_deleted: bool = False) -> list[Record]:
        with self._lock:
            return [dict(r) for r in self._store.records(sobject) if include_deleted or not r["IsDeleted"]]

    def delete(self, record_id: str) -> None:
        with self._lock:
            self._store.delete(record_id, user_id=self._admin_id)

    def undelete(self, record_id: str) -> None:
        with self._lock:
            self._store.undelete(record_id, user_id=self._admin_id)

    def convert_lead(
        self,
        lead_id: str,
        *,
        account_id: str | None = None,
        contact_id: str | None = None,
        person_account: bool = False,
    ) -> tuple[str, str]:
        """Convert a Lead; (ConvertedAccountId, ConvertedContactId). `person_account` makes the
        new Account a person account (and the Contact its hidden person contact)."""
        with self._lock:
            return self._store.convert_lead(
                lead_id,
                user_id=self._admin_id,
                account_id=account_id,
                contact_id=contact_id,
                person_account=person_account,
            )

    def merge(self, master_id: str, loser_ids: Iterable[str]) -> None:
        with self._lock:
            self._store.merge(master_id, loser_ids, user_id=self._admin_id)

    def enable_duplicate_rule(self, sobject: str, field: str = "Email") -> None:
        with self._lock:
            self._store.enable_duplicate_rule(sobject, field)
