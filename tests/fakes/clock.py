"""A clock the test moves (the connector's `Clock` port)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def __call__(self) -> datetime:
        """Also the emulator's and the stores' kind of clock (a function of no argument)."""
        return self._now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        self._now += (delta or timedelta()) + timedelta(**parts)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment
