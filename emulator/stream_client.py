"""The server's media stream adapter: a real WebSocket client to each app's ``stream_url``.

The engine decides what a stream says and when (:mod:`emulator.media_stream`); this adapter
only does the I/O, with the ``websockets`` library: it connects as Telnyx does (the
``x-telnyx-streaming-auth-token`` header when the command gave ``stream_auth_token``), reports a
refused connection (``streaming.failed``, ``connection_failed``) or an open one
(``streaming.started``), sends each message when it is due (20 ms frames at real-time pacing
times the time scale), passes every message the app sends to the stream, reports a connection
that drops before ``stop`` (``streaming.failed``, ``connection_closed``), and closes the
WebSocket (1000) after ``stop``. It runs in the server's lifespan beside the webhook pump, on the
same event loop as the API, so calling into the engine needs no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .api import Api
from .commands.streaming import FAILURE_DROPPED, FAILURE_REFUSED
from .media_stream import MediaStream

log = logging.getLogger("telnyx_emulator.streams")

POLL_SECS = 0.01  # how often a stream looks for due messages at most (frames are 20 ms x scale)
# (chosen) Frames at most every 5 ms of real time (200 a second per track): below time scale
# 0.25 a stream's timestamps fall behind the call's emulated time instead of flooding the loop.
MIN_FRAME_GAP_SECS = 0.005
CONNECT_TIMEOUT_SECS = 5.0
MAX_APP_MESSAGE_BYTES = 8 * 1024 * 1024  # an MP3 a bidirectional app plays back


class StreamClient:
    def __init__(self, api: Api, wake: Callable[[], None]) -> None:
        self.api = api
        self.wake = wake  # the webhook pump: a stream's webhook is due
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def run(self) -> None:
        """Connect each new stream in a task of its own, until stopped."""
        while not self._closing:
            for stream in self.api.streams.take_new():
                task = asyncio.create_task(self._serve(stream))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(POLL_SECS)

    async def stop(self) -> None:
        """Shutdown: close every stream's connection (1001, going away)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, stream: MediaStream) -> None:
        clock = self.api.clock
        if stream.closed:  # stopped before we got to it
            self.api.streams.ended(stream)
            return
        allow = self.api.outbox.allow  # --webhook-allow restricts stream URLs too
        if allow is not None and not allow(stream.params.url):
            log.warning(
                "stream %s to %s blocked by --webhook-allow",
                stream.stream_id,
                stream.params.url,
                extra={"event": "stream_blocked", "call_control_id": stream.call_control_id},
            )
            stream.failed(FAILURE_REFUSED, clock.now())
            self.api.streams.ended(stream)
            self.wake()
            return
        try:
            ws = await connect(
                stream.params.url,
                additional_headers=stream.params.headers,
                open_timeout=CONNECT_TIMEOUT_SECS,
                max_size=MAX_APP_MESSAGE_BYTES,
                user_agent_header="telnyx-emulator",
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            log.info(
                "stream %s to %s refused: %s",
                stream.stream_id,
                stream.params.url,
                exc,
                extra={"event": "stream_refused", "call_control_id": stream.call_control_id},
            )
            stream.failed(FAILURE_REFUSED, clock.now())
            self.api.streams.ended(stream)
            self.wake()
            return
        stream.min_gap = MIN_FRAME_GAP_SECS
        stream.opened(clock.now())
        self.wake()
        receiving = asyncio.create_task(self._receive(ws, stream))
        try:
            await self._send(ws, stream)
        except ConnectionClosed:
            stream.failed(FAILURE_DROPPED, clock.now())
            self.wake()
        except asyncio.CancelledError:
            await ws.close(1001, "emulator shutting down")
            raise
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiving
            self.api.streams.ended(stream)

    async def _send(self, ws: ClientConnection, stream: MediaStream) -> None:
        clock = self.api.clock
        while True:
            for message in stream.take(clock.now()):
                await ws.send(json.dumps(message, separators=(",", ":")))
            if stream.done:
                if stream.failure is None:
                    await ws.close(1000, "stream stopped")
                return
            due = stream.next_due()
            delay = POLL_SECS if due is None else min(POLL_SECS, max(0.0, due - clock.now()))
            await asyncio.sleep(delay)

    async def _receive(self, ws: ClientConnection, stream: MediaStream) -> None:
        clock = self.api.clock
        try:
            async for raw in ws:
                stream.received(raw, clock.now())
                self.wake()
        except ConnectionClosed:
            pass
        if not stream.closed:  # the app closed (or lost) the connection before stop
            stream.failed(FAILURE_DROPPED, clock.now())
            self.wake()
