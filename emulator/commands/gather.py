"""The gather family: collect DTMF digits, with or without a prompt.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "gather"
ISSUE = 15

declare(
    Command(
        "gather",
        "/calls/{call_control_id}/actions/gather",
        "client.calls.actions.gather",
        "Gather DTMF digits",
        FAMILY,
        webhooks=("call.dtmf.received", "call.gather.ended"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "gather_using_audio",
        "/calls/{call_control_id}/actions/gather_using_audio",
        "client.calls.actions.gather_using_audio",
        "Gather using audio",
        FAMILY,
        webhooks=(
            "call.playback.started",
            "call.playback.ended",
            "call.dtmf.received",
            "call.gather.ended",
        ),
        issue=ISSUE,
    )
)

declare(
    Command(
        "gather_using_speak",
        "/calls/{call_control_id}/actions/gather_using_speak",
        "client.calls.actions.gather_using_speak",
        "Gather using speak",
        FAMILY,
        webhooks=(
            "call.speak.started",
            "call.speak.ended",
            "call.dtmf.received",
            "call.gather.ended",
        ),
        issue=ISSUE,
    )
)

declare(
    Command(
        "gather_stop",
        "/calls/{call_control_id}/actions/gather_stop",
        "client.calls.actions.stop_gather",
        "Stop a gather",
        FAMILY,
        webhooks=("call.gather.ended",),
        issue=ISSUE,
    )
)
