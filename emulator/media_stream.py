"""Telnyx's media streaming protocol, sans-I/O: what a stream sends, and when, and what it makes of
what the app sends back.

A :class:`MediaStream` is one stream of one call leg. The engine's streaming family
(:mod:`emulator.commands.streaming`) creates it and tells it what happens on the call (the far
end speaks or presses a digit, the stream is stopped); an I/O adapter connects it
(:mod:`emulator.stream_client` over a real WebSocket, or :mod:`emulator.inprocess` to a test's
handler), reports the connection's fate (:meth:`opened`, :meth:`failed`), passes on each message
the app sends (:meth:`received`) and, as the clock moves, sends what :meth:`take` says is due.
Nothing here reads a clock or touches a socket: every method is given ``now``.

The messages follow Telnyx's AsyncAPI description of the WebSocket ("Stream call media over
WebSocket", developers.telnyx.com/api-reference/websockets): ``connected`` then ``start`` (stream,
call and ``media_format``), ``media`` frames (base64 RTP payloads without headers, ``track``,
per-track ``chunk``, ``timestamp`` in ms), ``dtmf``, ``mark``, ``error`` and ``stop``; every
message after ``connected`` carries a ``sequence_number`` (strings, as in Telnyx's examples).
From the app: ``media`` (RTP payload in ``stream_bidirectional_mode: rtp``, an MP3 file
otherwise), ``mark`` and ``clear``. docs/streaming.md lists what is emulated and what is not.

**Pacing.** Frames are due every 20 ms of emulated time, i.e. every ``0.02 * time_scale`` seconds
of the clock from the moment the stream opened; :meth:`take` computes them lazily, so a stream
costs nothing while nobody asks. An adapter may set a floor (:attr:`MediaStream.min_gap`: the
server's is 5 ms, so a stream at a tiny time scale cannot flood the event loop): the stream's
own timestamps then run slower than the call's emulated time. At time scale 0 there is no
pacing: only what the far end says is sent (all its frames at once), never silence.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from .audio_lengths import mp3_secs
from .calls import iso
from .stream_audio import FRAME_MS, MediaFormat, Sound, frame, speech_pattern

VERSION = "1.0.0"  # the connected message's version, as in Telnyx's example
AUTH_HEADER = "x-telnyx-streaming-auth-token"  # header and connected-frame field (Telnyx docs)
FRAME_SECS = FRAME_MS / 1000.0

# Bidirectional RTP chunks: "can contain 20 milliseconds to 30 seconds of audio" (Telnyx).
MIN_RTP_SECS, MAX_RTP_SECS = 0.02, 30.0
# Bytes per second of an RTP payload, by stream_bidirectional_codec at its sampling rate. OPUS
# and AMR-WB are variable-rate: (chosen) each of their messages counts as one 20 ms frame.
_LINEAR_BYTES = {"PCMU": 1, "PCMA": 1, "L16": 2}
G722_BYTES_PER_SEC = 8000  # 64 kbit/s whatever the sampling rate

# Error frame codes (chosen: the codes Telnyx's error frame example family uses; the titles say
# what went wrong).
ERR_MALFORMED = (100003, "malformed_frame")
ERR_INVALID_MEDIA = (100004, "invalid_media")


class StreamState(str, Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"  # stop sent (or the connection failed): nothing more is due


class Track(str, Enum):
    INBOUND = "inbound"  # what the leg's far end sends: the caller's voice and DTMF
    OUTBOUND = "outbound"  # what the leg hears: the app's bidirectional audio


TRACKS = {
    "inbound_track": (Track.INBOUND,),
    "outbound_track": (Track.OUTBOUND,),
    "both_tracks": (Track.INBOUND, Track.OUTBOUND),
}


class Cancel(Protocol):
    def cancel(self) -> None: ...


class StreamHooks(Protocol):
    """What the stream needs from the engine side (implemented by the streaming family)."""

    def opened(self, stream: MediaStream) -> None: ...
    def failed(self, stream: MediaStream, reason: str) -> None: ...
    def after(self, stream: MediaStream, clock_secs: float, step: Callable[[], None]) -> Cancel:
        """Run ``step`` ``clock_secs`` of the clock from now (on the engine's timeline)."""
        ...


@dataclass(frozen=True, slots=True)
class StreamParams:
    url: str
    track: str = "inbound_track"
    media_format: MediaFormat = field(default_factory=lambda: MediaFormat("PCMU", 8000))
    auth_token: str | None = None
    custom_parameters: dict[str, str] = field(default_factory=dict)
    bidirectional_mode: str = "mp3"  # Telnyx's default
    bidirectional_codec: str = "PCMU"
    bidirectional_rate: int = 8000

    @property
    def headers(self) -> dict[str, str]:
        """The WebSocket handshake's extra headers."""
        return {AUTH_HEADER: self.auth_token} if self.auth_token is not None else {}


@dataclass(slots=True)
class Clip:
    """Audio the app sent, playing (or queued) on the call from ``start`` to ``end`` (clock)."""

    start: float
    end: float
    kind: str  # rtp | mp3
    size: int  # bytes


@dataclass(slots=True)
class _Mark:
    name: str
    at: float  # when the audio before it ends (clock)
    timer: Cancel | None = None


class MediaStream:
    """One media stream's protocol state; see the module docstring."""

    def __init__(
        self,
        *,
        stream_id: str,
        call_control_id: str,
        call_session_id: str,
        tenant: str,
        start_fields: dict[str, Any],
        params: StreamParams,
        time_scale: float,
        hooks: StreamHooks,
    ) -> None:
        self.stream_id = stream_id
        self.call_control_id = call_control_id
        self.call_session_id = call_session_id
        self.tenant = tenant
        self.params = params
        self.scale = time_scale
        self.hooks = hooks
        self.state = StreamState.CONNECTING
        self.failure: str | None = None
        self.opened_at: float | None = None
        self._start_fields = start_fields  # call metadata of the start message
        self._interval = FRAME_SECS * time_scale
        # The clock seconds between frames at the least; an adapter sets it before opening.
        self.min_gap = 0.0
        self._tracks = TRACKS[params.track]
        self._next_frame = 0  # index of the next frame to send (every track)
        self._chunks = dict.fromkeys(self._tracks, 0)
        self._seq = 0
        # Control messages (dtmf, mark, error, stop) waiting, with the clock time they happened.
        self._queue: deque[tuple[float, dict[str, Any]]] = deque()
        # The far end's speech: frame index -> sound, for frames still to send.
        self._speech: dict[int, Sound] = {}
        self.clips: list[Clip] = []  # what the app played into the call, in order
        self._marks: deque[_Mark] = deque()
        self.sent = 0  # messages taken by the adapter
        self.received_count = 0
        self._payloads: dict[Sound, str] = {}

    # -- what the adapter calls ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is StreamState.CLOSED

    @property
    def done(self) -> bool:
        """Closed and everything due was taken: the adapter may close the connection."""
        return self.closed and not self._queue

    def opened(self, now: float) -> None:
        """The WebSocket is open: ``connected`` and ``start`` are due, frames begin."""
        if self.state is not StreamState.CONNECTING:
            return
        self.state = StreamState.OPEN
        self.opened_at = now
        if self._interval > 0:
            self._interval = max(self._interval, self.min_gap)
        connected: dict[str, Any] = {"event": "connected", "version": VERSION}
        if self.params.auth_token is not None:
            connected[AUTH_HEADER] = self.params.auth_token
        self._queue.append((now, connected))
        start = dict(self._start_fields)
        if self.params.custom_parameters:
            start["custom_parameters"] = dict(self.params.custom_parameters)
        start["media_format"] = self.params.media_format.to_json()
        self._queue.append((now, {"event": "start", "start": start}))
        self.hooks.opened(self)

    def failed(self, reason: str, now: float) -> None:
        """The connection was refused, or dropped before ``stop``."""
        if self.closed:
            return
        self.state, self.failure = StreamState.CLOSED, reason
        self._queue.clear()
        self._cancel_marks()
        self.hooks.failed(self, reason)

    def take(self, now: float) -> list[dict[str, Any]]:
        """The messages due by ``now``, in order, each with its ``sequence_number``."""
        out: list[dict[str, Any]] = []
        if self.opened_at is None:
            return out
        while True:
            frame_due = self._frame_due()
            queued = self._queue[0][0] if self._queue else None
            if queued is not None and queued <= now and (frame_due is None or queued <= frame_due):
                out.append(self._numbered(self._queue.popleft()[1]))
            elif frame_due is not None and frame_due <= now and not self.closed:
                out.extend(self._numbered(m) for m in self._frames(self._next_frame))
                self._next_frame += 1
            else:
                break
        self.sent += len(out)
        return out

    def next_due(self) -> float | None:
        """The clock time of the next message, if one is planned."""
        times = [t for t in (self._frame_due(), self._queue[0][0] if self._queue else None) if t]
        if self.closed:
            times = [self._queue[0][0]] if self._queue else []
        return min(times) if times else None

    def received(self, text: str | bytes, now: float) -> None:
        """A message from the app: bidirectional ``media``, ``mark`` or ``clear``."""
        self.received_count += 1
        if self.state is not StreamState.OPEN:
            return
        try:
            message = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            self._error(ERR_MALFORMED, "The frame is not JSON.", now)
            return
        event = message.get("event") if isinstance(message, dict) else None
        if event == "media":
            self._app_media(message.get("media"), now)
        elif event == "mark":
            mark = message.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                self._error(ERR_MALFORMED, "A mark frame needs mark.name (a string).", now)
                return
            self._app_mark(name, now)
        elif event == "clear":
            self._clear(now)
        else:
            self._error(
                ERR_MALFORMED, f"Unknown event {event!r}: expected media, mark or clear.", now
            )

    # -- what the engine side calls ------------------------------------------------------------

    def hear_speech(self, text: str, now: float) -> None:
        """The far end says ``text``: its frames go on the inbound track from the next frame."""
        if self.closed or Track.INBOUND not in self._tracks:
            return
        pattern = speech_pattern(text)
        if self._interval == 0:  # no pacing: the speech goes out at once, frame by frame
            for sound in pattern:
                frames = self._frames(self._next_frame, only=Track.INBOUND, sound=sound)
                self._queue.extend((now, m) for m in frames)
                self._next_frame += 1
            return
        first = max(self._next_frame, self._index_at(now), *(k + 1 for k in self._speech))
        for i, sound in enumerate(pattern):
            self._speech[first + i] = sound

    def hear_dtmf(self, digit: str, now: float) -> None:
        """The far end pressed ``digit``: a ``dtmf`` message."""
        if self.closed:
            return
        self._queue.append(
            (now, {"event": "dtmf", "occurred_at": iso(now), "dtmf": {"digit": digit}})
        )

    def close(self, now: float, call: dict[str, Any]) -> None:
        """Stop: the frames due until now, then ``stop`` (with the call's ``user_id`` and
        ``call_control_id``); queued marks are dropped with the stream."""
        if self.closed:
            return
        if self.state is StreamState.CONNECTING:  # never opened: nothing to send
            self.state = StreamState.CLOSED
            return
        self._cancel_marks()
        # Flush the frames due by now into the queue, ahead of the stop message.
        while (due := self._frame_due()) is not None and due <= now:
            self._queue.extend((due, m) for m in self._frames(self._next_frame))
            self._next_frame += 1
        self._queue.append((now, {"event": "stop", "stop": call}))
        self.state = StreamState.CLOSED

    def summary(self) -> dict[str, Any]:
        """The inspection view (``GET /_emulator/calls/{id}/streams``)."""
        return {
            "stream_id": self.stream_id,
            "call_control_id": self.call_control_id,
            "stream_url": self.params.url,
            "track": self.params.track,
            "media_format": self.params.media_format.to_json(),
            "bidirectional_mode": self.params.bidirectional_mode,
            "state": self.state.value,
            "failure_reason": self.failure,
            "messages_sent": self.sent,
            "messages_received": self.received_count,
            "played": [
                {"kind": c.kind, "bytes": c.size, "secs": round((c.end - c.start) / self.scale, 3)}
                if self.scale
                else {"kind": c.kind, "bytes": c.size}
                for c in self.clips
            ],
        }

    # -- internals ------------------------------------------------------------------------------

    def _numbered(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["event"] == "connected":
            return message
        self._seq += 1
        return {"event": message.pop("event"), "sequence_number": str(self._seq), **message,
                "stream_id": self.stream_id}  # fmt: skip

    def _frame_due(self) -> float | None:
        if self.opened_at is None or self._interval == 0 or self.closed:
            return None
        return self.opened_at + self._next_frame * self._interval

    def _index_at(self, now: float) -> int:
        assert self.opened_at is not None
        return max(0, math.ceil((now - self.opened_at) / self._interval - 1e-9))

    def _frames(
        self, index: int, *, only: Track | None = None, sound: Sound | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for track in self._tracks:
            if only is not None and track is not only:
                continue
            if track is Track.INBOUND:
                what = sound if sound is not None else self._speech.pop(index, "silence")
            else:
                what = "playback" if self._playing_at(index) else "silence"
            self._chunks[track] += 1
            media = {
                "track": track.value,
                "chunk": str(self._chunks[track]),
                "timestamp": str(index * FRAME_MS),
                "payload": self._payload(what),
            }
            out.append({"event": "media", "media": media})
        return out

    def _payload(self, sound: Sound) -> str:
        cached = self._payloads.get(sound)
        if cached is None:
            raw = frame(self.params.media_format, sound)
            cached = self._payloads[sound] = base64.b64encode(raw).decode("ascii")
        return cached

    def _playing_at(self, index: int) -> bool:
        if self.opened_at is None or not self.clips:
            return False
        at = self.opened_at + index * self._interval
        return any(c.start <= at < c.end for c in self.clips[-8:])

    def _error(self, code: tuple[int, str], detail: str, now: float) -> None:
        payload = {"code": code[0], "title": code[1], "detail": detail}
        self._queue.append((now, {"event": "error", "payload": payload}))

    def _app_media(self, media: Any, now: float) -> None:
        raw = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(raw, str):
            self._error(ERR_MALFORMED, "A media frame needs media.payload (base64).", now)
            return
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            self._error(ERR_INVALID_MEDIA, "media.payload is not valid base64.", now)
            return
        mode = self.params.bidirectional_mode
        secs = _rtp_secs(self.params, data) if mode == "rtp" else mp3_secs(data)
        if secs is None:
            self._error(ERR_INVALID_MEDIA, "media.payload is not an MP3 file.", now)
            return
        if mode == "rtp" and not MIN_RTP_SECS - 1e-9 <= secs <= MAX_RTP_SECS:
            self._error(
                ERR_INVALID_MEDIA,
                f"An RTP chunk holds 20 ms to 30 s of audio; this one holds {secs:.3f} s.",
                now,
            )
            return
        start = max([now, *(c.end for c in self.clips[-1:])])
        self.clips.append(Clip(start, start + secs * self.scale, mode, len(data)))

    def _app_mark(self, name: str, now: float) -> None:
        """Sent back when the audio before it has played; at once if nothing is playing."""
        end = self.clips[-1].end if self.clips else now
        if end <= now:
            self._send_mark(name, now)
            return
        entry = _Mark(name, end)
        entry.timer = self.hooks.after(self, end - now, lambda: self._mark_due(entry))
        self._marks.append(entry)

    def _mark_due(self, entry: _Mark) -> None:
        if entry in self._marks:
            self._marks.remove(entry)
            self._send_mark(entry.name, entry.at)

    def _send_mark(self, name: str, now: float) -> None:
        if not self.closed:
            self._queue.append((now, {"event": "mark", "mark": {"name": name}}))

    def _clear(self, now: float) -> None:
        """Stop the audio playing, drop what is queued, send the queued marks back."""
        for clip in self.clips:
            if clip.end > now:
                clip.end = max(clip.start, now)
        while self._marks:
            entry = self._marks.popleft()
            if entry.timer is not None:
                entry.timer.cancel()
            self._send_mark(entry.name, now)

    def _cancel_marks(self) -> None:
        while self._marks:
            entry = self._marks.popleft()
            if entry.timer is not None:
                entry.timer.cancel()


def _rtp_secs(params: StreamParams, data: bytes) -> float:
    codec = params.bidirectional_codec
    if codec in _LINEAR_BYTES:
        # PCMU and PCMA are 8 kHz by definition; L16 follows the sampling rate.
        rate = params.bidirectional_rate if codec == "L16" else 8000
        return len(data) / (rate * _LINEAR_BYTES[codec])
    if codec == "G722":
        return len(data) / G722_BYTES_PER_SEC
    return FRAME_SECS  # OPUS, AMR-WB: (chosen) one frame per message


class StreamHub:
    """Every tenant's media streams, for the adapters: the new ones to connect, the open ones to
    pump, and the recent ones for inspection. Shared by all engines of an
    :class:`~emulator.api.Api`, as the outbox is."""

    HISTORY = 1000  # ended streams kept for inspection

    def __init__(self) -> None:
        self._new: deque[MediaStream] = deque()
        self.live: dict[str, MediaStream] = {}
        self._ended: deque[MediaStream] = deque(maxlen=self.HISTORY)

    def add(self, stream: MediaStream) -> None:
        self._new.append(stream)
        self.live[stream.stream_id] = stream

    def has_new(self) -> bool:
        return bool(self._new)

    def take_new(self) -> list[MediaStream]:
        """The streams created since the last call, for an adapter to connect."""
        new = list(self._new)
        self._new.clear()
        return new

    def ended(self, stream: MediaStream) -> None:
        """The adapter is done with it (``stop`` sent, or the connection failed)."""
        if self.live.pop(stream.stream_id, None) is not None:
            self._ended.append(stream)

    def for_call(self, tenant: str, call_control_id: str) -> list[MediaStream]:
        return [
            s
            for s in (*self._ended, *self.live.values())
            if s.tenant == tenant and s.call_control_id == call_control_id
        ]

    def drop_tenant(self, tenant: str) -> None:
        for stream in [s for s in self.live.values() if s.tenant == tenant]:
            del self.live[stream.stream_id]
        self._new = deque(s for s in self._new if s.tenant != tenant)
