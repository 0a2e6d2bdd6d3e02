"""The supervisor family: change a supervisor's role on a supervised call.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #17 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "supervisor"
ISSUE = 17

declare(
    Command(
        "switch_supervisor_role",
        "/calls/{call_control_id}/actions/switch_supervisor_role",
        "client.calls.actions.switch_supervisor_role",
        "Switch supervisor role",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
