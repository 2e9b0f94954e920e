"""crmsyncctl: operate a deployed crmsync connector from the command line.

    python -m tools.crmsyncctl --url https://<api-id>.execute-api.<region>.amazonaws.com status
    python -m tools.crmsyncctl --url ... config get > my-config.json
    python -m tools.crmsyncctl --url ... config push my-config.json
    python -m tools.crmsyncctl --url ... pause
    python -m tools.crmsyncctl --url ... resume

`--url` is the stack's `HttpApiUrl` output. The HTTP API accepts only IAM-signed requests, so
every request is signed with Signature Version 4 (service `execute-api`) using the default
credential chain (environment, `~/.aws` profiles or `--profile`, SSO, instance and container
roles); the caller needs `execute-api:Invoke` on the API.

`config push` reads the file with the connector's own readers first (strict JSON: duplicate keys
are refused; then the configuration's) and prints every problem without sending anything; the connector then checks the fields against the org's describe
and refuses a version that is not above the one in force.

Exit status: 0 done, 1 refused (by the local check or by the connector), 2 not sent (no
credentials, no region, unreachable API, unreadable file).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session
from crmsync import __version__
from crmsync.config import Configuration, InvalidConfiguration
from crmsync.json_input import JsonInputError, read_json

SERVICE = "execute-api"
USER_AGENT = f"crmsyncctl/{__version__}"
REQUEST_TIMEOUT_SECONDS = 35
"""A little above the API's own 30-second integration timeout, so its answer arrives first."""
REFUSED = 1
NOT_SENT = 2

_REGION_IN_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")

Send = Callable[[AWSPreparedRequest], tuple[int, bytes]]
"""Sends a signed request; returns the HTTP status and the body."""


class NotSent(Exception):
    """The request could not be made; the message says why and what to do."""


def send_over_https(request: AWSPreparedRequest) -> tuple[int, bytes]:
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


class ConnectorApi:
    """The connector's HTTP API, every request signed with SigV4."""

    def __init__(self, url: str, credentials: Credentials, region: str, send: Send) -> None:
        self._url = url.rstrip("/")
        self._signer = SigV4Auth(credentials, SERVICE, region)
        self._send = send

    def call(self, method: str, path: str, document: Any = None) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        body = None
        if document is not None:
            body = json.dumps(document, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        request = AWSRequest(method=method, url=self._url + path, data=body, headers=headers)
        self._signer.add_auth(request)
        try:
            status, raw = self._send(request.prepare())
        except BotoCoreError as exc:
            raise NotSent(f"cannot reach {self._url}: {exc}") from exc
        try:
            return Answer(status, json.loads(raw) if raw else None)
        except ValueError:
            return Answer(status, raw.decode(errors="replace"))


def region_of(url: str) -> str | None:
    """The region in an execute-api URL (`https://<id>.execute-api.<region>.amazonaws.com/`)."""
    match = _REGION_IN_HOST.match(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m tools.crmsyncctl", description="Operate a deployed crmsync connector."
    )
    parse.add_argument("--url", required=True, help="the stack's HttpApiUrl output")
    parse.add_argument("--region", help="the API's region (default: the one in --url)")
    parse.add_argument("--profile", help="the AWS profile to sign with (default: the default chain)")
    commands = parse.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("status", help="paused or running, versions, Salesforce reachability and API use")
    config = commands.add_parser("config", help="read or load the connector configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_commands.add_parser("get", help="print the configuration document in force")
    push = config_commands.add_parser("push", help="check a configuration file and load it")
    push.add_argument("file", type=Path, help="the configuration document (JSON)")
    commands.add_parser("pause", help="stop automatic sync")
    commands.add_parser("resume", help="start automatic sync again; it catches up on what changed meanwhile")
    return parse


def main(
    argv: Sequence[str] | None = None, *, send: Send = send_over_https, credentials: Credentials | None = None
) -> int:
    """Run one command; `send` and `credentials` are replaced by tests (default: HTTPS and the
    default credential chain)."""
    args = parser().parse_args(argv)

    def api() -> ConnectorApi:
        signing = credentials or _default_credentials(args.profile)
        return ConnectorApi(args.url, signing, _region(args), send)

    try:
        if args.command == "config" and args.config_command == "push":
            try:
                document = _read_document(args.file)
            except JsonInputError as exc:
                _print_problems(
                    f"{args.file} is not JSON the connector reads; nothing was sent", exc.problems
                )
                return NOT_SENT
            if not _valid_locally(args.file, document):
                return REFUSED
            return _config_push(api(), document)
        if args.command == "config":
            return _config_get(api())
        if args.command == "status":
            return _print_answer(api().call("GET", "/status"))
        return _print_answer(api().call("POST", f"/{args.command}"))  # pause, resume
    except NotSent as exc:
        print(f"crmsyncctl: {exc}", file=sys.stderr)
        return NOT_SENT


def _read_document(file: Path) -> Any:
    """The file's JSON, read as the connector reads a `PUT /config` body."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise NotSent(f"cannot read {file}: {exc.strerror}") from exc
    return read_json(data, what=file.name)


def _valid_locally(file: Path, document: Any) -> bool:
    try:
        Configuration.from_document(document)
    except InvalidConfiguration as exc:
        _print_problems(f"{file} is not a valid configuration; nothing was sent", exc.problems)
        return False
    return True


def _default_credentials(profile: str | None) -> Credentials:
    try:
        credentials = botocore.session.Session(profile=profile).get_credentials()
    except BotoCoreError as exc:
        raise NotSent(str(exc)) from exc
    if credentials is None:
        raise NotSent("no AWS credentials found (environment, ~/.aws profiles, SSO or a role); see --profile")
    return credentials


def _region(args: argparse.Namespace) -> str:
    region = args.region or region_of(args.url)
    if region is None:
        raise NotSent(f"cannot tell the API's region from {args.url}; give --region")
    return str(region)


def _config_get(api: ConnectorApi) -> int:
    answer = api.call("GET", "/config")
    if not answer.ok:
        return _print_answer(answer)
    # The document alone on stdout, so `config get > file.json` gives a file to edit and push.
    print(json.dumps(answer.body["document"], indent=2, ensure_ascii=False))
    if answer.body["loaded"]:
        print(f"configuration version {answer.body['version']} is in force", file=sys.stderr)
    else:
        print("no configuration loaded yet: this is the default one", file=sys.stderr)
    return 0


def _config_push(api: ConnectorApi, document: Any) -> int:
    answer = api.call("PUT", "/config", document)
    if not answer.ok:
        return _print_answer(answer)
    print(f"configuration version {answer.body['version']} loaded")
    return 0


def _print_answer(answer: Answer) -> int:
    if answer.ok:
        print(json.dumps(answer.body, indent=2, ensure_ascii=False))
        return 0
    body = answer.body if isinstance(answer.body, dict) else {"message": str(answer.body)}
    _print_problems(f"refused ({answer.status}): {body.get('message', '')}", body.get("problems", ()))
    return REFUSED


def _print_problems(headline: str, problems: Sequence[str]) -> None:
    print(f"crmsyncctl: {headline}", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
