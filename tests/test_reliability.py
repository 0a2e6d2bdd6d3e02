"""Reliability under load and against misbehaving receivers, on a real server on 127.0.0.1.

- **Concurrency**: 100 concurrent requests with one ``command_id`` make exactly one leg B; 1,000
  concurrent transfers on 1,000 calls deliver every webhook exactly once, in order within each
  call, and the inspection API records them all.
- **Receiver faults**: a receiver that answers 500, never answers, answers after 10 s, refuses
  connections or resets them is retried as documented (every attempt and its error recorded),
  holds up nobody else, and leaves nothing queued once its retries are spent.
- **Bounded memory**: the outbox drains to zero; the inspection records are capped by
  ``journal_limit``.

Every wait is on a condition with a deadline; every load loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .conftest import API_KEY
from .servers import EmulatorServer, Receiver

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SHORT_CALL = "+13125550106"
SHORT_CALL_EVENTS = 7  # A: initiated, bridged, hangup; B: initiated, answered, bridged, hangup


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def inspect(server: EmulatorServer, what: str, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/_emulator/{what}", headers=AUTH, params=params, timeout=30)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def inbound(server: EmulatorServer, url: str | None, **extra: Any) -> str:
    body: dict[str, Any] = {"from": "+12125550199", "to": "+13125550100", **extra}
    if url is not None:
        body["webhook_url"] = url
    r = httpx.post(server.url + "/_emulator/calls", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


# -- concurrency --------------------------------------------------------------------------------


def test_100_concurrent_identical_command_ids_make_one_leg_b(
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    server = start_emulator(time_scale=0.001)
    a = inbound(server, None)

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH, limits=limits) as c:
            body = {"to": "+13125550100", "command_id": "same-one"}
            return await asyncio.gather(
                *(c.post(f"/calls/{a}/actions/transfer", json=body) for _ in range(100))
            )

    responses = asyncio.run(asyncio.wait_for(burst(), 30))
    assert Counter(r.status_code for r in responses) == {200: 100}
    assert all(r.json() == {"data": {"result": "ok"}} for r in responses)
    legs = inspect(server, "calls")
    assert len([leg for leg in legs if leg["direction"] == "outgoing"]) == 1
    journal = inspect(server, "commands")
    assert Counter(c["result"] for c in journal) == {"accepted": 1, "duplicate": 99}


def test_1000_concurrent_transfers_every_webhook_once_in_order(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    n = 1000
    server = start_emulator(time_scale=0)  # a call's whole life at once, in its emulated order
    started = time.monotonic()

    async def load() -> list[str]:
        # Every request is its own task, all started at once; 20 connections carry them (the
        # test's client, the emulator and the receiver share this process's one core: more
        # connections only add httpx pool overhead).
        slots = asyncio.Semaphore(20)
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(
            base_url=server.url, headers=AUTH, limits=limits, timeout=60
        ) as c:

            async def post(path: str, body: dict[str, Any]) -> httpx.Response:
                async with slots:
                    return await c.post(path, json=body)

            created = await asyncio.gather(
                *(
                    post(
                        "/_emulator/calls",
                        {
                            "from": "+12125550199",
                            "to": "+13125550100",
                            "webhook_url": f"{receiver.url}/c{i}",
                        },
                    )
                    for i in range(n)
                )
            )
            assert {r.status_code for r in created} == {201}
            ids = [str(r.json()["data"]["call_control_id"]) for r in created]
            transferred = await asyncio.gather(
                *(
                    post(
                        f"/v2/calls/{ccid}/actions/transfer",
                        {"to": SHORT_CALL, "command_id": f"t{i}"},
                    )
                    for i, ccid in enumerate(ids)
                )
            )
            assert {r.status_code for r in transferred} == {200}
            return ids

    ids = asyncio.run(asyncio.wait_for(load(), 60))
    total = n * SHORT_CALL_EVENTS
    got = receiver.wait_events(total, timeout=60)
    elapsed = time.monotonic() - started
    assert len(got) == total  # nothing lost, nothing extra

    event_ids = Counter(r.json["data"]["id"] for r in got)
    assert len(event_ids) == total and set(event_ids.values()) == {1}  # each exactly once
    per_call: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in got:
        per_call[r.path].append((r.event_type, r.payload["call_control_id"]))
    assert len(per_call) == n
    for path, events in per_call.items():
        a, b = events[0][1], events[1][1]
        assert a == ids[int(path[2:])]
        assert events == [
            ("call.initiated", a),
            ("call.initiated", b),
            ("call.answered", b),
            ("call.bridged", b),
            ("call.bridged", a),
            ("call.hangup", b),
            ("call.hangup", a),
        ], path

    wait_until(lambda: server.api.outbox.pending() == 0, 10, "the outbox to drain")
    hooks = inspect(server, "webhooks")
    assert len(hooks) == total
    assert Counter(h["status"] for h in hooks) == {"delivered": total}
    assert all(len(h["attempts"]) == 1 and h["attempts"][0]["status"] == 200 for h in hooks)
    journal = inspect(server, "commands")
    assert Counter(c["result"] for c in journal) == {"accepted": n}
    print(f"\n{n} transfers, {total} webhooks in {elapsed:.1f} s")


# -- receiver faults -------------------------------------------------------------------------------


class RawServer:
    """A TCP server on 127.0.0.1 that misbehaves on purpose.

    ``hang``: reads the request and never answers. ``late``: answers 200 after ``late`` seconds.
    ``reset``: reads the request, then closes with SO_LINGER 0, which sends a TCP RST.
    Stopping it closes every connection at once (it never makes a test wait ``late`` seconds).
    """

    def __init__(self, mode: str, late: float = 10.0) -> None:
        self.mode, self.late = mode, late
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> RawServer:
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if self.mode == "late" and not self._stop.wait(self.late):
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                return
            self._stop.wait()  # hang

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    started: list[RawServer] = []

    def start(mode: str, **kwargs: Any) -> RawServer:
        server = RawServer(mode, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def closed_port() -> str:
    """A port on 127.0.0.1 with nothing listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_receiver_faults_are_retried_recorded_and_isolated(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    raw_server: Callable[..., RawServer],
) -> None:
    delays = (0.05, 0.1)
    server = start_emulator(time_scale=1.0, webhook_timeout_secs=0.5, webhook_retry_delays=delays)
    hang, late, reset = raw_server("hang"), raw_server("late", late=10.0), raw_server("reset")
    receiver.respond("/e500", 500, 500, 500)
    targets = {
        "500": receiver.url + "/e500",
        "hang": hang.url + "/hook",
        "late": late.url + "/hook",
        "refused": closed_port() + "/hook",
        "reset": reset.url + "/hook",
    }
    calls = {kind: inbound(server, url) for kind, url in targets.items()}

    # A healthy call made after them is delivered while they are still failing (each needs at
    # least 3 x 0.5 s): a bad receiver holds up only its own call.
    healthy = inbound(server, receiver.url + "/ok")
    receiver.wait_events(1, "/ok", timeout=5)
    [slow] = inspect(server, "webhooks", call_control_id=calls["hang"])
    assert slow["status"] == "pending"

    def all_final() -> bool:
        return all(h["status"] != "pending" for h in inspect(server, "webhooks"))

    wait_until(all_final, 15, "every webhook to be delivered or failed")
    hooks = {h["call_control_id"]: h for h in inspect(server, "webhooks")}
    assert hooks[healthy]["status"] == "delivered"
    for kind, ccid in calls.items():
        hook = hooks[ccid]
        attempts = hook["attempts"]
        assert hook["status"] == "failed", kind
        assert [a["attempt"] for a in attempts] == [1, 2, 3], kind  # 1 + len(delays)
        for earlier, later, delay in zip(attempts, attempts[1:], delays, strict=False):
            assert later["at"] - earlier["at"] >= delay, (kind, attempts)
        statuses = [a["status"] for a in attempts]
        errors = [a["error"] for a in attempts]
        if kind == "500":
            assert statuses == [500, 500, 500] and errors == [None, None, None]
        elif kind in ("hang", "late"):
            assert errors == ["timeout"] * 3 and statuses == [None] * 3
            assert all(a["latency_ms"] >= 450 for a in attempts)
        elif kind == "refused":
            assert all(e.startswith("ClientConnectorError") for e in errors), errors
        else:  # reset
            assert all(e and e != "timeout" for e in errors), errors
        assert all(a["fault"] is None for a in attempts)  # real faults, not injected ones
    assert [r.json["meta"]["attempt"] for r in receiver.requests if r.path == "/e500"] == [1, 2, 3]
    assert (hang.connections, late.connections, reset.connections) == (3, 3, 3)

    # Nothing is left queued: memory does not grow with dead receivers.
    assert server.api.outbox.pending() == 0
    assert not server.api.outbox._queues


def test_a_dead_receiver_cannot_take_every_delivery_slot(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    raw_server: Callable[..., RawServer],
) -> None:
    from emulator.sender import MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ORIGIN

    assert MAX_IN_FLIGHT_PER_ORIGIN < MAX_IN_FLIGHT
    server = start_emulator(time_scale=1.0, webhook_timeout_secs=3.0, webhook_retry_delays=())
    hang = raw_server("hang")
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        for i in range(MAX_IN_FLIGHT + 8):  # more calls to the dead receiver than there are slots
            body = {"from": "+12125550199", "to": "+13125550100", "webhook_url": f"{hang.url}/{i}"}
            assert c.post("/_emulator/calls", json=body).status_code == 201
    wait_until(lambda: hang.connections >= MAX_IN_FLIGHT_PER_ORIGIN, 5, "the dead receiver's share")
    inbound(server, receiver.url + "/ok")
    receiver.wait_events(1, "/ok", timeout=2.5)  # within the dead receiver's 3 s timeout
    assert hang.connections == MAX_IN_FLIGHT_PER_ORIGIN  # never more at once than its share
    hooks = inspect(server, "webhooks")
    assert sum(h["status"] == "pending" for h in hooks) == MAX_IN_FLIGHT + 8


def test_failover_url_gets_one_attempt_after_the_retries(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(time_scale=1.0, webhook_retry_delays=(0.05,))
    receiver.respond("/primary", 503, 503)
    inbound(server, receiver.url + "/primary", webhook_failover_url=receiver.url + "/failover")
    got = receiver.wait_events(3)
    assert [(r.path, r.json["meta"]["attempt"]) for r in got] == [
        ("/primary", 1),
        ("/primary", 2),
        ("/failover", 3),
    ]
    wait_until(lambda: server.api.outbox.pending() == 0, 5, "the outbox to drain")


def test_records_are_capped_by_the_journal_limit(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    limit = 25
    server = start_emulator(time_scale=0, journal_limit=limit)
    ids = [inbound(server, f"{receiver.url}/c{i}") for i in range(60)]
    for ccid in ids[:40]:
        r = httpx.post(f"{server.base_url}/calls/{ccid}/actions/hangup", json={}, headers=AUTH)
        assert r.status_code == 200
    receiver.wait_events(100, timeout=20)  # 60 call.initiated + 40 call.hangup
    wait_until(lambda: server.api.outbox.pending() == 0, 10, "the outbox to drain")
    hooks = inspect(server, "webhooks")
    assert len(hooks) == limit  # the newest ones
    assert all(h["event_type"] == "call.hangup" for h in hooks)
    assert len(inspect(server, "commands")) == limit
    assert len(server.api.tenants[API_KEY].webhooks) == limit
