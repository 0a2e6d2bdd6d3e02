"""The recording family: record a call, pause, resume and stop.

A recording is a ``recording`` activity (:mod:`emulator.activities`) holding a
:class:`~emulator.recordings.Recording`. It ends once: by ``record_stop`` (``stopped``), by its
``max_length`` of recorded time (``completed``) or with the leg (``call_ended``, before the
leg's ``call.hangup``); each sends ``call.recording.saved`` with links to a real WAV and MP3
served by the emulator (``/_emulator/recordings/{id}.wav|.mp3``, emulator/recordings_api.py)
and files the recording in the tenant's Recordings API. ``record_pause``/``record_resume``
send nothing (spec: "There are no webhooks associated with this command"); paused time is
not in the file. ``record: record-from-answer`` on Answer, Dial, Transfer and Bridge starts
the same recording, with the ``recording_id`` their response announced.

``transcription: true`` makes the recording hear the far end (:mod:`emulator.person`) while it
records: :data:`~emulator.recording_transcriptions.DELAY_SECS` after ``call.recording.saved``
(even after the hang-up, as Telnyx transcribes the saved file) comes
``call.recording.transcription.saved`` with what was said (see
:mod:`emulator.recording_transcriptions`). What the far end hears is what the recorded track
holds: a recording of the ``outbound`` track only hears nothing. The app's own speech is not
in the transcript (chosen: the far end's words are what apps transcribe recordings for; the
emulator does not mix both sides). ``transcription_profanity_filter: true`` answers "not
emulated": the emulator has no list of profanities to mask, and a verbatim transcript would lie.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import errors
from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import ANSWER_HOOKS, Engine
from ..person import FarEndInput
from ..recording_transcriptions import DELAY_SECS, RecordingTranscription
from ..recordings import INITIATED_BY_COMMAND, INITIATED_BY_DIAL, Channels, Recording
from ..state import ANSWERED
from .registry import Command, Context, declare

FAMILY = "recording"
# The far end of this leg is on the recording's inbound track.
HEARS_FAR_END = ("both", "inbound")
RECORD_FROM_ANSWER = "record-from-answer"


def announced_id(leg: Leg) -> str:
    """The ``recording_id`` of a ``record-from-answer`` recording, known before it starts (the
    Dial/Answer/Bridge response carries it): stable per leg."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"recording:{leg.call_leg_id}"))


def recording_fields(leg: Leg, p: dict[str, Any]) -> dict[str, Any] | None:
    """The response's ``recording_id`` when the command asks for ``record-from-answer``."""
    if p.get("record") != RECORD_FROM_ANSWER:
        return None
    return {"recording_id": announced_id(leg)}


def _running(leg: Leg) -> Activity:
    activity = leg.activities.running(ActivityKind.RECORDING) if leg.activities else None
    if activity is None:
        # (chosen) 90016 with a reason: Telnyx documents no code for "nothing to stop".
        raise errors.invalid_command_for_state("No recording is running on this call.")
    return activity


def _check_id(activity: Activity, p: dict[str, Any]) -> None:
    wanted = p.get("recording_id")
    if wanted is not None and wanted != activity.data["recording"].id:
        raise errors.ApiFailure(
            422,
            [
                errors.invalid_value(
                    f"No recording '{wanted}' is running on this call.", "/recording_id"
                )
            ],
        )


def start_recording(
    engine: Engine,
    leg: Leg,
    *,
    recording_id: str,
    channels: Channels,
    fmt: str,
    max_length: int,
    initiated_by: str,
    options: dict[str, Any],
    transcription: dict[str, Any] | None = None,
) -> Recording:
    now = engine.clock.now()
    recording = Recording.of(
        leg,
        recording_id,
        now,
        channels=channels,
        fmt=fmt,
        initiated_by=initiated_by,
        options=options,
    )
    recording.transcription = transcription

    def saved(activity: Activity, reason: EndReason) -> None:
        recording.finish(engine.clock.now())
        engine.recordings.add(recording)
        engine.emit(leg, "call.recording.saved", recording.saved_payload(leg, engine.links))
        if recording.transcription is not None:
            engine.after(
                leg, DELAY_SECS, lambda: _transcribed(engine, leg, recording), outlives_leg=True
            )

    hears = transcription is not None and options.get("recording_track", "both") in HEARS_FAR_END

    def hear(heard: FarEndInput) -> None:
        recording.hear(heard)

    engine.start_activity(
        leg,
        ActivityKind.RECORDING,
        saved,
        secs=float(max_length) if max_length > 0 else None,
        data={"recording": recording, "max_length": max_length},
        hear=hear if hears else None,
    )
    return recording


def _transcribed(engine: Engine, leg: Leg, recording: Recording) -> None:
    """The transcript is ready: filed and sent, unless the recording is gone by then (deleted,
    or the tenant reset): (chosen) no transcript of a deleted recording."""
    if engine.recordings.get(recording.id) is not recording:
        return
    transcription = RecordingTranscription.of(recording, engine.ids.leg_uuid(), engine.clock.now())
    engine.recording_transcriptions.add(transcription)
    engine.emit(leg, "call.recording.transcription.saved", transcription.saved_payload(leg))


def record_start(ctx: Context, p: dict[str, Any]) -> None:
    if p.get("transcription") and p.get("transcription_profanity_filter"):
        raise errors.not_emulated(
            "record_start with transcription_profanity_filter (the emulator's transcripts are "
            "verbatim)",
            None,
        )
    transcription = (
        {k: v for k, v in p.items() if k.startswith("transcription_")}
        if p.get("transcription")
        else None
    )
    options: dict[str, Any] = {
        k: p[k]
        for k in ("custom_file_name", "play_beep", "recording_track", "timeout_secs", "trim")
        if k in p
    }
    start_recording(
        ctx.engine,
        ctx.leg,
        recording_id=ctx.engine.ids.leg_uuid(),
        channels=p["channels"],
        fmt=p["format"],
        max_length=int(p.get("max_length", 0)),
        initiated_by=INITIATED_BY_COMMAND,
        options=options,
        transcription=transcription,
    )


def from_answer(engine: Engine, leg: Leg, p: dict[str, Any]) -> None:
    """Start the ``record-from-answer`` recording a command asked for (if it did)."""
    if p.get("record") != RECORD_FROM_ANSWER:
        return
    options = {"recording_track": p.get("record_track", "both")}
    for key in ("record_custom_file_name", "record_timeout_secs", "record_trim"):
        if key in p:
            options[key.removeprefix("record_")] = p[key]
    start_recording(
        engine,
        leg,
        recording_id=announced_id(leg),
        channels=p.get("record_channels", "dual"),
        fmt=p.get("record_format", "mp3"),
        max_length=int(p.get("record_max_length", 0)),
        initiated_by=INITIATED_BY_DIAL,
        options=options,
    )


def _dialled_leg_answered(engine: Engine, leg: Leg) -> None:
    """A Dial's or Transfer's leg was answered by the far end: its ``record-from-answer``."""
    from_answer(engine, leg, leg.command)


ANSWER_HOOKS.append(_dialled_leg_answered)


def record_stop(ctx: Context, p: dict[str, Any]) -> None:
    activity = _running(ctx.leg)
    _check_id(activity, p)
    ctx.engine.stop_activity(ctx.leg, ActivityKind.RECORDING)


def record_pause(ctx: Context, p: dict[str, Any]) -> None:
    """(chosen) Pausing a paused recording changes nothing. ``max_length`` counts recorded
    time: its planned end is dropped while paused."""
    activity = _running(ctx.leg)
    _check_id(activity, p)
    activity.data["recording"].pause(ctx.engine.clock.now())
    ctx.engine.plan_activity_end(ctx.leg, activity, None)


def record_resume(ctx: Context, p: dict[str, Any]) -> None:
    activity = _running(ctx.leg)
    _check_id(activity, p)
    recording: Recording = activity.data["recording"]
    if not recording.paused:
        return
    now = ctx.engine.clock.now()
    recording.resume(now)
    max_length = activity.data["max_length"]
    if max_length > 0:
        left = max(0.0, max_length - recording.recorded_secs(now))
        ctx.engine.plan_activity_end(ctx.leg, activity, left)


declare(
    Command(
        "record_start",
        "/calls/{call_control_id}/actions/record_start",
        "client.calls.actions.start_recording",
        "Start recording",
        FAMILY,
        legal=ANSWERED,
        webhooks=("call.recording.saved", "call.recording.transcription.saved"),
        effect=record_start,
        not_emulated_options=("transcription_profanity_filter",),
        description="Starts a recording (one at a time: a second answers 90016). It ends on "
        "record_stop, at max_length seconds of recorded time, or at hangup, with "
        "call.recording.saved linking a real WAV and MP3 served by the emulator. With "
        "`transcription: true`, call.recording.transcription.saved follows 2 s later with "
        "what the far end said while recording (not while paused; digits are not in the "
        "text). `transcription_profanity_filter: true` is not emulated.",
    )
)

declare(
    Command(
        "record_stop",
        "/calls/{call_control_id}/actions/record_stop",
        "client.calls.actions.stop_recording",
        "Stop recording",
        FAMILY,
        legal=ANSWERED,
        webhooks=("call.recording.saved", "call.recording.transcription.saved"),
        effect=record_stop,
    )
)

declare(
    Command(
        "record_pause",
        "/calls/{call_control_id}/actions/record_pause",
        "client.calls.actions.pause_recording",
        "Pause recording",
        FAMILY,
        legal=ANSWERED,
        webhooks=(),
        effect=record_pause,
    )
)

declare(
    Command(
        "record_resume",
        "/calls/{call_control_id}/actions/record_resume",
        "client.calls.actions.resume_recording",
        "Resume recording",
        FAMILY,
        legal=ANSWERED,
        webhooks=(),
        effect=record_resume,
    )
)
