"""How long audio lasts on an emulated call: the emulator plays nothing, so every prompt's
length is computed, deterministically, from what the command says.

- **Speech** (``speak``, ``gather_using_speak``, and what the far end says): words at
  :data:`WORDS_PER_MINUTE` (a typical speaking rate for text-to-speech and for people on the
  phone), at least :data:`MIN_SPEECH_SECS`. SSML tags are stripped before counting, and each
  ``<break time="...">`` adds its time (``500ms``, ``2s``); a ``<break>`` without ``time``
  (or with ``strength``) adds :data:`DEFAULT_BREAK_SECS`.
- **Audio files** (``playback_start``, ``gather_using_audio``): the emulator does not fetch
  them, so a file lasts the scenario's ``media.audio_secs``, else :data:`DEFAULT_AUDIO_SECS`.
- **DTMF sent** (``send_dtmf``): ``duration_millis`` per digit (default 250) plus the pauses
  ``w`` (0.5 s) and ``W`` (1 s) that Telnyx documents.

docs/commands.md ("Timing rules") documents the same numbers; this module is sans-I/O.
"""

from __future__ import annotations

import html
import re

WORDS_PER_MINUTE = 150.0  # (chosen) the usual figure for conversational speech and TTS
MIN_SPEECH_SECS = 0.5  # (chosen) even "Hi" takes a moment to say
DEFAULT_BREAK_SECS = 0.75  # (chosen) SSML's "medium" break, roughly
DEFAULT_AUDIO_SECS = 5.0  # (chosen) a short greeting or menu recording
DEFAULT_DTMF_MILLIS = 250  # send_dtmf's documented default duration_millis
PAUSES = {"w": 0.5, "W": 1.0}  # send_dtmf: "Pauses can be added using w (0.5s) and W (1s)"

_BREAK = re.compile(r"<break\b([^>]*)/?>", re.IGNORECASE)
_TIME = re.compile(r"""time\s*=\s*["']\s*([0-9]*\.?[0-9]+)\s*(ms|s)\s*["']""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def spoken_words(text: str, ssml: bool = False) -> str:
    """The words a listener hears: SSML tags removed and entities decoded."""
    if ssml:
        text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split())


def speech_secs(text: str, ssml: bool = False) -> float:
    """How long saying ``text`` takes (see the module's rules)."""
    pauses = 0.0
    if ssml:
        for attributes in _BREAK.findall(text):
            found = _TIME.search(attributes)
            if found is None:
                pauses += DEFAULT_BREAK_SECS
            else:
                value = float(found[1])
                pauses += value / 1000.0 if found[2].lower() == "ms" else value
    words = len(spoken_words(text, ssml).split())
    return max(MIN_SPEECH_SECS, words * 60.0 / WORDS_PER_MINUTE + pauses)


def dtmf_secs(digits: str, duration_millis: int = DEFAULT_DTMF_MILLIS) -> float:
    """How long sending ``digits`` takes, pauses included."""
    return sum(PAUSES.get(d, duration_millis / 1000.0) for d in digits)
