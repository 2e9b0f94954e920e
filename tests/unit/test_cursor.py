"""The runs' cursors (sync/cursor.py): where a run stands and where the next one resumes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from crmsync.domain.audit import Direction
from crmsync.domain.records import Watermark
from crmsync.ports import PendingChange
from crmsync.salesforce.records import read_record
from crmsync.sync.cursor import (
    FROM_THE_START,
    ChangeCursor,
    KeyShareCursor,
    TimeShareCursor,
    changes_read_until,
    waiting_pages,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Kept:
    """Watermarks and the retry list, in memory: what a run leaves for the next."""

    def __init__(self) -> None:
        self.watermarks: dict[str, Watermark] = {}
        self.retry: dict[tuple[str, str, str], None] = {}

    def watermark(self, key: str) -> Watermark | None:
        return self.watermarks.get(key)

    def save_watermark(self, key: str, watermark: Watermark) -> None:
        self.watermarks[key] = watermark

    def records_to_retry(self, direction: Direction) -> dict[str, list[str]]:
        waiting: dict[str, list[str]] = {}
        for kept_direction, sobject, record_id in self.retry:
            if kept_direction == direction:
                waiting.setdefault(sobject, []).append(record_id)
        return waiting

    def mark_for_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        self.retry.update(dict.fromkeys((direction.value, sobject, record_id) for record_id in record_ids))

    def clear_retry(self, direction: Direction, sobject: str, record_ids: Collection[str]) -> None:
        for record_id in record_ids:
            self.retry.pop((direction.value, sobject, record_id), None)


def record(record_id: str, second: int) -> object:
    stamp = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return read_record({"Id": record_id, "SystemModstamp": stamp})


# ------------------------------------------------------------------ outbound's change cursor


def test_the_change_cursor_moves_past_a_chunk_once_it_is_applied() -> None:
    kept = Kept()
    cursor = ChangeCursor(kept, kept)
    chunk = [record("00Q1", 1), record("00Q2", 1), record("00Q3", 2)]

    assert cursor.since("Lead") is None
    with cursor.applying("Lead", chunk):  # type: ignore[arg-type]
        assert cursor.since("Lead") is None, "not before the chunk is applied"

    assert cursor.since("Lead") == Watermark(T0 + timedelta(seconds=2), "00Q3")
    assert changes_read_until(kept, "Lead") == cursor.since("Lead"), "what inbound reads"
    assert changes_read_until(kept, "Contact") is None


def test_the_change_cursor_holds_its_position_when_applying_a_chunk_fails() -> None:
    kept = Kept()
    cursor = ChangeCursor(kept, kept)
    with cursor.applying("Lead", [record("00Q1", 1)]):  # type: ignore[list-item]
        pass

    with pytest.raises(RuntimeError), cursor.applying("Lead", [record("00Q2", 5)]):  # type: ignore[list-item]
        raise RuntimeError("DynamoDB went away")

    assert cursor.since("Lead") == Watermark(T0 + timedelta(seconds=1), "00Q1")


def test_records_held_are_read_again_by_the_next_run_and_released_once_applied() -> None:
    kept = Kept()
    ChangeCursor(kept, kept).hold("Lead", ["00Q1", "00Q2"])

    next_run = ChangeCursor(kept, kept)
    assert next_run.to_retry() == {"Lead": ["00Q1", "00Q2"]}
    next_run.release("Lead", ["00Q1", "00Q2"])
    assert ChangeCursor(kept, kept).to_retry() == {}


def test_a_held_record_refused_again_while_it_is_retried_stays_held() -> None:
    kept = Kept()
    ChangeCursor(kept, kept).hold("Lead", ["00Q1", "00Q2"])

    # WHEN the next run reads both again and the first is refused again
    retrying = ChangeCursor(kept, kept)
    retrying.hold("Lead", ["00Q1"])
    retrying.release("Lead", ["00Q1", "00Q2"])

    # THEN the run after reads the first again, not the second
    assert ChangeCursor(kept, kept).to_retry() == {"Lead": ["00Q1"]}


def test_a_page_watermark_is_kept_as_given_and_none_keeps_nothing() -> None:
    kept = Kept()
    cursor = ChangeCursor(kept, kept)
    cursor.advance("User", None)
    assert cursor.since("User") is None
    cursor.advance("User", Watermark(T0, "005A"))
    assert kept.watermarks == {"outbound#User": Watermark(T0, "005A")}


# ------------------------------------------------------------------ inbound's waiting pages


class Waiting:
    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = sorted(ids)
        self.asked: list[str | None] = []

    def waiting(self, limit: int, after: str | None = None) -> list[PendingChange]:
        self.asked.append(after)
        return [PendingChange(i, 1) for i in self.ids if after is None or i > after][:limit]


def test_waiting_prospects_come_page_by_page_each_after_the_last_id_of_the_one_before() -> None:
    pending = Waiting(["p1", "p2", "p3", "p4", "p5"])

    pages = [[c.prospect_id for c in page] for page in waiting_pages(pending, 2)]  # type: ignore[arg-type]

    assert pages == [["p1", "p2"], ["p3", "p4"], ["p5"]]
    assert pending.asked == [None, "p2", "p4", "p5"]


def test_nothing_waiting_is_no_page_at_all() -> None:
    assert list(waiting_pages(Waiting([]), 2)) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------ a share per run, round and round


def test_a_key_share_starts_after_the_last_one_and_starts_over_past_the_end() -> None:
    kept = Kept()
    first = KeyShareCursor(kept, "scan", T0)
    assert first.after is None
    assert first.moved_to("prospect#p2") is None

    second = KeyShareCursor(kept, "scan", T0 + timedelta(minutes=2))
    assert second.after == "prospect#p2"
    took = second.moved_to(None)

    assert took == timedelta(minutes=2), "the round started with the first share"
    third = KeyShareCursor(kept, "scan", T0 + timedelta(minutes=4))
    assert third.after is None
    assert kept.watermarks["scan"] == Watermark(T0 + timedelta(minutes=2), "")


def test_a_time_share_keeps_the_position_of_the_last_item_and_the_start_past_the_end() -> None:
    kept = Kept()
    position = Watermark(T0, "a-2")
    first = TimeShareCursor(kept, "links", T0)
    assert first.after is None
    first.moved_to(position)

    second = TimeShareCursor(kept, "links", T0)
    assert second.after == position
    second.moved_to(None)
    assert TimeShareCursor(kept, "links", T0).after == FROM_THE_START
