"""The functions' logs (Powertools Logger JSON, as CloudWatch Logs keeps it) never hold personal
data or a credential: an email is masked, a person's name is not written, and neither are the
access token, the private key or any secret of the login. The tests drive the handlers through
syncs that touch all of them, failures included, with every log line on (DEBUG), and read
everything the functions wrote."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.errors import CrmError, Failure

from functions.http_api import app as http_app
from functions.inbound_sync import app as inbound_app

from .conftest import JwtKeyPair, LambdaContext, OutboundConnector, load_event
from .test_inbound_sync import Inbound, inbound, run_inbound, wait_for_schedule
from .test_outbound_sync import insert_lead, run_outbound

__all__ = ["inbound"]  # the fixture, shared with the inbound tests

PEOPLE = [
    ("Grace", "Hopperwell", "grace.hopperwell@navy.example"),
    ("Ada", "Lovelacey", "ada.lovelacey@engine.example"),
    ("Katherine", "Johnsonne", "k.johnsonne@nasa.example"),
]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ACCESS_TOKEN = re.compile(r"[0-9A-Za-z]{15}!AQ[\w-]{16,}")


@dataclass
class Logged:
    """Every line the functions logged, and what the root logger (botocore, urllib3) passed on."""

    stream: io.StringIO
    caplog: pytest.LogCaptureFixture
    service: str

    @property
    def text(self) -> str:
        # The other loggers' records as Lambda's runtime writes them: message and traceback. (The
        # functions' own reach the root logger too, but Powertools filters them out of the
        # handlers the root logger has when it starts, as in Lambda; not out of pytest's.)
        passed_on = (
            logging.Formatter().format(record)
            for record in self.caplog.records
            if record.name.split(".")[0] != self.service
        )
        return self.stream.getvalue() + "\n".join(passed_on)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Logged]:
    """The functions' logger (one per service, shared by the four handlers) at DEBUG, writing
    into a buffer; what goes to the root logger at WARNING, as Lambda's runtime passes it on."""
    service = inbound_app.logger._logger  # the logging.Logger under Powertools' wrapper
    stream = io.StringIO()
    handlers = [handler for handler in service.handlers if isinstance(handler, logging.StreamHandler)]
    assert handlers, "the functions log through a stream handler"
    # Not `setStream`, which flushes the stream it replaces: one another test captured may be closed.
    kept = [handler.stream for handler in handlers]
    for handler in handlers:
        handler.stream = stream
    level = service.level
    service.setLevel(logging.DEBUG)
    caplog.set_level(logging.WARNING)
    try:
        yield Logged(stream, caplog, service.name)
    finally:
        service.setLevel(level)
        for handler, original in zip(handlers, kept, strict=True):
            handler.stream = original


def assert_nothing_personal_or_secret(logged: Logged, key_pair: JwtKeyPair) -> None:
    text = logged.text
    assert logged.lines(), "the functions logged nothing: this test would prove nothing"
    for first, last, email in PEOPLE:
        assert email not in text
        assert first not in text and last not in text, f"{first} {last} was logged"
    assert "not-an-email" not in text, "what a person typed into an email field is theirs"
    leaked = EMAIL.findall(text)
    assert leaked == [], leaked
    assert not ACCESS_TOKEN.search(text), "an access token was logged"
    assert "PRIVATE KEY" not in text
    key_body = [line for line in key_pair.private_key_pem.splitlines() if "PRIVATE KEY" not in line]
    assert not any(line in text for line in key_body if len(line) > 20), "the private key was logged"


def test_syncs_both_ways_with_failures_log_no_email_name_or_token(
    inbound: Inbound, logged: Logged, key_pair: JwtKeyPair
) -> None:
    salesforce = inbound.salesforce
    # GIVEN three people in Salesforce, synced to prospects
    wait_for_schedule()
    lead_ids = [
        insert_lead(salesforce, FirstName=first, LastName=last, Email=email) for first, last, email in PEOPLE
    ]
    assert run_outbound()["counts"]["created"] == 3
    inbound.connector.clock.advance(minutes=1)
    # AND the marketing side scores them and types an invalid email for one; the change is sent
    # and Salesforce refuses it, quoting the value
    inbound.edit(lead_ids, score=7)
    inbound.edit([lead_ids[2]], email="not-an-email")
    inbound.capture()
    report = run_inbound()
    assert report["counts"] == {"updated": 2, "failed": 1}
    # AND the session expires (a fresh login follows), then Salesforce goes down mid-run
    salesforce.faults.expire_sessions()
    inbound.connector.clock.advance(minutes=1)
    salesforce.update("Lead", lead_ids[0], {"Title": "Rear Admiral"})
    assert run_outbound()["outcome"] == "completed"
    salesforce.faults.server_errors(count=100, status=503)
    inbound.connector.clock.advance(minutes=1)
    with pytest.raises(CrmError):
        run_outbound()

    # THEN the functions logged, and nothing personal or secret
    assert_nothing_personal_or_secret(logged, key_pair)


def test_the_http_api_logs_no_email_or_name_of_an_action_or_of_a_refused_one(
    outbound_connector: OutboundConnector,
    logged: Logged,
    key_pair: JwtKeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a prospect synced from a Lead
    first, last, email = PEOPLE[0]
    lead_id = insert_lead(outbound_connector.salesforce, FirstName=first, LastName=last, Email=email)
    assert run_outbound()["counts"]["created"] == 1
    prospect_id = bootstrap.link_store().by_crm_ids([lead_id])[lead_id].link.prospect_id
    own = outbound_connector.stack.function_environment("HttpApiFunction", secret_arn="unused")
    for name in ("CRMSYNC_ACTIONS_QUEUE_URL",):
        monkeypatch.setenv(name, own[name])

    # WHEN automation sends an action for it, and one for an unknown prospect with an email
    for body in (
        {"action": "create_lead", "prospect_id": prospect_id, "idempotency_key": "step-1"},
        {"action": "create_lead", "prospect_id": email, "idempotency_key": "step-2"},
        {"action": "create_lead", "prospect_id": prospect_id, "email": email, "last_name": last},
        f'{{"action": "create_lead", "email": "{email}", ',  # not even JSON
    ):
        event = load_event("http_api", "post_action")
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        http_app.handler(event, LambdaContext())  # type: ignore[arg-type]

    # THEN nothing personal or secret was logged
    assert_nothing_personal_or_secret(logged, key_pair)


def test_an_exception_that_quotes_an_email_is_logged_with_the_email_masked(logged: Logged) -> None:
    # GIVEN a failure whose text quotes what was sent, as Salesforce's MALFORMED_QUERY does
    _, _, email = PEOPLE[0]
    quoted = Failure(
        "MALFORMED_QUERY", f"Id FROM Lead WHERE Email IN ('{email}')\n^\nERROR at Row:1:Column:31"
    )

    # WHEN a function logs it, with its traceback, as the handlers log a run that failed
    try:
        raise CrmError(quoted)
    except CrmError:
        inbound_app.logger.exception(f"early inbound run failed for {email}", extra={"sent": [email]})

    # THEN the line says what failed, and the address only as its first letter and domain
    (line,) = logged.lines()
    assert email not in logged.text
    assert line["message"] == "early inbound run failed for g***@navy.example"
    assert line["sent"] == ["g***@navy.example"]
    assert "WHERE Email IN ('g***@navy.example')" in line["exception"]
