"""The SIP family: REFER, SIP INFO and SIPREC sessions.

``refer`` asks the far end to call ``sip_address`` instead: ``call.refer.started`` at once,
then, as the scenario matching ``sip_address`` says (``refer:`` in docs/scenarios.md),
``call.refer.completed`` and the leg's hang-up (the far end leaves: its BYE), or
``call.refer.failed`` with the SIP status and the call stays up. ``send_sip_info`` is accepted
and journaled; it causes no webhook on this leg (``call.sip_info.received`` is for the *other*
party's leg, which is not a Telnyx leg of this app).

A SIPREC session is an activity (kind ``siprec``): ``siprec.started`` at once, ``siprec.stopped``
when ``siprec_stop`` or the call's end stops it. No SIP INVITE is sent to a recording server.
(chosen) A ``connector_name`` starting with ``fail`` fails instead: ``siprec.failed`` with the
Q.850 cause after ``fail-`` (``fail-call_rejected``), ``no_answer`` if none is given; so an app's
handling of a failed session is testable (docs/streaming.md).
"""

from __future__ import annotations

from typing import Any

from .. import errors, webhooks
from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..webhooks import leg_fields
from .registry import Command, Context, declare

FAMILY = "sip"
ISSUE = 17

# (chosen) The NOTIFY Telnyx reports first: the target is being tried (sipfrag 100 Trying).
REFER_TRYING = 100


def _refer_payload(leg: Leg, sip_notify_response: int) -> dict[str, Any]:
    payload = leg_fields(leg)
    payload["sip_notify_response"] = sip_notify_response
    return payload


def refer(ctx: Context, p: dict[str, Any]) -> None:
    leg, engine = ctx.leg, ctx.engine
    outcome = ctx.scenario_for(p["sip_address"]).refer
    engine.emit(leg, "call.refer.started", _refer_payload(leg, REFER_TRYING))

    def final() -> None:
        if outcome.outcome == "failed":
            engine.emit(leg, "call.refer.failed", _refer_payload(leg, outcome.sip_code))
            return
        engine.emit(leg, "call.refer.completed", _refer_payload(leg, outcome.sip_code))
        _far_end_leaves(engine, leg)

    engine.after(leg, outcome.after_secs, final)


def _far_end_leaves(engine: Engine, leg: Leg) -> None:
    """(chosen) The referred party is now talking to the target: it hangs up on this leg, a
    normal clearing from the far end (the caller of an incoming leg, the callee of a dialled
    one)."""
    source = "caller" if leg.direction == "incoming" else "callee"
    engine.end(leg, "normal_clearing", source, "16")


def send_sip_info(ctx: Context, p: dict[str, Any]) -> None:
    """Accepted and journaled (with its body); nothing is sent to this leg's webhooks."""


declare(
    Command(
        "refer",
        "/calls/{call_control_id}/actions/refer",
        "client.calls.actions.refer",
        "SIP REFER a call",
        FAMILY,
        webhooks=("call.refer.started", "call.refer.completed", "call.refer.failed", "call.hangup"),
        effect=refer,
        description="call.refer.started at once; then, per the scenario the sip_address "
        "matches (or X-Emulator-Scenario), call.refer.completed and the leg's call.hangup, "
        "or call.refer.failed with the SIP status (the call stays up).",
    )
)

declare(
    Command(
        "send_sip_info",
        "/calls/{call_control_id}/actions/send_sip_info",
        "client.calls.actions.send_sip_info",
        "Send a SIP INFO",
        FAMILY,
        webhooks=(),
        effect=send_sip_info,
    )
)

FAILING_CONNECTOR = "fail"
DEFAULT_FAILURE_CAUSE = "no_answer"  # Telnyx's example failure_cause


def siprec_start(ctx: Context, p: dict[str, Any]) -> None:
    engine, leg = ctx.engine, ctx.leg
    connector = p.get("connector_name") or ""
    if connector.startswith(FAILING_CONNECTOR):
        running = leg.activities.running(ActivityKind.SIPREC) if leg.activities else None
        if running is not None:  # the state rule comes first, as for a working connector
            raise errors.invalid_command_for_state("A SIPREC session is already running.")
        payload = webhooks.media_payload(leg)
        payload["failure_cause"] = connector.partition("-")[2] or DEFAULT_FAILURE_CAUSE
        engine.emit(leg, "siprec.failed", payload)
        return

    def on_end(activity: Activity, reason: EndReason) -> None:
        payload = webhooks.media_payload(leg)
        ended_with_call = reason is EndReason.CALL_ENDED and leg.hangup_cause
        payload["hangup_cause"] = leg.hangup_cause if ended_with_call else "normal_clearing"
        engine.emit(leg, "siprec.stopped", payload)

    engine.start_activity(leg, ActivityKind.SIPREC, on_end, data=dict(p))
    engine.emit(leg, "siprec.started", webhooks.media_payload(leg))


def siprec_stop(ctx: Context, p: dict[str, Any]) -> None:
    if ctx.engine.stop_activity(ctx.leg, ActivityKind.SIPREC) is None:
        raise errors.invalid_command_for_state("No SIPREC session is running on this call.")


declare(
    Command(
        "siprec_start",
        "/calls/{call_control_id}/actions/siprec_start",
        "client.calls.actions.start_siprec",
        "Start a SIPREC session",
        FAMILY,
        webhooks=("siprec.started", "siprec.stopped", "siprec.failed"),
        effect=siprec_start,
        description="Sends `siprec.started` (no SIP is sent to a recording server); a "
        "`connector_name` starting with `fail` sends `siprec.failed` instead (docs/streaming.md).",
    )
)

declare(
    Command(
        "siprec_stop",
        "/calls/{call_control_id}/actions/siprec_stop",
        "client.calls.actions.stop_siprec",
        "Stop the SIPREC session",
        FAMILY,
        webhooks=("siprec.stopped",),
        effect=siprec_stop,
    )
)
