"""`GET /runs` through the HTTP entry point's handler with its sample event: the recent runs and
the Salesforce API calls each spent, by kind."""

from __future__ import annotations

import json
from typing import Any

from functions.http_api import app
from local.aws_stack import LocalStack

from .conftest import LambdaContext, OutboundConnector, load_event
from .test_outbound_sync import insert_lead, later, run_outbound


def runs(**query: str) -> tuple[int, dict[str, Any]]:
    event = load_event("http_api", "runs")
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in query.items())
    response = app.handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def test_the_recent_runs_show_their_outcome_counts_duration_and_api_calls_by_kind(
    outbound_connector: OutboundConnector,
) -> None:
    salesforce = outbound_connector.salesforce
    # GIVEN two outbound runs: the first logs in and brings a Lead over, the second reads a change
    lead_id = insert_lead(salesforce, Email="grace@example.com")
    first = run_outbound()
    later(outbound_connector)
    salesforce.update("Lead", lead_id, {"Company": "Yale"})
    second = run_outbound()

    # WHEN the runs are asked for
    status, body = runs(direction="outbound", limit="5")

    # THEN they come newest first, each with what it did and the calls it made, by kind
    assert status == 200
    assert [run["run_id"] for run in body["runs"]] == [second["run_id"], first["run_id"]]
    newest, oldest = body["runs"]
    assert (newest["outcome"], newest["counts"]) == ("completed", {"read": 1, "updated": 1})
    assert newest["duration_s"] >= 0
    for run in body["runs"]:
        kinds = run["api_calls_by_kind"]
        assert sum(count for kind, count in kinds.items() if kind != "login") == run["api_calls"] > 0
        assert kinds["query"] >= 1
    assert oldest["api_calls_by_kind"]["login"] == 1
    assert "login" not in newest["api_calls_by_kind"]
    assert runs(direction="inbound")[1] == {"runs": []}


def test_a_query_that_cannot_be_read_is_refused(connector: LocalStack) -> None:
    status, body = runs(direction="sideways", limit="many")

    assert status == 400
    assert body["problems"] == [
        "direction: 'sideways' is not one of outbound, inbound",
        "limit: 'many' is not a whole number from 1 to 200",
    ]
