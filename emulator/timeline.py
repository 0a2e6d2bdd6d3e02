"""The engine's agenda: what happens next, and when.

Scenario steps, timers and AMD results are entries on one timeline ordered by (time, sequence),
so events due at the same instant keep the order in which they were planned (that is what keeps
``--time-scale 0`` ordered). The timeline never sleeps or reads a clock; whoever drives the
engine asks it what is due at a given time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True, slots=True)
class Entry:
    when: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timeline:
    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._seq = itertools.count()

    def at(self, when: float, action: Callable[[], None]) -> Entry:
        entry = Entry(when, next(self._seq), action)
        heapq.heappush(self._heap, entry)
        return entry

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
            entry.action()
            ran += 1
        return ran

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return sum(1 for e in self._heap if not e.cancelled)
