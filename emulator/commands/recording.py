"""The recording family: record a call, pause, resume and stop.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "recording"
ISSUE = 15

declare(
    Command(
        "record_start",
        "/calls/{call_control_id}/actions/record_start",
        "client.calls.actions.start_recording",
        "Start recording",
        FAMILY,
        webhooks=(
            "call.recording.saved",
            "call.recording.transcription.saved",
            "call.recording.error",
        ),
        issue=ISSUE,
    )
)

declare(
    Command(
        "record_stop",
        "/calls/{call_control_id}/actions/record_stop",
        "client.calls.actions.stop_recording",
        "Stop recording",
        FAMILY,
        webhooks=("call.recording.saved",),
        issue=ISSUE,
    )
)

declare(
    Command(
        "record_pause",
        "/calls/{call_control_id}/actions/record_pause",
        "client.calls.actions.pause_recording",
        "Pause recording",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)

declare(
    Command(
        "record_resume",
        "/calls/{call_control_id}/actions/record_resume",
        "client.calls.actions.resume_recording",
        "Resume recording",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
