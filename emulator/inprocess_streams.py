"""Media streams in-process: the stream goes to a test's handler instead of a WebSocket.

In virtual time there is no socket to the app's ``stream_url`` (unless the test runs a server,
which is what tests/servers.py and the real :mod:`emulator.stream_client` are for). Instead every
stream is a :class:`StreamConnection`: the messages the emulator sent (``messages``, parsed JSON,
in order), and :meth:`StreamConnection.send` for what the app sends back. A handler registered
with :meth:`emulator.inprocess.TelnyxEmulator.stream_to` is called with each message as it is
sent (an agent under test answers from there); without one the stream is connected and only
recorded, as webhooks are without ``deliver_to``. ``refuse=True`` makes the connection fail
(``streaming.failed``), and :meth:`StreamConnection.drop` closes it mid-stream.

Frames are due as the virtual clock moves: :meth:`InProcessStreams.pump` runs before each due
timeline step and at the end of ``advance``/``run_until_idle``, so a stream's frames come in
order with the webhooks. A stream with a handler makes the clock stop at each of its frames, so
the app hears each at its own virtual time (and a reply it sends is timed from there); such a
stream keeps the emulator busy until it stops, so ``run_until_idle`` runs to its bound while one
is open (stop it, hang up, or ``advance``). A call that stays up for an hour of virtual time
streams an hour of frames (180,000 per track).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .api import Api
from .clock import VirtualClock
from .commands.streaming import FAILURE_DROPPED, FAILURE_REFUSED
from .media_stream import MediaStream

# A handler gets the stream and one message; it may call stream.send(...) to answer.
StreamHandler = Callable[["StreamConnection", dict[str, Any]], None]
MAX_ROUNDS = 10_000  # a handler and the stream answering each other at one instant, forever


@dataclass(slots=True)
class _StreamTarget:
    handler: StreamHandler | None
    url: str | None  # only streams whose URL starts with this; None = all
    refuse: bool


@dataclass(eq=False)
class StreamConnection:
    """One stream as the app's WebSocket endpoint sees it."""

    stream_id: str
    call_control_id: str
    url: str
    headers: dict[str, str]  # the handshake's extra headers (x-telnyx-streaming-auth-token)
    messages: list[dict[str, Any]] = field(default_factory=list)  # sent by the emulator
    sent_by_app: list[dict[str, Any]] = field(default_factory=list)
    _stream: MediaStream | None = field(default=None, repr=False)
    _owner: InProcessStreams | None = field(default=None, repr=False)

    def events(self, event: str) -> list[dict[str, Any]]:
        """The messages of one kind (``"media"``, ``"dtmf"``, ``"stop"``, ...)."""
        return [m for m in self.messages if m.get("event") == event]

    def media(self, track: str = "inbound") -> list[dict[str, Any]]:
        return [m["media"] for m in self.events("media") if m["media"]["track"] == track]

    @property
    def open(self) -> bool:
        return self._stream is not None and not self._stream.closed

    def send(self, message: dict[str, Any] | str) -> None:
        """The app sends ``media``, ``mark`` or ``clear`` (a dict, or the raw text)."""
        assert self._owner is not None and self._stream is not None
        text = message if isinstance(message, str) else json.dumps(message)
        if not isinstance(message, str):
            self.sent_by_app.append(message)
        self._owner.app_sent(self._stream, text)

    def drop(self) -> None:
        """The app's end closes the WebSocket before ``stop``: ``streaming.failed``."""
        assert self._owner is not None and self._stream is not None
        self._owner.dropped(self._stream)


class InProcessStreams:
    """The in-process adapter: connects new streams to targets and hands out due messages."""

    def __init__(self, api: Api, clock: VirtualClock, lock: threading.RLock) -> None:
        self.api, self.clock, self.lock = api, clock, lock
        self.targets: list[_StreamTarget] = []
        self.connections: list[StreamConnection] = []
        self._by_id: dict[str, tuple[StreamConnection, _StreamTarget | None]] = {}

    def add_target(self, handler: StreamHandler | None, url: str | None, refuse: bool) -> None:
        self.targets.append(_StreamTarget(handler, url, refuse))

    def _target(self, url: str) -> _StreamTarget | None:
        for target in reversed(self.targets):
            if target.url is None or url.startswith(target.url):
                return target
        return None

    def pump(self) -> bool:
        """Connect new streams and deliver every message due now, until nothing more is.
        Returns whether anything happened (the app may have acted)."""
        moved = False
        for _ in range(MAX_ROUNDS):
            deliveries: list[tuple[StreamConnection, _StreamTarget | None, dict[str, Any]]] = []
            with self.lock:
                now = self.clock.now()
                hub = self.api.streams
                for stream in hub.take_new():
                    if stream.closed:  # stopped before it could connect
                        hub.ended(stream)
                        continue
                    target = self._target(stream.params.url)
                    conn = StreamConnection(
                        stream.stream_id,
                        stream.call_control_id,
                        stream.params.url,
                        stream.params.headers,
                        _stream=stream,
                        _owner=self,
                    )
                    self.connections.append(conn)
                    self._by_id[stream.stream_id] = (conn, target)
                    moved = True
                    if target is not None and target.refuse:
                        stream.failed(FAILURE_REFUSED, now)
                    else:
                        stream.opened(now)
                for stream in list(hub.live.values()):
                    known = self._by_id.get(stream.stream_id)
                    if known is None:
                        continue
                    conn, target = known
                    for message in stream.take(now):
                        deliveries.append((conn, target, message))
                    if stream.done:
                        hub.ended(stream)
            if not deliveries:
                return moved
            moved = True
            for conn, target, message in deliveries:  # the app runs without the lock
                conn.messages.append(message)
                if target is not None and target.handler is not None:
                    target.handler(conn, message)
        raise RuntimeError(
            f"{MAX_ROUNDS} rounds of stream messages at one instant: the stream handler and "
            "the emulator seem to be answering each other forever"
        )

    def next_due(self) -> float | None:
        """When a stream with a handler next has a message due: the clock stops there, so the
        app hears each frame at its own time and its answers are timed from it. (Streams that
        are only recorded are filled in lazily.)"""
        times = []
        for stream in self.api.streams.live.values():
            known = self._by_id.get(stream.stream_id)
            if known is not None and known[1] is not None and known[1].handler is not None:
                due = stream.next_due()
                if due is not None:
                    times.append(due)
        return min(times) if times else None

    def app_sent(self, stream: MediaStream, text: str) -> None:
        with self.lock:
            stream.received(text, self.clock.now())

    def dropped(self, stream: MediaStream) -> None:
        with self.lock:
            stream.failed(FAILURE_DROPPED, self.clock.now())
            self.api.streams.ended(stream)

    def for_call(self, call_control_id: str) -> list[StreamConnection]:
        return [c for c in self.connections if c.call_control_id == call_control_id]
