"""Real servers for tests: the emulator under uvicorn, and a webhook receiver.

Both listen on 127.0.0.1 on a port the OS picks, in a background thread with its own event loop,
and speak real HTTP. Tests never sleep to wait for webhooks: they wait on a condition with a
timeout (:meth:`Receiver.wait_for`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from emulator.config import Settings
from emulator.server import (
    H11_MAX_INCOMPLETE_EVENT_SIZE,
    ShutdownAwareServer,
    build_api,
    create_app,
)


class ServerThread:
    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP, as emulator/cli.py does: asyncio then sets TCP_NODELAY on each connection.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            h11_max_incomplete_event_size=H11_MAX_INCOMPLETE_EVENT_SIZE,
        )
        self.server = ShutdownAwareServer(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class EmulatorServer(ServerThread):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = build_api(settings)
        super().__init__(create_app(settings, api=self.api))
        if settings.public_url is None:
            self.api.links.url = self.url  # as `serve` does once it has bound its socket

    @property
    def base_url(self) -> str:
        return self.url + "/v2"

    @property
    def public_key(self) -> str:
        return self.api.signer.public_key


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_type(self) -> str:
        return str(self.json["data"]["event_type"])

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.json["data"]["payload"])


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # consumed one per request; then 200
    delay: float = 0.0


class Receiver(ServerThread):
    """A webhook receiver that records every request; per-path status scripts and delays."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.behaviour: dict[str, Behaviour] = {}
        self._cond = threading.Condition()
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])])
        super().__init__(app)

    def respond(self, path: str, *statuses: int, delay: float = 0.0) -> None:
        self.behaviour[path] = Behaviour(list(statuses), delay)

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        item = Received(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            time.monotonic(),
        )
        behaviour = self.behaviour.get(request.url.path)
        status = 200
        if behaviour is not None:
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            if behaviour.statuses:
                status = behaviour.statuses.pop(0)
        with self._cond:
            self.requests.append(item)
            self._cond.notify_all()
        return Response(status_code=status)

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.path, r.event_type if r.body else r.query) for r in self.requests]
                    raise AssertionError(f"timed out waiting; received so far: {seen}")
                self._cond.wait(left)
            return list(self.requests)

    def events(self, path: str | None = None) -> list[str]:
        with self._cond:
            return [r.event_type for r in self.requests if path is None or r.path == path]

    def wait_events(self, n: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        got = self.wait_for(
            lambda rs: len([r for r in rs if path is None or r.path == path]) >= n, timeout
        )
        return [r for r in got if path is None or r.path == path]


@dataclass
class StreamSession:
    """One WebSocket connection the emulator opened to the receiver."""

    path: str
    headers: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    closed_code: int | None = None  # the emulator's close code, once it closed

    def events(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("event") == event]


# What a test's stream app does with each message: return messages to send back, or "close"
# to drop the connection from the app's side.
StreamReply = Callable[[StreamSession, dict[str, Any]], "list[dict[str, Any]] | str | None"]


class StreamReceiver(ServerThread):
    """A real WebSocket server (Starlette under uvicorn) that records each stream's messages;
    ``reply`` scripts the app's side. ``/refuse`` answers the handshake with 403."""

    def __init__(self, reply: StreamReply | None = None) -> None:
        self.sessions: list[StreamSession] = []
        self.reply = reply
        self._cond = threading.Condition()
        app = Starlette(routes=[WebSocketRoute("/{path:path}", self._endpoint)])
        super().__init__(app)
        self.ws_url = self.url.replace("http://", "ws://")

    async def _endpoint(self, ws: WebSocket) -> None:
        if ws.url.path == "/refuse":
            await ws.close(code=1008)  # before accept: uvicorn answers the handshake with 403
            return
        await ws.accept()
        session = StreamSession(ws.url.path, {k.lower(): v for k, v in ws.headers.items()})
        with self._cond:
            self.sessions.append(session)
            self._cond.notify_all()
        try:
            while True:
                message = json.loads(await ws.receive_text())
                with self._cond:
                    session.messages.append(message)
                    self._cond.notify_all()
                answer = self.reply(session, message) if self.reply is not None else None
                if answer == "close":
                    await ws.close(code=1011)
                    break
                for out in answer or []:
                    await ws.send_text(json.dumps(out))
        except WebSocketDisconnect as exc:
            with self._cond:
                session.closed_code = exc.code
                self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[list[StreamSession]], bool], timeout: float = 10.0
    ) -> list[StreamSession]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.sessions):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [
                        (s.path, [m.get("event") for m in s.messages][-5:]) for s in self.sessions
                    ]
                    raise AssertionError(f"timed out waiting for streams; so far: {seen}")
                self._cond.wait(left)
            return list(self.sessions)
