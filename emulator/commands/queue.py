"""The queue family: put a call in a queue and take it out.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #17 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "queue"
ISSUE = 17

declare(
    Command(
        "enqueue",
        "/calls/{call_control_id}/actions/enqueue",
        "client.calls.actions.enqueue",
        "Put a call in a queue",
        FAMILY,
        webhooks=("call.enqueued", "call.dequeued"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "leave_queue",
        "/calls/{call_control_id}/actions/leave_queue",
        "client.calls.actions.leave_queue",
        "Remove a call from its queue",
        FAMILY,
        webhooks=("call.dequeued",),
        issue=ISSUE,
    )
)
