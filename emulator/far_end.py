"""The person on the line: what the far end of a call does when a developer says so.

Scenarios script the far end ahead of time (``far_end:`` steps, :mod:`emulator.person`); these
routes let a test or the dashboard act as it at any moment, through the emulator's own API:
press digits, say something, hang up. Each is journaled as a command (``far_end_dtmf``,
``far_end_speech``, ``far_end_hangup``) and answers Telnyx-shaped errors: 404 for a call the
API key doesn't have, 422 for one that has ended (90018) or is not answered yet (90034: nobody
is on the line to press or speak).
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .api import _ID, OK, Api, ApiRequest, ApiResponse, route
from .calls import Leg
from .engine import FAR_END_HANGUP, Engine
from .errors import ApiFailure
from .redaction import REDACTED
from .state import LegState

__all__ = ["FAR_END_HANGUP", "far_end_dtmf", "far_end_hangup", "far_end_speech"]
ON_THE_LINE = frozenset({LegState.ANSWERED, LegState.BRIDGED})


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
        engine.far_end_hangs_up(_live_leg(engine, call_control_id))
        return True, OK, call_control_id

    return api.journaled(request, engine, "far_end_hangup", call_control_id, None, run)


@route("POST", f"/_emulator/calls/{_ID}/dtmf")
def far_end_dtmf(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """The far end presses ``digits`` (``{"digits": "12#"}``): ``call.dtmf.received`` for each,
    and a running gather or payment collects them (:meth:`emulator.engine.Engine.far_end_press`);
    during a payment the journal shows the digits as ``[redacted]``."""
    call_control_id = m["id"]

    def run(body: dict[str, Any]) -> tuple[bool, Any, str | None]:
        engine.far_end_press(_answered_leg(engine, call_control_id), body["digits"])
        return True, OK, call_control_id

    leg = engine.calls.get(call_control_id)
    secret = leg is not None and engine.collecting_payment(leg)
    return api.journaled(
        request, engine, "far_end_dtmf", call_control_id, "far_end_dtmf", run,
        shown=_redact_digits if secret else None,
    )  # fmt: skip


def _redact_digits(body: Any) -> Any:
    """(chosen) Digits pressed while a payment collects are card data: the journal keeps
    ``[redacted]`` instead."""
    if isinstance(body, dict) and "digits" in body:
        return {**body, "digits": REDACTED}
    return body


@route("POST", f"/_emulator/calls/{_ID}/speech")
def far_end_speech(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """The far end says ``text`` (``{"text": "sales"}``): a running transcription hears it."""
    call_control_id = m["id"]

    def run(body: dict[str, Any]) -> tuple[bool, Any, str | None]:
        engine.far_end_say(_answered_leg(engine, call_control_id), body["text"])
        return True, OK, call_control_id

    return api.journaled(request, engine, "far_end_speech", call_control_id, "far_end_speech", run)


def _live_leg(engine: Engine, call_control_id: str) -> Leg:
    engine.housekeeping()
    leg = engine.calls.get(call_control_id)
    if leg is None:
        raise _unknown_call(call_control_id)
    if not leg.alive:
        raise errors.call_already_ended()
    return leg


def _answered_leg(engine: Engine, call_control_id: str) -> Leg:
    leg = _live_leg(engine, call_control_id)
    if leg.state not in ON_THE_LINE:
        raise errors.call_not_answered()
    return leg


@route("GET", f"/_emulator/calls/{_ID}/streams")
def call_streams(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """The call's media streams (open and recent): state, counts, what the app played."""
    call_control_id = m["id"]
    engine.housekeeping()
    if engine.calls.get(call_control_id) is None:
        raise _unknown_call(call_control_id)
    streams = engine.streams.for_call(engine.tenant, call_control_id)
    return ApiResponse(200, {"data": [s.summary() for s in streams]})
