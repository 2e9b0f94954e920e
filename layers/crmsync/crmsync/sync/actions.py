"""Carrying out automation actions (docs/guide/actions.md): the `automation_actions` consumer's use case.

A batch of queue messages is carried out together, with batched calls: the prospects and their
links in two reads, one Salesforce query per object for the candidates of every action
(`email` mode: by email; `crm_id` mode: by the CRM ID a prospect carries), the Accounts of new
Contacts found and created once per company, the records upserted in Collections batches,
then the links saved in one step.

Exactly once, three ways:
1. a prospect already linked is done: one CRM record per prospect, whatever the action asks;
2. the prospect is claimed before anything reaches Salesforce (`ActionClaims`, Powertools
   idempotency keyed by the prospect id), so two deliveries running at once do not both create;
3. a created record carries the prospect id in the external-id field and is written with an
   upsert on it, so a retry after a crash between "Salesforce created it" and "the link was
   saved" finds and reuses that record.

Each message ends one of two ways: consumed (carried out, found done, or refused with an entry
in the error list), or left for SQS to deliver again (`Outcome.RETRY`: Salesforce or DynamoDB
could not be reached, a row stayed locked). While the connector is paused or over its API
budget, valid actions are parked in the state table (`ParkedActions`) and consumed: on the
queue they would count receives towards the dead-letter queue. `carry_out_parked` carries
them out once the connector can send again; the consumer does so at the start of every
invocation, and the inbound run after a resume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crmsync.config import Configuration, OwnerDirection
from crmsync.domain.actions import (
    Action,
    ActionDecision,
    ActionFacts,
    ActionKind,
    AutomationRules,
    Decision,
    FoundRecord,
    NewRecord,
    account_key,
    choose_account,
    claim_key,
    decide_actions,
    settle_without_salesforce,
)
from crmsync.domain.audit import AuditRecord, Direction, SyncError
from crmsync.domain.errors import CrmError, ErrorCategory, Failure, StoreError
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange, LinkOrigin, StoredLink, relink_deleted
from crmsync.domain.matching import CrmCandidate, MatchingMode
from crmsync.domain.objects import PEOPLE, CrmObject
from crmsync.domain.owner import owner_map
from crmsync.domain.prospect import Prospect, ProspectChange
from crmsync.domain.records import WriteOperation
from crmsync.domain.scope import as_checkbox, as_datetime
from crmsync.json_input import JsonInputError, json_type, read_json
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
from crmsync.sync.actions_intake import (
    MAX_ACTION_BYTES,
    MAX_ID_LENGTH,
    ActionRequest,
    InvalidAction,
    action_id,
    is_action_kind,
    parse_action,
)
from crmsync.sync.budget import ApiBudget

BATCH_SIZE = 100
"""Parked actions carried out per batch: the consumer's own SQS batch size."""
STOP_MARGIN_MS = 20_000
"""Parked actions are taken up only while this much time is left: one batch takes a few
Salesforce and DynamoDB calls, well under it."""
PROSPECT_SAVE_ATTEMPTS = 3
"""Tries at tagging a prospect (and setting its CRM ID) that keeps changing under us; after
them the prospect is left as it is: the link, saved already, is what counts."""
ACTION_OBJECT = "AutomationAction"
"""The error list's object for an action that names no object (its action is unknown)."""
MAX_RECEIVES = 5
"""ActionsQueue's redrive policy (template.yaml): a message that fails its fifth receive goes
to the dead-letter queue, so its error list entry stops saying "retrying"."""

_EXTRA_MESSAGE_KEYS = ("action_id", "accepted_at")
_KEY_PREFIXES = {"00Q": CrmObject.LEAD, "003": CrmObject.CONTACT, "001": CrmObject.PERSON_ACCOUNT}


class Outcome(StrEnum):
    CREATED = "created"
    LINKED = "linked"
    """Linked to an existing record (email match, or one an earlier attempt created)."""
    ALREADY_LINKED = "already_linked"
    DUPLICATE = "duplicate"
    """Another message of the batch asks for the same prospect; it shares that one's outcome."""
    FAILED = "failed"
    """Refused or failed for good: the error list says why. The message is consumed."""
    RETRY = "retry"
    """Not carried out for a passing reason: SQS delivers the message again."""
    PARKED = "parked"


@dataclass(frozen=True)
class ActionMessage:
    """One message of the actions queue."""

    message_id: str
    body: str
    sent_at: datetime
    receive_count: int = 1


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


@dataclass(frozen=True)
class BadAction:
    """A message that is no valid action; it goes to the error list."""

    message_id: str
    action_id: str
    failure: Failure
    prospect_id: str | None
    kind: ActionKind | None


def read_message(message: ActionMessage) -> Action | BadAction:
    """The action a message asks for (the format of `actions_intake`), or why it is none.
    Whatever the body holds, the answer is one of the two: a message's failure is its own and
    never the batch's.

    A message sent straight to the queue may lack `action_id` and `accepted_at`: its id is then
    derived as the intake derives it (from the idempotency key, else the SQS message id, which
    a redelivery keeps)."""
    size = len(message.body.encode("utf-8", "surrogatepass"))
    if size > MAX_ACTION_BYTES:
        return _bad(
            message,
            "ACTION_TOO_LARGE",
            f"the message is {size} bytes; an action is at most {MAX_ACTION_BYTES}",
        )
    try:
        body = read_json(message.body, what="message")
    except JsonInputError as exc:
        return _bad(message, "MALFORMED_ACTION", "; ".join(exc.problems), fields=_paths(exc.problems))
    if not isinstance(body, dict):
        return _bad(
            message, "MALFORMED_ACTION", f"message: must be a JSON object (an action), not {json_type(body)}"
        )
    problems: list[str] = []
    request: ActionRequest | None = None
    try:
        request = parse_action({k: v for k, v in body.items() if k not in _EXTRA_MESSAGE_KEYS})
    except InvalidAction as invalid:
        problems += [
            p.replace("(allowed: ", f"(allowed: {', '.join(_EXTRA_MESSAGE_KEYS)}, ") for p in invalid.problems
        ]
    given_id = body.get("action_id")
    if given_id is not None and not _short_text(given_id):
        problems.append(f"action_id: must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    accepted_at = _moment(body.get("accepted_at"))
    if body.get("accepted_at") is not None and accepted_at is None:
        problems.append("accepted_at: must be an ISO-8601 time, like 2026-11-22T12:00:00Z")
    if problems or request is None:
        kind = body.get("action")
        unknown = "action" in body and not is_action_kind(kind)
        return BadAction(
            message_id=message.message_id,
            action_id=str(given_id) if _short_text(given_id) else message.message_id,
            failure=Failure(
                "UNKNOWN_ACTION" if unknown else "INVALID_ACTION",
                "; ".join(problems),
                fields=_paths(problems),
            ),
            prospect_id=body.get("prospect_id") if _short_text(body.get("prospect_id")) else None,
            kind=ActionKind(str(kind)) if is_action_kind(kind) else None,
        )
    return Action(
        action_id=str(given_id) if given_id else action_id(request, lambda: message.message_id),
        kind=request.action,
        prospect_id=request.prospect_id,
        idempotency_key=request.idempotency_key,
        accepted_at=accepted_at,
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
        """`user_directory`: the owner of a record created is read back and given to its prospect
        (owner sync from Salesforce); without it, the next outbound run does that."""
        self._crm_factory = crm
        self._users = user_directory
        self._links = links
        self._prospects = prospects
        self._audit_trail = audit_trail
        self._error_list = error_list
        self._connector = connector
        self._claims = claims
        self._parked = parked
        self._config = configuration
        self._clock = clock
        self._budget = ApiBudget(api_budget_percent, clock)
        self._retention = audit_retention_days
        self._stop_margin = stop_margin_ms
        self._rules = AutomationRules(
            matching=configuration.matching,
            mappings={crm: configuration.mappings.get(crm, ()) for crm in PEOPLE},
            synced=frozenset(crm for crm in PEOPLE if configuration.objects.syncs(crm)),
            settings=configuration.automation,
        )

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
        report = _Batch(self, run_id, remaining_ms).carry_out(messages)
        report.parked_counts = parked.counts
        return report

    @property
    def _crm(self) -> CrmGateway:
        return self._crm_factory()

    def carry_out_parked(self, remaining_ms: Callable[[], int], run_id: str) -> BatchReport:
        """Carry out the parked actions, oldest first, while time is left and the connector can
        send; those that meet a passing failure stay parked for the next call. With nothing
        parked it costs one DynamoDB query and no Salesforce call."""
        if not self._parked.waiting(1) or self._waiting_reason() is not None:
            return BatchReport()
        return self._carry_out_parked(remaining_ms, run_id)

    def _carry_out_parked(self, remaining_ms: Callable[[], int], run_id: str) -> BatchReport:
        report = BatchReport()
        while remaining_ms() >= self._stop_margin:
            parked = self._parked.waiting(BATCH_SIZE)
            if not parked:
                break
            messages = [ActionMessage(p.message_id, p.body, p.sent_at) for p in parked]
            done = _Batch(self, run_id, remaining_ms).carry_out(messages)
            report.add(done)
            self._parked.remove([p for p in parked if done.outcomes[p.message_id] is not Outcome.RETRY])
            if done.to_retry:
                break  # those are first in line again: they wait for a later call
        return report

    def _waiting_reason(self) -> str | None:
        if self._connector.connector_state().paused:
            return "the connector is paused"
        try:
            spent = self._budget.spent(self._crm)
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
        self._error_list.record_errors([_bad_action_error(b, self._clock.now()) for b in bad])
        self._parked.park(valid)
        return report


@dataclass
class _Work:
    """One action of the batch on its way to its outcome."""

    message_ids: list[str]
    """Its message, then the batch's other messages for the same prospect."""
    action: Action
    prospect: Prospect | None = None
    link: StoredLink | None = None
    claimed: bool = False
    decision: ActionDecision | None = None
    outcome: Outcome | None = None
    crm: CrmRef | None = None
    """The record the prospect is linked to once done."""
    account_id: str | None = None
    """A new Contact's Account, once found or created."""
    created: bool = False
    assigned_user: str | None = None
    """The marketing user of the created record's owner, once read back."""
    last_receive: bool = False
    """Its message will not be delivered again after a passing failure (dead-letter queue next)."""
    failure: Failure | None = None
    operation: str = ""

    def finish(self, outcome: Outcome, *, failure: Failure | None = None, operation: str = "") -> None:
        self.outcome = outcome
        self.failure = failure
        self.operation = operation or self.action.kind.value

    def fail(self, failure: Failure, operation: str = "") -> None:
        """This action failed: for good, unless the failure is a passing one."""
        self.finish(
            Outcome.RETRY if failure.retryable else Outcome.FAILED, failure=failure, operation=operation
        )

    def retry(self, failure: Failure, operation: str = "") -> None:
        """A request failed as a whole (Salesforce or DynamoDB unreachable, a login refused):
        nothing is wrong with the action itself, so it is delivered again, whatever the
        failure; a lasting one ends in the dead-letter queue, to redrive once fixed."""
        self.finish(Outcome.RETRY, failure=failure, operation=operation)

    @property
    def open(self) -> bool:
        return self.outcome is None

    @property
    def claim_key(self) -> str:
        return claim_key(self.action.prospect_id, self.link.link if self.link else None)


class _Batch:
    """One batch carried out: read, claim, look up, decide, write, link, report."""

    def __init__(self, use_case: AutomationActions, run_id: str, remaining_ms: Callable[[], int]) -> None:
        self.u = use_case
        self.run_id = run_id
        self.remaining_ms = remaining_ms
        self.now = use_case._clock.now()
        self.rules = use_case._rules
        self.settings = use_case._rules.settings

    def carry_out(self, messages: Sequence[ActionMessage]) -> BatchReport:
        report = BatchReport()
        works, bad = self._read(messages)
        self.u._error_list.record_errors([_bad_action_error(b, self.now) for b in bad])
        report.outcomes.update((b.message_id, Outcome.FAILED) for b in bad)
        if works:
            try:
                self._carry_out(works)
            except BaseException:
                # Whatever stopped the batch, a claim it holds must not block the redelivery.
                self._release_claims(works)
                raise
            self._report(works)
        for work in works:
            assert work.outcome is not None
            report.outcomes[work.message_ids[0]] = work.outcome
            duplicate = Outcome.RETRY if work.outcome is Outcome.RETRY else Outcome.DUPLICATE
            report.outcomes.update((message_id, duplicate) for message_id in work.message_ids[1:])
        return report

    def _read(self, messages: Sequence[ActionMessage]) -> tuple[list[_Work], list[BadAction]]:
        works: dict[str, _Work] = {}
        bad: list[BadAction] = []
        read = [(message, read_message(message)) for message in messages]
        oldest_first = sorted(
            read,
            key=lambda pair: _when(pair[1], pair[0]),  # the action first asked for wins
        )
        for message, action in oldest_first:
            if isinstance(action, BadAction):
                bad.append(action)
            elif action.prospect_id in works:
                works[action.prospect_id].message_ids.append(message.message_id)
            else:
                works[action.prospect_id] = _Work(
                    [message.message_id], action, last_receive=message.receive_count >= MAX_RECEIVES
                )
        return list(works.values()), bad

    def _carry_out(self, works: list[_Work]) -> None:
        prospects = self.u._prospects.get_many([w.action.prospect_id for w in works])
        links = self.u._links.by_prospect_ids([w.action.prospect_id for w in works])
        for work in works:
            work.prospect = prospects.get(work.action.prospect_id)
            work.link = links.get(work.action.prospect_id)
            settled = settle_without_salesforce(
                ActionFacts(work.action, work.prospect, work.link.link if work.link else None), self.rules
            )
            if settled is not None:
                self._settle(work, settled)
        self._claim([w for w in works if w.open])
        claimed = [w for w in works if w.open]
        if claimed:
            self._decide(claimed)
            self._create([w for w in claimed if w.open and w.decision and w.decision.new_record])
            self._note_owners([w for w in claimed if w.open and w.created])
            self._link([w for w in claimed if w.open and w.crm is not None])
        self._update_prospects(works)
        self._settle_claims(works)

    # ------------------------------------------------------------------ steps

    def _settle(self, work: _Work, decision: ActionDecision) -> None:
        work.decision = decision
        if decision.decision is Decision.ALREADY_LINKED:
            work.crm = decision.crm
            work.finish(Outcome.ALREADY_LINKED)
        else:
            assert decision.failure is not None
            work.fail(decision.failure)

    def _claim(self, works: Sequence[_Work]) -> None:
        for work in works:
            try:
                claim = self.u._claims.claim(work.claim_key, self.remaining_ms())
            except StoreError as exc:
                work.retry(exc.failure, "claim")
                continue
            if claim.claimed:
                work.claimed = True
            elif claim.done_with is not None:
                done = claim.done_with
                work.crm = CrmRef(CrmObject(done["crm_type"]), str(done["crm_id"]))
                work.decision = ActionDecision(
                    Decision.ALREADY_LINKED,
                    f"action {done.get('action_id')} carried this prospect out already: "
                    f"{work.crm.object} {work.crm.id}",
                    crm=work.crm,
                )
                work.finish(Outcome.ALREADY_LINKED)
            else:
                work.fail(
                    Failure(
                        "ACTION_IN_PROGRESS",
                        "another invocation is carrying out an action for this prospect",
                        category=ErrorCategory.TRANSIENT,
                    ),
                    "claim",
                )

    def _decide(self, works: Sequence[_Work]) -> None:
        try:
            found = self._find_candidates(works)
        except CrmError as exc:
            for work in works:
                work.retry(exc.failure, "find")
            return
        batch = [
            ActionFacts(
                w.action,
                w.prospect,
                w.link.link if w.link else None,
                found.get(self._candidate_key(w) or "", ()),
            )
            for w in works
        ]
        for work, decision in zip(works, decide_actions(batch, self.rules), strict=True):
            work.decision = decision
            if decision.decision is Decision.LINK:
                work.crm = decision.crm
            elif decision.decision is Decision.REFUSE:
                assert decision.failure is not None
                work.fail(decision.failure)

    def _candidate_key(self, work: _Work) -> str | None:
        assert work.prospect is not None
        if self.rules.matching is MatchingMode.CRM_ID:
            return work.prospect.crm_id
        return work.prospect.email_key

    def _find_candidates(self, works: Sequence[_Work]) -> dict[str, list[FoundRecord]]:
        """Candidate records by match key (email, or CRM ID), one query per object."""
        keys = {key for w in works if (key := self._candidate_key(w))}
        if not keys:
            return {}
        rows: list[tuple[CrmObject, dict[str, Any]]] = []
        external_id = self.settings.external_id_field
        for crm in PEOPLE:
            email_field = crm.email_field
            if crm not in self.rules.synced or email_field is None:
                continue
            fields = ["Id", email_field, "LastModifiedDate"]
            fields += {
                CrmObject.LEAD: ["IsConverted", external_id],
                CrmObject.CONTACT: [external_id]
                + (["IsPersonAccount"] if CrmObject.PERSON_ACCOUNT in self.rules.synced else []),
                CrmObject.PERSON_ACCOUNT: ["IsPersonAccount"],
            }[crm]
            if self.rules.matching is MatchingMode.CRM_ID:
                wanted = sorted(k for k in keys if _KEY_PREFIXES.get(k[:3]) is crm)
                key_field = "Id"
            else:
                wanted, key_field = sorted(keys), email_field
            if not wanted:
                continue
            for row in self.u._crm.find(crm.sobject, fields, key_field, wanted):
                # A Person Account's hidden Contact is the Person Account itself; a business
                # Account is no person.
                if as_checkbox(row.get("IsPersonAccount")) == (crm is CrmObject.PERSON_ACCOUNT):
                    rows.append((crm, row))
        linked = self.u._links.by_crm_ids([str(row["Id"]) for _, row in rows])
        found: dict[str, list[FoundRecord]] = {}
        for crm, row in rows:
            email = crm.email_of(row)
            candidate = CrmCandidate(
                id=str(row["Id"]),
                object=crm,
                email=email if isinstance(email, str) else None,
                modified_at=as_datetime(row.get("LastModifiedDate")) or datetime.min.replace(tzinfo=UTC),
                converted=as_checkbox(row.get("IsConverted")),
                linked=str(row["Id"]) in linked,
            )
            key = (
                candidate.id
                if self.rules.matching is MatchingMode.CRM_ID
                else (candidate.email or "").strip().lower()
            )
            record = FoundRecord(candidate, external_id=row.get(external_id))
            found.setdefault(key, []).append(record)
        return found

    def _create(self, works: Sequence[_Work]) -> None:
        self._resolve_accounts([w for w in works if _new(w).account_name is not None])
        for crm in (CrmObject.LEAD, CrmObject.CONTACT):
            batch = [w for w in works if w.open and _new(w).object is crm]
            if not batch:
                continue
            records = [
                {**_new(w).values, **({"AccountId": account} if (account := w.account_id) else {})}
                for w in batch
            ]
            try:
                results = self.u._crm.write(
                    crm.value,
                    WriteOperation.UPSERT,
                    records,
                    external_id_field=self.settings.external_id_field,
                    batching=self.u._config.batching,
                )
            except CrmError as exc:
                for work in batch:
                    work.retry(exc.failure)
                continue
            for work, result in zip(batch, results, strict=True):
                if result.failure is not None:
                    work.fail(result.failure)
                else:
                    assert result.record_id is not None
                    work.crm = CrmRef(crm, result.record_id)
                    work.created = result.created

    def _note_owners(self, works: Sequence[_Work]) -> None:
        """The owner Salesforce gave each new record (assignment rules may choose it), read back
        with one query per object, so its prospect is saved with its assigned user now rather
        than by the next outbound run (a prospect write and an audit item more). Only while
        owner sync follows Salesforce (two-way, the owner is a pair of the snapshot, left to
        that run); a read that fails leaves it to that run too."""
        users = self.u._users
        if not works or users is None or self.u._config.owner.direction is not OwnerDirection.SALESFORCE:
            return
        try:
            owners = owner_map(
                ((u.id, u.email, u.active) for u in users.users().values()), self.u._config.owner.user_map
            )
        except StoreError:
            return
        for crm in {w.crm.object for w in works if w.crm is not None}:
            batch = [w for w in works if w.crm is not None and w.crm.object is crm]
            try:
                rows = self.u._crm.find(
                    crm.sobject, ["Id", "OwnerId"], "Id", [w.crm.id for w in batch if w.crm]
                )
            except CrmError:
                continue
            owner_of = {str(row["Id"]): row.get("OwnerId") for row in rows}
            for work in batch:
                owner = owner_of.get(work.crm.id) if work.crm else None
                work.assigned_user = owners.get(str(owner)) if owner else None

    def _resolve_accounts(self, works: Sequence[_Work]) -> None:
        """The Account of each new Contact named by company (or the default account's name):
        found by name, or created once per name for the whole batch."""
        if not works:
            return
        names: dict[str, str] = {}
        for work in works:
            work.account_id = _new(work).account_id
            name = _new(work).account_name
            assert name is not None
            names.setdefault(account_key(name), name.strip())
        try:
            rows = self.u._crm.find("Account", ["Id", "Name", "CreatedDate"], "Name", sorted(names.values()))
        except CrmError as exc:
            for work in works:
                work.retry(exc.failure, "find_account")
            return
        by_name: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            by_name.setdefault(account_key(str(row.get("Name") or "")), []).append(row)
        account_ids = {key: choose_account(found) for key, found in by_name.items() if key in names}
        refused: dict[str, Failure] = {}
        unreachable: dict[str, Failure] = {}
        missing = [key for key in names if key not in account_ids]
        if missing:
            try:
                results = self.u._crm.write(
                    "Account",
                    WriteOperation.CREATE,
                    [{"Name": names[k]} for k in missing],
                    batching=self.u._config.batching,
                )
            except CrmError as exc:
                unreachable = dict.fromkeys(missing, exc.failure)
                results = []
            for key, result in zip(missing, results, strict=False):
                if result.failure is not None:
                    refused[key] = result.failure
                else:
                    assert result.record_id is not None
                    account_ids[key] = result.record_id
        for work in works:
            key = account_key(_new(work).account_name or "")
            if key in unreachable:
                work.retry(unreachable[key], "create_account")
            elif key in refused:
                work.fail(refused[key], "create_account")
            else:
                work.account_id = account_ids[key]

    def _link(self, works: Sequence[_Work]) -> None:
        changes = {id(work): self._link_change(work) for work in works if work.crm is not None}
        try:
            refused = {id(change) for change in self.u._links.save(list(changes.values()))}
        except StoreError as exc:
            # The records exist in Salesforce, keyed by prospect: the redelivery finds them.
            for work in works:
                work.retry(exc.failure, "link")
            return
        for work in works:
            if id(changes[id(work)]) in refused:
                # The prospect or the record was linked meanwhile: the next delivery sees how.
                work.fail(
                    Failure(
                        "LINK_REFUSED",
                        f"the prospect or {work.crm.object if work.crm else 'the record'} "
                        f"{work.crm.id if work.crm else ''} was linked meanwhile",
                        category=ErrorCategory.TRANSIENT,
                    ),
                    "link",
                )
            elif work.decision and work.decision.decision is Decision.CREATE and work.created:
                work.finish(Outcome.CREATED)
            else:
                work.finish(Outcome.LINKED)

    @staticmethod
    def _link_change(work: _Work) -> LinkChange:
        assert work.crm is not None
        snapshot = _new(work).snapshot if work.decision and work.decision.new_record else {}
        # The record was made from (or linked to) the prospect as read.
        synced_version = work.prospect.version if work.prospect is not None else None
        if work.link is not None:
            # Only a link whose record was deleted gets this far (the others are done).
            return replace(relink_deleted(work.link, work.crm, snapshot), synced_version=synced_version)
        return LinkChange(
            after=Link(work.action.prospect_id, work.crm, origin=LinkOrigin.MARKETING),
            snapshot=snapshot,
            synced_version=synced_version,
        )

    def _update_prospects(self, works: Sequence[_Work]) -> None:
        """Tag each prospect an action reached (a message sent straight to the queue was not
        tagged on acceptance) and give it the CRM ID of its record."""
        wanted = {
            w.action.prospect_id: w
            for w in works
            if w.prospect is not None and w.outcome not in (Outcome.RETRY, None)
        }
        for _ in range(PROSPECT_SAVE_ATTEMPTS):
            changes = [
                ProspectChange(changed, before=work.prospect)
                for work in wanted.values()
                if work.prospect is not None
                and (changed := self._changed_prospect(work, work.prospect)) != work.prospect
            ]
            if not changes:
                return
            refused = {change.after.id for change in self.u._prospects.save(changes)}
            if not refused:
                return
            again = self.u._prospects.get_many(refused)
            wanted = {pid: wanted[pid] for pid in refused if pid in again}
            for pid, work in wanted.items():
                work.prospect = again[pid]

    def _changed_prospect(self, work: _Work, prospect: Prospect) -> Prospect:
        tags = self.u._config.tags
        tag = (
            tags.added_to_salesforce_lead
            if work.action.kind is ActionKind.CREATE_LEAD
            else tags.added_to_salesforce_contact
        )
        crm_id = (
            work.crm.id if work.crm is not None and work.outcome is not Outcome.FAILED else prospect.crm_id
        )
        assigned_user = (
            work.assigned_user
            if work.assigned_user and work.outcome is Outcome.CREATED
            else prospect.assigned_user
        )
        return replace(prospect, tags=prospect.tags | {tag}, crm_id=crm_id, assigned_user=assigned_user)

    def _settle_claims(self, works: Sequence[_Work]) -> None:
        for work in works:
            if not work.claimed:
                continue
            if work.outcome in (Outcome.CREATED, Outcome.LINKED) and work.crm is not None:
                self.u._claims.complete(
                    work.claim_key,
                    {
                        "action_id": work.action.action_id,
                        "crm_type": work.crm.object.value,
                        "crm_id": work.crm.id,
                    },
                )
            else:
                self.u._claims.release(work.claim_key)
            work.claimed = False

    def _release_claims(self, works: Sequence[_Work]) -> None:
        for work in works:
            if work.claimed:
                with suppress(Exception):  # the claim lapses at this invocation's deadline anyway
                    self.u._claims.release(work.claim_key)
                work.claimed = False

    # ------------------------------------------------------------------ what users see

    def _report(self, works: Sequence[_Work]) -> None:
        audit: list[AuditRecord] = []
        errors: list[SyncError] = []
        resolved: list[tuple[str, str]] = []
        for work in works:
            action = work.action
            listed = work.outcome is Outcome.FAILED or (
                # Another invocation holding the prospect is no failure: it is carrying it out.
                work.outcome is Outcome.RETRY
                and work.failure is not None
                and work.failure.code != "ACTION_IN_PROGRESS"
            )
            if listed and work.failure is not None:
                errors.append(
                    SyncError(
                        direction=Direction.INBOUND,
                        operation=work.operation,
                        sobject=action.kind.creates.value,
                        record_id=action.prospect_id,
                        failure=work.failure,
                        at=self.now,
                        prospect_id=action.prospect_id if work.prospect is not None else None,
                        retries_exhausted=work.last_receive,
                    )
                )
            event = self._event(work)
            if event is not None and work.prospect is not None:
                crm = work.crm
                audit.append(
                    AuditRecord(
                        prospect_id=action.prospect_id,
                        at=self.now,
                        run_id=self.run_id,
                        direction=Direction.INBOUND,
                        crm_type=crm.object.value if crm else "",
                        crm_id=crm.id if crm else "",
                        event=event,
                    )
                )
                before = work.prospect.assigned_user
                if work.outcome is Outcome.CREATED and work.assigned_user not in (None, before):
                    # As the outbound run words it, which would otherwise have made this change.
                    audit.append(
                        audit[-1]._replace(
                            event=f"assigned user {before} -> {work.assigned_user} (Salesforce owner)"
                        )
                    )
            if work.outcome in (Outcome.CREATED, Outcome.LINKED, Outcome.ALREADY_LINKED):
                resolved += [(crm.value, action.prospect_id) for crm in (CrmObject.LEAD, CrmObject.CONTACT)]
        if audit:
            self.u._audit_trail.append_audit(audit, self.u._retention)
        if errors:
            self.u._error_list.record_errors(errors)
        if resolved:
            self.u._error_list.resolve_errors(Direction.INBOUND, resolved)

    def _event(self, work: _Work) -> str | None:
        done = self._done(work)
        replaced = work.decision.replaces if work.decision is not None else None
        if done is not None and replaced is not None:
            return f"relinked: {replaced.object} {replaced.id} was deleted in Salesforce; {done}"
        return done

    def _done(self, work: _Work) -> str | None:
        action, crm, decision = work.action, work.crm, work.decision
        by = f"by action {action.action_id} ({action.kind})"
        if work.outcome is Outcome.CREATED and crm is not None:
            return f"created {crm.object} {crm.id} {by}"
        if work.outcome is Outcome.LINKED and crm is not None and decision is not None:
            if decision.decision is Decision.CREATE:
                return (
                    f"linked to {crm.object} {crm.id} {by}: created for this prospect by an earlier "
                    f"attempt, found again by its {self.settings.external_id_field}"
                )
            return f"linked to existing {crm.object} {crm.id} {by}: {decision.reason}"
        if work.outcome is Outcome.ALREADY_LINKED and decision is not None:
            return f"nothing created {by}: {decision.reason}"
        if work.outcome is Outcome.FAILED and work.failure is not None:
            return f"not carried out {by}: {work.failure.describe()}"
        return None


def _new(work: _Work) -> NewRecord:
    assert work.decision is not None and work.decision.new_record is not None
    return work.decision.new_record


def _bad(message: ActionMessage, code: str, text: str, fields: tuple[str, ...] = ()) -> BadAction:
    return BadAction(
        message.message_id,
        message.message_id,
        Failure(code, text, fields=fields),
        prospect_id=None,
        kind=None,
    )


def _paths(problems: Sequence[str]) -> tuple[str, ...]:
    """The keys the problems name (`action: ...` → `action`), not the message as a whole."""
    return tuple(sorted({p.split(":", 1)[0] for p in problems} - {"message"}))


def _bad_action_error(bad: BadAction, at: datetime) -> SyncError:
    return SyncError(
        direction=Direction.INBOUND,
        operation=bad.kind.value if bad.kind else "action",
        sobject=bad.kind.creates.value if bad.kind else ACTION_OBJECT,
        record_id=bad.prospect_id or bad.action_id,
        failure=bad.failure,
        at=at,
        prospect_id=bad.prospect_id,
    )


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_ID_LENGTH


def _moment(value: Any) -> datetime | None:
    """An ISO-8601 time in UTC (a time without offset is UTC); None when it is none, or lies
    beyond what a datetime holds once in UTC (`0001-01-01T00:00:00+05:00`)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _when(read: Action | BadAction, message: ActionMessage) -> datetime:
    """When an action was asked for: accepted, else sent to the queue."""
    if isinstance(read, Action) and read.accepted_at is not None:
        return read.accepted_at
    return message.sent_at
