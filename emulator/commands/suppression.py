"""The noise suppression family (Telnyx: BETA).

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "suppression"
ISSUE = 15

declare(
    Command(
        "suppression_start",
        "/calls/{call_control_id}/actions/suppression_start",
        "client.calls.actions.start_noise_suppression",
        "Start noise suppression",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)

declare(
    Command(
        "suppression_stop",
        "/calls/{call_control_id}/actions/suppression_stop",
        "client.calls.actions.stop_noise_suppression",
        "Stop noise suppression",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
