"""The audio a media stream carries: 20 ms frames of silence or of a tone, in the stream's codec.

The emulator has no real caller, so "what the caller says" is synthesised: while the far end
speaks, each 20 ms frame of the inbound track is a 450 Hz sine at a third of full scale; audio
the app plays back into the call (bidirectional streams) shows on the outbound track as a 650 Hz
sine; everything else is digital silence. Both frequencies fit a whole number of cycles in
20 ms (9 and 13), so consecutive frames join without a click, and each frame is computed once.

Encoding uses the standard library's ``audioop`` G.711 coders (mu-law, A-law): on Python 3.13+,
where ``audioop`` was removed, the ``audioop-lts`` package (a dependency there) provides the same
module. L16 is RFC 3551's linear 16-bit PCM in network byte order. This module is sans-I/O.
"""

from __future__ import annotations

import math
import sys
import warnings
from array import array
from dataclasses import dataclass
from functools import cache
from typing import Literal

with warnings.catch_warnings():  # deprecated on 3.11-3.12, gone in 3.13 (audioop-lts there)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_MS = 20
SPEECH_HZ = 450  # what the far end says (inbound track)
PLAYBACK_HZ = 650  # what the app plays into the call (outbound track)
AMPLITUDE = 10_000  # of 32767: about -10 dBFS
# How long the far end takes to say a text: per character (spaces are pauses), so a sentence of
# six-letter words lasts about as long as speech at 170 words a minute (chosen).
SPEECH_MS_PER_CHAR = 60

Sound = Literal["silence", "speech", "playback"]


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """The ``media_format`` of a stream's ``start`` message."""

    encoding: str  # PCMU | PCMA | L16
    sample_rate: int
    channels: int = 1

    def to_json(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * (2 if self.encoding == "L16" else 1)


# The emulated call's own codec: what ``stream_codec: default`` (and a codec the emulator does not
# transcode to) gives. Telnyx: "When set to 'default' or when transcoding is not possible, the
# codec from the call will be used."
CALL_FORMAT = MediaFormat("PCMU", 8000)
# The formats the emulator encodes: Telnyx transcodes between PCMU and PCMA; L16 is linear PCM
# at 16 kHz (chosen: L16 is asked for as wideband audio).
FORMATS = {
    "PCMU": CALL_FORMAT,
    "PCMA": MediaFormat("PCMA", 8000),
    "L16": MediaFormat("L16", 16000),
}


def format_for(stream_codec: str | None) -> MediaFormat:
    """The stream's format for the command's ``stream_codec`` (G722, OPUS, AMR-WB: the call's)."""
    return FORMATS.get(stream_codec or "default", CALL_FORMAT)


def speech_frames(text: str) -> int:
    """How many 20 ms frames the far end takes to say ``text`` (at least one)."""
    return max(1, math.ceil(len(text) * SPEECH_MS_PER_CHAR / FRAME_MS))


def speech_pattern(text: str) -> list[Sound]:
    """Frame by frame: a tone while a character is spoken, silence for a space."""
    per_char = SPEECH_MS_PER_CHAR / FRAME_MS
    frames = speech_frames(text)
    out: list[Sound] = []
    for i in range(frames):
        char = text[min(int(i / per_char), len(text) - 1)] if text else " "
        out.append("silence" if char.isspace() else "speech")
    return out


@cache
def frame(fmt: MediaFormat, sound: Sound) -> bytes:
    """One 20 ms frame of ``sound`` in ``fmt``."""
    samples = fmt.sample_rate * FRAME_MS // 1000
    if sound == "silence":
        pcm = array("h", bytes(2 * samples))
    else:
        hz = SPEECH_HZ if sound == "speech" else PLAYBACK_HZ
        pcm = array(
            "h",
            (
                int(AMPLITUDE * math.sin(2 * math.pi * hz * n / fmt.sample_rate))
                for n in range(samples)
            ),
        )
    linear = pcm.tobytes()
    if fmt.encoding == "PCMU":
        return audioop.lin2ulaw(linear, 2)
    if fmt.encoding == "PCMA":
        return audioop.lin2alaw(linear, 2)
    if sys.byteorder == "little":  # L16 is big-endian (RFC 3551)
        pcm.byteswap()
    return pcm.tobytes()


def decode_linear(fmt: MediaFormat, payload: bytes) -> array[int]:
    """The 16-bit samples of a payload in ``fmt`` (for tests and the example app's VAD)."""
    if fmt.encoding == "PCMU":
        linear = audioop.ulaw2lin(payload, 2)
    elif fmt.encoding == "PCMA":
        linear = audioop.alaw2lin(payload, 2)
    else:
        linear = payload
    samples = array("h", linear)
    if fmt.encoding == "L16" and sys.byteorder == "little":
        samples.byteswap()
    return samples


def loudness(fmt: MediaFormat, payload: bytes) -> int:
    """The RMS of a payload's samples: 0 for digital silence, ~7000 for the tones above."""
    samples = decode_linear(fmt, payload)
    if not samples:
        return 0
    return int(math.sqrt(sum(s * s for s in samples) / len(samples)))
