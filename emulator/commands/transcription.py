"""The transcription family: real-time transcription of a call.

``transcription_start`` starts a transcription activity (one per leg, as the conflict table
says) that hears the far end (:mod:`emulator.person`): each thing the far end says becomes one
final ``call.transcription`` (``transcript``, ``is_final`` true, ``confidence``
:data:`CONFIDENCE`) once it has been said (:func:`emulator.media_timing.speech_secs` later).
``transcription_tracks`` picks what is heard: ``inbound`` (the default: the far end of this
leg), ``outbound`` (what the app speaks on it), ``both``. It ends with ``transcription_stop``
or the leg; neither sends a webhook (Telnyx documents none).
"""

from __future__ import annotations

from typing import Any

from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..media_timing import speech_secs, spoken_words
from ..person import FarEndInput
from ..webhooks import media_payload
from .registry import Command, Context, declare

FAMILY = "transcription"
CONFIDENCE = 0.97  # (chosen) a clear line; the emulator knows exactly what was said
# transcription_track is "only available when transcription_engine is set to B" (Telnyx).
TRACK_ENGINES = frozenset({"B", "Telnyx"})


def _transcript(engine: Engine, leg: Leg, activity: Activity, text: str, track: str) -> None:
    """``call.transcription`` for ``text``, once it has been said, if still transcribing."""

    def send() -> None:
        if not activity.running:
            return
        data: dict[str, Any] = {
            "transcript": text,
            "is_final": True,
            "confidence": CONFIDENCE,
        }
        if activity.data["engine"] in TRACK_ENGINES:
            data["transcription_track"] = track
        engine.emit(leg, "call.transcription", {**media_payload(leg), "transcription_data": data})

    engine.after(leg, speech_secs(text), send)


def transcription_start(ctx: Context, p: dict[str, Any]) -> None:
    leg, engine = ctx.leg, ctx.engine
    tracks = p.get("transcription_tracks", "inbound")
    data = {"engine": p.get("transcription_engine", "Google"), "tracks": tracks}
    holder: list[Activity] = []

    def hear(heard: FarEndInput) -> None:
        if heard.kind == "speech" and tracks in ("inbound", "both"):
            _transcript(engine, leg, holder[0], heard.value, "inbound")

    def on_end(activity: Activity, reason: EndReason) -> None:
        """No webhook: Telnyx documents none for the end of a transcription."""

    holder.append(
        engine.start_activity(leg, ActivityKind.TRANSCRIPTION, on_end, data=data, hear=hear)
    )


def heard_from_app(engine: Engine, leg: Leg, text: str, ssml: bool) -> None:
    """The app speaks ``text`` on ``leg``: an ``outbound``/``both`` transcription hears it."""
    activity = leg.activities.running(ActivityKind.TRANSCRIPTION) if leg.activities else None
    if activity is not None and activity.data["tracks"] in ("outbound", "both"):
        _transcript(engine, leg, activity, spoken_words(text, ssml), "outbound")


def transcription_stop(ctx: Context, p: dict[str, Any]) -> None:
    """Ends the transcription; none running: nothing to end (chosen)."""
    ctx.engine.stop_activity(ctx.leg, ActivityKind.TRANSCRIPTION)


declare(
    Command(
        "transcription_start",
        "/calls/{call_control_id}/actions/transcription_start",
        "client.calls.actions.start_transcription",
        "Start transcription",
        FAMILY,
        webhooks=("call.transcription",),
        effect=transcription_start,
    )
)

declare(
    Command(
        "transcription_stop",
        "/calls/{call_control_id}/actions/transcription_stop",
        "client.calls.actions.stop_transcription",
        "Stop transcription",
        FAMILY,
        webhooks=(),
        effect=transcription_stop,
    )
)
