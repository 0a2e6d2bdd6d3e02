"""The media family: speak text and play audio on a call.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "media"
ISSUE = 15

declare(
    Command(
        "speak",
        "/calls/{call_control_id}/actions/speak",
        "client.calls.actions.speak",
        "Speak text",
        FAMILY,
        webhooks=("call.speak.started", "call.speak.ended"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "playback_start",
        "/calls/{call_control_id}/actions/playback_start",
        "client.calls.actions.start_playback",
        "Play audio URL",
        FAMILY,
        webhooks=("call.playback.started", "call.playback.ended"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "playback_stop",
        "/calls/{call_control_id}/actions/playback_stop",
        "client.calls.actions.stop_playback",
        "Stop audio playback",
        FAMILY,
        webhooks=("call.playback.ended", "call.speak.ended"),
        issue=ISSUE,
    )
)
