"""Webhook bodies, built from a leg's state at the moment the event happens.

Each builder returns the envelope's ``data`` member (``meta`` depends on the delivery attempt and
is added by :mod:`emulator.delivery`). The payload field sets follow ``schemas/webhooks/``, which
come from Telnyx's OpenAPI and SDK, plus the undocumented fields real deliveries carry
(``calling_party_type``, ``start_time``, ``end_time``; NOTES §7). Tests validate every body the
emulator emits against those schemas.
"""

from __future__ import annotations

from typing import Any

from .calls import Leg, iso

EVENT_TYPES = (
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


def party_type(number: str) -> str:
    return "sip" if number.startswith(("sip:", "sips:")) else "pstn"


def base_payload(leg: Leg) -> dict[str, Any]:
    return {
        "call_control_id": leg.call_control_id,
        "call_leg_id": leg.call_leg_id,
        "call_session_id": leg.call_session_id,
        "client_state": leg.client_state,
        "connection_id": leg.connection_id,
        "from": leg.from_,
        "to": leg.to,
    }


def leg_fields(leg: Leg, *, parties: bool = True) -> dict[str, Any]:
    """The leg's IDs for the events whose spec schema has ``client_state`` as a plain string
    (media and input events, call.enqueued, call.refer.*, call.recording.saved, ...): left out
    rather than null when the call has none. ``parties=False`` leaves out ``from``/``to`` too
    (queue events)."""
    payload = base_payload(leg)
    if payload["client_state"] is None:
        del payload["client_state"]
    if not parties:
        del payload["from"], payload["to"]
    return payload


def media_payload(leg: Leg) -> dict[str, Any]:
    """The common fields of the media and input webhooks (speak, playback, gather, DTMF,
    transcription)."""
    return leg_fields(leg)


def _headers(leg: Leg, payload: dict[str, Any]) -> None:
    if leg.custom_headers:
        payload["custom_headers"] = [dict(h) for h in leg.custom_headers]
    if leg.sip_headers:
        payload["sip_headers"] = [dict(h) for h in leg.sip_headers]


def initiated(leg: Leg) -> dict[str, Any]:
    payload = base_payload(leg)
    payload.update(
        {
            "direction": leg.direction,
            # Real outgoing legs report "bridging", incoming ones "parked" (NOTES §4).
            "state": "parked" if leg.direction == "incoming" else "bridging",
            "caller_id_name": leg.caller_id_name or leg.from_,
            "calling_party_type": party_type(leg.from_),
            "start_time": iso(leg.created_at),
        }
    )
    _headers(leg, payload)
    return payload


def answered(leg: Leg) -> dict[str, Any]:
    payload = base_payload(leg)
    payload.update({"state": "answered", "start_time": iso(leg.created_at)})
    _headers(leg, payload)
    return payload


def bridged(leg: Leg) -> dict[str, Any]:
    payload = base_payload(leg)
    payload["start_time"] = iso(leg.created_at)
    return payload


def hangup(leg: Leg) -> dict[str, Any]:
    payload = base_payload(leg)
    payload.update(
        {
            "state": "hangup",
            "hangup_cause": leg.hangup_cause,
            "hangup_source": leg.hangup_source,
            "sip_hangup_cause": leg.sip_hangup_cause,
            "start_time": iso(leg.created_at),
            "end_time": iso(leg.ended_at if leg.ended_at is not None else leg.created_at),
            "call_quality_stats": None,
        }
    )
    _headers(leg, payload)
    return payload


def machine_result(leg: Leg, result: str) -> dict[str, Any]:
    payload = base_payload(leg)
    payload["result"] = result
    return payload


def envelope_data(
    event_type: str, event_id: str, occurred_at: float, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "record_type": "event",
        "event_type": event_type,
        "id": event_id,
        "occurred_at": iso(occurred_at),
        "payload": payload,
    }
