"""How long the audio files that commands name really last, when the emulator can know it.

``playback_start`` and ``gather_using_audio`` name an ``audio_url``; Telnyx plays the file, so its
``call.playback.ended`` comes when the file ends. The engine cannot fetch (it is sans-I/O), so the
server fetches the file *before* the command runs, only from an address it may reach without
touching the outside world (loopback, or a host of ``--webhook-allow``), measures it, and leaves
the length here; the media effects read it (:func:`emulator.commands.media.audio_secs`).
Everywhere else (a public URL, the in-process plugin) the scenario's ``media.audio_secs`` or the
default applies, so a test never depends on the network (docs/commands.md, "Timing").

Measuring is pure (``wave`` for WAV, ``mutagen`` for MP3); :func:`fetch` is the adapter's I/O.
"""

from __future__ import annotations

import io
import ipaddress
import wave
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_ENTRIES = 1024  # URLs remembered (the oldest forgotten first)
MAX_BYTES = 20 * 1024 * 1024  # a file larger than this is not measured (the default applies)
FETCH_TIMEOUT_SECS = 2.0
# The commands whose audio_url (and invalid_audio_url) the server measures before they run.
MEASURED_ACTIONS = ("/actions/playback_start", "/actions/gather_using_audio")
URL_FIELDS = ("audio_url", "invalid_audio_url")


class AudioLengths:
    """URL -> seconds, bounded; shared by every tenant (a file is the same file for all)."""

    def __init__(self) -> None:
        self._secs: OrderedDict[str, float] = OrderedDict()

    def get(self, url: object) -> float | None:
        return self._secs.get(url) if isinstance(url, str) else None

    def __contains__(self, url: str) -> bool:
        return url in self._secs

    def remember(self, url: str, secs: float) -> None:
        self._secs[url] = secs
        self._secs.move_to_end(url)
        while len(self._secs) > MAX_ENTRIES:
            self._secs.popitem(last=False)


def measure(data: bytes) -> float | None:
    """The playing time of a WAV or MP3 file; None if it is neither (or is broken)."""
    if data[:4] == b"RIFF":
        try:
            with wave.open(io.BytesIO(data)) as w:
                rate = w.getframerate()
                return w.getnframes() / rate if rate else None
        except (wave.Error, EOFError):
            return None
    return mp3_secs(data)


def mp3_secs(data: bytes) -> float | None:
    """The length of an MP3 file (mutagen reads its frame headers); None if it is not one."""
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    try:
        info: Any = MP3(io.BytesIO(data)).info  # type: ignore[no-untyped-call]
        length = info.length
    except (MutagenError, ValueError, EOFError):
        return None
    return float(length) if length > 0 else None


def reachable(url: str, allowed: Callable[[str], bool] | None) -> bool:
    """Whether the server may fetch ``url``: an http(s) URL on loopback, or allowed by
    ``--webhook-allow``. (chosen) Nothing else: a test must not depend on the network."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if allowed is not None and allowed(url):
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
