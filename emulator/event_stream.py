"""``GET /_emulator/events``: the event log as server-sent events, and ``?wait=`` on webhooks.

The server side of :mod:`emulator.events`. A stream subscribes to the log (which starts it
recording), sends an ``event: ready`` message once it is listening, then each event as
``id: <n>``, ``event: <type>`` (``command``, ``webhook``, ``attempt``, ``call``, ``reset``) and
``data: <JSON>``. A client that reconnects with ``Last-Event-ID`` gets what it missed first, or
``event: resync`` when the log cannot say (it should reload its snapshot from the inspection API).

Who sees what: a bearer API key sees its own tenant; the admin view (emulator/tenancy.py) sees
every tenant, or one with ``?tenant=<id>``. Filters: ``?call_control_id=``,
``?call_session_id=``, ``?types=command,webhook``.

Built on sse-starlette rather than a bare ``StreamingResponse``: it sends keep-alive comments
(a proxy or a browser would otherwise drop an idle stream), notices a client that went away
without a write failing first, and ends open streams when uvicorn shuts down (a bare streaming
response would hold the graceful shutdown until every browser tab closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import Receive, Scope, Send

from . import errors
from .api import Api, ApiRequest, ApiResponse
from .delivery import dumps
from .errors import ApiFailure
from .events import KINDS, EventLog, Filter, Resync
from .tenancy import tenant_id

PING_SECS = 15.0
MAX_WAIT_SECS = 30.0  # (chosen) the longest ?wait= on /_emulator/webhooks


def _api_request(request: Request) -> ApiRequest:
    scope = request.scope
    return ApiRequest(
        method=request.method,
        path=scope["path"],
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        query=dict(request.query_params),
    )


def _error(failure: ApiFailure) -> Response:
    return Response(
        dumps(failure.body()),
        status_code=failure.status,
        headers=dict(failure.headers),
        media_type="application/json",
    )


def stream_filter(api: Api, request: ApiRequest) -> tuple[Filter, bool]:
    """Whose events a request may read, narrowed by its query; and whether it is the admin's."""
    api._check_admin(request)  # --no-admin: 404; --admin-token: 401 without it
    query = request.query
    admin = api.admin_view(request) and "authorization" not in request.headers
    if admin:
        wanted = query.get("tenant")
        tenants = None if wanted is None else frozenset({wanted})
    else:
        tenants = frozenset({tenant_id(api._authenticate(request))})
    kinds: frozenset[str] | None = None
    if "types" in query:
        kinds = frozenset(t.strip() for t in query["types"].split(",") if t.strip())
        unknown = sorted(kinds - set(KINDS))
        if unknown:
            raise ApiFailure(
                422,
                [
                    errors.ApiError(
                        "10015",
                        "Invalid value",
                        f"Unknown event type '{unknown[0]}'; known: {', '.join(KINDS)}.",
                        parameter="types",
                    )
                ],
            )
    where = Filter(
        tenants=tenants,
        call_control_id=query.get("call_control_id"),
        call_session_id=query.get("call_session_id"),
        kinds=kinds,
    )
    return where, admin


def _last_event_id(request: ApiRequest) -> int | None:
    raw = request.headers.get("last-event-id") or request.query.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiFailure(
            422,
            [
                errors.ApiError(
                    "10015",
                    "Invalid value",
                    f"Last-Event-ID must be an event id (a whole number), not '{raw}'.",
                    parameter="Last-Event-ID",
                )
            ],
        ) from None
    return max(0, value)


async def events_endpoint(request: Request) -> Response:
    api: Api = request.app.state.api
    api_request = _api_request(request)
    try:
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed(request.method, request.url.path, ["GET"])
        where, admin = stream_filter(api, api_request)
        last_id = _last_event_id(api_request)
    except ApiFailure as failure:
        return _error(failure)
    return EventSourceResponse(
        _stream(api.events, where, last_id, admin),
        ping=PING_SECS,
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        send_timeout=30,
        sep="\n",  # plain LF lines: simplest for curl and for the page's reader
    )


def _sse(data: bytes, event: str, event_id: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        data=data.decode(), event=event, id=None if event_id is None else str(event_id), sep="\n"
    )


async def _stream(
    log: EventLog, where: Filter, last_id: int | None, admin: bool
) -> AsyncIterator[ServerSentEvent]:
    wake = asyncio.Event()
    subscription = log.subscribe(wake.set)
    try:
        ready = {"last_id": log.last_id, "admin": admin}
        yield _sse(dumps(ready), "ready")
        cursor, resuming = (log.last_id, False) if last_id is None else (last_id, True)
        while True:
            wake.clear()  # before reading: an event recorded from here on sets it again
            upto = log.last_id
            try:
                batch = log.after(cursor, where, resuming=resuming)
            except Resync as resync:
                cursor, resuming = upto, False
                yield _sse(dumps({"reason": resync.reason}), "resync")
                continue
            resuming = False
            for event in batch:
                if event.id > upto:
                    break  # recorded while this batch was being sent: the next round sends it
                yield _sse(event.json, event.kind, event.id)
            cursor = upto  # past the other tenants' and filtered-out events too
            if log.last_id == cursor:
                await wake.wait()
    finally:
        subscription.close()


async def wait_for_webhooks(
    api: Api, request: Request, answer: Callable[[], ApiResponse]
) -> ApiResponse:
    """``GET /_emulator/webhooks?wait=SECONDS[&count=N]``: answer once at least ``count``
    (default 1) webhooks match the other filters, or when the wait is over, whichever is first.

    The answer is the ordinary listing either way; a test checks it as it would a poll's.
    """
    query = request.query_params
    try:
        wait = min(MAX_WAIT_SECS, max(0.0, float(query["wait"])))
        count = int(query.get("count", "1"))
    except ValueError:
        failure = ApiFailure(
            422,
            [
                errors.ApiError(
                    "10015",
                    "Invalid value",
                    "'wait' must be a number of seconds and 'count' a whole number.",
                    parameter="wait",
                )
            ],
        )
        return ApiResponse(failure.status, failure.body())
    deadline = time.monotonic() + wait
    wake = asyncio.Event()
    subscription = api.events.subscribe(wake.set)
    try:
        while True:
            wake.clear()
            result = answer()
            data: Any = result.payload.get("data") if isinstance(result.payload, dict) else None
            left = deadline - time.monotonic()
            if result.status != 200 or not isinstance(data, list) or len(data) >= count:
                return result
            if left <= 0:
                return result
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), left)
    finally:
        subscription.close()


async def webhooks_wait_endpoint(request: Request) -> Response:
    """``GET /_emulator/webhooks`` with ``wait``: the ordinary route, asked again on each event."""
    api: Api = request.app.state.api
    base = _api_request(request)
    plain = dataclasses.replace(
        base, query={k: v for k, v in base.query.items() if k not in ("wait", "count")}
    )
    result = await wait_for_webhooks(api, request, lambda: api.handle(plain))
    return Response(
        b"" if request.method == "HEAD" else result.content,
        status_code=result.status,
        headers=result.headers,
        media_type="application/json",
    )


EVENT_PATHS = frozenset({"/_emulator/events", "/v2/_emulator/events"})
WEBHOOK_PATHS = frozenset({"/_emulator/webhooks", "/v2/_emulator/webhooks"})

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def routes() -> dict[str, ASGIApp]:
    """The ASGI apps of the stream's paths (the server's dispatcher looks paths up here)."""
    stream = request_response(events_endpoint)
    return {path: stream for path in EVENT_PATHS}


def wants_wait(scope: Scope) -> bool:
    """A ``GET /_emulator/webhooks`` that asks to block (``?wait=``)."""
    return scope["path"] in WEBHOOK_PATHS and b"wait=" in scope.get("query_string", b"")


webhooks_wait_app: ASGIApp = request_response(webhooks_wait_endpoint)
