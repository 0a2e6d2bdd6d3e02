"""A fast no-op webhook receiver: counts and records every request, answers 200 at once.

A bare ``asyncio.Protocol`` HTTP/1.1 server (keep-alive, Content-Length bodies), so the receiver
costs the machine as little as possible and the emulator's sender is what gets measured. For
each webhook it keeps the arrival order, the wall-clock arrival time and the raw body; bodies
are parsed only when asked for:

- ``GET /_count``: ``{"count": N}``
- ``GET /_dump``: ``{"data": [[order, arrived_at, id, call_control_id, call_session_id,
  event_type, occurred_at, attempt], ...]}``
- ``POST /_reset``: forget everything

Run: ``python bench/receiver.py [--port 0] [--max-secs 1800]``; prints
``receiver listening on http://127.0.0.1:PORT`` and exits by itself after ``--max-secs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from typing import Any

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"

records: list[tuple[float, bytes]] = []  # (arrived_at, body), in arrival order


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def dump() -> bytes:
    rows: list[list[Any]] = []
    for order, (arrived, body) in enumerate(records):
        try:
            env = json.loads(body)
            data = env["data"]
            payload = data.get("payload") or {}
            rows.append(
                [
                    order,
                    arrived,
                    data.get("id"),
                    payload.get("call_control_id"),
                    payload.get("call_session_id"),
                    data.get("event_type"),
                    _ts(data["occurred_at"]),
                    (env.get("meta") or {}).get("attempt"),
                ]
            )
        except (ValueError, KeyError, TypeError):
            rows.append([order, arrived, None, None, None, None, None, None])
    return json.dumps({"data": rows}).encode()


def _reply(body: bytes, status: str = "200 OK") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Http(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(method, target, body)

    def handle(self, method: str, target: str, body: bytes) -> None:
        if target.startswith("/_"):
            if target == "/_count":
                self.transport.write(_reply(json.dumps({"count": len(records)}).encode()))
            elif target == "/_dump":
                self.transport.write(_reply(dump()))
            elif target == "/_reset":
                records.clear()
                self.transport.write(_reply(b"{}"))
            else:
                self.transport.write(_reply(b"{}", "404 Not Found"))
            return
        records.append((time.time(), body))
        self.transport.write(OK)


async def main_async(port: int, max_secs: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", port, backlog=2048)
    bound = server.sockets[0].getsockname()[1]
    print(f"receiver listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await asyncio.sleep(max_secs)  # stops by itself


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-secs", type=float, default=1800.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.port, args.max_secs))


if __name__ == "__main__":
    main()
