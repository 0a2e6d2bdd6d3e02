"""The supervisor family: change a supervisor's role on a supervised call.

A supervisor leg is one placed by a Dial with ``supervise_call_control_id`` (role
``supervisor_role``, default ``barge``). ``switch_supervisor_role`` changes that role
(barge, whisper, monitor); the spec lists no webhook for it. On any other leg it is refused
(chosen: 90016, "not a supervisor"; Telnyx documents no code). Who hears whom is audio, which
the emulator does not carry: the role is kept on the leg and shown in the journal.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from .registry import Command, Context, declare

FAMILY = "supervisor"


def switch_supervisor_role(ctx: Context, p: dict[str, Any]) -> None:
    leg = ctx.leg
    if leg.supervisor_role is None:
        raise errors.invalid_command_for_state(
            "This call is not a supervisor: only a call dialled with "
            "'supervise_call_control_id' can switch supervisor role."
        )
    leg.supervisor_role = p["role"]


declare(
    Command(
        "switch_supervisor_role",
        "/calls/{call_control_id}/actions/switch_supervisor_role",
        "client.calls.actions.switch_supervisor_role",
        "Switch supervisor role",
        FAMILY,
        webhooks=(),
        effect=switch_supervisor_role,
    )
)
