"""The call family: place, answer, end, transfer and bridge calls, and read their status.

These are the commands the emulator had before the registry; their behaviour is documented in
docs/commands.md and docs/behaviour.md. Each effect runs after the shared pipeline has looked
the call up, applied ``command_id`` dedup and the state rules, and set the body's
``client_state`` on the call (see :meth:`emulator.engine.Engine.run_command`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import errors
from ..calls import Leg, Routing
from ..engine import APP_CANCEL, APP_HANGUP, Engine, first_destination, retry_policies
from ..errors import ApiFailure
from ..media_stream import StreamParams
from ..state import (
    ANSWERABLE,
    ANSWERED,
    ANY_LIVE,
    REJECTABLE,
    TRANSFERABLE,
    LegEvent,
    LegState,
    check_command,
)
from .recording import from_answer, recording_fields
from .registry import Command, Context, declare
from .streaming import start_stream, stream_params

FAMILY = "call"

_OUTBOUND_EVENTS = (
    "call.initiated",
    "call.answered",
    "call.bridged",
    "call.hangup",
    "call.machine.detection.ended",
    "call.machine.greeting.ended",
    "call.machine.premium.detection.ended",
    "call.machine.premium.greeting.ended",
    "call.machine.premium.call_screening.detected",
)

# The hangup command, by the leg's state: cancelling a ringing leg, else a normal BYE.
HANGUP_BY_STATE: dict[LegState, tuple[str, str, str]] = {LegState.RINGING: APP_CANCEL}

# The reject command's cause -> (hangup_cause, SIP response) of the call.hangup it causes
# (source callee: the app is the called party). The SIP codes are Telnyx's documented responses;
# the hangup_cause values are the closest of its enum (chosen: TEMPORARILY_UNAVAILABLE has none).
REJECT_CAUSES: dict[str, tuple[str, str]] = {
    "CALL_REJECTED": ("call_rejected", "603"),
    "NOT_FOUND": ("not_found", "404"),
    "TEMPORARILY_UNAVAILABLE": ("unspecified", "480"),
    "USER_BUSY": ("user_busy", "486"),
}


def _pointing_at(pointer: str, failure: ApiFailure) -> ApiFailure:
    """The same failure, pointing at another body field (e.g. ``/link_to``)."""
    moved = [dataclasses.replace(e, pointer=pointer) for e in failure.errors]
    return ApiFailure(failure.status, moved, dict(failure.headers))


# -- Dial and status ------------------------------------------------------------------------


def dial(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """``POST /v2/calls``: place a new outbound call. A repeated ``command_id`` (per API key,
    within the dedup window) places nothing and names the first Dial's call. The response's
    ``is_alive`` is always false (Telnyx: "dialing is asynchronous")."""
    engine = ctx.engine
    engine.housekeeping()
    command_id = p.get("command_id")
    first = engine.recall_dial(command_id) if isinstance(command_id, str) else None
    if first is not None:
        ctx.duplicate, ctx.call_control_id = True, first.call_control_id
        return _dial_data(ctx, first, p)
    link: Leg | None = None
    if "link_to" in p:
        link = engine.calls.get(p["link_to"])
        if link is None:
            raise _pointing_at("/link_to", errors.invalid_call_control_id())
        if p.get("bridge_on_answer") or p.get("bridge_intent"):
            try:
                check_command("dial_link", link.state)
            except ApiFailure as failure:
                raise _pointing_at("/link_to", failure) from None
    engine.connections.for_dial(p["connection_id"])
    stream = stream_params(p, required=False)
    to = first_destination(p["to"])
    scenario = ctx.scenario_for(to)
    engine.check_capacity()
    leg = engine.place_outbound(
        p,
        scenario,
        to=to,
        from_=link.from_ if link is not None and p.get("bridge_intent") else p["from"],
        call_session_id=link.call_session_id if link is not None else None,
        connection_id=p["connection_id"],
        routing=Routing(
            url=p.get("webhook_url"),
            method=p.get("webhook_url_method", "POST"),
            urls={k: list(v) for k, v in (p.get("webhook_urls") or {}).items()},
            urls_method=p.get("webhook_urls_method", "POST"),
            retries_ms=retry_policies(p),
        ),
        client_state=p.get("client_state"),
        timeout_cause="no_answer" if p.get("retry_on_timeout") is False else "timeout",
    )
    if "park_after_unbridge" in p:
        leg.park_after_unbridge = p["park_after_unbridge"]
    if "supervise_call_control_id" in p:  # spec default role: barge
        leg.supervisor_role = p.get("supervisor_role", "barge")
    if stream is not None:
        leg.on_answer.append(lambda: _start(engine, leg, stream))
    if isinstance(command_id, str):
        engine.remember_dial(command_id, leg)
    ctx.call_control_id = leg.call_control_id
    return _dial_data(ctx, leg, p)


def _start(engine: Engine, leg: Leg, params: StreamParams) -> None:
    start_stream(engine, leg, params)


def _dial_data(ctx: Context, leg: Leg, p: dict[str, Any]) -> dict[str, Any]:
    data = leg.status(ctx.engine.clock.now())
    data["is_alive"] = False
    data.update(recording_fields(leg, p) or {})
    return data


def retrieve_call(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return ctx.leg.status(ctx.engine.clock.now())


# -- commands on a call -----------------------------------------------------------------------


def answer(ctx: Context, p: dict[str, Any]) -> dict[str, Any] | None:
    """The app answers a parked incoming leg: ``call.answered``, sent to the answer's own
    ``webhook_url`` if it has one (like every later webhook of the leg)."""
    leg, engine = ctx.leg, ctx.engine
    stream = stream_params(p, required=False)  # checked before anything changes
    engine.apply_leg_options(leg, p)
    engine.answer(leg)
    from_answer(engine, leg, p)
    if stream is not None:
        start_stream(engine, leg, stream)
    return recording_fields(leg, p)


def hangup(ctx: Context, p: dict[str, Any]) -> None:
    """``call.hangup`` for the leg, then for its bridged peer (unless the peer parks); a leg it
    was still dialling is cancelled (see :meth:`emulator.engine.Engine.end`)."""
    leg = ctx.leg
    ctx.engine.end(leg, *HANGUP_BY_STATE.get(leg.state, APP_HANGUP))


def reject(ctx: Context, p: dict[str, Any]) -> None:
    """End an unanswered incoming leg with the SIP response of ``cause``."""
    cause, sip = REJECT_CAUSES[p["cause"]]
    ctx.engine.end(ctx.leg, cause, "callee", sip)


def client_state_update(ctx: Context, p: dict[str, Any]) -> None:
    """No webhook: the pipeline has set the leg's ``client_state``; its later webhooks carry it."""


def transfer(ctx: Context, p: dict[str, Any]) -> None:
    """Dial leg B for leg A and plan what the scenario says the far end does."""
    a, engine = ctx.leg, ctx.engine
    scenario = ctx.scenario_for(first_destination(p["to"]))
    engine.check_capacity()
    if "park_after_unbridge" in p:
        a.park_after_unbridge = p["park_after_unbridge"]
    policies = retry_policies(p)
    a.routing.retries_ms.update(policies)
    # (chosen) A transfer replaces what leg A was doing: a leg B still ringing from an
    # earlier transfer is cancelled, and a bridged peer is released and hung up.
    if a.dialing is not None and a.dialing.alive:
        engine.end(a.dialing, *APP_CANCEL)
    if a.peer is not None and a.peer.alive:
        old = a.peer
        old.peer = a.peer = None
        a.apply(LegEvent.UNBRIDGE)
        engine.changed(a)
        engine.end(old, *APP_HANGUP)
    b = engine.place_outbound(
        p,
        scenario,
        to=first_destination(p["to"]),
        from_=p.get("from") or a.to,
        call_session_id=a.call_session_id,
        connection_id=a.connection_id,
        routing=Routing(
            url=p.get("webhook_url") or a.routing.url,
            method=p.get("webhook_url_method", "POST"),
            urls={k: list(v) for k, v in (p.get("webhook_urls") or {}).items()},
            urls_method=p.get("webhook_urls_method", "POST"),
            failover_url=a.routing.failover_url,
            retries_ms=policies,
        ),
        client_state=p.get("target_leg_client_state"),
        parent=a,
    )
    a.dialing = b


def bridge(ctx: Context, p: dict[str, Any]) -> dict[str, Any] | None:
    """Join the call of the path (leg A) with the call named in the body (leg B).

    The other call must exist (90015), be live (90018) and answered (90034); with
    ``prevent_double_bridge`` it must not be bridged to a third call (90016). Everything is
    checked before anything changes. ``call.bridged`` goes to leg A, then leg B.
    """
    leg, engine = ctx.leg, ctx.engine
    other_id = p["call_control_id"]
    if other_id == leg.call_control_id:
        raise ApiFailure(
            422,
            [
                errors.invalid_value(
                    "A call can't be bridged with itself: 'call_control_id' must name "
                    "another call.",
                    "/call_control_id",
                )
            ],
        )
    other = engine.leg(other_id)
    bridged_elsewhere = other.peer is not None and other.peer is not leg
    exclusive = bool(p.get("prevent_double_bridge")) and bridged_elsewhere
    check_command("bridge_target_exclusive" if exclusive else "bridge_target", other.state)
    if "park_after_unbridge" in p:
        leg.park_after_unbridge = p["park_after_unbridge"]
    if p.get("hold_after_unbridge"):
        leg.park_after_unbridge = "self"  # (chosen) held = stays up after unbridge
    # (chosen) both legs are answered already: the recording starts with the bridge (first,
    # so that a recording already running refuses the command before anything changes).
    from_answer(engine, leg, p)
    engine.join(leg, other)
    return recording_fields(leg, p)


# -- the declarations -------------------------------------------------------------------------

declare(
    Command(
        "dial",
        "/calls",
        "client.calls.dial",
        "Dial a number or SIP URI",
        FAMILY,
        scope="account",
        webhooks=_OUTBOUND_EVENTS,
        effect=dial,
        response="call",
        new_leg=True,
        description="Places a new outbound call; the far end follows the scenario its `to` "
        "matches (or the `X-Emulator-Scenario` header). A repeated `command_id` within the "
        "dedup window places nothing and answers the first call's IDs.",
    )
)
declare(
    Command(
        "retrieve_call",
        "/calls/{call_control_id}",
        "client.calls.retrieve_status",
        "Retrieve a call's status",
        FAMILY,
        method="GET",
        scope="read",
        effect=retrieve_call,
        response="call",
    )
)
declare(
    Command(
        "answer",
        "/calls/{call_control_id}/actions/answer",
        "client.calls.actions.answer",
        "Answer an incoming call",
        FAMILY,
        legal=ANSWERABLE,
        webhooks=("call.answered",),
        effect=answer,
        response="command_recording",
    )
)
declare(
    Command(
        "hangup",
        "/calls/{call_control_id}/actions/hangup",
        "client.calls.actions.hangup",
        "Hang up a call",
        FAMILY,
        legal=ANY_LIVE,
        webhooks=("call.hangup",),
        effect=hangup,
    )
)
declare(
    Command(
        "reject",
        "/calls/{call_control_id}/actions/reject",
        "client.calls.actions.reject",
        "Reject an incoming call",
        FAMILY,
        legal=REJECTABLE,
        webhooks=("call.hangup",),
        effect=reject,
    )
)
declare(
    Command(
        "transfer",
        "/calls/{call_control_id}/actions/transfer",
        "client.calls.actions.transfer",
        "Transfer a call",
        FAMILY,
        legal=TRANSFERABLE,
        webhooks=_OUTBOUND_EVENTS[:-1],
        effect=transfer,
        new_leg=True,
        description="Dials the destination as a new leg and bridges it to this call when it "
        "answers. The far end's behaviour comes from the scenario its `to` matches (or the "
        "`X-Emulator-Scenario` header). A repeated `command_id` within the dedup window is "
        "answered 200 and ignored.",
    )
)
declare(
    Command(
        "bridge",
        "/calls/{call_control_id}/actions/bridge",
        "client.calls.actions.bridge",
        "Bridge two calls",
        FAMILY,
        legal=ANSWERED,
        webhooks=("call.bridged", "call.hangup"),
        effect=bridge,
        response="command_recording",
    )
)
declare(
    Command(
        "client_state_update",
        "/calls/{call_control_id}/actions/client_state_update",
        "client.calls.actions.update_client_state",
        "Update a call's client_state",
        FAMILY,
        method="PUT",
        legal=ANY_LIVE,
        effect=client_state_update,
    )
)
