"""Carrying out automation actions (docs/guide/actions.md): the `automation_actions` consumer's use case.

A batch of queue messages is carried out together (`batch.py`), with batched calls. Each
message ends one of two ways: consumed (carried out, found done, or refused with an entry in
the error list), or left for SQS to deliver again (`Outcome.RETRY`: Salesforce or DynamoDB
could not be reached, a row stayed locked). While the connector is paused or over its API
budget, valid actions are parked in the state table (`ParkedActions`) and consumed: on the
queue they would count receives towards the dead-letter queue. `carry_out_parked` carries
them out once the connector can send again; the consumer does so at the start of every
invocation, and the inbound run after a resume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crmsync.config import Configuration, OwnerDirection
from crmsync.domain.action_results import BadAction, Outcome
from crmsync.domain.actions import AutomationRules
from crmsync.domain.errors import CrmError
from crmsync.domain.objects import PEOPLE
from crmsync.domain.owner import owner_map
from crmsync.ports import (
    ActionClaims,
    AuditTrail,
    Clock,
    CrmGateway,
    ErrorList,
    LinkStore,
    ParkedAction,
    ParkedActions,
    ProspectStore,
    StateStore,
    UserDirectory,
)
from crmsync.sync.actions.batch import ActionBatch, read_batch
from crmsync.sync.actions.messages import ActionMessage, read_message
from crmsync.sync.actions.records import ActionRecords
from crmsync.sync.budget import ApiBudget
from crmsync.sync.run import ReportStore, RunContext

BATCH_SIZE = 100
"""Parked actions carried out per batch: the consumer's own SQS batch size."""
STOP_MARGIN_MS = 20_000
"""Parked actions are taken up only while this much time is left: one batch takes a few
Salesforce and DynamoDB calls, well under it."""


@dataclass
class BatchReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Message id → what became of it."""
    waiting_reason: str | None = None
    """Why the actions were parked rather than carried out (paused, over the API budget)."""
    parked_counts: Counter[str] = field(default_factory=Counter)
    """What became of the parked actions carried out before the batch."""

    @property
    def counts(self) -> Counter[str]:
        return Counter(outcome.value for outcome in self.outcomes.values())

    @property
    def to_retry(self) -> set[str]:
        return {message_id for message_id, outcome in self.outcomes.items() if outcome is Outcome.RETRY}

    def add(self, other: BatchReport) -> None:
        self.outcomes.update(other.outcomes)


def automation_rules(configuration: Configuration) -> AutomationRules:
    """The configuration's rules for an action's decision."""
    return AutomationRules(
        matching=configuration.matching,
        mappings={crm: configuration.mappings.get(crm, ()) for crm in PEOPLE},
        synced=frozenset(crm for crm in PEOPLE if configuration.objects.syncs(crm)),
        settings=configuration.automation,
    )


class AutomationActions:
    """`crm` builds the Salesforce gateway on first use: a call with nothing parked, from the
    scheduled inbound run, never logs in."""

    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        prospects: ProspectStore,
        audit_trail: AuditTrail,
        error_list: ErrorList,
        connector: StateStore,
        claims: ActionClaims,
        parked: ParkedActions,
        configuration: Configuration,
        clock: Clock,
        api_budget_percent: float = 50.0,
        audit_retention_days: int = 30,
        stop_margin_ms: int = STOP_MARGIN_MS,
        user_directory: UserDirectory | None = None,
    ) -> None:
        """`user_directory`: the owner of a record created is read back and given to its
        prospect (owner sync from Salesforce); without it, the next outbound run does that."""
        self._crm = crm
        self._users = user_directory
        self._links = links
        self._prospects = prospects
        self._reports = ReportStore(audit_trail, error_list, audit_retention_days)
        self._connector = connector
        self._claims = claims
        self._parked = parked
        self._config = configuration
        self._clock = clock
        self._budget = ApiBudget(api_budget_percent, clock)
        self._stop_margin = stop_margin_ms
        self._rules = automation_rules(configuration)

    # ------------------------------------------------------------------ entry points

    def carry_out(
        self, messages: Sequence[ActionMessage], remaining_ms: Callable[[], int], run_id: str
    ) -> BatchReport:
        """Carry out one SQS batch: first what was parked, then the batch; or, while the
        connector cannot send, park the batch's valid actions."""
        waiting_reason = self._waiting_reason()
        if waiting_reason is not None:
            return self._park(messages, waiting_reason)
        parked = self._carry_out_parked(remaining_ms, run_id)
        report = self._carry_out_batch(messages, remaining_ms, run_id)
        report.parked_counts = parked.counts
        return report

    def carry_out_parked(self, remaining_ms: Callable[[], int], run_id: str) -> BatchReport:
        """Carry out the parked actions, oldest first, while time is left and the connector can
        send; those that meet a passing failure stay parked for the next call. With nothing
        parked it costs one DynamoDB query and no Salesforce call."""
        if not self._parked.waiting(1) or self._waiting_reason() is not None:
            return BatchReport()
        return self._carry_out_parked(remaining_ms, run_id)

    # ------------------------------------------------------------------ the batches

    def _carry_out_batch(
        self, messages: Sequence[ActionMessage], remaining_ms: Callable[[], int], run_id: str
    ) -> BatchReport:
        context = RunContext(run_id, self._clock.now(), remaining_ms, self._stop_margin)
        read = read_batch(messages)
        report = BatchReport()
        if read.bad:
            self._reports.error_list.record_errors([bad.error(context.now) for bad in read.bad])
        report.outcomes.update((bad.message_id, Outcome.FAILED) for bad in read.bad)
        if not read.actions:
            return report
        batch = ActionBatch(
            records=ActionRecords(
                crm=self._crm, links=self._links, rules=self._rules, batching=self._config.batching
            ),
            links=self._links,
            prospects=self._prospects,
            claims=self._claims,
            reports=self._reports,
            rules=self._rules,
            tags=self._config.tags,
            context=context,
            owners=self._owners(),
        )
        for result in batch.carry_out(read.actions, read.last_receive):
            first, *others = read.messages[result.prospect_id]
            report.outcomes[first] = result.outcome
            duplicate = Outcome.RETRY if result.outcome is Outcome.RETRY else Outcome.DUPLICATE
            report.outcomes.update((message_id, duplicate) for message_id in others)
        return report

    def _carry_out_parked(self, remaining_ms: Callable[[], int], run_id: str) -> BatchReport:
        report = BatchReport()
        while remaining_ms() >= self._stop_margin:
            parked = self._parked.waiting(BATCH_SIZE)
            if not parked:
                break
            messages = [ActionMessage(p.message_id, p.body, p.sent_at) for p in parked]
            done = self._carry_out_batch(messages, remaining_ms, run_id)
            report.add(done)
            self._parked.remove([p for p in parked if done.outcomes[p.message_id] is not Outcome.RETRY])
            if done.to_retry:
                break  # those are first in line again: they wait for a later call
        return report

    def _owners(self) -> Callable[[], dict[str, str]] | None:
        """Salesforce user id → marketing user, read when a record was created, while owner
        sync follows Salesforce (two-way, the owner is a pair of the snapshot: left to the next
        outbound run)."""
        users, owner = self._users, self._config.owner
        if users is None or owner.direction is not OwnerDirection.SALESFORCE:
            return None
        return lambda: owner_map(((u.id, u.email, u.active) for u in users.users().values()), owner.user_map)

    # ------------------------------------------------------------------ waiting

    def _waiting_reason(self) -> str | None:
        if self._connector.connector_state().paused:
            return "the connector is paused"
        try:
            spent = self._budget.spent(self._crm())
        except CrmError:
            # Salesforce cannot say: the batch's own calls meet the same failure, and report it
            # on each action.
            return None
        if spent is not None:
            return f"the connector has used its API budget ({spent.percent}% of {spent.limit} calls today)"
        return None

    def _park(self, messages: Sequence[ActionMessage], reason: str) -> BatchReport:
        report = BatchReport(waiting_reason=reason)
        valid: list[ParkedAction] = []
        bad: list[BadAction] = []
        for message in messages:
            read = read_message(message)
            if isinstance(read, BadAction):
                bad.append(read)
                report.outcomes[message.message_id] = Outcome.FAILED
            else:
                valid.append(ParkedAction(message.message_id, message.body, message.sent_at))
                report.outcomes[message.message_id] = Outcome.PARKED
        # Refused at once: nothing about a bad action waits for Salesforce.
        self._reports.error_list.record_errors([b.error(self._clock.now()) for b in bad])
        self._parked.park(valid)
        return report
