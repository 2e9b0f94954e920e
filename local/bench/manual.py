"""`make bench`, manual sync: `POST /records/{id}/sync` through `functions.http_api.app.handler`
in this process (HttpApiFunction's environment), the emulator and moto in processes of their
own. One Lead synced by hand while the connector is paused: first by its Id (outbound links it
to a new prospect), then both ways by its prospect's id once the marketing side gave a new title it.
Prints the Salesforce API calls and the wall time of each; asserts nothing."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from local.bench.doubles import connector_with_doubles_apart
from local.runtime.invoke import LambdaContext, invoke, sample_event


def _sync(record_id: str, direction: str) -> tuple[dict[str, Any], float]:
    from functions.http_api import app

    event = sample_event("http_api", "record_sync")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/records/{record_id}/sync"
    event["pathParameters"] = {"id": record_id}
    event["body"] = json.dumps({"direction": direction})
    started = time.perf_counter()
    response = invoke(app.handler, event, LambdaContext(function_name="crmsync-bench-HttpApiFunction"))
    seconds = time.perf_counter() - started
    if response["statusCode"] != 200:
        raise SystemExit(f"manual sync answered {response['statusCode']}: {response['body']}")
    answer: dict[str, Any] = json.loads(response["body"])
    return answer, seconds


def manual_syncs() -> None:
    print("manual sync of one record through functions/http_api/app.handler (POST /records/{id}/sync):")
    with connector_with_doubles_apart() as connector:
        from crmsync import bootstrap
        from crmsync.domain.prospect import ProspectChange
        from crmsync.sync.manual_request import MAX_API_CALLS

        os.environ.update(connector.environment("HttpApiFunction"))
        bootstrap.reset()
        bootstrap.pause()
        connector.org.insert_leads(1, "manual")
        (lead_id,) = connector.org.lead_ids("manual")
        # A warm container: the login and the lazy imports are a cold start's, not the sync's.
        _sync(lead_id, "outbound")
        connector.org.insert_leads(1, "second")
        (second_id,) = connector.org.lead_ids("second")
        connector.org.reset_counters()
        answer, seconds = _sync(second_id, "both")
        print(
            f"  a Lead no prospect has, both ways: {answer['outbound']['outcome']}, then "
            f"{answer['inbound']['outcome']}; {connector.org.api_calls()} API calls "
            f"(at most {MAX_API_CALLS}) in {seconds:.2f} s"
        )
        prospect_id = answer["prospect_id"]
        prospects = bootstrap.prospect_store()
        prospect = prospects.get_many([prospect_id])[prospect_id]
        retitled = replace(
            prospect, fields={**prospect.fields, "job_title": "CTO"}, modified_at=datetime.now(UTC)
        )
        prospects.save([ProspectChange(retitled, before=prospect)])
        connector.org.reset_counters()
        answer, seconds = _sync(prospect_id, "both")
        print(
            f"  a linked prospect the marketing side gave a new title, both ways: {answer['outbound']['outcome']}, "
            f"then {answer['inbound']['outcome']}; {connector.org.api_calls()} API calls in {seconds:.2f} s"
        )
