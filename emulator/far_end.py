"""The person on the line: what the far end of a call does when a developer says so.

Scenarios script the far end ahead of time; these routes let a test or the dashboard act as it
at any moment, through the emulator's own API. Today: hang up. (Pressing digits and speaking
need the media issue, #15; the dashboard lights its buttons up when those routes exist.)
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .api import _ID, OK, Api, ApiRequest, ApiResponse, route
from .engine import Engine
from .errors import ApiFailure

# The far end hangs up as a person does: a normal BYE (Q.850 16).
FAR_END_HANGUP = ("normal_clearing", "16")


def _unknown_call(call_control_id: str) -> ApiFailure:
    return ApiFailure(
        404,
        [
            errors.ApiError(
                "90015",
                "Invalid Call Control ID",
                f"This API key has no call '{call_control_id}' (it may have expired after "
                "--retention).",
                parameter="call_control_id",
            )
        ],
    )


@route("POST", f"/_emulator/calls/{_ID}/hangup")
def far_end_hangup(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """The other party hangs up: ``call.hangup`` for the leg (and its bridged peer, as when the
    app hangs up), ``hangup_source`` ``caller`` on an incoming leg (the caller is the far end)
    and ``callee`` on an outgoing one. Journaled as the command ``far_end_hangup``."""
    call_control_id = m["id"]

    def run(body: dict[str, Any]) -> tuple[bool, Any, str | None]:
        engine.housekeeping()
        leg = engine.calls.get(call_control_id)
        if leg is None:
            raise _unknown_call(call_control_id)
        if not leg.alive:
            raise errors.call_already_ended()
        source = "caller" if leg.direction == "incoming" else "callee"
        engine.end(leg, FAR_END_HANGUP[0], source, FAR_END_HANGUP[1])  # a live leg is the Leg
        return True, OK, call_control_id

    return api.journaled(request, engine, "far_end_hangup", call_control_id, None, run)
