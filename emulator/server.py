"""The Starlette front end: HTTP in, the shared :class:`~emulator.api.Api` does the rest.

Thin on purpose: it reads the request (enforcing the body limit while streaming, so an
oversized body is refused without being held in memory), calls ``Api.handle``, writes the
response, and wakes the webhook pump. The pump and its httpx client live in the lifespan.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import errors
from .api import Api, ApiRequest, ApiResponse
from .clock import SystemClock
from .config import Settings
from .scenarios import ScenarioBook
from .sender import WebhookSender

log = logging.getLogger("telnyx_emulator.api")

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SHUTDOWN_GRACE_SECS = 5.0


def build_api(settings: Settings, scenarios: ScenarioBook | None = None) -> Api:
    clock = SystemClock()
    return Api(settings, clock=clock, wall_clock=clock.now, scenarios=scenarios)


def create_app(
    settings: Settings | None = None,
    *,
    api: Api | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    settings = settings or Settings()
    api = api or build_api(settings)
    state: dict[str, WebhookSender] = {}

    async def endpoint(request: Request) -> Response:
        try:
            body = await _read_body(request, settings.max_body_bytes)
            api_request = ApiRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                query=dict(request.query_params),
            )
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
        if not request.url.path.startswith("/_emulator/health"):
            log.info(
                "%s %s -> %d",
                request.method,
                request.url.path,
                result.status,
                extra={
                    "event": "command",
                    "method": request.method,
                    "path": request.url.path,
                    "status": result.status,
                },
            )
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

        async with httpx.AsyncClient(
            transport=transport,
            follow_redirects=True,
            max_redirects=3,
            timeout=settings.webhook_timeout_secs,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        ) as client:
            sender = WebhookSender(api, client, timeout=settings.webhook_timeout_secs)
            state["sender"] = sender
            pump = asyncio.create_task(sender.run())
            try:
                yield
            finally:
                left = await sender.stop(SHUTDOWN_GRACE_SECS)
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
                if left:
                    log.warning("shutting down with %d webhook(s) undelivered", left)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)], lifespan=lifespan)
    app.state.api = api
    return app


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
