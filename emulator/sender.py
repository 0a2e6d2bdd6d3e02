"""The server's webhook pump: runs the engine's timeline on the wall clock and sends webhooks.

One task, started from the app's lifespan (never from Starlette ``BackgroundTasks``, which run
inside the request and are awaited by test transports; ANCHORS §0.6), sleeps until the next
thing is due, runs it, and starts one aiohttp request per ready attempt. The outbox only hands out
one attempt per call session at a time, so per-call order holds while calls proceed in parallel;
a slow or dead receiver only ever holds up its own call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time

import aiohttp
from yarl import URL

from .api import Api
from .delivery import Attempt
from .redaction import redact_url

log = logging.getLogger("telnyx_emulator.webhooks")
# Requests in flight at once, in all (the connection pool's size too) and to any one origin
# (scheme, host and port). More wait here, in order, before their timeout starts: queued inside
# the client's pool instead, a wait over the webhook timeout would fail an attempt that was never
# sent (and httpx rescanned its whole queue per request, quadratic at 1,000 calls). Few per origin
# is also fastest (bench/: 8 in flight delivered 3x the webhooks/s of 256); the larger total keeps
# dead receivers from taking every slot.
MAX_IN_FLIGHT = 64
MAX_IN_FLIGHT_PER_ORIGIN = 8
# Tenants (API keys) share the total, but none may hold more than half of it: one key's dead
# receivers, held webhooks or flood of calls leave the other half to everyone else. The
# per-origin share is per key too, so two keys' calls to one receiver do not queue together.
MAX_IN_FLIGHT_PER_TENANT = MAX_IN_FLIGHT // 2
# Redirects followed per attempt, as httpx's max_redirects=3 did (aiohttp's max_redirects counts
# the redirect responses, the last of which it refuses: 3 followed is max_redirects=4).
MAX_REDIRECTS = 3
# A URL made only of RFC 3986 characters and well-formed %XX escapes is sent byte for byte (yarl
# would otherwise "requote" it, turning the %2F of a GET webhook's query into "/", which breaks
# the signature over that query); anything else is normalised the way httpx did it.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SENDABLE_URL = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")


def new_session(timeout: float) -> aiohttp.ClientSession:
    """The one HTTP client of an app's lifespan (create it with the event loop running).

    The connector's total matches the sender's slots, so a request never waits inside it (where
    its timeout would run); the per-origin cap is the sender's own semaphores, keyed on the URL
    as written. ``trust_env=False`` (aiohttp's default; httpx's was True): HTTP(S)_PROXY,
    NO_PROXY and ~/.netrc are ignored, webhooks go straight to the URL they name, as the CLI's
    ``health`` command does. Cookies a receiver sets are not kept or sent back (Telnyx sends
    none; httpx kept them for the whole run, sharing them between calls). aiohttp adds the same
    ``Accept: */*`` and ``Accept-Encoding`` headers httpx did; the attempt carries User-Agent.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, limit_per_host=0),
        timeout=_client_timeout(timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


def _client_timeout(secs: float) -> aiohttp.ClientTimeout:
    # Connect, send and read in all. No rounding up to the next whole second past 5 s.
    return aiohttp.ClientTimeout(total=secs, ceil_threshold=math.inf)


def _sendable(url: str) -> URL:
    if _SENDABLE_URL.fullmatch(url):
        return URL(url, encoded=True)
    import httpx  # rare: spaces, non-ASCII, stray "%"; percent-encode (and IDNA) as before

    return URL(str(httpx.URL(url)), encoded=True)


class WebhookSender:
    def __init__(self, api: Api, client: aiohttp.ClientSession, *, timeout: float = 2.0) -> None:
        self.api = api
        self.client = client
        self.timeout = timeout
        self._timeout = _client_timeout(timeout)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        # (tenant, origin) and tenant -> (slots, [users]); dropped when nobody uses them.
        self._origins: dict[tuple[str, str], tuple[asyncio.Semaphore, list[int]]] = {}
        self._tenants: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

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
        tenant = attempt.record.tenant
        origin = (tenant, "/".join(attempt.url.split("/", 3)[:3]))  # scheme://host:port
        origin_slots, origin_users = self._origins.setdefault(
            origin, (asyncio.Semaphore(MAX_IN_FLIGHT_PER_ORIGIN), [0])
        )
        tenant_slots, tenant_users = self._tenants.setdefault(
            tenant, (asyncio.Semaphore(MAX_IN_FLIGHT_PER_TENANT), [0])
        )
        origin_users[0] += 1
        tenant_users[0] += 1
        try:
            # Narrowest first: a busy origin or tenant waits on its own share and never holds
            # a slot of the wider pools while it waits.
            async with origin_slots, tenant_slots, self._slots:
                await self._send_now(attempt)
        except Exception as exc:  # supervised: this webhook fails, visibly; the pump goes on
            self._broken(attempt, exc)
        finally:
            origin_users[0] -= 1
            if not origin_users[0]:
                del self._origins[origin]
            tenant_users[0] -= 1
            if not tenant_users[0]:
                del self._tenants[tenant]

    async def _send_now(self, attempt: Attempt) -> None:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        own = attempt.record.timeout_secs  # the connection's webhook_timeout_secs
        try:
            status, error = await self._follow(attempt, started, own)
        except (asyncio.TimeoutError, TimeoutError):  # aiohttp.ServerTimeoutError is one too
            error = "timeout"
        except aiohttp.ClientError as exc:
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

    async def _follow(
        self, attempt: Attempt, started: float, own: float | None
    ) -> tuple[int, str | None]:
        """Make the request, following up to MAX_REDIRECTS redirects, each checked against
        ``--webhook-allow`` before it is followed (the signed body must not leave the list by
        way of a 307). Returns (status, error); a blocked or one-too-many redirect is the 3xx
        with an error, which is not retried. The timeout bounds all hops together."""
        method, url, data = attempt.method, attempt.url, attempt.content or None
        allow = self.api.outbox.allow
        limit = self.timeout if own is None else own  # own: the connection's timeout
        timeout = self._timeout if own is None else _client_timeout(own)
        for hop in range(MAX_REDIRECTS + 1):
            async with self.client.request(
                method,
                _sendable(url),
                headers=attempt.headers,
                data=data,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                await response.read()  # all of it, so the connection goes back to the pool
                status = response.status
                location = response.headers.get("location")
            if status not in _REDIRECTS or not location:
                return status, None
            target = str(URL(url).join(URL(location)))
            if hop == MAX_REDIRECTS:
                return status, f"TooManyRedirects: more than {MAX_REDIRECTS} redirects"
            if allow is not None and not allow(target):
                shown = redact_url(target.split("?", 1)[0])
                return status, f"redirect to {shown} blocked: not in --webhook-allow"
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, data = "GET", None  # as browsers, httpx and aiohttp do
            url = target
            left = limit - (time.perf_counter() - started)
            if left <= 0:
                raise asyncio.TimeoutError
            timeout = _client_timeout(left)
        raise AssertionError("unreachable")  # the loop returns on its last hop

    def _broken(self, attempt: Attempt, exc: Exception) -> None:
        """Sending or settling an attempt raised (a bug, not a network error: those are
        outcomes). Logged with its traceback and recorded on the attempt; if the outbox still
        waits for this attempt's outcome, it gets one, so the call's next webhook goes on."""
        message = f"emulator error: {type(exc).__name__}: {exc}"
        record = attempt.record
        log.error(
            "webhook %s of call %s: %s",
            record.event_type,
            record.call_control_id,
            message,
            exc_info=exc,
            extra={
                "event": "webhook_failed",
                "event_type": record.event_type,
                "call_control_id": record.call_control_id,
                "error": message,
            },
        )
        rec = (
            record.attempts[attempt.number - 1] if len(record.attempts) >= attempt.number else None
        )
        if rec is not None and rec.status is None and rec.error is None:
            try:
                self.api.outbox.settle(attempt, self.api.clock.now(), error=message)
            except Exception:
                log.exception("settling the failed webhook %s failed too", record.id)
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


async def fetch_audio_length(session: aiohttp.ClientSession, url: str) -> float | None:
    """Download an audio file (at most ``audio_lengths.MAX_BYTES``, within
    ``FETCH_TIMEOUT_SECS``) and measure it; None when it cannot be had or measured, so the
    command falls back to the scenario's or the default length (emulator/audio_lengths.py)."""
    from .audio_lengths import FETCH_TIMEOUT_SECS, MAX_BYTES, measure

    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECS), allow_redirects=False
        ) as response:
            if response.status != 200:
                return None
            data = await response.content.read(MAX_BYTES + 1)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return None
    if len(data) > MAX_BYTES:
        return None
    return measure(data)
