"""Clocks the engine can be driven by.

The engine never reads the time itself: it is handed a clock, so the server can run it on the
wall clock while the pytest plugin runs the very same engine on a virtual clock that only moves
when a test says so. Times are Unix seconds (floats) in both cases, so timestamps in webhook
bodies look real either way.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time, for the server."""

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that moves only when told to (pytest plugin, unit tests, deterministic replays)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        self._now += seconds

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError("time cannot go backwards")
        self._now = when
