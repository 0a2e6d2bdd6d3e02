"""The server's webhook pump: runs the engine's timeline on the wall clock and sends webhooks.

One task, started from the app's lifespan (never from Starlette ``BackgroundTasks``, which run
inside the request and are awaited by test transports; ANCHORS §0.6), sleeps until the next
thing is due, runs it, and starts one httpx request per ready attempt. The outbox only hands out
one attempt per call session at a time, so per-call order holds while calls proceed in parallel;
a slow or dead receiver only ever holds up its own call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from .api import Api
from .delivery import Attempt

log = logging.getLogger("telnyx_emulator.webhooks")
# Requests in flight at once, in all (the httpx pool's size too) and to any one origin (scheme,
# host and port). More wait here, in order: queued inside httpx's pool instead, every request
# rescans the whole queue (quadratic at 1,000 calls) and a wait over the webhook timeout would fail
# an attempt that was never sent. Few per origin is also fastest (bench/: 8 in flight delivered
# 3x the webhooks/s of 256); the larger total keeps dead receivers from taking every slot.
MAX_IN_FLIGHT = 64
MAX_IN_FLIGHT_PER_ORIGIN = 8


class WebhookSender:
    def __init__(self, api: Api, client: httpx.AsyncClient, *, timeout: float = 2.0) -> None:
        self.api = api
        self.client = client
        self.timeout = timeout
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._origins: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # slots, users

    def wake(self) -> None:
        """Something may be due sooner than the pump planned (a command was just handled)."""
        self._wake.set()

    async def run(self) -> None:
        api, clock = self.api, self.api.clock
        while not self._stopping:
            now = clock.now()
            for attempt in api.ready(now):
                task = asyncio.create_task(self._send(attempt))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wakeup = api.next_wakeup()
            timeout = None if wakeup is None else max(0.0, wakeup - clock.now())
            self._wake.clear()
            if timeout == 0.0:
                await asyncio.sleep(0)  # let the sends run before the next round
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, attempt: Attempt) -> None:
        origin = "/".join(attempt.url.split("/", 3)[:3])  # scheme://host:port
        slots, users = self._origins.setdefault(
            origin, (asyncio.Semaphore(MAX_IN_FLIGHT_PER_ORIGIN), [0])
        )
        users[0] += 1
        try:
            async with slots, self._slots:  # the origin's first: a busy origin can't hold them all
                await self._send_now(attempt)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._origins[origin]

    async def _send_now(self, attempt: Attempt) -> None:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self.client.request(
                attempt.method,
                attempt.url,
                headers=attempt.headers,
                content=attempt.content or None,
                timeout=self.timeout,
            )
            status = response.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # never let one bad URL kill the pump
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000.0
        record = attempt.record
        self.api.outbox.settle(
            attempt, self.api.clock.now(), status=status, error=error, latency_ms=latency
        )
        fault = record.attempts[attempt.number - 1].fault
        dropped = record.attempts[0].fault if attempt.number == 2 else None
        if dropped and "drop_first" in dropped.split("+"):
            # The dropped first attempt never reached the network, so it has no line of its own.
            fault = f"{dropped}+{fault}" if fault else dropped
        log.info(
            "webhook %s %s -> %s attempt=%d latency_ms=%.1f status=%s%s",
            record.event_type,
            attempt.url.split("?", 1)[0],
            status if status is not None else error,
            attempt.number,
            latency,
            record.status,
            f" fault={fault}" if fault else "",
            extra={
                "event": "webhook",
                "event_type": record.event_type,
                "url": attempt.url.split("?", 1)[0],
                "http_status": status,
                "error": error,
                "attempt": attempt.number,
                "latency_ms": round(latency, 1),
                "call_control_id": record.call_control_id,
                "delivery_status": record.status,
                "fault": fault,
            },
        )
        self.wake()

    async def stop(self, grace: float) -> int:
        """Stop planning new work, let in-flight requests finish within ``grace`` seconds.

        Returns how many webhooks were left undelivered.
        """
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        return self.api.outbox.pending()
