"""The DTMF family: send digits on a call.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "dtmf"
ISSUE = 15

declare(
    Command(
        "send_dtmf",
        "/calls/{call_control_id}/actions/send_dtmf",
        "client.calls.actions.send_dtmf",
        "Send DTMF",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
