"""The engine's agenda: what happens next, and when.

Scenario steps, timers and AMD results are entries on one timeline. Each entry has two times:
``when``, the clock time at which it is due, and ``emulated``, the point in the call's own time
(unscaled seconds) at which it happens. Entries are ordered by (when, emulated, sequence): with a
time scale of 0 every entry is due at once, and the emulated time is what keeps a 4-hour time
limit behind a 3-second AMD result. The timeline never sleeps or reads a clock; whoever drives
the engine asks it what is due at a given time.

**Supervised.** An exception from one entry is caught at that entry: handed to the entry's
``on_error`` (the engine records it on the call and logs it with its traceback) and the
timeline goes on with the next entry. One broken step used to propagate out of ``run_due`` and
end the server's webhook pump, and with it every tenant's calls (issue #12).
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

COMPACT_EVERY = 65_536
log = logging.getLogger("telnyx_emulator.engine")


@dataclass(slots=True)
class Entry:
    when: float
    emulated: float
    seq: int
    action: Callable[[], None]
    cancelled: bool = False
    on_error: Callable[[Exception], None] | None = None  # told when ``action`` raises

    def cancel(self) -> None:
        self.cancelled = True
        # A cancelled entry may sit in the heap for hours (a 4 h time limit); drop the action so
        # it does not keep its leg, and everything the leg holds, alive until then.
        self.action = _noop
        self.on_error = None


def _noop() -> None:
    pass


class Timeline:
    def __init__(self) -> None:
        # (when, emulated, seq, entry): plain tuples compare in C, several times faster than
        # a dataclass's generated __lt__ on every sift of the heap.
        self._heap: list[tuple[float, float, int, Entry]] = []
        self._seq = itertools.count()
        # The emulated time of the entry being run (or last run): what "now" means for plans
        # made while handling it.
        self.emulated_now = 0.0
        self.failures = 0  # entries whose action raised

    def at(
        self,
        when: float,
        action: Callable[[], None],
        *,
        emulated: float | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> Entry:
        seq = next(self._seq)
        at = self.emulated_now if emulated is None else emulated
        entry = Entry(when, at, seq, action, False, on_error)
        heapq.heappush(self._heap, (when, at, seq, entry))
        if seq % COMPACT_EVERY == COMPACT_EVERY - 1:
            self._compact()
        return entry

    def _compact(self) -> None:
        """Drop cancelled entries (a hung-up call's 4 h time limit) so the heap holds only what
        can still happen; O(n), once every COMPACT_EVERY plans."""
        heap = self._heap
        live = [item for item in heap if not item[3].cancelled]
        if len(live) < len(heap):
            heap[:] = live  # in place: run_due may be iterating this very list
            heapq.heapify(heap)

    def next_time(self) -> float | None:
        heap = self._heap
        while heap and heap[0][3].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> int:
        """Run every entry due at or before ``now``, in order; entries they add run too."""
        ran = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)[3]
            if entry.cancelled:
                continue
            self.emulated_now = max(self.emulated_now, entry.emulated)
            try:
                entry.action()
            except Exception as exc:  # one broken step must not stop the others
                self._failed(entry, exc)
            ran += 1
        return ran

    def _failed(self, entry: Entry, exc: Exception) -> None:
        self.failures += 1
        handler = entry.on_error
        if handler is not None:
            try:
                handler(exc)
                return
            except Exception:
                log.exception("recording a failed timed step failed too")
        log.error(
            "a timed step failed: %s: %s",
            type(exc).__name__,
            exc,
            exc_info=exc,
            extra={"event": "step_failed", "error": f"{type(exc).__name__}: {exc}"},
        )

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return sum(1 for item in self._heap if not item[3].cancelled)
