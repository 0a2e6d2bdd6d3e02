"""Call recordings: what a recording covered, and the per-tenant store the Recordings API reads.

A recording is made by ``record_start`` (or ``record: record-from-answer``) and ends by
``record_stop``, its ``max_length`` or the leg's hang-up. While it runs it keeps its recorded
**spans** (start, end) in engine time: ``record_pause`` closes the open span and
``record_resume`` opens a new one, so the saved file's duration is the sum of the spans, paused
time excluded. With ``transcription: true`` it also keeps what the far end said and pressed
while it recorded (:class:`Heard`, at its offset in the recorded audio), from which
:mod:`emulator.recording_transcriptions` makes the transcript once it is saved.

The audio itself is not made here: :mod:`emulator.audio` encodes it lazily when someone
downloads ``/_emulator/recordings/{id}.wav`` or ``.mp3`` (CPU work, off the command path). The
download links point at the emulator itself; :class:`PublicBase` is the one place that knows
its public address (the server sets it to the address it listens on, or ``--public-url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .calls import Leg, iso
from .person import FarEndInput

Channels = Literal["single", "dual"]
# Where a recording came from (Telnyx's initiated_by values for Call Control).
INITIATED_BY_COMMAND = "StartCallRecordingAPI"
INITIATED_BY_DIAL = "DialVerb"  # record-from-answer on Dial, Answer, Transfer, Bridge (chosen)
DOWNLOAD_PATH = "/_emulator/recordings"
FORMATS = ("wav", "mp3")


@dataclass(slots=True)
class PublicBase:
    """The emulator's public base URL (scheme://host:port), shared by every tenant's engine.

    Mutable because the server learns its port only once it has bound its socket."""

    url: str = "http://telnyx-emulator.local"

    def download_urls(self, recording_id: str) -> dict[str, str]:
        base = self.url.rstrip("/")
        return {fmt: f"{base}{DOWNLOAD_PATH}/{recording_id}.{fmt}" for fmt in FORMATS}


@dataclass(frozen=True, slots=True)
class Heard:
    """One thing the far end did while recording, at ``offset`` seconds into the audio."""

    kind: Literal["dtmf", "speech"]
    value: str
    offset: float


@dataclass(slots=True)
class Recording:
    id: str
    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    from_: str
    to: str
    channels: Channels
    format: str  # the requested format (both files are served either way)
    started_at: float
    initiated_by: str = INITIATED_BY_COMMAND
    options: dict[str, Any] = field(default_factory=dict)  # the command's record_* options
    # Recorded spans in engine time; the last one is open (end None) while recording.
    spans: list[list[float | None]] = field(default_factory=list)
    ended_at: float | None = None
    # The record_start transcription_* options when transcription is on, else None.
    transcription: dict[str, Any] | None = None
    heard: list[Heard] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        leg: Leg,
        recording_id: str,
        now: float,
        *,
        channels: Channels,
        fmt: str,
        initiated_by: str,
        options: dict[str, Any],
    ) -> Recording:
        return cls(
            id=recording_id,
            call_control_id=leg.call_control_id,
            call_leg_id=leg.call_leg_id,
            call_session_id=leg.call_session_id,
            connection_id=leg.connection_id,
            from_=leg.from_,
            to=leg.to,
            channels=channels,
            format=fmt,
            started_at=now,
            initiated_by=initiated_by,
            options=options,
            spans=[[now, None]],
        )

    @property
    def paused(self) -> bool:
        return not self.spans or self.spans[-1][1] is not None

    def pause(self, now: float) -> None:
        if not self.paused:
            self.spans[-1][1] = now

    def resume(self, now: float) -> None:
        if self.paused:
            self.spans.append([now, None])

    def finish(self, now: float) -> None:
        self.pause(now)
        self.ended_at = now

    def hear(self, heard: FarEndInput) -> None:
        """Keep what the far end did if it is being recorded now: paused time is not in the
        audio, so not in the transcript either."""
        if not self.paused:
            self.heard.append(Heard(heard.kind, heard.value, self.recorded_secs(heard.at)))

    def transcription_text(self) -> str:
        """What the far end said, in order (digits left out: speech-to-text hears no tones)."""
        return " ".join(h.value.strip() for h in self.heard if h.kind == "speech" and h.value)

    def recorded_secs(self, now: float | None = None) -> float:
        """Seconds of audio recorded so far (paused spans excluded)."""
        total = 0.0
        for start, end in self.spans:
            stop = end if end is not None else (now if now is not None else start)
            assert start is not None and stop is not None
            total += max(0.0, stop - start)
        return total

    @property
    def audio_channels(self) -> int:
        # A single track (inbound/outbound) is mono whatever ``channels`` says (Telnyx).
        track = self.options.get("recording_track", "both")
        return 2 if self.channels == "dual" and track == "both" else 1

    def saved_payload(self, leg: Leg, links: PublicBase) -> dict[str, Any]:
        """The ``call.recording.saved`` payload (spec CallRecordingSaved)."""
        urls = links.download_urls(self.id)
        payload: dict[str, Any] = {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": self.connection_id,
            "recording_id": self.id,
            "channels": self.channels,
            "recording_started_at": iso(self.started_at),
            "recording_ended_at": iso(self.ended_at if self.ended_at is not None else 0.0),
            "recording_urls": dict(urls),
            "public_recording_urls": dict(urls),
        }
        if leg.client_state is not None:  # spec: a string, never null
            payload["client_state"] = leg.client_state
        return payload

    def to_json(self, links: PublicBase) -> dict[str, Any]:
        """The Recordings API's ``RecordingResponseData``."""
        ended = self.ended_at if self.ended_at is not None else self.started_at
        return {
            "record_type": "recording",
            "id": self.id,
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "channels": self.channels,
            "conference_id": None,
            "connection_id": self.connection_id,
            "created_at": iso(ended),
            "updated_at": iso(ended),
            "download_urls": links.download_urls(self.id),
            "duration_millis": round(self.recorded_secs() * 1000),
            "from": self.from_,
            "to": self.to,
            "initiated_by": self.initiated_by,
            "recording_started_at": iso(self.started_at),
            "recording_ended_at": iso(ended),
            "source": "call",
            "status": "completed",
        }


class RecordingStore:
    """A tenant's saved recordings, oldest first. Only finished recordings are listed (Telnyx:
    "Only `completed` recordings are currently supported")."""

    def __init__(self) -> None:
        self._saved: dict[str, Recording] = {}

    def add(self, recording: Recording) -> None:
        self._saved[recording.id] = recording

    def get(self, recording_id: str) -> Recording | None:
        return self._saved.get(recording_id)

    def delete(self, recording_id: str) -> Recording | None:
        return self._saved.pop(recording_id, None)

    def __iter__(self) -> Iterator[Recording]:
        return iter(list(self._saved.values()))

    def __len__(self) -> int:
        return len(self._saved)
