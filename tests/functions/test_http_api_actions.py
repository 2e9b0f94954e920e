"""Automation intake (`POST /actions`, docs/guide/actions.md) through the HTTP entry point's handler with its
sample event: the action is validated, its prospect tagged, and the action put on the
ActionsQueue (made from template.yaml), or refused with a clear answer and nothing queued."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from crmsync import bootstrap
from crmsync.domain.errors import ErrorCategory, Failure, QueueError
from crmsync.domain.prospect import Prospect, ProspectChange

from functions.http_api import app
from local.aws_stack import LocalStack
from local.runtime.queues import drain

from .conftest import EVENTS, REGION, LambdaContext, load_event

SAMPLE_PROSPECT = "p-1001"
"""The prospect of the sample event `events/http_api/post_action.json`."""

MESSAGE_KEYS = {"action_id", "action", "prospect_id", "idempotency_key", "accepted_at"}


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def post_action(body: Any) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "post_action")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return call(event)


def add_prospect(prospect_id: str = SAMPLE_PROSPECT, email: str | None = "ada@example.com") -> Prospect:
    fields: dict[str, Any] = {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"}
    if email is not None:
        fields["email"] = email
    prospect = Prospect(id=prospect_id, fields=fields, tags=frozenset({"newsletter"}))
    assert bootstrap.prospect_store().save([ProspectChange(prospect)]) == []
    return stored(prospect_id)


def stored(prospect_id: str = SAMPLE_PROSPECT) -> Prospect:
    return bootstrap.prospect_store().get_many([prospect_id])[prospect_id]


def queued() -> list[dict[str, Any]]:
    """Every message on the ActionsQueue, taken off it."""
    return [json.loads(message["Body"]) for message in drain(bootstrap.settings().actions_queue_url)]


# ------------------------------------------------------------------ accepted


def test_the_sample_action_is_accepted_tags_the_prospect_and_queues_one_message(
    connector: LocalStack,
) -> None:
    # GIVEN the sample event's prospect, with an email
    before = add_prospect()
    sample = json.loads(load_event("http_api", "post_action")["body"])

    # WHEN the sample event is sent
    started = datetime.now(UTC)
    code, body = call(load_event("http_api", "post_action"))

    # THEN it is accepted with an action id
    assert code == 202
    assert body == {"action_id": body["action_id"], "status": "accepted"}
    # AND the prospect carries the lead tag beside its own, and nothing else changed
    after = stored()
    assert after.tags == {"newsletter", "added-to-salesforce-lead"}
    assert after.fields == before.fields
    assert after.version == before.version + 1
    # AND exactly one message, in the documented format, is on the ActionsQueue
    [message] = queued()
    assert set(message) == MESSAGE_KEYS
    assert message["action_id"] == body["action_id"]
    assert message["action"] == "create_lead"
    assert message["prospect_id"] == SAMPLE_PROSPECT
    assert message["idempotency_key"] == sample["idempotency_key"]
    accepted_at = datetime.fromisoformat(message["accepted_at"])
    assert accepted_at.utcoffset() == timedelta(0)
    assert started - timedelta(seconds=1) <= accepted_at <= datetime.now(UTC)


def test_the_direct_to_queue_sample_documents_the_same_message(connector: LocalStack) -> None:
    # GIVEN the message a platform would send straight to the queue (events/automation_actions)
    record = json.loads((EVENTS / "automation_actions" / "direct_message.json").read_text())["Records"][0]
    direct = json.loads(record["body"])
    add_prospect()

    # WHEN the sample HTTP action (same prospect, action and key) is accepted
    code, body = call(load_event("http_api", "post_action"))

    # THEN its message has the same keys and the same action id as the documented one
    assert code == 202
    [message] = queued()
    assert set(direct) == MESSAGE_KEYS
    assert {key: message[key] for key in MESSAGE_KEYS - {"accepted_at"}} == {
        key: direct[key] for key in MESSAGE_KEYS - {"accepted_at"}
    }
    assert body["action_id"] == direct["action_id"]


def test_a_repeated_delivery_with_the_same_idempotency_key_carries_the_same_action_id(
    connector: LocalStack,
) -> None:
    add_prospect()
    action = {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "idempotency_key": "run-7"}

    first = post_action(action)
    tagged = stored()
    second = post_action(action)

    assert first[0] == second[0] == 202
    assert first[1]["action_id"] == second[1]["action_id"]
    # The prospect was tagged once: the second delivery found the tag and saved nothing.
    assert stored().version == tagged.version
    assert {message["action_id"] for message in queued()} == {first[1]["action_id"]}
    # AND another key, or another action, gets another id
    assert post_action({**action, "idempotency_key": "run-8"})[1]["action_id"] != first[1]["action_id"]
    assert post_action({**action, "action": "create_contact"})[1]["action_id"] != first[1]["action_id"]


def test_without_an_idempotency_key_every_acceptance_gets_a_new_action_id(connector: LocalStack) -> None:
    add_prospect()
    action = {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT}

    ids = {post_action(action)[1]["action_id"] for _ in range(2)}

    assert len(ids) == 2
    assert all(uuid.UUID(action_id).version == 4 for action_id in ids)
    assert [message["idempotency_key"] for message in queued()] == [None, None]


def test_a_create_contact_action_tags_the_prospect_added_to_salesforce_contact(connector: LocalStack) -> None:
    add_prospect()

    code, body = post_action({"action": "create_contact", "prospect_id": SAMPLE_PROSPECT})

    assert code == 202
    assert stored().tags == {"newsletter", "added-to-salesforce-contact"}
    [message] = queued()
    assert (message["action"], message["action_id"]) == ("create_contact", body["action_id"])


def test_the_tags_of_the_configuration_in_force_are_used(connector: LocalStack) -> None:
    # GIVEN a configuration that renames the lead tag
    bootstrap.load_configuration({"version": 1, "tags": {"added_to_salesforce_lead": "sf-lead-requested"}})
    add_prospect()

    code, _ = post_action({"action": "create_lead", "prospect_id": SAMPLE_PROSPECT})

    assert code == 202
    assert stored().tags == {"newsletter", "sf-lead-requested"}


# ------------------------------------------------------------------ refused


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        pytest.param('{"action": "create_lead", ', 400, "body: is not JSON", id="malformed JSON"),
        pytest.param("", 400, "body: is not JSON", id="empty body"),
        pytest.param(
            [{"action": "create_lead"}], 400, "body: must be a JSON object, not an array", id="array"
        ),
        pytest.param('"create_lead"', 400, "body: must be a JSON object, not a string", id="string"),
        pytest.param(
            {"action": "delete_lead", "prospect_id": SAMPLE_PROSPECT},
            400,
            "action: must be one of create_lead, create_contact, not 'delete_lead'",
            id="unknown action",
        ),
        pytest.param({"prospect_id": SAMPLE_PROSPECT}, 400, "action: is required", id="missing action"),
        pytest.param({"action": "create_lead"}, 400, "prospect_id: is required", id="missing prospect_id"),
        pytest.param(
            {"action": "create_lead", "prospect_id": ""},
            400,
            "prospect_id: must not be empty",
            id="empty prospect_id",
        ),
        pytest.param(
            {"action": "create_lead", "prospect_id": 1001},
            400,
            "prospect_id: must be a string, not a number",
            id="numeric prospect_id",
        ),
        pytest.param(
            {"action": "create_lead", "prospect_id": "p" * 129},
            400,
            "prospect_id: must be at most 128 characters, not 129",
            id="long prospect_id",
        ),
        pytest.param(
            {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "idempotency_key": "k" * 129},
            400,
            "idempotency_key: must be at most 128 characters, not 129",
            id="long idempotency_key",
        ),
        pytest.param(
            {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "priority": "high"},
            400,
            "priority: unknown key (allowed: action, prospect_id, idempotency_key)",
            id="unknown key",
        ),
        pytest.param(
            json.dumps({"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "note": "x" * 17_000}),
            413,
            "body: is 17",
            id="oversized body",
        ),
        pytest.param(
            {"action": ["create_lead"], "prospect_id": SAMPLE_PROSPECT},
            400,
            "action: must be one of create_lead, create_contact, not an array",
            id="action is a list",
        ),
        pytest.param(
            {"action": {"create": "lead"}, "prospect_id": SAMPLE_PROSPECT},
            400,
            "action: must be one of create_lead, create_contact, not an object",
            id="action is an object",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": ' + "[" * 5000 + "]" * 5000 + "}",
            400,
            "body: is nested more than 32 levels deep",
            id="nested 5000 levels deep",
        ),
        pytest.param(
            f'{{"action": "create_contact", "prospect_id": "{SAMPLE_PROSPECT}", "action": "create_lead"}}',
            400,
            "action: appears more than once in one object (duplicate keys are refused)",
            id="duplicate key",
        ),
        pytest.param(
            f'{{"action": "create_lead", "prospect_id": "{SAMPLE_PROSPECT}", "idempotency_key": Infinity}}',
            400,
            "body: Infinity is not a JSON number",
            id="Infinity",
        ),
        pytest.param(
            '{"action": "create_lead", "prospect_id": "p-\\udfff"}',
            400,
            "prospect_id: is not Unicode text",
            id="lone surrogate",
        ),
    ],
)
def test_a_bad_action_is_refused_with_its_problem_and_nothing_is_queued_or_tagged(
    connector: LocalStack, body: Any, status: int, problem: str
) -> None:
    before = add_prospect()

    code, answer = post_action(body)

    assert code == status
    assert answer["message"]
    assert any(p.startswith(problem) for p in answer["problems"]), answer["problems"]
    assert queued() == []
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            base64.b64encode(b'{"action": "create_lead", "prospect_id": "p-10\xff01"}').decode(),
            "body: is not UTF-8 text (byte 0xff at offset 46); JSON is sent as UTF-8",
            id="not UTF-8",
        ),
        pytest.param("not base64!", "body: is marked base64-encoded but is not base64", id="not base64"),
    ],
)
def test_a_base64_body_that_is_not_utf8_json_is_refused_with_400(
    connector: LocalStack, body: str, problem: str
) -> None:
    before = add_prospect()
    event = load_event("http_api", "post_action")
    event["body"], event["isBase64Encoded"] = body, True

    code, answer = call(event)

    assert (code, answer["problems"]) == (400, [problem])
    assert queued() == []
    assert stored() == before


def test_a_base64_body_of_utf8_json_is_read_as_the_same_action(connector: LocalStack) -> None:
    add_prospect()
    event = load_event("http_api", "post_action")
    event["body"] = base64.b64encode(
        json.dumps({"action": "create_lead", "prospect_id": SAMPLE_PROSPECT}).encode()
    ).decode()
    event["isBase64Encoded"] = True

    code, _ = call(event)

    assert code == 202
    assert [message["prospect_id"] for message in queued()] == [SAMPLE_PROSPECT]


def test_every_problem_of_an_action_is_listed_with_its_path(connector: LocalStack) -> None:
    code, answer = post_action({"action": "create", "prospect_id": None, "idempotency_key": 7, "extra": 1})

    assert code == 400
    assert sorted(p.split(":")[0] for p in answer["problems"]) == [
        "action",
        "extra",
        "idempotency_key",
        "prospect_id",
    ]


def test_an_action_for_an_unknown_prospect_is_refused_with_404(connector: LocalStack) -> None:
    code, answer = post_action({"action": "create_lead", "prospect_id": "p-nobody"})

    assert code == 404
    assert answer == {"message": "prospect 'p-nobody' does not exist", "prospect_id": "p-nobody"}
    assert queued() == []


@pytest.mark.parametrize("email", [None, "   "])
def test_an_action_for_a_prospect_without_email_is_refused_with_422_and_not_tagged(
    connector: LocalStack, email: str | None
) -> None:
    before = add_prospect(email=email)

    code, answer = post_action({"action": "create_contact", "prospect_id": SAMPLE_PROSPECT})

    assert code == 422
    assert "has no email" in answer["message"]
    assert "never created in Salesforce" in answer["message"]
    assert queued() == []
    assert stored() == before


# ------------------------------------------------------------------ the queue cannot be used


class UnreachableQueue:
    def send(self, message: Any) -> None:
        raise QueueError(Failure("RequestThrottled", "slow down", category=ErrorCategory.TRANSIENT))


def test_when_the_queue_cannot_be_reached_the_caller_is_told_to_retry(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_prospect()
    reachable = bootstrap.actions_queue
    monkeypatch.setattr(bootstrap, "actions_queue", UnreachableQueue)

    code, answer = post_action(
        {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "idempotency_key": "k"}
    )

    assert code == 503
    assert answer["retryable"] is True
    assert "actions queue" in answer["message"]
    assert "RequestThrottled" in answer["message"]

    # AND sending it again once the queue is back is accepted, under the same id, queued once
    monkeypatch.setattr(bootstrap, "actions_queue", reachable)
    code, body = post_action(
        {"action": "create_lead", "prospect_id": SAMPLE_PROSPECT, "idempotency_key": "k"}
    )
    assert code == 202
    assert [message["action_id"] for message in queued()] == [body["action_id"]]


@pytest.mark.outside_the_stack
def test_a_queue_that_does_not_exist_is_an_error_of_the_stack_not_retryable(
    connector: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_prospect()
    monkeypatch.setenv(
        "CRMSYNC_ACTIONS_QUEUE_URL", f"https://sqs.{REGION}.amazonaws.com/123456789012/no-such-queue"
    )
    bootstrap.reset()

    code, answer = post_action({"action": "create_lead", "prospect_id": SAMPLE_PROSPECT})

    assert code == 500
    assert answer["retryable"] is False


# ------------------------------------------------------------------ cold start


ROOT = Path(__file__).resolve().parents[2]

_INTAKE_COLD_START = """
import json, os, sys
from moto import mock_aws
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true")
with mock_aws():
    from local.aws_stack import create_stack
    stack = create_stack(region="us-east-1")
    os.environ.update(stack.function_environment("HttpApiFunction", secret_arn="arn:unused"))
    from crmsync import bootstrap
    from crmsync.domain.prospect import Prospect, ProspectChange
    bootstrap.prospect_store().save([ProspectChange(Prospect(id="p-1001", fields={"email": "a@example.com"}))])
    bootstrap.config_store().save({"version": 3, "tags": {"added_to_salesforce_lead": "asked-for-a-lead"}})
    for name in [m for m in sys.modules if m.startswith(("crmsync.", "functions."))]:
        del sys.modules[name]  # the set-up's, storing the configuration: the route loads its own
    from crmsync import bootstrap
    from functions.http_api import app
    event = json.load(open("events/http_api/post_action.json"))
    class Context:
        function_name = "f"; memory_limit_in_mb = 128; aws_request_id = "r"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    response = app.handler(event, Context())
    tags = bootstrap.prospect_store().get_many(["p-1001"])["p-1001"].tags
    print(json.dumps({"status": response["statusCode"], "tags": sorted(tags),
                      "salesforce": sorted(m for m in sys.modules if "salesforce" in m),
                      "configuration": "crmsync.config" in sys.modules}))
"""


@cache
def intake_cold_start() -> dict[str, Any]:
    """POST /actions answered in a fresh interpreter (a cold HttpApiFunction) on moto, after a
    configuration with a tag of its own was stored: what it answered, and which modules the
    route loaded (the set-up's crmsync modules are forgotten before the route is imported)."""
    env = {"PYTHONPATH": f"{ROOT / 'layers' / 'crmsync'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    output = subprocess.run(
        [sys.executable, "-c", _INTAKE_COLD_START],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def test_the_intake_route_answers_without_importing_simple_salesforce() -> None:
    result = intake_cold_start()
    assert result["status"] == 202
    assert "simple_salesforce" not in result["salesforce"]
    assert "crmsync.salesforce.gateway" not in result["salesforce"]


def test_the_intake_route_tags_as_the_configuration_says_without_importing_its_models() -> None:
    result = intake_cold_start()
    assert result["status"] == 202
    assert result["tags"] == ["asked-for-a-lead"]
    assert not result["configuration"]
