"""The audio files of recordings: a real WAV (stdlib ``wave``) and a real MP3 (``lameenc``, the
LAME encoder) of a given duration.

What is heard is a quiet 440 Hz tone, so a player shows that the file is not empty; what the
caller really said is the follow-up issue's (#15). Encoding is CPU work: it runs when a file is
downloaded, never while a command or webhook is handled. 60 s of MP3 takes about 15 ms.
"""

from __future__ import annotations

import io
import math
import wave
from array import array

import lameenc

SAMPLE_RATE = 8000  # telephony audio
TONE_HZ = 440.0
AMPLITUDE = 1000  # of 32767: quiet


def pcm(secs: float, channels: int) -> bytes:
    """16-bit little-endian PCM of the tone, ``secs`` long (rounded to a sample)."""
    frames = max(0, round(secs * SAMPLE_RATE))
    period = SAMPLE_RATE / TONE_HZ
    # One period, repeated: a 440 Hz tone does not need a sin() per sample.
    one = [round(AMPLITUDE * math.sin(2 * math.pi * i / period)) for i in range(round(period))]
    samples = array("h", (one * (frames // len(one) + 1))[:frames])
    if channels == 2:
        stereo = array("h", bytes(4 * frames))
        stereo[0::2] = samples
        stereo[1::2] = samples
        samples = stereo
    if samples.itemsize == 2 and array("h", [1]).tobytes() != b"\x01\x00":
        samples.byteswap()  # big-endian host: WAV and LAME want little-endian
    return samples.tobytes()


def wav(secs: float, channels: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm(secs, channels))
    return out.getvalue()


def mp3(secs: float, channels: int) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(channels)
    encoder.set_quality(7)  # fast; it is a tone
    return bytes(encoder.encode(pcm(secs, channels)) + encoder.flush())


ENCODERS = {"wav": (wav, "audio/wav"), "mp3": (mp3, "audio/mpeg")}
