"""The media family: speak text and play audio on a call.

A prompt is an activity (:mod:`emulator.activities`) that lasts as long as its audio would
(:mod:`emulator.media_timing`): ``call.speak.started``/``call.playback.started`` when it starts,
the ending webhook with the status of how it ended. A new speak or playback replaces the one
playing (the activity model's conflict table), ``playback_stop`` stops it, the leg's end stops
it before ``call.hangup``. The far end of the legs the audio goes to (``target_legs``) hears
``prompt_started`` and ``prompt_ended`` (a scripted caller can react, :mod:`emulator.person`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from .. import errors
from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..media_timing import DEFAULT_AUDIO_SECS, speech_secs
from ..webhooks import media_payload
from . import transcription
from .registry import Command, Context, declare

FAMILY = "media"

# call.speak.ended's status enum is completed, call_hangup, cancelled_amd: a speak that a
# command stopped or another prompt replaced reports completed (chosen: the enum has no other).
SPEAK_STATUS = {
    EndReason.COMPLETED: "completed",
    EndReason.STOPPED: "completed",
    EndReason.REPLACED: "completed",
    EndReason.CALL_ENDED: "call_hangup",
    EndReason.AMD: "cancelled_amd",
}
# call.playback.ended: stopped or replaced audio is cancelled (chosen, from the enum).
PLAYBACK_STATUS = {
    EndReason.COMPLETED: "completed",
    EndReason.STOPPED: "cancelled",
    EndReason.REPLACED: "cancelled",
    EndReason.CALL_ENDED: "call_hangup",
    EndReason.AMD: "cancelled_amd",
}
# What a WAV or MP3 file starts with: playback_content that is neither fails to play.
AUDIO_MAGIC = (b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def audio_secs(engine: Engine, leg: Leg, url: object = None) -> float:
    """How long an audio file lasts on this leg: its scenario's ``media.audio_secs`` (a test's
    explicit choice), else the file's real length if the server could measure it
    (emulator/audio_lengths.py), else the default."""
    scenario = leg.scenario
    if scenario is not None and scenario.audio_secs is not None:
        return scenario.audio_secs
    measured = engine.audio_lengths.get(url)
    return measured if measured is not None else DEFAULT_AUDIO_SECS


def looped(secs: float, loop: Any) -> float | None:
    """The length of ``loop`` plays (None: ``infinity``, until stopped)."""
    if loop == "infinity":
        return None
    return secs * int(loop or 1)


def listeners(leg: Leg, target_legs: str | None) -> list[Leg]:
    """The legs whose far end hears a prompt played with ``target_legs``."""
    peer = leg.peer if leg.peer is not None and leg.peer.alive else None
    if target_legs == "opposite":
        return [peer] if peer is not None else []
    if target_legs == "both":
        return [leg] + ([peer] if peer is not None else [])
    return [leg]


def play(
    engine: Engine,
    leg: Leg,
    kind: ActivityKind,
    secs: float | None,
    started: tuple[str, dict[str, Any]],
    ended: Callable[[EndReason], tuple[str, dict[str, Any]]],
    hearers: list[Leg],
) -> Activity:
    """Start a prompt: replaces the one playing, sends its started webhook, tells the far ends
    that hear it; its end sends ``ended(reason)``'s webhook and tells them it ended."""

    def on_end(activity: Activity, reason: EndReason) -> None:
        event, payload = ended(reason)
        engine.emit(leg, event, payload)
        if reason is not EndReason.CALL_ENDED:
            for hearer in hearers:
                engine.cue(hearer, "prompt_ended")

    activity = engine.start_activity(leg, kind, on_end, secs=secs)
    engine.emit(leg, *started)
    for hearer in hearers:
        engine.cue(hearer, "prompt_started")
    return activity


def speak(ctx: Context, p: dict[str, Any]) -> None:
    """Speak ``payload``: as long as the text takes to say, times ``loop``."""
    leg, engine = ctx.leg, ctx.engine
    ssml = p.get("payload_type") == "ssml"
    secs = looped(speech_secs(p["payload"], ssml), p.get("loop"))

    def ended(reason: EndReason) -> tuple[str, dict[str, Any]]:
        return "call.speak.ended", {**media_payload(leg), "status": SPEAK_STATUS[reason]}

    hearers = listeners(leg, p.get("target_legs"))
    play(engine, leg, ActivityKind.SPEAK, secs, ("call.speak.started", media_payload(leg)),
         ended, hearers)  # fmt: skip
    transcription.heard_from_app(engine, leg, p["payload"], ssml)


def _media_fields(p: dict[str, Any], overlay: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"overlay": overlay}
    if "audio_url" in p:
        fields["media_url"] = p["audio_url"]
    if "media_name" in p:
        fields["media_name"] = p["media_name"]
    return fields


def playback_start(ctx: Context, p: dict[str, Any]) -> None:
    """Play ``audio_url``, ``media_name`` or ``playback_content`` for the leg's audio length
    times ``loop``. With ``overlay`` it plays over the audio playing (which must exist, and only
    to ``self``, as Telnyx documents). ``playback_content`` that is not WAV or MP3 fails."""
    leg, engine = ctx.leg, ctx.engine
    overlay = bool(p.get("overlay"))
    if overlay:
        if p.get("target_legs", "self") != "self":
            raise errors.ApiFailure(
                422,
                [
                    errors.invalid_value(
                        "When 'overlay' is enabled, 'target_legs' is limited to 'self'.",
                        "/target_legs",
                    )
                ],
            )
        if leg.activities is None or leg.activities.running(ActivityKind.PLAYBACK) is None:
            raise errors.invalid_command_for_state(
                "Audio can't be played with overlay=true unless a playback with overlay=false "
                "is playing."
            )
    fields = _media_fields(p, overlay)
    if "playback_content" in p and not _is_audio(p["playback_content"]):
        engine.emit(
            leg,
            "call.playback.ended",
            {
                **media_payload(leg),
                **fields,
                "status": "failed",
                "status_detail": "playback_content is not a WAV or MP3 file",
            },
        )
        return

    def ended(reason: EndReason) -> tuple[str, dict[str, Any]]:
        payload = {**media_payload(leg), **fields, "status": PLAYBACK_STATUS[reason]}
        return "call.playback.ended", payload

    kind = ActivityKind.OVERLAY if overlay else ActivityKind.PLAYBACK
    secs = looped(audio_secs(engine, leg, p.get("audio_url")), p.get("loop"))
    started = ("call.playback.started", {**media_payload(leg), **fields})
    play(engine, leg, kind, secs, started, ended, listeners(leg, p.get("target_legs")))


def _is_audio(content: str) -> bool:
    try:
        raw = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(AUDIO_MAGIC)


def playback_stop(ctx: Context, p: dict[str, Any]) -> None:
    """Stop the audio playing (a playback or a speak), or with ``overlay`` the overlay audio;
    ``stop`` ``current`` and ``all`` do the same (nothing is queued: a new prompt replaces the
    one playing). Nothing playing: nothing to end, no webhook (chosen)."""
    leg, engine = ctx.leg, ctx.engine
    kinds = (
        (ActivityKind.OVERLAY,)
        if p.get("overlay")
        else (ActivityKind.PLAYBACK, ActivityKind.SPEAK, ActivityKind.OVERLAY)
    )
    for kind in kinds:
        engine.stop_activity(leg, kind)


declare(
    Command(
        "speak",
        "/calls/{call_control_id}/actions/speak",
        "client.calls.actions.speak",
        "Speak text",
        FAMILY,
        webhooks=("call.speak.started", "call.speak.ended"),
        effect=speak,
    )
)

declare(
    Command(
        "playback_start",
        "/calls/{call_control_id}/actions/playback_start",
        "client.calls.actions.start_playback",
        "Play audio URL",
        FAMILY,
        webhooks=("call.playback.started", "call.playback.ended"),
        effect=playback_start,
    )
)

declare(
    Command(
        "playback_stop",
        "/calls/{call_control_id}/actions/playback_stop",
        "client.calls.actions.stop_playback",
        "Stop audio playback",
        FAMILY,
        webhooks=("call.playback.ended", "call.speak.ended"),
        effect=playback_stop,
    )
)
