"""The SIP family: REFER, SIP INFO and SIPREC sessions.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #17 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "sip"
ISSUE = 17

declare(
    Command(
        "refer",
        "/calls/{call_control_id}/actions/refer",
        "client.calls.actions.refer",
        "SIP REFER a call",
        FAMILY,
        webhooks=("call.refer.started", "call.refer.completed", "call.refer.failed"),
        issue=ISSUE,
    )
)

declare(
    Command(
        "send_sip_info",
        "/calls/{call_control_id}/actions/send_sip_info",
        "client.calls.actions.send_sip_info",
        "Send a SIP INFO",
        FAMILY,
        webhooks=("call.sip_info.received",),
        issue=ISSUE,
    )
)

declare(
    Command(
        "siprec_start",
        "/calls/{call_control_id}/actions/siprec_start",
        "client.calls.actions.start_siprec",
        "Start a SIPREC session",
        FAMILY,
        webhooks=("siprec.started", "siprec.stopped", "siprec.failed"),
        issue=ISSUE,
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
        issue=ISSUE,
    )
)
