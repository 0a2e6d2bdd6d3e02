"""Call legs and the per-tenant store that holds them.

A leg is what a ``call_control_id`` names. Legs of one phone call share a ``call_session_id``
(an inbound leg and the leg a transfer dials). The store also forgets ended legs after a retention
period (Telnyx keeps call status for 10 minutes after the end, NOTES §12), which is what keeps a
long-running dev server's memory bounded.

Until then an ended leg is archived as one flat tuple of strings and numbers: nothing can change
it any more, and a busy server holds far more ended legs than live ones (100,000 calls leave
200,000 behind for ten minutes). A tuple of atomic values costs about a third of a ``Leg`` with
its ``Routing`` and lists, and CPython's cyclic garbage collector stops tracking it, so full
collections (the p99 of a loaded server, docs/performance.md) no longer grow with the archive.
Looking an archived leg up rebuilds a read-only ``Leg`` from it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .activities import Activities
from .person import FarEnd
from .redaction import redact_url
from .scenarios import Scenario
from .state import LegEvent, LegState, next_state
from .timeline import Entry

Direction = Literal["incoming", "outgoing"]
MAX_ERRORS = 10


_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


def iso(ts: float) -> str:
    """Telnyx's timestamp format: ISO 8601, microseconds, ``Z``.

    The same string as ``datetime.fromtimestamp(ts, timezone.utc).strftime(...)`` (microseconds
    rounded half to even, as datetime does), at a fifth of the cost: a transfer stamps about
    five of these, and consecutive ones nearly always fall in the same second, whose formatted
    part is kept.
    """
    global _last_second
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1.0, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1.0, micros + 1_000_000
    second = int(whole)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micros:06d}Z"


@dataclass(slots=True)
class Routing:
    """Where a leg's webhooks go (NOTES §5): the leg's URL, per-event overrides, failover."""

    url: str | None = None
    method: str = "POST"
    urls: dict[str, list[str]] = field(default_factory=dict)
    urls_method: str = "POST"
    failover_url: str | None = None
    retries_ms: dict[str, list[int]] = field(default_factory=dict)

    def targets(self, event_type: str) -> list[tuple[str | None, str]]:
        """(url, method) pairs this event is sent to; ``[(None, ..)]`` = recorded, not sent."""
        mapped = self.urls.get(event_type)
        if mapped:
            return [(u, self.urls_method) for u in mapped]
        return [(self.url, self.method)]


@dataclass(slots=True)
class Leg:
    tenant: str
    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    direction: Direction
    from_: str
    to: str
    created_at: float
    routing: Routing
    state: LegState
    client_state: str | None = None
    caller_id_name: str | None = None
    custom_headers: list[dict[str, str]] = field(default_factory=list)
    sip_headers: list[dict[str, str]] = field(default_factory=list)
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: str | None = None
    hangup_source: str | None = None
    sip_hangup_cause: str | None = None
    peer: Leg | None = None  # the leg this one is bridged to
    parent: Leg | None = None  # for a transfer's leg B: leg A
    dialing: Leg | None = None  # for leg A: the leg B being dialled by a pending transfer
    park_after_unbridge: str | None = None
    # A Dial with supervise_call_control_id: the supervisor's role (barge, whisper, monitor),
    # which switch_supervisor_role changes. None: not a supervisor leg.
    supervisor_role: str | None = None
    scenario: Scenario | None = None
    # An archived leg keeps only names: its parent's call_control_id and its scenario's name.
    parent_id: str | None = None
    scenario_name: str | None = None
    command: dict[str, Any] = field(default_factory=dict)  # the command that created this leg
    timers: list[Entry] = field(default_factory=list)  # scheduled steps to cancel on hangup
    # What went wrong inside the emulator for this call (a timed step that raised): shown in
    # GET /_emulator/calls so a stuck call says why. Newest MAX_ERRORS only.
    errors: list[str] = field(default_factory=list)

    def record_error(self, message: str) -> None:
        self.errors.append(message)
        del self.errors[:-MAX_ERRORS]

    activities: Activities | None = None  # playback, recording, ...: created by the first one
    far_end: FarEnd | None = None  # the scenario's far_end script, once the leg is answered
    # What starts when the far end answers an outgoing leg (Dial's stream_url).
    on_answer: list[Callable[[], None]] = field(default_factory=list)

    def apply(self, event: LegEvent) -> None:
        self.state = next_state(self.state, event)

    @property
    def alive(self) -> bool:
        return self.state.alive

    def duration(self, now: float) -> int:
        end = self.ended_at if self.ended_at is not None else now
        return max(0, int(end - self.created_at))

    def cancel_timers(self) -> None:
        for entry in self.timers:
            entry.cancel()
        self.timers.clear()

    def status(self, now: float) -> dict[str, Any]:
        """The ``GET /v2/calls/{id}`` body (NOTES §12)."""
        out: dict[str, Any] = {
            "record_type": "call",
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "is_alive": self.alive,
            "call_duration": self.duration(now),
            "client_state": self.client_state,
            "start_time": iso(self.created_at),
        }
        if self.ended_at is not None:
            out["end_time"] = iso(self.ended_at)
        return out

    def summary(self, now: float) -> dict[str, Any]:
        """The inspection API's view: everything a developer wants to see at a glance."""
        out = self.status(now)
        out.update(
            {
                "connection_id": self.connection_id,
                "direction": self.direction,
                "from": self.from_,
                "to": self.to,
                "state": self.state.value,
                "webhook_url": redact_url(self.routing.url),
                "bridged_to": self.peer.call_control_id if self.peer else None,
                "parent_call_control_id": (
                    self.parent.call_control_id if self.parent is not None else self.parent_id
                ),
                "scenario": self.scenario.name if self.scenario is not None else self.scenario_name,
                "hangup_cause": self.hangup_cause,
                "hangup_source": self.hangup_source,
                "sip_hangup_cause": self.sip_hangup_cause,
                "errors": list(self.errors),
            }
        )
        return out

    def archived(self, share: Callable[[str | None], str | None]) -> tuple[Any, ...]:
        """The leg as a flat record for :class:`CallStore`'s archive (see the module docstring);
        ``share`` swaps a phone number for an equal string the archive already holds."""
        return (
            self.tenant,
            self.call_control_id,
            self.call_leg_id,
            self.call_session_id,
            self.connection_id,
            self.direction,
            share(self.from_),
            share(self.to),
            self.created_at,
            self.routing.url,
            self.state.value,
            self.client_state,
            share(self.caller_id_name),
            self.answered_at,
            self.ended_at,
            self.hangup_cause,
            self.hangup_source,
            self.sip_hangup_cause,
            self.parent.call_control_id if self.parent is not None else self.parent_id,
            self.scenario.name if self.scenario is not None else self.scenario_name,
            tuple(self.errors),  # () is shared: no cost for the usual call
        )

    @classmethod
    def from_archive(cls, record: tuple[Any, ...]) -> Leg:
        (tenant, ccid, leg_id, session_id, connection_id, direction, from_, to, created_at, url,
         state, client_state, caller_id_name, answered_at, ended_at, cause, source, sip,
         parent_id, scenario_name, errors) = record  # fmt: skip
        return cls(
            tenant=tenant,
            call_control_id=ccid,
            call_leg_id=leg_id,
            call_session_id=session_id,
            connection_id=connection_id,
            direction=direction,
            from_=from_,
            to=to,
            created_at=created_at,
            routing=Routing(url=url),
            state=LegState(state),
            client_state=client_state,
            caller_id_name=caller_id_name,
            answered_at=answered_at,
            ended_at=ended_at,
            hangup_cause=cause,
            hangup_source=source,
            sip_hangup_cause=sip,
            parent_id=parent_id,
            scenario_name=scenario_name,
            errors=list(errors),
        )


_ENDED_AT = 14  # index of ended_at in Leg.archived()
# Distinct phone numbers the archive shares between records. Apps and tests dial the same few
# numbers over and over; sharing them saves ~90 bytes per ended leg. Past the bound, numbers are
# stored as they come.
SHARED_STRINGS = 65_536


class CallStore:
    def __init__(self, retention_secs: float = 600.0) -> None:
        self.retention_secs = retention_secs
        # Live legs as Leg objects, ended ones as archived tuples, both in creation order.
        self._legs: dict[str, Leg | tuple[Any, ...]] = {}
        self._ended: deque[str] = deque()  # call_control_ids, in the order they ended
        self._live = 0
        self._shared: dict[str, str] = {}

    def _share(self, text: str | None) -> str | None:
        if text is None:
            return None
        shared = self._shared.get(text)
        if shared is None:
            if len(self._shared) >= SHARED_STRINGS:
                return text
            shared = self._shared[text] = text
        return shared

    def add(self, leg: Leg) -> None:
        self._legs[leg.call_control_id] = leg
        if leg.alive:
            self._live += 1

    def get(self, call_control_id: str) -> Leg | None:
        leg = self._legs.get(call_control_id)
        if leg is None or type(leg) is Leg:
            return leg
        return Leg.from_archive(leg)  # type: ignore[arg-type]

    def ended(self, leg: Leg) -> None:
        """The leg has hung up and nothing will change it again: archive it.

        Callers holding the ``Leg`` object may still read it (the hangup webhook is built after
        this); lookups from now on get a rebuilt copy.
        """
        assert leg.ended_at is not None
        self._live -= 1
        self._ended.append(leg.call_control_id)
        if leg.call_control_id in self._legs:
            self._legs[leg.call_control_id] = leg.archived(self._share)

    def expire(self, now: float) -> list[str]:
        """Forget legs that ended more than ``retention_secs`` ago; returns their IDs."""
        gone: list[str] = []
        horizon = now - self.retention_secs
        ended, legs = self._ended, self._legs
        while ended:
            record = legs.get(ended[0])
            if type(record) is tuple:
                if record[_ENDED_AT] > horizon:
                    break
                del legs[ended[0]]
                gone.append(ended[0])
            ended.popleft()
        return gone

    def __iter__(self) -> Iterator[Leg]:
        for leg in self._legs.values():
            yield leg if type(leg) is Leg else Leg.from_archive(leg)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._legs)

    def live_count(self) -> int:
        return self._live
