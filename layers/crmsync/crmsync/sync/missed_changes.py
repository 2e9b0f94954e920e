"""Marketing changes change capture missed (docs/guide/change-capture.md): inbound does not
trust the stream alone.

Change capture notes a prospect as waiting when the stream delivers its change. When it cannot
(the state table unavailable through every retry of a batch), Lambda discards the batch; two
ways then find those changes again, both run by each scheduled inbound invocation before the
run, so what they find is sent by that run:

- The failed batches. The stream mapping sends each discarded batch's position to its
  on-failure queue; the batch's records are read back from the stream and noted through change
  capture's own reading. Stream records live 24 hours: a batch read later is gone, and counted
  (`failed_batches_expired`); reconciliation finds its changes.
- Reconciliation. Each run reads the versions among the next share of the prospects table (at
  most `items_per_run` items, round and round: the position is kept in the state table) and the
  synced versions of their links. A linked prospect the marketing side saved after the version
  its link last synced (`Prospect.marketing_version` > `StoredLink.synced_version`), and not
  waiting already, is read whole, planned in memory as the run would plan it, and noted as
  waiting when the plan has something to do. The connector's own saves never move
  `marketing_version`, so outbound writes are not suspects; a prospect the marketing side
  changed in unmapped fields is a suspect whose plan has nothing to do, and costs no write. No
  Salesforce call either way.

Changes found late may be older than what change capture noted since, so they are noted only
where nothing newer waits (`PendingChanges.add_unless_newer`), and the counts say how many were
really missed. A change record of unexpected shape is refused by change capture's reading and
listed in the error list for its prospect; a malformed on-failure message is listed too and
deleted, and never holds up the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crmsync.domain.audit import SyncError
from crmsync.domain.errors import QueueError, StoreError
from crmsync.domain.inbound import InboundRules, capture_refused, failed_batch_unread, plan_prospect_change
from crmsync.domain.lifecycle import LinkStatus
from crmsync.ports import (
    Clock,
    ErrorList,
    FailedCapture,
    FailedCaptures,
    LinkStore,
    PendingChange,
    PendingChanges,
    ProspectStore,
    ProspectVersion,
    RefusedChange,
    StreamRecordsGone,
    Watermarks,
)
from crmsync.sync.cursor import KeyShareCursor

RECONCILIATION_ITEMS_PER_RUN = 2_000
"""Items of the prospects table (prospects and their index items) read per scheduled run: the
whole table is covered every (items / 2,000) runs, 150 runs (5 hours at the default 2-minute
schedule) for 100,000 prospects with their email and CRM id index items."""
RECONCILIATION_CURSOR = "inbound#reconciliation"
"""State table watermark of the scan (`KeyShareCursor`)."""
FAILED_BATCHES_PER_RUN = 100
"""On-failure messages taken per run; more wait for the next."""


@dataclass
class CatchUp:
    """What one catch-up found: counts (only those above zero), problems that stopped a part of
    it (the run still goes), and how long the reconciliation round that ended took."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    round_took: timedelta | None = None


def refusal_errors(refused: Sequence[RefusedChange], at: datetime) -> list[SyncError]:
    """Error list entries for change records change capture could not read."""
    return [capture_refused(change.prospect_id, change.reference, change.problem, at) for change in refused]


class MissedChanges:
    def __init__(
        self,
        *,
        pending: PendingChanges,
        watermarks: Watermarks,
        error_list: ErrorList,
        links: LinkStore,
        prospects: ProspectStore,
        failed_captures: FailedCaptures | None,
        clock: Clock,
        items_per_run: int = RECONCILIATION_ITEMS_PER_RUN,
    ) -> None:
        self._pending = pending
        self._watermarks = watermarks
        self._error_list = error_list
        self._links = links
        self._prospects = prospects
        self._failed = failed_captures
        self._clock = clock
        self._items_per_run = items_per_run

    def catch_up(self, rules: Callable[[], InboundRules]) -> CatchUp:
        """Drain the failed batches, then reconcile one share of the prospects. A part that
        cannot be done now (a queue or table unavailable) is reported and left for the next run;
        `rules` is asked for only when a prospect is to be planned."""
        found = CatchUp()
        try:
            self._drain(found)
        except (QueueError, StoreError) as exc:
            found.problems.append(f"failed batches not drained: {exc}")
        try:
            self._reconcile(found, rules)
        except StoreError as exc:
            found.problems.append(f"reconciliation not done: {exc}")
        found.counts = +found.counts
        return found

    # ------------------------------------------------------------------ failed batches

    def _drain(self, found: CatchUp) -> None:
        if self._failed is None:
            return
        now = self._clock.now()
        settled: list[FailedCapture] = []
        errors: list[SyncError] = []
        for capture in self._failed.receive(FAILED_BATCHES_PER_RUN):
            if capture.position is None:
                errors.append(failed_batch_unread(capture.message_id, capture.problem, now))
                found.counts["failed_batches_malformed"] += 1
                settled.append(capture)
                continue
            try:
                captured = self._failed.read(capture.position)
            except StreamRecordsGone:
                # Past the stream's 24 hours: reconciliation finds what the batch held.
                found.counts["failed_batches_expired"] += 1
                settled.append(capture)
                continue
            except StoreError as exc:
                # Left on the queue: received again once its visibility timeout is over.
                found.counts["failed_batches_unread"] += 1
                found.problems.append(f"failed batch {capture.message_id} not read: {exc}")
                continue
            if captured.changes:
                found.counts["changes_recovered"] += len(self._pending.add_unless_newer(captured.changes))
            errors += refusal_errors(captured.refused, now)
            found.counts["failed_batches_drained"] += 1
            settled.append(capture)
        # Deleted only once what they held is noted or listed: a failure before reads them again.
        if errors:
            self._error_list.record_errors(errors)
        if settled:
            self._failed.delete(settled)

    # ------------------------------------------------------------------ reconciliation

    def _reconcile(self, found: CatchUp, rules: Callable[[], InboundRules]) -> None:
        if self._items_per_run <= 0:
            return
        cursor = KeyShareCursor(self._watermarks, RECONCILIATION_CURSOR, self._clock.now())
        page = self._prospects.scan(cursor.after, self._items_per_run)
        found.counts["reconciliation_read"] += page.read
        if page.unreadable:
            found.counts["reconciliation_unreadable"] += len(page.unreadable)
            found.problems.append(
                f"prospect items whose versions are no numbers: {', '.join(page.unreadable[:10])}"
            )
        missed = self._missed_among(page.prospects, rules)
        if missed:
            found.counts["reconciliation_found"] += len(self._pending.add_unless_newer(missed))
        found.round_took = cursor.moved_to(page.next_after)

    def _missed_among(
        self, read: Sequence[ProspectVersion], rules: Callable[[], InboundRules]
    ) -> list[PendingChange]:
        """The changes among `read` that nothing waits for and a run would act on. Narrowed by
        versions first (the prospects' and their links', then what waits), so only the few
        left are read whole and planned."""
        touched = {v.prospect_id: v for v in read if v.marketing_version > 0}
        synced = self._links.synced_versions(list(touched)) if touched else {}
        suspects = {
            prospect_id: touched[prospect_id]
            for prospect_id, version in synced.items()
            if touched[prospect_id].marketing_version > version
        }
        if suspects:
            waiting = self._pending.versions(list(suspects))
            suspects = {p: v for p, v in suspects.items() if waiting.get(p, -1) < v.version}
        if not suspects:
            return []
        # Read again whole and consistently: the scan is eventually consistent, and a run may
        # have synced them meanwhile.
        prospects = self._prospects.get_many(list(suspects))
        links = self._links.by_prospect_ids(list(suspects))
        planning = rules()
        missed: list[PendingChange] = []
        for prospect_id in suspects:
            prospect, stored = prospects.get(prospect_id), links.get(prospect_id)
            if (
                prospect is None
                or stored is None
                or stored.link.status is not LinkStatus.ACTIVE
                or prospect.marketing_version <= stored.synced_version
            ):
                continue
            if plan_prospect_change(prospect, prospect_id, stored, planning).has_work:
                missed.append(PendingChange(prospect_id, prospect.version))
        return missed
