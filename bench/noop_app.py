"""The server stack's own limit: a Starlette app with one POST route that answers what a
transfer answers (``{"data":{"result":"ok"}}``), served by uvicorn exactly as ``telnyx-emulator
serve`` serves the emulator (same ``uvicorn.Config``: access log off, log level warning,
lifespan on, the CLI's h11 buffer size, the same auto-selected loop and HTTP implementation, a
pre-bound ``IPPROTO_TCP`` socket with backlog 2048).

Run: ``python bench/noop_app.py [--port 0]``; prints ``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Extra package directories (httptools, uvloop) for the stack experiments; appended, so they
# never shadow the venv's packages. See bench/raw_asgi.py.
sys.path += [p for p in os.environ.get("BENCH_EXTRA_SITE", "").split(os.pathsep) if p]

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OK = b'{"data":{"result":"ok"}}'


async def transfer(request: Request) -> Response:
    await request.body()  # the emulator reads every body; so does the no-op
    return Response(OK, media_type="application/json")


app = Starlette(
    routes=[Route("/v2/calls/{call_control_id}/actions/transfer", transfer, methods=["POST"])]
)


def serve(app: object, port: int, label: str, *, nagle: bool = False) -> None:
    """Bind, print the URL, and run uvicorn with the emulator CLI's settings.

    The socket is created as ``emulator/cli.py`` creates it, with ``IPPROTO_TCP``: asyncio sets
    TCP_NODELAY only on accepted connections whose socket protocol says TCP. ``nagle=True``
    binds with protocol 0 instead, as the CLI did before that fix: every response written in
    two parts (head, body) then waits for the client's delayed ACK, ~40 ms on Linux.
    """
    proto = 0 if nagle else socket.IPPROTO_TCP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    print(f"{label} listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    extra: dict[str, Any] = {}
    try:  # the CLI's h11 buffer setting, where the emulator has one
        from emulator.server import H11_MAX_INCOMPLETE_EVENT_SIZE

        extra["h11_max_incomplete_event_size"] = H11_MAX_INCOMPLETE_EVENT_SIZE
    except ImportError:
        pass
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        **extra,
    )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--nagle", action="store_true", help="bind as the CLI did before the TCP_NODELAY fix"
    )
    args = parser.parse_args()
    serve(app, args.port, "noop", nagle=args.nagle)
    sys.exit(0)


if __name__ == "__main__":
    main()
