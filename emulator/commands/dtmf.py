"""The DTMF family: send digits on a call.

``send_dtmf`` sends tones toward the far end of the leg (Telnyx: "DTMF tones will be heard by
the other end of the call"); no webhook. Once the tones have played (``duration_millis`` per
digit, plus the ``w``/``W`` pauses: :func:`emulator.media_timing.dtmf_secs`) the far end hears
``dtmf_sent`` with the digits, pauses left out, so a scripted far end can react
(``on: dtmf_sent:1234``, :mod:`emulator.person`).
"""

from __future__ import annotations

from typing import Any

from ..media_timing import DEFAULT_DTMF_MILLIS, PAUSES, dtmf_secs
from .registry import Command, Context, declare

FAMILY = "dtmf"


def send_dtmf(ctx: Context, p: dict[str, Any]) -> None:
    leg, engine = ctx.leg, ctx.engine
    digits = p["digits"]
    tones = "".join(d for d in digits if d not in PAUSES)
    secs = dtmf_secs(digits, int(p.get("duration_millis", DEFAULT_DTMF_MILLIS)))
    engine.after(leg, secs, lambda: engine.cue(leg, "dtmf_sent", tones))


declare(
    Command(
        "send_dtmf",
        "/calls/{call_control_id}/actions/send_dtmf",
        "client.calls.actions.send_dtmf",
        "Send DTMF",
        FAMILY,
        webhooks=(),
        effect=send_dtmf,
    )
)
