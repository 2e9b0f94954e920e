"""The `crmsync` command's requests, to a fake sender: SigV4 signing for a deployed stack
(`--url`), where the region and credentials come from, a configuration file checked before it is
sent, and the connector's refusals shown with its message and problems."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.credentials import Credentials
from crmsync_cli.__main__ import main
from crmsync_cli.client import region_of
from crmsync_cli.output import NOT_SENT, REFUSED, Output
from rich.console import Console

URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token")
SAMPLE = Path(__file__).resolve().parents[2] / "config" / "crmsync.sample.json"


class FakeSender:
    """Records each request and answers with the next of `answers` (status, JSON body)."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[AWSPreparedRequest] = []

    def __call__(self, request: AWSPreparedRequest) -> tuple[int, bytes]:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        return status, json.dumps(body).encode()

    @property
    def only_request(self) -> AWSPreparedRequest:
        assert len(self.requests) == 1
        return self.requests[0]


class Printed:
    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.output = Output(
            out=Console(file=self.out, width=80, highlight=False),
            err=Console(file=self.err, width=80, highlight=False),
        )


def run(
    *argv: str,
    send: FakeSender,
    credentials: Credentials | None = CREDENTIALS,
    printed: Printed | None = None,
) -> int:
    return main(
        ["--url", URL, *argv], send=send, credentials=credentials, output=(printed or Printed()).output
    )


def assert_signed(request: AWSPreparedRequest, access_key: str = "AKIDEXAMPLE") -> None:
    amz_date = request.headers["X-Amz-Date"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", amz_date)
    authorization = request.headers["Authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential={access_key}/{amz_date[:8]}/eu-west-1/execute-api/aws4_request, "
    )
    signed_headers = re.search(r"SignedHeaders=([^,]+)", authorization)
    assert signed_headers is not None and {"host", "x-amz-date"} <= set(signed_headers.group(1).split(";"))
    assert re.search(r"Signature=[0-9a-f]{64}$", authorization)


def test_status_is_a_signed_get() -> None:
    send = FakeSender((200, {"state": "running", "healthy": True}))
    printed = Printed()

    assert run("status", send=send, printed=printed) == 0

    request = send.only_request
    assert (request.method, request.url) == ("GET", URL + "status")
    assert_signed(request)
    assert request.headers["X-Amz-Security-Token"] == "session-token"
    assert printed.out.getvalue().startswith("RUNNING  healthy")


def test_query_parameters_are_signed_with_the_request() -> None:
    send = FakeSender((200, {"errors": [], "next": None}))

    assert run("errors", "--category", "validation", "--object", "Lead", send=send) == 0

    request = send.only_request
    assert request.url == URL + "errors?category=validation&object=Lead"
    assert_signed(request)


def test_config_push_puts_the_file_as_json_signed_with_its_body(tmp_path: Path) -> None:
    document = json.loads(SAMPLE.read_text()) | {"version": 2}
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps(document))
    send = FakeSender((200, {"loaded": True, "version": 2}))
    printed = Printed()

    assert run("config", "push", str(file), send=send, printed=printed) == 0

    request = send.only_request
    assert (request.method, request.url) == ("PUT", URL + "config")
    assert request.headers["Content-Type"] == "application/json"
    assert isinstance(request.body, bytes) and json.loads(request.body) == document
    assert_signed(request)
    assert printed.out.getvalue() == "Configuration version 2 loaded; it takes effect at the next runs.\n"


def test_config_push_of_an_invalid_file_prints_every_problem_and_sends_nothing(tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text(
        json.dumps(
            {
                "version": 2,
                "matching": "fuzzy",
                "mappings": {"Lead": [{"marketing_field": "email", "salesforce_field": "Email"}]},
            }
        )
    )
    send = FakeSender()
    printed = Printed()

    assert run("config", "push", str(file), send=send, credentials=None, printed=printed) == REFUSED

    assert send.requests == []
    errors = printed.err.getvalue().splitlines()
    assert errors[0] == f"crmsync: {file} is not a valid configuration; nothing was sent (2 problems)"
    assert errors[1].startswith("  - matching: unknown matching mode 'fuzzy'")
    assert errors[2] == "  - mappings.Lead[0].behaviour: is required"


def test_config_push_of_a_file_with_a_duplicate_key_sends_nothing_and_names_it(tmp_path: Path) -> None:
    file = tmp_path / "my-config.json"
    file.write_text('{"version": 2, "matching": "crm_id", "objects": {"lead": true}, "matching": "email"}')
    send = FakeSender()
    printed = Printed()

    assert run("config", "push", str(file), send=send, printed=printed) == NOT_SENT

    assert send.requests == []
    assert printed.err.getvalue().splitlines() == [
        f"crmsync: {file} is not JSON the connector reads; nothing was sent (1 problem)",
        "  - matching: appears more than once in one object (duplicate keys are refused)",
    ]


def test_config_push_of_a_file_that_is_not_utf8_sends_nothing(tmp_path: Path) -> None:
    file = tmp_path / "latin1.json"
    file.write_bytes('{"version": 2, "// note": "café"}'.encode("latin-1"))
    send = FakeSender()
    printed = Printed()

    assert run("config", "push", str(file), send=send, printed=printed) == NOT_SENT

    assert send.requests == []
    assert "  - latin1.json: is not UTF-8 text (byte 0xe9 at offset 30)" in printed.err.getvalue()


def test_a_refusal_prints_the_connectors_message_and_problems(tmp_path: Path) -> None:
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps({"version": 1, "mappings": {"Lead": []}}))
    refusal = {
        "message": "the configuration is invalid; nothing was loaded",
        "problems": ["outbound.scope.Contact.flagged: Contact has no field 'Sync_To_Marketing__c'"],
    }
    send = FakeSender((400, refusal))
    printed = Printed()

    assert run("config", "push", str(file), send=send, printed=printed) == REFUSED

    assert printed.err.getvalue().splitlines() == [
        "crmsync: refused (400): the configuration is invalid; nothing was loaded",
        "  - outbound.scope.Contact.flagged: Contact has no field 'Sync_To_Marketing__c'",
    ]


def test_aws_refusing_the_signature_says_what_to_check() -> None:
    send = FakeSender((403, {"message": "The security token included in the request is invalid."}))
    printed = Printed()

    assert run("status", send=send, printed=printed) == REFUSED

    errors = printed.err.getvalue()
    assert "refused (403): The security token included in the request is invalid." in errors
    assert "execute-api:Invoke" in errors


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pause_and_resume_are_signed_posts(command: str) -> None:
    send = FakeSender((200, {"connector": "paused" if command == "pause" else "running"}))

    assert run(command, send=send) == 0

    request = send.only_request
    assert (request.method, request.url, request.body) == ("POST", URL + command, None)
    assert_signed(request)


def test_credentials_come_from_the_default_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-environment")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    send = FakeSender((200, {"state": "running", "healthy": True}))

    assert run("status", send=send, credentials=None) == 0

    assert_signed(send.only_request, access_key="AKIDFROMENVIRONMENT")


def test_without_credentials_nothing_is_sent_and_it_says_how_to_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    send = FakeSender()
    printed = Printed()

    assert run("status", send=send, credentials=None, printed=printed) == NOT_SENT

    assert send.requests == []
    assert "no AWS credentials found" in printed.err.getvalue()


def test_the_region_is_read_from_the_url_or_must_be_given(monkeypatch: pytest.MonkeyPatch) -> None:
    assert region_of(URL) == "eu-west-1"
    assert region_of("https://abc123defg.execute-api.cn-north-1.amazonaws.com.cn") == "cn-north-1"
    assert region_of("https://crmsync.example.com/") is None
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    send = FakeSender()
    printed = Printed()

    code = main(
        ["--url", "https://crmsync.example.com", "status"],
        send=send,
        credentials=CREDENTIALS,
        output=printed.output,
    )

    assert code == NOT_SENT
    assert send.requests == []
    assert "give --region" in printed.err.getvalue()


def test_no_connector_named_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMSYNC_URL", raising=False)
    printed = Printed()

    assert main(["status"], send=FakeSender(), output=printed.output) == NOT_SENT

    assert "say which connector: --local, or --url" in printed.err.getvalue()
