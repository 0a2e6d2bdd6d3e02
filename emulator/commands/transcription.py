"""The transcription family: real-time transcription of a call.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "transcription"
ISSUE = 15

declare(
    Command(
        "transcription_start",
        "/calls/{call_control_id}/actions/transcription_start",
        "client.calls.actions.start_transcription",
        "Start transcription",
        FAMILY,
        webhooks=("call.transcription",),
        issue=ISSUE,
    )
)

declare(
    Command(
        "transcription_stop",
        "/calls/{call_control_id}/actions/transcription_stop",
        "client.calls.actions.stop_transcription",
        "Stop transcription",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
