"""Prototype: the emulator's HTTP front end as a bare ASGI callable, without Starlette.

``emulator/server.py`` wraps :meth:`Api.handle` in a Starlette ``Route("/{path:path}")``: per
request Starlette builds a ``Request``, matches the route (a regex), builds ``Headers`` and
``QueryParams`` objects, streams the body through ``request.stream()``, and writes a
``Response``. Routing is done again by ``Api.handle`` anyway. This module answers the question
"would a plain ASGI callable that calls ``api.handle`` directly be faster?" without touching
``emulator/``: it reproduces the front end's behaviour (body limit while streaming, HEAD without
a body, a Telnyx-shaped 500, the same log line per request, the same webhook pump in the
lifespan) on bare ASGI messages.

It also serves as the bench's launcher for settings the CLI does not expose yet
(``--retention`` for ended calls, ``--journal-limit``)::

    python bench/raw_asgi.py --front raw --port 0 --time-scale 0 --retention 5
    python bench/raw_asgi.py --front starlette ...   # emulator.server.create_app, same settings

Prints ``listening on http://127.0.0.1:PORT`` like the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Extra directories of packages for the prototypes (httptools or uvloop, which
# uvicorn's "auto" settings pick up when importable), appended so they never shadow the venv's.
sys.path += [p for p in os.environ.get("BENCH_EXTRA_SITE", "").split(os.pathsep) if p]

from emulator import errors, logs
from emulator import sender as sender_module
from emulator import server as server_module
from emulator.api import Api, ApiRequest, ApiResponse
from emulator.config import Settings
from emulator.sender import WebhookSender
from emulator.server import SHUTDOWN_GRACE_SECS, _log_request, build_api, create_app

MAX_HEADER_BYTES: int = getattr(server_module, "MAX_HEADER_BYTES", 16_384)

log = logging.getLogger("telnyx_emulator.api")
log_webhooks = logging.getLogger("telnyx_emulator.webhooks")

_JSON = [(b"content-type", b"application/json")]


def _internal_error() -> ApiResponse:
    return ApiResponse(
        500,
        {
            "errors": [
                errors.ApiError(
                    "10007", "Unexpected error", "An unexpected error occurred in the emulator."
                ).to_json()
            ]
        },
    )


def create_raw_app(settings: Settings, api: Api) -> Any:
    """A bare ASGI app with the same behaviour as ``emulator.server.create_app``."""
    limit = settings.max_body_bytes
    holder: dict[str, WebhookSender] = {}

    async def lifespan(receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with sender_module.new_session(settings.webhook_timeout_secs) as session:
            sender = WebhookSender(api, session, timeout=settings.webhook_timeout_secs)
            holder["sender"] = sender
            pump = asyncio.create_task(sender.run())
            await send({"type": "lifespan.startup.complete"})
            message = await receive()  # lifespan.shutdown
            left = await sender.stop(SHUTDOWN_GRACE_SECS)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if left:
                log.warning("shutting down with %d webhook(s) undelivered", left)
        await send({"type": "lifespan.shutdown.complete"})

    async def read_body(receive: Any, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise errors.body_too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise errors.body_too_large(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        # ASGI header names are already lower-case bytes.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            raw_headers = scope["headers"]
            if sum(len(k) + len(v) for k, v in raw_headers) > MAX_HEADER_BYTES:
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
            body = await read_body(receive, headers)
            qs = scope.get("query_string", b"")
            query = dict(parse_qsl(qs.decode("latin-1"), keep_blank_values=True)) if qs else {}
            result = api.handle(ApiRequest(method, path, headers, body, query))
        except errors.ApiFailure as failure:
            result = ApiResponse(failure.status, failure.body(), dict(failure.headers))
        except Exception:
            log.exception("unexpected error handling %s %s", method, path)
            result = _internal_error()
        sender = holder.get("sender")
        if sender is not None:
            sender.wake()
        _log_request(method, path, result)
        hold = getattr(result, "hold_secs", None)
        if hold:  # injected "timeout" fault, as in emulator.server
            await asyncio.sleep(hold)
        content = b"" if method == "HEAD" or result.payload is None else result.content
        out = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in result.headers.items()
        ]
        if result.payload is not None:
            out += _JSON
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": result.status, "headers": out})
        await send({"type": "http.response.body", "body": content})

    return app


def _configure_gc(mode: str, log_slow: bool) -> None:
    import atexit
    import gc
    import time

    if mode == "off":
        gc.disable()
    elif mode == "tuned":
        gc.freeze()  # everything imported so far is never scanned again
        gc.set_threshold(50_000, 20, 100)
    if not log_slow:
        return
    started = [0.0]
    totals = [[0, 0.0], [0, 0.0], [0, 0.0]]  # per generation: collections, ms

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        gen = info["generation"]
        totals[gen][0] += 1
        totals[gen][1] += ms
        if ms >= 5:
            print(
                f"gc: generation {gen} took {ms:.1f} ms, collected {info['collected']}",
                file=sys.stderr,
                flush=True,
            )

    def summary() -> None:
        parts = [f"gen{g}: {n} in {ms:.0f} ms" for g, (n, ms) in enumerate(totals)]
        print(f"gc total: {'; '.join(parts)}", file=sys.stderr, flush=True)

    gc.callbacks.append(callback)
    atexit.register(summary)


def main() -> None:
    from noop_app import serve  # bench/ is on sys.path when run as a script

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--front", choices=["raw", "starlette"], default="raw")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--max-live-calls", type=int, default=10_000)
    parser.add_argument("--retention", type=float, default=600.0, help="seconds ended calls stay")
    parser.add_argument("--journal-limit", type=int, default=10_000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--nagle", action="store_true", help="bind as the CLI did before the TCP_NODELAY fix"
    )
    parser.add_argument(
        "--gc",
        choices=["default", "off", "tuned"],
        default="default",
        help="off: gc.disable(); tuned: gc.freeze() after start-up and gen-0 threshold 50,000",
    )
    parser.add_argument(
        "--gc-log",
        action="store_true",
        help="log every collection that takes 5 ms or more, and the totals at exit",
    )
    args = parser.parse_args()
    _configure_gc(args.gc, args.gc_log)
    settings = Settings(
        port=args.port,
        time_scale=args.time_scale,
        max_live_calls=args.max_live_calls,
        retention_secs=args.retention,
        journal_limit=args.journal_limit,
        log_level=args.log_level,
    )
    logs.configure(settings.log_format, settings.log_level)
    api = build_api(settings)
    logs.add_secrets(api.signer.private_key_base64)  # as the CLI does
    app = create_raw_app(settings, api) if args.front == "raw" else create_app(settings, api=api)
    serve(app, args.port, f"emulator ({args.front} front end)", nagle=args.nagle)


if __name__ == "__main__":
    main()
