"""The noise suppression family (Telnyx: BETA).

Noise suppression is a ``noise_suppression`` activity on the leg: it runs until
``suppression_stop`` or the leg ends. The spec lists no webhook for either command, so neither
sends one; the emulator cannot make the audio any cleaner, but the app's commands are checked
(one session at a time: a second start answers 90016, a stop with none running too) and
journaled.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..activities import Activity, ActivityKind, EndReason
from .registry import Command, Context, declare

FAMILY = "suppression"


def _nothing_to_send(activity: Activity, reason: EndReason) -> None:
    """No webhook ends noise suppression (spec)."""


def suppression_start(ctx: Context, p: dict[str, Any]) -> None:
    ctx.engine.start_activity(
        ctx.leg,
        ActivityKind.NOISE_SUPPRESSION,
        _nothing_to_send,
        data={
            "direction": p.get("direction", "inbound"),
            "engine": p.get("noise_suppression_engine", "Denoiser"),
        },
    )


def suppression_stop(ctx: Context, p: dict[str, Any]) -> None:
    if ctx.engine.stop_activity(ctx.leg, ActivityKind.NOISE_SUPPRESSION) is None:
        # (chosen) 90016 with a reason: Telnyx documents no code for "nothing to stop".
        raise errors.invalid_command_for_state("Noise suppression is not running on this call.")


declare(
    Command(
        "suppression_start",
        "/calls/{call_control_id}/actions/suppression_start",
        "client.calls.actions.start_noise_suppression",
        "Start noise suppression",
        FAMILY,
        webhooks=(),
        effect=suppression_start,
    )
)

declare(
    Command(
        "suppression_stop",
        "/calls/{call_control_id}/actions/suppression_stop",
        "client.calls.actions.stop_noise_suppression",
        "Stop noise suppression",
        FAMILY,
        webhooks=(),
        effect=suppression_stop,
    )
)
