"""The Starlette front end: HTTP in, the shared :class:`~emulator.api.Api` does the rest.

Thin on purpose: it reads the request (enforcing the body limit while streaming, so an
oversized body is refused without being held in memory), calls ``Api.handle``, writes the
response, and wakes the webhook pump. The pump and its aiohttp session live in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import Receive, Scope, Send

from . import dashboard, errors, event_stream
from .api import Api, ApiRequest, ApiResponse
from .audio_lengths import MEASURED_ACTIONS, URL_FIELDS, reachable
from .clock import SystemClock
from .config import Settings
from .scenarios import ScenarioBook
from .sender import WebhookSender, fetch_audio_length, new_session
from .stream_client import StreamClient

log = logging.getLogger("telnyx_emulator.api")

SHUTDOWN_GRACE_SECS = 5.0
MAX_HEADER_BYTES = 16_384
# uvicorn's h11 parser answers a plain-text 400 itself when a header block that arrives in
# pieces passes 16 KiB; let it buffer up to 64 KiB so our Telnyx-shaped 413 answers first.
H11_MAX_INCOMPLETE_EVENT_SIZE = 65_536


def build_api(settings: Settings, scenarios: ScenarioBook | None = None) -> Api:
    clock = SystemClock()
    api = Api(settings, clock=clock, wall_clock=clock.now, scenarios=scenarios)
    api.precompile()
    return api


def create_app(
    settings: Settings | None = None,
    *,
    api: Api | None = None,
) -> Starlette:
    settings = settings or Settings()
    api = api or build_api(settings)
    state: dict[str, WebhookSender] = {}
    holds = _Holds()

    async def endpoint(request: Request) -> Response:
        try:
            scope = request.scope
            raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
            header_bytes = sum(len(k) + len(v) for k, v in raw_headers)
            if header_bytes > MAX_HEADER_BYTES:
                raise errors.ApiFailure(
                    413,
                    [
                        errors.ApiError(
                            "10015",
                            "Request headers too large",
                            f"The request headers exceed {MAX_HEADER_BYTES} bytes.",
                        )
                    ],
                )
            body = await _read_body(request, settings.max_body_bytes)
            api_request = ApiRequest(
                method=request.method,
                # The decoded path as received: request.url re-parses it, and urlsplit drops
                # the tab and newline characters a percent-encoded call_control_id may hold.
                path=scope["path"],
                # ASGI header names are lower-case already; latin-1 is what Starlette decodes
                # with. The last of repeated headers wins, as before.
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers},
                body=body,
                query=dict(request.query_params) if scope["query_string"] else {},
            )
            if request.method == "POST" and scope["path"].endswith(MEASURED_ACTIONS):
                await _measure_audio(api, state, body)
            result = api.handle(api_request)
        except errors.ApiFailure as failure:
            result = ApiResponse(failure.status, failure.body(), dict(failure.headers))
        except Exception:  # a bug must still answer in Telnyx's shape, and never lose the server
            log.exception("unexpected error handling %s %s", request.method, request.url.path)
            result = ApiResponse(
                500,
                {
                    "errors": [
                        errors.ApiError(
                            "10007",
                            "Unexpected error",
                            "An unexpected error occurred in the emulator.",
                        ).to_json()
                    ]
                },
            )
        sender = state.get("sender")
        if sender is not None:
            sender.wake()
        _log_request(request.method, _loggable(request.scope["path"]), result)
        if result.hold_secs:
            # Injected "timeout" fault: the command was applied; the answer comes too late, or
            # at shutdown (ShutdownAwareServer), when it is sent at once: a clean ending instead
            # of a task cancelled mid-sleep, which uvicorn logs as a traceback.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(holds.released().wait(), result.hold_secs)
        content = b"" if request.method == "HEAD" else result.content
        headers = dict(result.headers)
        return Response(
            content,
            status_code=result.status,
            headers=headers,
            media_type="application/json" if result.payload is not None else None,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import asyncio

        # Closed on the way out, after sender.stop() has let in-flight webhooks finish.
        async with new_session(settings.webhook_timeout_secs) as session:
            sender = WebhookSender(api, session, timeout=settings.webhook_timeout_secs)
            state["sender"] = sender
            pump = asyncio.create_task(sender.run())
            pump.add_done_callback(lambda task: _pump_ended(api, task))
            # Media streams: WebSocket connections to the apps' stream_url (emulator/stream_client).
            streams = StreamClient(api, sender.wake)
            stream_pump = asyncio.create_task(streams.run())
            try:
                yield
            finally:
                await streams.stop()
                stream_pump.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await stream_pump
                left = await sender.stop(SHUTDOWN_GRACE_SECS)
                pump.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await pump  # a pump that died was reported when it did (_pump_ended)
                if left:
                    log.warning(
                        "shutting down with %d webhook(s) undelivered",
                        left,
                        extra={"event": "shutdown", "undelivered": left},
                    )
                    for record in api.outbox.undelivered()[:20]:  # which ones, for the CI log
                        log.warning(
                            "undelivered webhook %s call=%s url=%s attempts=%d",
                            record.event_type,
                            record.call_control_id,
                            record.url,
                            len(record.attempts),
                            extra={
                                "event": "undelivered",
                                "event_type": record.event_type,
                                "call_control_id": record.call_control_id,
                                "url": record.url,
                                "attempt": len(record.attempts),
                            },
                        )

    # Every request goes to the one endpoint, whatever its path or method: a Starlette route
    # would answer plain-text 404/405 itself for a path its pattern can't match (a %0A in a
    # call_control_id) or a method outside its list, which is not Telnyx's error shape.
    # The dashboard's files and the event stream are the only paths not answered by Api.handle
    # (static files, and a response that never ends); one dict lookup sends them elsewhere.
    default = request_response(endpoint)
    own = {**dashboard.routes(settings), **event_stream.routes()}

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        special = own.get(scope["path"])
        if special is None and event_stream.wants_wait(scope):
            special = event_stream.webhooks_wait_app
        await (special or default)(scope, receive, send)

    app = Starlette(lifespan=lifespan)
    app.router.default = dispatch
    app.state.api = api
    app.state.release_holds = holds.release
    return app


class _Holds:
    """Answers held back by a ``timeout`` command fault, released together at shutdown."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # made on first use, inside the event loop

    def released(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def release(self) -> None:
        self.released().set()


class ShutdownAwareServer(uvicorn.Server):
    """uvicorn's server, telling the app when shutdown begins: before uvicorn waits for the
    requests in progress (and, after its grace period, cancels them with a logged traceback),
    the answers a ``timeout`` fault holds back are sent."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        release = getattr(getattr(self.config.app, "state", None), "release_holds", None)
        if callable(release):
            release()
        await super().shutdown(sockets)


def _pump_ended(api: Api, task: asyncio.Task[None]) -> None:
    """The webhook pump ends only at shutdown. If it died instead, say so at once: every
    tenant's webhooks and timed steps have stopped, so health turns 503 and ``serve`` will exit
    non-zero."""
    if task.cancelled() or task.exception() is None:
        return
    exc = task.exception()
    api.background_failure = f"the webhook pump stopped: {type(exc).__name__}: {exc}"
    log.critical(
        "%s; no webhook will be sent and no call will progress",
        api.background_failure,
        exc_info=exc,
        extra={"event": "pump_died", "error": api.background_failure},
    )


def _log_request(method: str, path: str, result: ApiResponse) -> None:
    """One line per request: a command's line names the call, command_id and dedup result.

    Inspection reads (``GET /_emulator/...``, polled by tests) log at debug level only.
    """
    fields: dict[str, Any] = {"event": "request", "method": method, "path": path}
    fields["status"] = result.status
    words = [f"{method} {path} -> {result.status}"]
    entry = result.journal
    if entry is not None:
        codes = [str(e.get("code")) for e in entry.get("errors") or []]
        fields.update(
            event="command",
            command=entry.get("command"),
            call_control_id=entry.get("call_control_id"),
            command_id=entry.get("command_id"),
            result=entry.get("result"),  # accepted | duplicate | rejected
            error_codes=codes,
        )
        words.append(f"{entry.get('command')} call={entry.get('call_control_id')}")
        if entry.get("command_id") is not None:
            words.append(f"command_id={entry.get('command_id')}")
        words.append(f"result={entry.get('result')}")
        if codes:
            words.append(f"errors={','.join(codes)}")
        if entry.get("fault"):  # an injected command fault (command_429, command_500, timeout)
            fields["fault"] = entry["fault"]
            words.append(f"fault={entry['fault']}")
    else:
        data = result.payload.get("data") if isinstance(result.payload, dict) else None
        if isinstance(data, dict) and isinstance(data.get("call_control_id"), str):
            fields["call_control_id"] = data["call_control_id"]
            words.append(f"call={data['call_control_id']}")
        errs = result.payload.get("errors") if isinstance(result.payload, dict) else None
        if isinstance(errs, list) and errs:
            codes = [str(e.get("code")) for e in errs if isinstance(e, dict)]
            fields["error_codes"] = codes
            words.append(f"errors={','.join(codes)}")
    inspection = method in ("GET", "HEAD") and path.removeprefix("/v2").startswith("/_emulator/")
    level = logging.DEBUG if inspection else logging.INFO
    log.log(level, "%s", " ".join(words), extra=fields)


def _loggable(path: str) -> str:
    """The path for a log line: a percent-encoded newline in a call_control_id must not start a
    line of its own."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _measure_audio(api: Api, state: dict[str, Any], body: bytes) -> None:
    """Before ``playback_start`` / ``gather_using_audio`` run, measure the files they name when
    the server may reach them (emulator/audio_lengths.py). Best effort: any problem leaves the
    length unknown and the command runs as it would have (its body is validated later)."""
    sender = state.get("sender")
    if sender is None:
        return
    try:
        fields = json.loads(body)
    except ValueError:
        return
    if not isinstance(fields, dict):
        return
    allowed = api.outbox.allow
    for name in URL_FIELDS:
        url = fields.get(name)
        if isinstance(url, str) and url not in api.audio_lengths and reachable(url, allowed):
            secs = await fetch_audio_length(sender.client, url)
            if secs is not None:
                api.audio_lengths.remember(url, secs)
