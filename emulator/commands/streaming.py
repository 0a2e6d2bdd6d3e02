"""The streaming family: media streams over WebSocket and media forks.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #17 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "streaming"
ISSUE = 17

declare(
    Command(
        "streaming_start",
        "/calls/{call_control_id}/actions/streaming_start",
        "client.calls.actions.start_streaming",
        "Start a media stream",
        FAMILY,
        webhooks=("streaming.started", "streaming.stopped", "streaming.failed"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "streaming_stop",
        "/calls/{call_control_id}/actions/streaming_stop",
        "client.calls.actions.stop_streaming",
        "Stop the media stream",
        FAMILY,
        webhooks=("streaming.stopped",),
        issue=ISSUE,
    )
)

declare(
    Command(
        "fork_start",
        "/calls/{call_control_id}/actions/fork_start",
        "client.calls.actions.start_forking",
        "Start forking media",
        FAMILY,
        webhooks=("call.fork.started", "call.fork.stopped"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "fork_stop",
        "/calls/{call_control_id}/actions/fork_stop",
        "client.calls.actions.stop_forking",
        "Stop forking media",
        FAMILY,
        webhooks=("call.fork.stopped",),
        issue=ISSUE,
    )
)
