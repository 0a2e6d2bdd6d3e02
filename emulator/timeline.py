"""The engine's agenda: what happens next, and when.

Scenario steps, timers and AMD results are entries on one timeline. Each entry has two times:
``when``, the clock time at which it is due, and ``emulated``, the point in the call's own time
(unscaled seconds) at which it happens. Entries are ordered by (when, emulated, sequence): with a
time scale of 0 every entry is due at once, and the emulated time is what keeps a 4-hour time
limit behind a 3-second AMD result. The timeline never sleeps or reads a clock; whoever drives
the engine asks it what is due at a given time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

COMPACT_EVERY = 65_536


@dataclass(order=True, slots=True)
class Entry:
    when: float
    emulated: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True
        # A cancelled entry may sit in the heap for hours (a 4 h time limit); drop the action so
        # it does not keep its leg, and everything the leg holds, alive until then.
        self.action = _noop


def _noop() -> None:
    pass


class Timeline:
    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._seq = itertools.count()
        # The emulated time of the entry being run (or last run): what "now" means for plans
        # made while handling it.
        self.emulated_now = 0.0

    def at(
        self, when: float, action: Callable[[], None], *, emulated: float | None = None
    ) -> Entry:
        seq = next(self._seq)
        entry = Entry(when, self.emulated_now if emulated is None else emulated, seq, action)
        heapq.heappush(self._heap, entry)
        if seq % COMPACT_EVERY == COMPACT_EVERY - 1:
            self._compact()
        return entry

    def _compact(self) -> None:
        """Drop cancelled entries (a hung-up call's 4 h time limit) so the heap holds only what
        can still happen; O(n), once every COMPACT_EVERY plans."""
        heap = self._heap
        live = [e for e in heap if not e.cancelled]
        if len(live) < len(heap):
            heap[:] = live  # in place: run_due may be iterating this very list
            heapq.heapify(heap)

    def next_time(self) -> float | None:
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        return heap[0].when if heap else None

    def run_due(self, now: float) -> int:
        """Run every entry due at or before ``now``, in order; entries they add run too."""
        ran = 0
        heap = self._heap
        while heap and heap[0].when <= now:
            entry = heapq.heappop(heap)
            if entry.cancelled:
                continue
            self.emulated_now = max(self.emulated_now, entry.emulated)
            entry.action()
            ran += 1
        return ran

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return sum(1 for e in self._heap if not e.cancelled)
