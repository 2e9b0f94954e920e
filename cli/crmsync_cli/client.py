"""The one HTTP client of the `crmsync` command: the connector's HTTP API, deployed or local.

A deployed stack's API (`--url`, its `HttpApiUrl` output) accepts only requests signed with
Signature Version 4 (service `execute-api`), so each is signed with the caller's default AWS
credentials (environment, `~/.aws` profiles or `--profile`, SSO, instance and container roles).
A local stack (`--local`: `make local`) serves the same routes on localhost, unsigned; its
address is in `.local/stack.json`, which `make local` writes.

Every request has a timeout. What can go wrong is said in words, with what to do:
- `NotSent`: the request could not be made or got no answer (no credentials, no region,
  nothing listening, a timeout); exit status 2;
- `Refused`: the API answered 4xx or 5xx; its `message` and `problems` are shown; exit status 1.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import (
    BotoCoreError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.httpsession import URLLib3Session

from crmsync_cli import __version__

SERVICE = "execute-api"
USER_AGENT = f"crmsync-cli/{__version__}"
REQUEST_TIMEOUT_SECONDS = 35
"""A little above API Gateway's own 30-second integration timeout, so its answer arrives first."""

STACK_FILE = Path(".local") / "stack.json"
STACK_FILE_VARIABLE = "CRMSYNC_LOCAL_STACK"
"""Names the local stack's file when it is not `.local/stack.json` of this directory or a parent."""

_REGION_IN_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")

Send = Callable[[AWSPreparedRequest], tuple[int, bytes]]
"""Sends a prepared request; returns the HTTP status and the body."""


class NotSent(Exception):
    """The request could not be made or got no answer; the message says why and what to do."""


class Refused(Exception):
    """The API answered with an error status."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.message)
        self.answer = answer


def send_over_http(request: AWSPreparedRequest) -> tuple[int, bytes]:
    # botocore's own HTTP session: it honours the proxy and CA bundle settings the AWS CLI does.
    response = URLLib3Session(timeout=REQUEST_TIMEOUT_SECONDS).send(request)
    return response.status_code, response.content


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    """The JSON the API answered, or its text when it was not JSON."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("error") or "")
        return str(self.body or "").strip()

    @property
    def problems(self) -> list[str]:
        problems = self.body.get("problems") if isinstance(self.body, dict) else None
        return [str(p) for p in problems] if isinstance(problems, list) else []


Signer = Callable[[AWSRequest], None]


class ConnectorApi:
    """The connector's routes at `url`: `call` answers the 2xx body or raises `Refused` /
    `NotSent`. `sign` signs each request (a deployed stack) or is None (a local one)."""

    def __init__(self, url: str, *, sign: Signer | None, send: Send, local: bool = False) -> None:
        self.url = url.rstrip("/")
        self._sign = sign
        self._send = send
        self.local = local

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        document: Any = None,
    ) -> Any:
        answer = self.answer(method, path, query=query, document=document)
        if not answer.ok:
            raise Refused(answer)
        return answer.body

    def answer(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        document: Any = None,
    ) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        body = None
        if document is not None:
            body = json.dumps(document, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        url = self.url + path
        given = {name: value for name, value in (query or {}).items() if value is not None}
        if given:
            url += "?" + urlencode(given, quote_via=quote)
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        if self._sign is not None:
            self._sign(request)
        try:
            status, raw = self._send(request.prepare())
        except EndpointConnectionError as exc:
            raise NotSent(self._unreachable(exc)) from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise NotSent(f"{self.url} did not answer within {REQUEST_TIMEOUT_SECONDS} s") from exc
        except BotoCoreError as exc:
            raise NotSent(f"cannot reach {self.url}: {exc}") from exc
        try:
            return Answer(status, json.loads(raw) if raw else None)
        except ValueError:
            return Answer(status, raw.decode(errors="replace"))

    def _unreachable(self, exc: BotoCoreError) -> str:
        if self.local:
            return f"nothing answers at {self.url}: is the local stack running? Start it with `make local`"
        return f"cannot connect to {self.url}: {exc}"


def path_segment(value: str) -> str:
    """`value` as one segment of a route's path (a record id, an object name)."""
    return quote(value, safe="")


# ------------------------------------------------------------------ a deployed stack: SigV4


def region_of(url: str) -> str | None:
    """The region in an execute-api URL (`https://<id>.execute-api.<region>.amazonaws.com/`)."""
    match = _REGION_IN_HOST.match(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def signed_api(
    url: str,
    *,
    region: str | None,
    profile: str | None,
    send: Send,
    credentials: Credentials | None = None,
) -> ConnectorApi:
    """The API at `url`, each request signed with `credentials` (default: the default chain)."""
    session = botocore.session.Session(profile=profile)
    region = region or region_of(url) or session.get_config_variable("region")
    if not region:
        raise NotSent(f"cannot tell the API's region from {url}; give --region")
    signer = SigV4Auth(credentials or _default_credentials(session), SERVICE, region)
    return ConnectorApi(url, sign=signer.add_auth, send=send)


def _default_credentials(session: botocore.session.Session) -> Credentials:
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise NotSent(f"cannot read AWS credentials: {exc}") from exc
    if credentials is None:
        raise NotSent(
            "no AWS credentials found (environment, ~/.aws profiles, SSO or a role); "
            "sign in, or pick a profile with --profile"
        )
    return credentials


# ------------------------------------------------------------------ the local stack


def local_api(*, send: Send, start: Path | None = None) -> ConnectorApi:
    """The local stack `make local` left running, from its `.local/stack.json`."""
    file = find_stack_file(start or Path.cwd())
    if file is None:
        raise NotSent(
            "no local stack found (.local/stack.json in this directory or a parent): "
            "start one with `make local` in the repository"
        )
    try:
        stack = json.loads(file.read_text())
        url = str(stack["url"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotSent(
            f"{file} does not say where the local stack is ({exc}); run `make local` again"
        ) from exc
    return ConnectorApi(url, sign=None, send=send, local=True)


def find_stack_file(start: Path) -> Path | None:
    named = os.environ.get(STACK_FILE_VARIABLE)
    if named:
        return Path(named)
    for directory in (start, *start.parents):
        candidate = directory / STACK_FILE
        if candidate.is_file():
            return candidate
    return None
