"""`PendingChanges` in memory, with the state table's contract (crmsync/aws/pending_changes.py):
one entry per waiting prospect, the version change capture saw last; `done` keeps a prospect
that changed again since the version sent; `add_unless_newer` never lowers what waits."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from crmsync.ports import PendingChange


class FakePendingChanges:
    def __init__(self) -> None:
        self._waiting: dict[str, int] = {}

    def add(self, changes: Sequence[PendingChange]) -> None:
        # The latest version of each prospect in the batch, put over whatever waits.
        self._waiting.update((prospect_id, version) for prospect_id, version in _latest(changes).items())

    def versions(self, prospect_ids: Collection[str]) -> dict[str, int]:
        return {pid: self._waiting[pid] for pid in prospect_ids if pid in self._waiting}

    def add_unless_newer(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        noted = []
        for prospect_id, version in _latest(changes).items():
            if self._waiting.get(prospect_id, -1) < version:
                self._waiting[prospect_id] = version
                noted.append(PendingChange(prospect_id, version))
        return noted

    def count(self, at_most: int) -> int:
        return min(len(self._waiting), at_most)

    def waiting(self, limit: int, after: str | None = None) -> list[PendingChange]:
        ids = sorted(pid for pid in self._waiting if after is None or pid > after)
        return [PendingChange(pid, self._waiting[pid]) for pid in ids[:limit]]

    def done(self, changes: Sequence[PendingChange]) -> list[PendingChange]:
        kept = []
        for change in {c.prospect_id: c for c in changes}.values():
            if self._waiting.get(change.prospect_id, -1) <= change.version:
                self._waiting.pop(change.prospect_id, None)
            else:
                kept.append(change)
        return kept

    # ------------------------------------------------------------------ what a test reads

    def all(self) -> dict[str, int]:
        """Waiting prospect id → the version it waits at."""
        return dict(sorted(self._waiting.items()))


def _latest(changes: Sequence[PendingChange]) -> dict[str, int]:
    latest: dict[str, int] = {}
    for change in changes:
        latest[change.prospect_id] = max(change.version, latest.get(change.prospect_id, change.version))
    return latest
