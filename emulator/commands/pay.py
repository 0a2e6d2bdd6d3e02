"""The payment family: collect card or bank details over DTMF (SDK only: not in Telnyx's
published spec).

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #15 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "pay"
ISSUE = 15

declare(
    Command(
        "pay",
        "/calls/{call_control_id}/actions/pay",
        "client.calls.actions.pay",
        "Collect a payment",
        FAMILY,
        webhooks=("call.payment.progress", "call.payment.completed"),
        issue=ISSUE,
    )
)
