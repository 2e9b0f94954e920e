"""The connector's triggered functions on a local connector, invoked as their triggers invoke
them: the outbound and inbound schedules' ticks, the prospects table's stream (change capture)
and the actions queue's event source mapping. The local stack's seeding and its ticks use them;
each invocation holds `lock`, which the local HTTP API holds for a request too (the functions of
one process share `bootstrap`'s container state and `os.environ`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from crmsync import bootstrap

from local.runtime.connector import LocalConnector
from local.runtime.invoke import LambdaContext, invoke, sample_event
from local.runtime.queues import EventSourceMapping
from local.runtime.stream import ProspectStream

OUTBOUND_TIMEOUT_MS = 300_000  # OutboundSyncFunction's Timeout in template.yaml
INBOUND_TIMEOUT_MS = 300_000  # InboundSyncFunction's
ACTIONS_TIMEOUT_MS = 60_000  # AutomationActionsFunction's
HTTP_TIMEOUT_MS = 29_000  # HttpApiFunction's
ACTIONS_BATCH = 100  # the ActionsQueue event source mapping's BatchSize

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalFunctions:
    def __init__(self, connector: LocalConnector, lock: threading.Lock | None = None) -> None:
        self.lock = lock or threading.Lock()
        # Reads the stream from now on (LATEST), as a new event source mapping does.
        self.stream = ProspectStream.of(connector.stack, endpoint_url=connector.moto_url)
        record = sample_event("automation_actions", "direct_message")["Records"][0]
        self.actions_queue = EventSourceMapping(
            bootstrap.settings().actions_queue_url, record, batch_size=ACTIONS_BATCH
        )

    def outbound_tick(self) -> dict[str, Any]:
        """One tick of the outbound schedule: a run when the configuration's schedule is due."""
        from functions.outbound_sync import app

        return self._invoke(
            app.handler,
            sample_event("outbound_sync", "scheduled"),
            "OutboundSyncFunction",
            OUTBOUND_TIMEOUT_MS,
        )

    def inbound_tick(self) -> dict[str, Any]:
        from functions.inbound_sync import app

        return self._invoke(
            app.handler, sample_event("inbound_sync", "scheduled"), "InboundSyncFunction", INBOUND_TIMEOUT_MS
        )

    def capture(self) -> list[dict[str, Any]]:
        """What the prospects stream holds, handed to the inbound function in batches as the
        event source mapping does (filtered as the template filters it); its answers."""
        from functions.inbound_sync import app

        return [
            self._invoke(app.handler, event, "InboundSyncFunction", INBOUND_TIMEOUT_MS)
            for event in self.stream.events(filtered=True)
        ]

    def consume_actions(self) -> int:
        """The actions queue handed to the actions function until it is empty; the batches."""
        from functions.automation_actions import app

        def handle(event: dict[str, Any]) -> dict[str, Any]:
            return self._invoke(app.handler, event, "AutomationActionsFunction", ACTIONS_TIMEOUT_MS)

        return len(self.actions_queue.deliver(handle))

    def request(self, name: str, **changes: Any) -> dict[str, Any]:
        """The HTTP function answering sample event `events/http_api/<name>.json`, its fields
        replaced by `changes` (`body=...`)."""
        from functions.http_api import app

        event = {**sample_event("http_api", name), **changes}
        return self._invoke(app.handler, event, "HttpApiFunction", HTTP_TIMEOUT_MS)

    def _invoke(
        self, handler: Handler, event: dict[str, Any], function: str, timeout_ms: int
    ) -> dict[str, Any]:
        with self.lock:
            return invoke(
                handler,
                event,
                LambdaContext(function_name=f"crmsync-local-{function}", timeout_ms=timeout_ms),
            )
