"""What an automation action came to (docs/guide/actions.md, errors.md), and what users see of it.

Each action of a batch ends in one `ActionResult`, made from the core's decision or from the
step that stopped it; nothing about an action is kept anywhere else. The result says how the
link is saved (`link_change`), what its prospect becomes (`prospect_after`: tagged, carrying
the record's CRM ID), and the batch's results make its `Report`: an audit entry per action
whose prospect exists, an error list entry per failure worth a look, and the entries of the
prospects now linked resolved.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.actions import ActionDecision, ActionFacts, ActionKind, Decision
from crmsync.domain.audit import AuditRecord, Direction, Report, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange, LinkOrigin, Tags, relink_deleted
from crmsync.domain.objects import CrmObject
from crmsync.domain.prospect import Prospect

ACTION_OBJECT = "AutomationAction"
"""The error list's object for an action that names no object (its action is unknown)."""
IN_PROGRESS = "ACTION_IN_PROGRESS"


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
class BadAction:
    """A message that is no valid action; it goes to the error list."""

    message_id: str
    action_id: str
    failure: Failure
    prospect_id: str | None
    kind: ActionKind | None

    def error(self, at: datetime) -> SyncError:
        return SyncError(
            direction=Direction.INBOUND,
            operation=self.kind.value if self.kind else "action",
            sobject=self.kind.creates.value if self.kind else ACTION_OBJECT,
            record_id=self.prospect_id or self.action_id,
            failure=self.failure,
            at=at,
            prospect_id=self.prospect_id,
        )


@dataclass(frozen=True)
class ActionResult:
    """How one action ended: its outcome, the decision that led there (None when a step
    stopped it before the core decided), the record its prospect is linked to, and the failure
    with the step (`operation`) it happened in."""

    facts: ActionFacts
    outcome: Outcome
    decision: ActionDecision | None = None
    crm: CrmRef | None = None
    created: bool = False
    failure: Failure | None = None
    operation: str = ""
    assigned_user: str | None = None
    """The marketing user of a created record's owner, once read back (owner sync from
    Salesforce): the prospect gets it now rather than from the next outbound run."""

    @property
    def prospect_id(self) -> str:
        return self.facts.action.prospect_id

    @property
    def carried_out(self) -> bool:
        """The prospect is linked to `crm` by this action."""
        return self.outcome in (Outcome.CREATED, Outcome.LINKED) and self.crm is not None


def decided(facts: ActionFacts, decision: ActionDecision) -> ActionResult | None:
    """The result a decision settles at once (already linked, refused); None for one that
    goes on to Salesforce (link, create)."""
    if decision.decision is Decision.ALREADY_LINKED:
        return ActionResult(facts, Outcome.ALREADY_LINKED, decision, crm=decision.crm)
    if decision.decision is Decision.REFUSE:
        assert decision.failure is not None
        return failed(facts, decision.failure, decision=decision)
    return None


def done_earlier(facts: ActionFacts, done_with: Mapping[str, Any]) -> ActionResult:
    """The prospect's claim answers that an earlier action carried it out, with this record."""
    crm = CrmRef(CrmObject(done_with["crm_type"]), str(done_with["crm_id"]))
    decision = ActionDecision(
        Decision.ALREADY_LINKED,
        f"action {done_with.get('action_id')} carried this prospect out already: {crm.object} {crm.id}",
        crm=crm,
    )
    return ActionResult(facts, Outcome.ALREADY_LINKED, decision, crm=crm)


def in_progress(facts: ActionFacts) -> ActionResult:
    """Another invocation holds the prospect's claim: it is carrying an action out right now."""
    failure = Failure(
        IN_PROGRESS,
        "another invocation is carrying out an action for this prospect",
        category=ErrorCategory.TRANSIENT,
    )
    return ActionResult(facts, Outcome.RETRY, failure=failure, operation="claim")


def failed(
    facts: ActionFacts, failure: Failure, operation: str = "", *, decision: ActionDecision | None = None
) -> ActionResult:
    """The action failed: for good, unless the failure is a passing one."""
    outcome = Outcome.RETRY if failure.retryable else Outcome.FAILED
    return ActionResult(facts, outcome, decision, failure=failure, operation=operation)


def not_reached(
    facts: ActionFacts, failure: Failure, operation: str = "", *, decision: ActionDecision | None = None
) -> ActionResult:
    """A request failed as a whole (Salesforce or DynamoDB unreachable, a login refused):
    nothing is wrong with the action itself, so it is delivered again, whatever the failure; a
    lasting one ends in the dead-letter queue, to redrive once fixed."""
    return ActionResult(facts, Outcome.RETRY, decision, failure=failure, operation=operation)


def linked(facts: ActionFacts, decision: ActionDecision, crm: CrmRef, *, created: bool) -> ActionResult:
    """The link to `crm` is saved: created for the prospect, or an existing record linked."""
    carried = Outcome.CREATED if decision.decision is Decision.CREATE and created else Outcome.LINKED
    return ActionResult(facts, carried, decision, crm=crm, created=created)


def link_refused(facts: ActionFacts, decision: ActionDecision, crm: CrmRef) -> ActionResult:
    """The prospect or the record was linked meanwhile: the next delivery sees how."""
    failure = Failure(
        "LINK_REFUSED",
        f"the prospect or {crm.object} {crm.id} was linked meanwhile",
        category=ErrorCategory.TRANSIENT,
    )
    return failed(facts, failure, "link", decision=decision)


def link_change(facts: ActionFacts, decision: ActionDecision, crm: CrmRef) -> LinkChange:
    """The link an action saves: the prospect to the record made or found for it, with the
    snapshot of what a created record was given, and the prospect version it was made from."""
    snapshot = decision.new_record.snapshot if decision.new_record is not None else {}
    synced_version = facts.prospect.version if facts.prospect is not None else None
    if facts.stored_link is not None:
        # Only a link whose record was deleted gets this far (the others are done).
        return replace(relink_deleted(facts.stored_link, crm, snapshot), synced_version=synced_version)
    return LinkChange(
        after=Link(facts.action.prospect_id, crm, origin=LinkOrigin.MARKETING),
        snapshot=snapshot,
        synced_version=synced_version,
    )


def prospect_after(result: ActionResult, prospect: Prospect, tags: Tags) -> Prospect:
    """The prospect an action reached: tagged (a message sent straight to the queue was not
    tagged on acceptance), carrying the CRM ID of its record and, for a record created, its
    owner's marketing user when it was read back."""
    kind = result.facts.action.kind
    tag = (
        tags.added_to_salesforce_lead if kind is ActionKind.CREATE_LEAD else tags.added_to_salesforce_contact
    )
    crm_id = (
        result.crm.id if result.crm is not None and result.outcome is not Outcome.FAILED else prospect.crm_id
    )
    assigned_user = (
        result.assigned_user
        if result.assigned_user and result.outcome is Outcome.CREATED
        else prospect.assigned_user
    )
    return replace(prospect, tags=prospect.tags | {tag}, crm_id=crm_id, assigned_user=assigned_user)


def action_report(
    results: Sequence[ActionResult],
    *,
    at: datetime,
    run_id: str,
    external_id_field: str,
    last_receive: Collection[str],
) -> Report:
    """What users see of a batch's actions. `last_receive`: the prospects whose message will not
    be delivered again after a passing failure (the dead-letter queue is next)."""
    audit: list[AuditRecord] = []
    errors: list[SyncError] = []
    resolved: list[tuple[str, str]] = []
    for result in results:
        action, failure = result.facts.action, result.failure
        known = result.facts.prospect is not None
        listed = result.outcome is Outcome.FAILED or (
            # Another invocation holding the prospect is no failure: it is carrying it out.
            result.outcome is Outcome.RETRY and failure is not None and failure.code != IN_PROGRESS
        )
        if listed and failure is not None:
            errors.append(
                SyncError(
                    direction=Direction.INBOUND,
                    operation=result.operation or action.kind.value,
                    sobject=action.kind.creates.value,
                    record_id=action.prospect_id,
                    failure=failure,
                    at=at,
                    prospect_id=action.prospect_id if known else None,
                    retries_exhausted=action.prospect_id in last_receive,
                )
            )
        event = _event(result, external_id_field)
        if event is not None and known:
            crm = result.crm
            audit.append(
                AuditRecord(
                    prospect_id=action.prospect_id,
                    at=at,
                    run_id=run_id,
                    direction=Direction.INBOUND,
                    crm_type=crm.object.value if crm else "",
                    crm_id=crm.id if crm else "",
                    event=event,
                    rule=f"action: {result.outcome}",
                )
            )
            before = result.facts.prospect.assigned_user if result.facts.prospect else None
            if result.outcome is Outcome.CREATED and result.assigned_user not in (None, before):
                # As the outbound run words it, which would otherwise have made this change.
                audit.append(
                    audit[-1]._replace(
                        event=f"assigned user {before} -> {result.assigned_user} (Salesforce owner)"
                    )
                )
        if result.outcome in (Outcome.CREATED, Outcome.LINKED, Outcome.ALREADY_LINKED):
            # Whichever way an earlier action for the prospect failed: as the record it would
            # create, or as a message that named no action kind.
            resolved += [(crm.value, action.prospect_id) for crm in (CrmObject.LEAD, CrmObject.CONTACT)]
            resolved.append((ACTION_OBJECT, action.prospect_id))
    return Report(Direction.INBOUND, audit, errors, resolved)


def _event(result: ActionResult, external_id_field: str) -> str | None:
    done = _done(result, external_id_field)
    replaced = result.decision.replaces if result.decision is not None else None
    if done is not None and replaced is not None:
        return f"relinked: {replaced.object} {replaced.id} was deleted in Salesforce; {done}"
    return done


def _done(result: ActionResult, external_id_field: str) -> str | None:
    action, crm, decision = result.facts.action, result.crm, result.decision
    by = f"by action {action.action_id} ({action.kind})"
    if result.outcome is Outcome.CREATED and crm is not None:
        return f"created {crm.object} {crm.id} {by}"
    if result.outcome is Outcome.LINKED and crm is not None and decision is not None:
        if decision.decision is Decision.CREATE:
            return (
                f"linked to {crm.object} {crm.id} {by}: created for this prospect by an earlier "
                f"attempt, found again by its {external_id_field}"
            )
        return f"linked to existing {crm.object} {crm.id} {by}: {decision.reason}"
    if result.outcome is Outcome.ALREADY_LINKED and decision is not None:
        return f"nothing created {by}: {decision.reason}"
    if result.outcome is Outcome.FAILED and result.failure is not None:
        return f"not carried out {by}: {result.failure.describe()}"
    return None
