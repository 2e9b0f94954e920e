"""One batch of automation actions carried out, step by step, with batched calls.

Each message is read into its `Action` (one per prospect, the oldest asking first), and each
action into what the stores know of it (`ActionFacts`). Every step takes the actions still
going and settles some into an `ActionResult` (`domain.action_results`): the core settles
what needs no Salesforce, the claims settle what another delivery carried out or is carrying
out, the core decides the rest with the records Salesforce finds, new records are upserted,
the links saved. Then the prospects reached are tagged, the claims settled, and the core's
report of the results stored.

Exactly once, three ways:
1. a prospect already linked is done: one CRM record per prospect, whatever the action asks;
2. the prospect is claimed before anything reaches Salesforce (`ActionClaims`, Powertools
   idempotency keyed by the prospect id), so two deliveries running at once do not both create;
3. a created record carries the prospect id in the external-id field and is written with an
   upsert on it, so a retry after a crash between "Salesforce created it" and "the link was
   saved" finds and reuses that record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace

from crmsync.domain.action_results import (
    ActionResult,
    BadAction,
    Outcome,
    action_report,
    decided,
    done_earlier,
    failed,
    in_progress,
    link_change,
    link_refused,
    linked,
    not_reached,
    prospect_after,
)
from crmsync.domain.actions import (
    Action,
    ActionDecision,
    ActionFacts,
    AutomationRules,
    NewRecord,
    account_key,
    decide_actions,
    settle_without_salesforce,
)
from crmsync.domain.errors import CrmError, StoreError
from crmsync.domain.lifecycle import CrmRef, Tags
from crmsync.domain.objects import CrmObject
from crmsync.domain.prospect import ProspectChange
from crmsync.ports import ActionClaims, LinkStore, ProspectStore
from crmsync.sync.actions.messages import ActionMessage, asked_at, read_message
from crmsync.sync.actions.records import ActionRecords
from crmsync.sync.run import ReportStore, RunContext

PROSPECT_SAVE_ATTEMPTS = 3
"""Tries at tagging a prospect (and setting its CRM ID) that keeps changing under us; after
them the prospect is left as it is: the link, saved already, is what counts."""


@dataclass(frozen=True)
class _Writing:
    """An action on its way to Salesforce: what the core decided, and once known, its record."""

    facts: ActionFacts
    decision: ActionDecision
    crm: CrmRef | None = None
    created: bool = False

    @property
    def new(self) -> NewRecord:
        assert self.decision.new_record is not None
        return self.decision.new_record


@dataclass(frozen=True)
class BatchRead:
    """A batch's messages read: one action per prospect with its messages (its own first, then
    the batch's others for the same prospect), and the messages that are no action."""

    actions: list[Action]
    messages: dict[str, list[str]]
    last_receive: set[str]
    """The prospects whose message is on its last receive."""
    bad: list[BadAction]


def read_batch(messages: Sequence[ActionMessage]) -> BatchRead:
    read = sorted(
        ((message, read_message(message)) for message in messages),
        key=lambda pair: asked_at(pair[1], pair[0]),  # the action first asked for wins
    )
    batch = BatchRead([], {}, set(), [])
    for message, action in read:
        if isinstance(action, BadAction):
            batch.bad.append(action)
        elif action.prospect_id in batch.messages:
            batch.messages[action.prospect_id].append(message.message_id)
        else:
            batch.actions.append(action)
            batch.messages[action.prospect_id] = [message.message_id]
            if message.last_receive:
                batch.last_receive.add(action.prospect_id)
    return batch


class ActionBatch:
    """Carries out the actions of one batch (`carry_out`), and stores what users see of them."""

    def __init__(
        self,
        *,
        records: ActionRecords,
        links: LinkStore,
        prospects: ProspectStore,
        claims: ActionClaims,
        reports: ReportStore,
        rules: AutomationRules,
        tags: Tags,
        context: RunContext,
        owners: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """`owners`: Salesforce user id → marketing user, while owner sync follows Salesforce;
        the owner of a record created is then read back and given to its prospect."""
        self._records = records
        self._links = links
        self._prospects = prospects
        self._claims = claims
        self._reports = reports
        self._rules = rules
        self._tags = tags
        self._context = context
        self._owners = owners
        self._held: list[ActionFacts] = []
        """The claims this batch holds, until settled."""

    def carry_out(self, actions: Sequence[Action], last_receive: set[str]) -> list[ActionResult]:
        """One result per action, in their order."""
        try:
            results = self._carry_out(actions)
        except BaseException:
            # Whatever stopped the batch, a claim it holds must not block the redelivery.
            for facts in self._held:
                with suppress(Exception):  # the claim lapses at this invocation's deadline anyway
                    self._claims.release(facts.claim_key)
            self._held.clear()
            raise
        self._reports.keep(
            action_report(
                results,
                at=self._context.now,
                run_id=self._context.run_id,
                external_id_field=self._rules.settings.external_id_field,
                last_receive=last_receive,
            )
        )
        return results

    def _carry_out(self, actions: Sequence[Action]) -> list[ActionResult]:
        settled: dict[str, ActionResult] = {}
        going = self._settle_without_salesforce(self._read(actions), settled)
        claimed = self._claim(going, settled)
        if claimed:
            writing = self._decide(claimed, settled)
            made = self._create([w for w in writing if w.decision.new_record is not None], settled)
            self._link([made.get(w.facts.action.prospect_id, w) for w in writing], settled)
            self._note_owners(settled)
        results = [settled[action.prospect_id] for action in actions]
        self._update_prospects(results)
        self._settle_claims(settled)
        return results

    # ------------------------------------------------------------------ steps

    def _read(self, actions: Sequence[Action]) -> list[ActionFacts]:
        ids = [action.prospect_id for action in actions]
        prospects = self._prospects.get_many(ids)
        links = self._links.by_prospect_ids(ids)
        return [ActionFacts(a, prospects.get(a.prospect_id), links.get(a.prospect_id)) for a in actions]

    def _settle_without_salesforce(
        self, facts: Sequence[ActionFacts], settled: dict[str, ActionResult]
    ) -> list[ActionFacts]:
        going: list[ActionFacts] = []
        for action in facts:
            decision = settle_without_salesforce(action, self._rules)
            result = decided(action, decision) if decision is not None else None
            if result is None:
                going.append(action)
            else:
                settled[action.action.prospect_id] = result
        return going

    def _claim(self, facts: Sequence[ActionFacts], settled: dict[str, ActionResult]) -> list[ActionFacts]:
        claimed: list[ActionFacts] = []
        for action in facts:
            prospect_id = action.action.prospect_id
            try:
                claim = self._claims.claim(action.claim_key, self._context.remaining_ms())
            except StoreError as exc:
                settled[prospect_id] = not_reached(action, exc.failure, "claim")
                continue
            if claim.claimed:
                self._held.append(action)
                claimed.append(action)
            elif claim.done_with is not None:
                settled[prospect_id] = done_earlier(action, claim.done_with)
            else:
                settled[prospect_id] = in_progress(action)
        return claimed

    def _decide(self, facts: Sequence[ActionFacts], settled: dict[str, ActionResult]) -> list[_Writing]:
        """The core's decision for each claimed action, with the records Salesforce finds for
        it; those it refuses are settled, the others go on to be linked or created."""
        try:
            found = self._records.candidates(facts)
        except CrmError as exc:
            for action in facts:
                settled[action.action.prospect_id] = not_reached(action, exc.failure, "find")
            return []
        matching = self._rules.matching
        with_found = [replace(f, found=found.get(f.match_key(matching) or "", ())) for f in facts]
        writing: list[_Writing] = []
        for action, decision in zip(with_found, decide_actions(with_found, self._rules), strict=True):
            result = decided(action, decision)
            if result is not None:
                settled[action.action.prospect_id] = result
            else:
                writing.append(_Writing(action, decision, crm=decision.crm))
        return writing

    def _create(self, creating: Sequence[_Writing], settled: dict[str, ActionResult]) -> dict[str, _Writing]:
        """The new records upserted, each Contact with its Account; those Salesforce made (or
        found by their key), by prospect."""
        going = self._with_accounts(creating, settled)
        made: dict[str, _Writing] = {}
        for crm in (CrmObject.LEAD, CrmObject.CONTACT):
            batch = [(w, account) for w, account in going if w.new.object is crm]
            if not batch:
                continue
            try:
                results = self._records.upsert(
                    crm, [w.new for w, _ in batch], [account for _, account in batch]
                )
            except CrmError as exc:
                for w, _ in batch:
                    settled[w.facts.action.prospect_id] = not_reached(
                        w.facts, exc.failure, decision=w.decision
                    )
                continue
            for (w, _), result in zip(batch, results, strict=True):
                prospect_id = w.facts.action.prospect_id
                if result.failure is not None:
                    settled[prospect_id] = failed(w.facts, result.failure, decision=w.decision)
                else:
                    assert result.record_id is not None
                    made[prospect_id] = replace(w, crm=CrmRef(crm, result.record_id), created=result.created)
        return made

    def _with_accounts(
        self, creating: Sequence[_Writing], settled: dict[str, ActionResult]
    ) -> list[tuple[_Writing, str | None]]:
        """Each new record with its Account: the configured one, or the one of its company name
        (found or created); those whose Account could not be had are settled."""
        named = [w for w in creating if w.new.account_name is not None]
        try:
            found = self._records.accounts([w.new.account_name or "" for w in named]) if named else None
        except CrmError as exc:
            for w in named:
                settled[w.facts.action.prospect_id] = not_reached(
                    w.facts, exc.failure, "find_account", decision=w.decision
                )
            found = None
        going: list[tuple[_Writing, str | None]] = []
        for w in creating:
            name = w.new.account_name
            if name is None:
                going.append((w, w.new.account_id))
                continue
            if found is None:
                continue
            key = account_key(name)
            prospect_id = w.facts.action.prospect_id
            if key in found.unreachable:
                settled[prospect_id] = not_reached(
                    w.facts, found.unreachable[key], "create_account", decision=w.decision
                )
            elif key in found.refused:
                settled[prospect_id] = failed(
                    w.facts, found.refused[key], "create_account", decision=w.decision
                )
            else:
                going.append((w, found.ids[key]))
        return going

    def _link(self, writing: Sequence[_Writing], settled: dict[str, ActionResult]) -> None:
        """The links saved, one transaction each with its claim of the record (the link store's
        1:1 catches anything left)."""
        going = [w for w in writing if w.crm is not None and w.facts.action.prospect_id not in settled]
        if not going:
            return
        changes = [link_change(w.facts, w.decision, w.crm) for w in going if w.crm is not None]
        try:
            refused = {id(change) for change in self._links.save(changes)}
        except StoreError as exc:
            # The records exist in Salesforce, keyed by prospect: the redelivery finds them.
            for w in going:
                settled[w.facts.action.prospect_id] = not_reached(
                    w.facts, exc.failure, "link", decision=w.decision
                )
            return
        for w, change in zip(going, changes, strict=True):
            assert w.crm is not None
            settled[w.facts.action.prospect_id] = (
                link_refused(w.facts, w.decision, w.crm)
                if id(change) in refused
                else linked(w.facts, w.decision, w.crm, created=w.created)
            )

    def _note_owners(self, settled: dict[str, ActionResult]) -> None:
        """The owner Salesforce gave each record created (assignment rules may choose it), read
        back with one query per object, so its prospect is saved with its assigned user now
        rather than by the next outbound run (a prospect write and an audit item more). A read
        that fails leaves it to that run."""
        created = [r for r in settled.values() if r.outcome is Outcome.CREATED and r.crm is not None]
        if not created or self._owners is None:
            return
        try:
            owners = self._owners()
        except StoreError:
            return
        for crm in {r.crm.object for r in created if r.crm is not None}:
            of_object = [r for r in created if r.crm is not None and r.crm.object is crm]
            try:
                owner_of = self._records.owners(crm, [r.crm.id for r in of_object if r.crm is not None])
            except CrmError:
                continue
            for result in of_object:
                assert result.crm is not None
                owner = owner_of.get(result.crm.id)
                settled[result.prospect_id] = replace(
                    result, assigned_user=owners.get(owner) if owner else None
                )

    def _update_prospects(self, results: Sequence[ActionResult]) -> None:
        """Tag each prospect an action reached and give it the CRM ID of its record, against
        the version read; re-read and try again when it changed meanwhile."""
        wanted = {
            r.prospect_id: (r, r.facts.prospect)
            for r in results
            if r.facts.prospect is not None and r.outcome is not Outcome.RETRY
        }
        for _ in range(PROSPECT_SAVE_ATTEMPTS):
            changes = [
                ProspectChange(after, before=prospect)
                for result, prospect in wanted.values()
                if prospect is not None
                and (after := prospect_after(result, prospect, self._tags)) != prospect
            ]
            if not changes:
                return
            refused = {change.after.id for change in self._prospects.save(changes)}
            if not refused:
                return
            again = self._prospects.get_many(refused)
            wanted = {pid: (wanted[pid][0], again[pid]) for pid in refused if pid in again}

    def _settle_claims(self, settled: dict[str, ActionResult]) -> None:
        while self._held:
            facts = self._held.pop(0)
            result = settled[facts.action.prospect_id]
            if result.carried_out:
                assert result.crm is not None
                self._claims.complete(
                    facts.claim_key,
                    {
                        "action_id": facts.action.action_id,
                        "crm_type": result.crm.object.value,
                        "crm_id": result.crm.id,
                    },
                )
            else:
                self._claims.release(facts.claim_key)
