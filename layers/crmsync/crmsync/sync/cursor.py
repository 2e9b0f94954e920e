"""Where a run stands, and where the next one resumes: the runs' cursors, each an object of its
own (as Meltano SDK's `StreamStateManager` is a stream's), kept in the state table.

- `ChangeCursor`: outbound's position in Salesforce's changes. Per object, the watermark past
  the last chunk applied; it moves only once a chunk is applied, so a run stopped by its
  deadline or a crash resumes at the chunk it did not finish. Beside it, the records a run
  could not apply (a link or prospect changed under it): held on the retry list and read again
  by Id, first thing, by the next run, so nothing stays behind the watermark.
- `waiting_pages`: inbound's position among the waiting prospects, page after page in prospect
  id order. Nothing to keep: a prospect stops waiting once it is settled.
- `ShareCursor`: a share of a large set per run, round and round: activities waiting for a
  link (`TimeShareCursor`), reconciliation's scan of the prospects table (`KeyShareCursor`).
  Each run starts after where the last one stopped; past the end, the next starts over.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from crmsync.domain.audit import Direction
from crmsync.domain.records import SalesforceRecord, Watermark
from crmsync.ports import PendingChange, PendingChanges, RetryList, Watermarks

Position = TypeVar("Position")


def change_watermark_key(sobject: str) -> str:
    return f"outbound#{sobject}"


def changes_read_until(watermarks: Watermarks, sobject: str) -> Watermark | None:
    """How far outbound has applied an object's changes (None: it never read the object)."""
    return watermarks.watermark(change_watermark_key(sobject))


class ChangeCursor:
    """Outbound's position in Salesforce's changes, per object, and its retry list."""

    def __init__(self, watermarks: Watermarks, retry_list: RetryList) -> None:
        self._watermarks = watermarks
        self._retry_list = retry_list
        self._held: set[tuple[str, str]] = set()
        """Records this run held: a record read again and refused again stays held."""

    def since(self, sobject: str) -> Watermark | None:
        """Where the next read of `sobject` starts: after the last change applied."""
        return changes_read_until(self._watermarks, sobject)

    @contextmanager
    def applying(self, sobject: str, chunk: Sequence[SalesforceRecord]) -> Iterator[None]:
        """Apply `chunk` (records in watermark order) inside this block; the cursor moves past
        its last record once the block ends, and holds where it is if the block raises."""
        yield
        last = chunk[-1]
        assert last.stamp is not None  # every read asks for SystemModstamp
        self.advance(sobject, Watermark(last.stamp, last.id))

    def advance(self, sobject: str, watermark: Watermark | None) -> None:
        """Keep `watermark` as the position past what was applied (a page's, say)."""
        if watermark is not None:
            self._watermarks.save_watermark(change_watermark_key(sobject), watermark)

    def to_retry(self) -> dict[str, list[str]]:
        """sObject → the ids of the records held by earlier runs, to read again first."""
        return self._retry_list.records_to_retry(Direction.OUTBOUND)

    def hold(self, sobject: str, record_ids: Sequence[str]) -> None:
        """These records could not be applied: the next run reads them again by id."""
        if record_ids:
            self._retry_list.mark_for_retry(Direction.OUTBOUND, sobject, record_ids)
            self._held.update((sobject, record_id) for record_id in record_ids)

    def release(self, sobject: str, record_ids: Sequence[str]) -> None:
        """Stop holding these records: read again and applied, or of an object no longer
        synced. One this run held again (refused again) stays held."""
        released = [record_id for record_id in record_ids if (sobject, record_id) not in self._held]
        if released:
            self._retry_list.clear_retry(Direction.OUTBOUND, sobject, released)


def waiting_pages(pending: PendingChanges, size: int) -> Iterator[list[PendingChange]]:
    """The waiting prospects, `size` a page, in prospect id order, each page read after the last
    id of the one before (a prospect noted meanwhile below that id waits for the next run)."""
    page = pending.waiting(size)
    while page:
        yield page
        page = pending.waiting(size, after=page[-1].prospect_id)


class ShareCursor(Generic[Position]):
    """A share per run, round and round, kept as one watermark under `key`.

    `after` is where this run's share starts (None: at the start). `moved_to` keeps where the
    next starts: after this share (`next_after`), or at the start again when the share reached
    the end (`next_after` None); then it also says how long the round took. Subclasses say how
    a position is kept in the watermark."""

    def __init__(self, watermarks: Watermarks, key: str, now: datetime) -> None:
        self._watermarks = watermarks
        self._key = key
        self._now = now
        self._kept = watermarks.watermark(key)

    @property
    def after(self) -> Position | None:
        return self._position(self._kept)

    @property
    def round_started(self) -> datetime:
        return self._now

    def moved_to(self, next_after: Position | None) -> timedelta | None:
        if next_after is not None:
            self._watermarks.save_watermark(self._key, self._kept_at(next_after, self.round_started))
            return None
        took = self._now - self.round_started
        self._watermarks.save_watermark(self._key, self._kept_at(None, self._now))
        return took

    def _position(self, kept: Watermark | None) -> Position | None:
        raise NotImplementedError

    def _kept_at(self, position: Position | None, round_started: datetime) -> Watermark:
        raise NotImplementedError


class KeyShareCursor(ShareCursor[str]):
    """A share of a set read in key order (reconciliation's scan of the prospects table): the
    watermark's `last_id` is the key to read after ("": the round starts), its `stamp` when the
    round started."""

    @property
    def round_started(self) -> datetime:
        return self._kept.stamp if self._kept is not None else self._now

    def _position(self, kept: Watermark | None) -> str | None:
        return (kept.last_id or None) if kept is not None else None

    def _kept_at(self, position: str | None, round_started: datetime) -> Watermark:
        return Watermark(round_started, position or "")


FROM_THE_START = Watermark(datetime(1970, 1, 1, tzinfo=UTC), "")
"""A time-ordered share's start: before every item."""


class TimeShareCursor(ShareCursor[Watermark]):
    """A share of items read in time order (activities waiting for a link): the watermark is the
    position of the item to read after (`FROM_THE_START` at the start)."""

    def _position(self, kept: Watermark | None) -> Watermark | None:
        return kept

    def _kept_at(self, position: Watermark | None, round_started: datetime) -> Watermark:
        return position or FROM_THE_START
