"""Call queues: a tenant's named queues and the calls waiting in them, in order.

``enqueue`` creates a queue on first use (Telnyx: "If a queue with a given name doesn't exist
yet it will be created") with the command's ``max_size`` (default 100; it "can't be modified
for an existing queue"); the Queues API (``POST /v2/queues``) creates one with its own default,
300. A call's position is its 1-based index: when a call leaves, the ones behind it move up.

The store only keeps order and times; *why* a call leaves (leave_queue, its wait time, hangup,
a bridge) is the activity model's (:mod:`emulator.activities`, kind ``queue``) and the queue
family's (:mod:`emulator.commands.queue`), which sends ``call.dequeued``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .calls import Leg, iso
from .errors import ApiError, ApiFailure

ENQUEUE_MAX_SIZE = 100  # spec: Enqueue Request max_size default
API_MAX_SIZE = 300  # spec: Create Queue Request max_size default


@dataclass(slots=True, eq=False)
class QueuedCall:
    leg: Leg
    enqueued_at: float
    keep_after_hangup: bool = False

    def wait_secs(self, now: float) -> int:
        return max(0, int(now - self.enqueued_at))


@dataclass(slots=True, eq=False)
class Queue:
    id: str
    name: str
    max_size: int
    created_at: float
    updated_at: float
    calls: list[QueuedCall] = field(default_factory=list)

    def position(self, entry: QueuedCall) -> int:
        return self.calls.index(entry) + 1

    def find(self, call_control_id: str) -> QueuedCall | None:
        for entry in self.calls:
            if entry.leg.call_control_id == call_control_id:
                return entry
        return None

    def average_wait_secs(self, now: float) -> int:
        """The average time the calls now in the queue have waited (spec Queue)."""
        if not self.calls:
            return 0
        return int(sum(now - c.enqueued_at for c in self.calls) / len(self.calls))

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "record_type": "queue",
            "id": self.id,
            "name": self.name,
            "current_size": len(self.calls),
            "max_size": self.max_size,
            "average_wait_time_secs": self.average_wait_secs(now),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def call_json(self, entry: QueuedCall, now: float) -> dict[str, Any]:
        leg = entry.leg
        return {
            "record_type": "queue_call",
            "call_control_id": leg.call_control_id,
            "call_leg_id": leg.call_leg_id,
            "call_session_id": leg.call_session_id,
            "connection_id": leg.connection_id,
            "from": leg.from_,
            "to": leg.to,
            "is_alive": leg.alive,
            "enqueued_at": iso(entry.enqueued_at),
            "wait_time_secs": entry.wait_secs(leg.ended_at if leg.ended_at else now),
            "queue_position": self.position(entry),
            "queue_id": self.id,
        }


def queue_full(name: str) -> ApiFailure:
    """Telnyx's own example (spec ``queue_full``): 90036."""
    return ApiFailure(
        422,
        [
            ApiError(
                "90036", "Queue full", f"The '{name}' queue is full and can't accept more calls."
            )
        ],
    )


def queue_not_found(name: str) -> ApiFailure:
    return ApiFailure(
        404,
        [
            ApiError(
                "10005",
                "Resource not found",
                f"There is no queue named '{name}' for this API key.",
                parameter="queue_name",
            )
        ],
    )


def call_not_in_queue(name: str) -> ApiFailure:
    return ApiFailure(
        404,
        [
            ApiError(
                "10005",
                "Resource not found",
                f"The call is not in the '{name}' queue.",
                parameter="call_control_id",
            )
        ],
    )


class QueueStore:
    def __init__(self) -> None:
        self._queues: dict[str, Queue] = {}

    def __iter__(self) -> Iterator[Queue]:
        return iter(list(self._queues.values()))

    def __len__(self) -> int:
        return len(self._queues)

    def find(self, name: str) -> Queue | None:
        return self._queues.get(name)

    def get(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise queue_not_found(name)
        return queue

    def create(self, name: str, max_size: int, now: float, ident: str) -> Queue:
        if name in self._queues:
            raise ApiFailure(
                422,
                [errors.invalid_value(f"A queue named '{name}' already exists.", "/queue_name")],
            )
        queue = self._queues[name] = Queue(ident, name, max_size, now, now)
        return queue

    def ensure(self, name: str, max_size: int, now: float, ident: str) -> Queue:
        """The queue ``name``, created with ``max_size`` if it does not exist yet."""
        queue = self._queues.get(name)
        return queue if queue is not None else self.create(name, max_size, now, ident)

    def delete(self, name: str) -> Queue:
        queue = self.get(name)
        del self._queues[name]
        return queue

    def holding(self, leg: Leg) -> tuple[Queue, QueuedCall] | None:
        """The queue a live or kept call is in, and its entry."""
        for queue in self._queues.values():
            entry = queue.find(leg.call_control_id)
            if entry is not None:
                return queue, entry
        return None
