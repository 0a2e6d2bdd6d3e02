"""The queue family: put a call in a queue and take it out.

A call waiting in a queue is a ``queue`` activity (:mod:`emulator.activities`) on its leg, and
an entry in the tenant's :class:`~emulator.queues.QueueStore`. How it leaves is the activity's
end reason, reported as ``call.dequeued``'s ``reason`` (spec enum): ``leave_queue`` (stopped:
``leave``), ``max_wait_time_secs`` (completed: ``timeout``), the leg's hang-up (call_ended:
``hangup``) and a bridge with another leg, by bridge or by a transfer's leg B answering
(bridged: ``bridged``). The calls behind it move up one place.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..activities import Activity, ActivityKind, EndReason
from ..queues import ENQUEUE_MAX_SIZE, QueuedCall, queue_full
from ..state import ANSWERED
from ..webhooks import leg_fields
from .registry import Command, Context, declare

FAMILY = "queue"

DEQUEUE_REASONS = {
    EndReason.STOPPED: "leave",
    EndReason.COMPLETED: "timeout",
    EndReason.CALL_ENDED: "hangup",
    EndReason.BRIDGED: "bridged",
}


def enqueue(ctx: Context, p: dict[str, Any]) -> None:
    """``call.enqueued`` with the call's position (1 = next) and the queue's average wait."""
    leg, engine = ctx.leg, ctx.engine
    name = p["queue_name"]
    now = engine.clock.now()
    existing = engine.queues.find(name)
    if existing is not None and len(existing.calls) >= existing.max_size:
        raise queue_full(name)
    entry = QueuedCall(leg, now, bool(p.get("keep_after_hangup", False)))

    def dequeued(activity: Activity, reason: EndReason) -> None:
        if reason is EndReason.CALL_ENDED and entry.keep_after_hangup:
            return  # stays in the queue, not alive (Telnyx: keep_after_hangup)
        at = engine.clock.now()
        position = queue.position(entry)
        queue.calls.remove(entry)
        payload = leg_fields(leg, parties=False)
        payload.update(
            {
                "queue": queue.name,
                "queue_position": position,
                "reason": DEQUEUE_REASONS.get(reason, "leave"),
                "wait_time_secs": entry.wait_secs(at),
            }
        )
        engine.emit(leg, "call.dequeued", payload)

    wait = p.get("max_wait_time_secs")
    engine.start_activity(  # refuses a call that is in a queue already (90016)
        leg,
        ActivityKind.QUEUE,
        dequeued,
        secs=float(wait) if wait else None,
        data={"queue": name},
    )
    queue = engine.queues.ensure(
        name, int(p.get("max_size", ENQUEUE_MAX_SIZE)), now, engine.ids.leg_uuid()
    )
    queue.calls.append(entry)
    payload = leg_fields(leg, parties=False)
    payload.update(
        {
            "queue": name,
            "current_position": queue.position(entry),
            "queue_avg_wait_time_secs": queue.average_wait_secs(now),
        }
    )
    engine.emit(leg, "call.enqueued", payload)


def leave_queue(ctx: Context, p: dict[str, Any]) -> None:
    leg = ctx.leg
    if leg.activities is None or leg.activities.running(ActivityKind.QUEUE) is None:
        raise errors.invalid_command_for_state("The call is not in a queue.")  # (chosen)
    ctx.engine.stop_activity(leg, ActivityKind.QUEUE)


declare(
    Command(
        "enqueue",
        "/calls/{call_control_id}/actions/enqueue",
        "client.calls.actions.enqueue",
        "Put a call in a queue",
        FAMILY,
        legal=ANSWERED,
        webhooks=("call.enqueued", "call.dequeued"),
        effect=enqueue,
        description="Creates the queue on first use (max_size default 100; fixed once "
        "created). A full queue answers 90036. The call leaves with call.dequeued: "
        "leave_queue (leave), max_wait_time_secs (timeout), hangup (hangup) or a bridge "
        "(bridged).",
    )
)

declare(
    Command(
        "leave_queue",
        "/calls/{call_control_id}/actions/leave_queue",
        "client.calls.actions.leave_queue",
        "Remove a call from its queue",
        FAMILY,
        legal=ANSWERED,
        webhooks=("call.dequeued",),
        effect=leave_queue,
    )
)
