"""Recording transcriptions: what the far end said during a recording, as text.

A recording started with ``transcription: true`` hears the far end while it records (not while
paused; see :meth:`emulator.recordings.Recording.hear`). Once the recording is saved, a
:class:`RecordingTranscription` is made from what it heard and sent as
``call.recording.transcription.saved``; the tenant's store keeps it for the Recording
Transcriptions API (``/v2/recording_transcriptions``, emulator/recording_transcriptions_api.py).

The text is what the far end said, utterance by utterance in order, joined by a space: the
emulator knows exactly what was said, so engine and language change nothing. Pressed digits
are kept with their offsets on the recording but are **not** in the text (chosen): a
speech-to-text engine transcribes words, not DTMF tones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .calls import Leg, iso
from .recordings import Recording
from .webhooks import party_type

# (chosen) Telnyx transcribes after the recording is saved and documents no delay; a couple of
# seconds keeps call.recording.saved first and tests fast.
DELAY_SECS = 2.0


@dataclass(frozen=True, slots=True)
class RecordingTranscription:
    id: str
    recording_id: str
    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    text: str
    duration_secs: float  # the recorded audio it transcribes
    created_at: float

    @classmethod
    def of(cls, recording: Recording, transcription_id: str, now: float) -> RecordingTranscription:
        return cls(
            id=transcription_id,
            recording_id=recording.id,
            call_control_id=recording.call_control_id,
            call_leg_id=recording.call_leg_id,
            call_session_id=recording.call_session_id,
            connection_id=recording.connection_id,
            text=recording.transcription_text(),
            duration_secs=recording.recorded_secs(),
            created_at=now,
        )

    def saved_payload(self, leg: Leg) -> dict[str, Any]:
        """The ``call.recording.transcription.saved`` payload (spec
        callRecordingTranscriptionSavedEvent)."""
        payload: dict[str, Any] = {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "calling_party_type": party_type(leg.from_),
            "connection_id": self.connection_id,
            "recording_id": self.recording_id,
            "recording_transcription_id": self.id,
            "status": "completed",
            "transcription_text": self.text,
        }
        if leg.client_state is not None:  # spec: a string, never null
            payload["client_state"] = leg.client_state
        return payload

    def to_json(self) -> dict[str, Any]:
        """The API's ``RecordingTranscription``."""
        return {
            "record_type": "recording_transcription",
            "id": self.id,
            "recording_id": self.recording_id,
            "status": "completed",
            "transcription_text": self.text,
            "duration_millis": round(self.duration_secs * 1000),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.created_at),
        }


class RecordingTranscriptionStore:
    """A tenant's recording transcriptions, oldest first."""

    def __init__(self) -> None:
        self._saved: dict[str, RecordingTranscription] = {}

    def add(self, transcription: RecordingTranscription) -> None:
        self._saved[transcription.id] = transcription

    def get(self, transcription_id: str) -> RecordingTranscription | None:
        return self._saved.get(transcription_id)

    def delete(self, transcription_id: str) -> RecordingTranscription | None:
        return self._saved.pop(transcription_id, None)

    def __iter__(self) -> Iterator[RecordingTranscription]:
        return iter(list(self._saved.values()))

    def __len__(self) -> int:
        return len(self._saved)
