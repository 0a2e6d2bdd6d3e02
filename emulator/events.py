"""The event log: everything the emulator does, in order, for whoever is watching.

The dashboard and ``GET /_emulator/events`` show each journal entry as it happens: a command and
its answer, a webhook emitted, each delivery attempt and its result, a call's state change. The
engine and the outbox report them here; the server's event stream (``emulator/event_stream.py``)
reads them back.

Sans-I/O, like the engine: a subscriber is a plain callback (the server's sets an asyncio
event), and time is the injected clock.

Cheap when nobody watches: the log records only while ``on`` is true, which it is while a
subscriber is connected and for :data:`LINGER_SECS` after the last one leaves (so a page that
reconnects with ``Last-Event-ID`` misses nothing). Otherwise every report site costs one
attribute test (``if events.on:``), and no event is built. A reader whose ``Last-Event-ID``
falls in a time the log was off, or was pushed out of its tenant's ring, is told to
:class:`Resync` (reload its snapshot from the inspection API) instead of being shown a stream
with a silent hole.

Ids are one counter for all tenants, so an admin's stream of every tenant is one ordered
sequence and ``Last-Event-ID`` means the same thing in every scope. Each tenant keeps its own
bounded ring (:data:`RING_SIZE` events), so a busy tenant cannot push a quiet one's history out.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from .calls import iso
from .clock import Clock
from .delivery import dumps

Kind = Literal["command", "webhook", "attempt", "call", "reset"]
KINDS: tuple[Kind, ...] = ("command", "webhook", "attempt", "call", "reset")

# (chosen) Events kept per tenant while the log is on: about 500 transfers' worth (a transfer
# with AMD makes ~20 events), ~8 MB. The inspection API keeps the longer history.
RING_SIZE = 10_000
# (chosen) How long the log keeps recording after the last subscriber leaves: long enough for a
# browser to notice a dropped connection and reconnect with Last-Event-ID.
LINGER_SECS = 60.0


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: Kind
    tenant: str  # the tenant's id (emulator/tenancy.py), never its API key
    call_control_id: str | None
    call_session_id: str | None
    json: bytes  # the whole event, encoded once: what an SSE ``data:`` line carries


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events a reader wants: ``tenants`` None = every tenant (admin)."""

    tenants: frozenset[str] | None = None
    call_control_id: str | None = None
    call_session_id: str | None = None
    kinds: frozenset[str] | None = None

    def matches(self, event: Event) -> bool:
        return (
            (self.tenants is None or event.tenant in self.tenants)
            and (self.call_control_id is None or event.call_control_id == self.call_control_id)
            and (self.call_session_id is None or event.call_session_id == self.call_session_id)
            and (self.kinds is None or event.kind in self.kinds)
        )


class Resync(Exception):
    """The reader's ``Last-Event-ID`` cannot be continued without a hole: reload instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscription:
    def __init__(self, log: EventLog, notify: Callable[[], None]) -> None:
        self._log = log
        self.notify = notify

    def close(self) -> None:
        self._log._unsubscribe(self)


class EventLog:
    def __init__(
        self, clock: Clock, *, ring_size: int = RING_SIZE, linger_secs: float = LINGER_SECS
    ) -> None:
        self.clock = clock
        self.ring_size = ring_size
        self.linger_secs = linger_secs
        self.on = False  # the hot path's only test: record nothing while False
        self.last_id = 0
        self._rings: dict[str, deque[Event]] = {}
        self._evicted: dict[str, int] = {}  # tenant -> highest id pushed out of its ring
        # last_id when recording last stopped (or 0, before it ever started): a reader who saw
        # up to here may have missed events that happened while it was off.
        self._stopped_at = 0
        self._subscribers: list[Subscription] = []
        self._linger_until = 0.0

    # -- subscribers ----------------------------------------------------------------------------

    def subscribe(self, notify: Callable[[], None]) -> Subscription:
        """Start recording (if it was off) and call ``notify`` after each new event."""
        subscription = Subscription(self, notify)
        self._subscribers.append(subscription)
        self.on = True
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
        if not self._subscribers:
            self._linger_until = self.clock.now() + self.linger_secs

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # -- recording (call only when ``on``) ---------------------------------------------------

    def record(
        self,
        kind: Kind,
        tenant: str,
        data: dict[str, Any],
        *,
        call_control_id: str | None = None,
        call_session_id: str | None = None,
    ) -> None:
        now = self.clock.now()
        if not self._subscribers and now > self._linger_until:
            self.on = False  # nobody came back: stop paying for it
            self._stopped_at = self.last_id
            return
        self.last_id += 1
        event_id = self.last_id
        encoded = dumps(
            {
                "id": event_id,
                "type": kind,
                "at": iso(now),
                "tenant": tenant,
                "call_control_id": call_control_id,
                "call_session_id": call_session_id,
                "data": data,
            }
        )
        ring = self._rings.get(tenant)
        if ring is None:
            ring = self._rings[tenant] = deque()
        if len(ring) >= self.ring_size:
            self._evicted[tenant] = ring.popleft().id
        ring.append(Event(event_id, kind, tenant, call_control_id, call_session_id, encoded))
        for subscription in self._subscribers:
            subscription.notify()

    def forget(self, tenant: str) -> None:
        """Drop the events of a tenant the Api forgot as idle (nothing happened for it in the
        idle period), so one-off API keys do not leave a ring each behind."""
        self._rings.pop(tenant, None)
        self._evicted.pop(tenant, None)

    # -- reading --------------------------------------------------------------------------------

    def after(self, last_id: int, where: Filter, *, resuming: bool = True) -> list[Event]:
        """The events after ``last_id`` that ``where`` selects, oldest first.

        Raises :class:`Resync` when some of them may be missing: pushed out of a ring, or, for a
        reader ``resuming`` from an earlier connection (``Last-Event-ID``), never recorded
        because the log was off in between. A connected reader's own cursor is never in such a
        gap (the log records while anyone is subscribed): it passes ``resuming=False``.
        """
        if last_id > self.last_id:
            raise Resync(f"event {last_id} is not from this server run (last is {self.last_id})")
        if resuming and last_id <= self._stopped_at:
            raise Resync("the log was not recording for a while after that event")
        for tenant, evicted in self._evicted.items():
            if (where.tenants is None or tenant in where.tenants) and evicted > last_id:
                raise Resync(f"events after {last_id} are no longer kept")
        if last_id == self.last_id:
            return []
        rings = [
            ring
            for tenant, ring in self._rings.items()
            if where.tenants is None or tenant in where.tenants
        ]
        return [e for e in _merged(rings, last_id) if where.matches(e)]


def _merged(rings: Iterable[deque[Event]], last_id: int) -> Iterator[Event]:
    """The rings' events after ``last_id``, in id order (each ring is in order already)."""
    tails: list[list[Event]] = []
    for ring in rings:
        # Rings are short and in order: walk back from the newest end to where last_id is.
        tail: list[Event] = []
        for event in reversed(ring):
            if event.id <= last_id:
                break
            tail.append(event)
        tail.reverse()
        if tail:
            tails.append(tail)
    return heapq.merge(*tails, key=lambda e: e.id)
