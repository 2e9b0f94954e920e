"""The operators' command-line tool: SigV4-signed requests to the connector's HTTP API, and a
configuration file checked locally before it is sent. Requests go to a fake sender."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.credentials import Credentials

from tools import crmsyncctl

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


def run(*argv: str, send: FakeSender, credentials: Credentials | None = CREDENTIALS) -> int:
    return crmsyncctl.main(["--url", URL, *argv], send=send, credentials=credentials)


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


def test_status_is_a_signed_get_and_its_answer_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    send = FakeSender((200, {"connector": "paused", "config_version": None}))

    assert run("status", send=send) == 0

    request = send.only_request
    assert (request.method, request.url) == ("GET", URL + "status")
    assert_signed(request)
    assert request.headers["X-Amz-Security-Token"] == "session-token"
    assert json.loads(capsys.readouterr().out) == {"connector": "paused", "config_version": None}


def test_config_push_puts_the_file_as_json_signed_with_its_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(SAMPLE.read_text()) | {"version": 2}
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps(document))
    send = FakeSender((200, {"loaded": True, "version": 2}))

    assert run("config", "push", str(file), send=send) == 0

    request = send.only_request
    assert (request.method, request.url) == ("PUT", URL + "config")
    assert request.headers["Content-Type"] == "application/json"
    assert isinstance(request.body, bytes) and json.loads(request.body) == document
    assert_signed(request)
    assert capsys.readouterr().out == "configuration version 2 loaded\n"


def test_config_push_of_an_invalid_file_prints_every_problem_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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

    assert run("config", "push", str(file), send=send, credentials=None) == crmsyncctl.REFUSED

    assert send.requests == []
    errors = capsys.readouterr().err.splitlines()
    assert errors[0] == f"crmsyncctl: {file} is not a valid configuration; nothing was sent"
    assert errors[1].startswith("  - matching: unknown matching mode 'fuzzy'")
    assert errors[2] == "  - mappings.Lead[0].behaviour: is required"


def test_config_push_of_a_file_that_is_not_json_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "broken.json"
    file.write_text('{"version": 2,')
    send = FakeSender()

    assert run("config", "push", str(file), send=send) == crmsyncctl.NOT_SENT

    assert send.requests == []
    assert f"{file} is not JSON" in capsys.readouterr().err


def test_config_push_of_a_file_with_a_duplicate_key_sends_nothing_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "my-config.json"
    file.write_text('{"version": 2, "matching": "crm_id", "objects": {"lead": true}, "matching": "email"}')
    send = FakeSender()

    assert run("config", "push", str(file), send=send) == crmsyncctl.NOT_SENT

    assert send.requests == []
    assert capsys.readouterr().err.splitlines() == [
        f"crmsyncctl: {file} is not JSON the connector reads; nothing was sent",
        "  - matching: appears more than once in one object (duplicate keys are refused)",
    ]


def test_config_push_of_a_file_that_is_not_utf8_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "latin1.json"
    file.write_bytes('{"version": 2, "// note": "café"}'.encode("latin-1"))
    send = FakeSender()

    assert run("config", "push", str(file), send=send) == crmsyncctl.NOT_SENT

    assert send.requests == []
    assert "  - latin1.json: is not UTF-8 text (byte 0xe9 at offset 30)" in capsys.readouterr().err


def test_a_refusal_prints_the_connectors_message_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "my-config.json"
    file.write_text(json.dumps({"version": 1, "mappings": {"Lead": []}}))
    refusal = {
        "message": "the configuration is invalid; nothing was loaded",
        "problems": ["outbound.scope.Contact.flagged: Contact has no field 'Sync_To_Marketing__c'"],
    }
    send = FakeSender((400, refusal))

    assert run("config", "push", str(file), send=send) == crmsyncctl.REFUSED

    assert capsys.readouterr().err.splitlines() == [
        "crmsyncctl: refused (400): the configuration is invalid; nothing was loaded",
        "  - outbound.scope.Contact.flagged: Contact has no field 'Sync_To_Marketing__c'",
    ]


def test_config_get_prints_the_document_alone_so_it_can_be_saved_and_edited(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = {"version": 3, "matching": "crm_id"}
    send = FakeSender((200, {"loaded": True, "version": 3, "document": document}))

    assert run("config", "get", send=send) == 0

    assert (send.only_request.method, send.only_request.url) == ("GET", URL + "config")
    output = capsys.readouterr()
    assert json.loads(output.out) == document
    assert output.err == "configuration version 3 is in force\n"


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pause_and_resume_are_signed_posts(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    send = FakeSender((200, {"connector": "paused" if command == "pause" else "running"}))

    assert run(command, send=send) == 0

    request = send.only_request
    assert (request.method, request.url, request.body) == ("POST", URL + command, None)
    assert_signed(request)


def test_credentials_come_from_the_default_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-environment")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    send = FakeSender((200, {"connector": "running"}))

    assert run("status", send=send, credentials=None) == 0

    assert_signed(send.only_request, access_key="AKIDFROMENVIRONMENT")


def test_the_region_is_read_from_the_url_or_must_be_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert crmsyncctl.region_of(URL) == "eu-west-1"
    assert crmsyncctl.region_of("https://abc123defg.execute-api.cn-north-1.amazonaws.com.cn") == "cn-north-1"
    assert crmsyncctl.region_of("https://crmsync.example.com/") is None
    send = FakeSender()

    code = crmsyncctl.main(
        ["--url", "https://crmsync.example.com", "status"], send=send, credentials=CREDENTIALS
    )

    assert code == crmsyncctl.NOT_SENT
    assert send.requests == []
    assert "give --region" in capsys.readouterr().err
