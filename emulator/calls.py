"""Call legs and the per-tenant store that holds them.

A leg is what a ``call_control_id`` names. Legs of one phone call share a ``call_session_id``
(an inbound leg and the leg a transfer dials). The store also forgets ended legs after a retention
period (Telnyx keeps call status for 10 minutes after the end, NOTES §12), which is what keeps a
long-running dev server's memory bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .delivery import redact_url
from .scenarios import Scenario
from .state import LegEvent, LegState, next_state
from .timeline import Entry

Direction = Literal["incoming", "outgoing"]


def iso(ts: float) -> str:
    """Telnyx's timestamp format: ISO 8601, microseconds, ``Z``."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    scenario: Scenario | None = None
    command: dict[str, Any] = field(default_factory=dict)  # the command that created this leg
    timers: list[Entry] = field(default_factory=list)  # scheduled steps to cancel on hangup

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
                "parent_call_control_id": self.parent.call_control_id if self.parent else None,
                "scenario": self.scenario.name if self.scenario else None,
                "hangup_cause": self.hangup_cause,
                "hangup_source": self.hangup_source,
                "sip_hangup_cause": self.sip_hangup_cause,
            }
        )
        return out


class CallStore:
    def __init__(self, retention_secs: float = 600.0) -> None:
        self.retention_secs = retention_secs
        self._legs: dict[str, Leg] = {}
        self._ended: deque[tuple[float, str]] = deque()  # (ended_at, call_control_id)
        self._live = 0

    def add(self, leg: Leg) -> None:
        self._legs[leg.call_control_id] = leg
        if leg.alive:
            self._live += 1

    def get(self, call_control_id: str) -> Leg | None:
        return self._legs.get(call_control_id)

    def ended(self, leg: Leg) -> None:
        assert leg.ended_at is not None
        self._live -= 1
        self._ended.append((leg.ended_at, leg.call_control_id))

    def expire(self, now: float) -> list[str]:
        """Forget legs that ended more than ``retention_secs`` ago; returns their IDs."""
        gone: list[str] = []
        horizon = now - self.retention_secs
        while self._ended and self._ended[0][0] <= horizon:
            _, ccid = self._ended.popleft()
            leg = self._legs.pop(ccid, None)
            if leg is not None:
                leg.peer = leg.parent = leg.dialing = None
                gone.append(ccid)
        return gone

    def __iter__(self) -> Iterator[Leg]:
        return iter(self._legs.values())

    def __len__(self) -> int:
        return len(self._legs)

    def live_count(self) -> int:
        return self._live
