"""Webhook delivery, without the network: what to send, to whom, in what order, and retries.

The engine puts each webhook it emits into the :class:`Outbox`. An adapter (the server's httpx
sender, or the pytest plugin's in-process dispatcher) asks the outbox which requests are
``ready`` at a given time, performs them, and reports each outcome with :meth:`Outbox.settle`.
Everything that decides behaviour lives here, so the server and the plugin retry, fail over,
sign and order identically:

- **Order.** One FIFO per call session: a session's next webhook is not sent before the previous
  one is settled (delivered, or failed for good), while different sessions never wait for each
  other. Telnyx does not promise order; delivering in order is the predictable default, and the
  fault-injection policies exist to test the other cases.
- **Retries.** 2xx is delivered. 408, 429, 5xx, timeouts and connection errors are retried after
  the delays of the command's ``webhook_retries_policies`` for that event, or the default
  schedule; other 4xx are not retried (Telnyx's voice webhook docs, NOTES §9). Then the
  failover URL, if the call has one, gets one attempt. ``meta.attempt`` counts every attempt.
- **Signing.** Each attempt's body is encoded once and signed with the wall-clock time at which
  it becomes ready, so the SDK's 300 s tolerance holds even on a virtual clock.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from .signing import Signer

Status = Literal["pending", "delivered", "failed", "not_sent"]

USER_AGENT = "telnyx-webhooks"
# (chosen) Telnyx documents no schedule for voice webhooks: 3 retries, 1 s, 2 s and 4 s apart.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0)


def retryable(status: int | None) -> bool:
    """Whether an outcome is worth another attempt (``None`` = timeout or connection error)."""
    return status is None or status in (408, 429) or status >= 500


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def flatten_query(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(chosen) How a webhook travels as GET query parameters, which Telnyx does not document:
    nested objects become dotted names (``data.payload.call_control_id``), lists and nulls are
    JSON-encoded (``[]``, ``null``), booleans are ``true``/``false``."""
    if isinstance(value, dict):
        items: list[tuple[str, str]] = []
        for key, sub in value.items():
            items.extend(flatten_query(sub, f"{prefix}.{key}" if prefix else str(key)))
        return items
    if isinstance(value, str):
        return [(prefix, value)]
    return [(prefix, json.dumps(value, separators=(",", ":")))]


@dataclass(slots=True)
class AttemptRecord:
    number: int
    url: str
    at: float  # engine clock
    status: int | None = None
    error: str | None = None
    latency_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "url": self.url,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "latency_ms": self.latency_ms,
        }


@dataclass(slots=True)
class WebhookRecord:
    """One webhook the engine emitted, and everything that happened to it."""

    id: str
    tenant: str
    event_type: str
    call_control_id: str
    call_session_id: str
    url: str | None
    method: str
    data: dict[str, Any]  # the envelope's "data" member; "meta" is per attempt
    created_at: float
    failover_url: str | None = None
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    status: Status = "pending"
    attempts: list[AttemptRecord] = field(default_factory=list)
    on_failover: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "call_control_id": self.call_control_id,
            "call_session_id": self.call_session_id,
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "attempts": [a.to_json() for a in self.attempts],
            "body": {"data": self.data, "meta": self.meta_for(len(self.attempts) or 1)},
        }

    def meta_for(self, attempt: int, url: str | None = None) -> dict[str, Any]:
        return {"attempt": attempt, "delivered_to": url or self.url}


@dataclass(slots=True)
class Attempt:
    """One HTTP request for an adapter to make, fully formed and signed."""

    record: WebhookRecord
    number: int
    method: str
    url: str
    headers: dict[str, str]
    content: bytes  # empty for GET (the event is in the URL's query string)

    @property
    def body(self) -> dict[str, Any]:
        return {"data": self.record.data, "meta": self.record.meta_for(self.number, self.url)}


@dataclass(slots=True)
class _Session:
    queue: deque[WebhookRecord] = field(default_factory=deque)
    in_flight: bool = False
    ready_at: float = 0.0


class Outbox:
    def __init__(
        self,
        signer: Signer,
        *,
        wall_clock: Callable[[], float],
        time_scale: float = 1.0,
        default_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.signer = signer
        self._wall_clock = wall_clock
        self.time_scale = time_scale
        self.default_retry_delays = default_retry_delays
        self._sessions: dict[str, _Session] = {}
        self._wakeups: list[tuple[float, int, str]] = []  # (ready_at, seq, session key)
        self._seq = itertools.count()
        self.delivered = 0
        self.failed = 0

    # -- the engine's side --------------------------------------------------------------------

    def put(self, record: WebhookRecord, now: float) -> None:
        if record.url is None:
            record.status = "not_sent"
            return
        key = record.call_session_id
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session()
        session.queue.append(record)
        if len(session.queue) == 1 and not session.in_flight:
            session.ready_at = now
            heapq.heappush(self._wakeups, (now, next(self._seq), key))

    # -- the adapter's side -------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        heap = self._wakeups
        while heap:
            when, _, key = heap[0]
            session = self._sessions.get(key)
            if session and session.queue and not session.in_flight and session.ready_at == when:
                return when
            heapq.heappop(heap)
        return None

    def ready(self, now: float) -> list[Attempt]:
        out: list[Attempt] = []
        heap = self._wakeups
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            session = self._sessions.get(key)
            if not session or not session.queue or session.in_flight or session.ready_at != when:
                continue
            session.in_flight = True
            out.append(self._attempt(session.queue[0], now))
        return out

    def _attempt(self, record: WebhookRecord, now: float) -> Attempt:
        number = len(record.attempts) + 1
        url = record.failover_url if record.on_failover else record.url
        assert url is not None
        record.attempts.append(AttemptRecord(number, url, now))
        body = {"data": record.data, "meta": record.meta_for(number, url)}
        headers = {"user-agent": USER_AGENT}
        if record.method == "GET":
            query = urlencode(flatten_query(body))
            url = f"{url}{'&' if '?' in url else '?'}{query}"
            content = b""
            signed = query.encode("utf-8")
        else:
            content = dumps(body)
            headers["content-type"] = "application/json"
            signed = content
        headers.update(self.signer.sign(signed, int(self._wall_clock())))
        return Attempt(record, number, record.method, url, headers, content)

    def settle(
        self,
        attempt: Attempt,
        now: float,
        *,
        status: int | None = None,
        error: str | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Report what happened to an attempt; decides retry, failover or the next webhook."""
        record = attempt.record
        rec = record.attempts[attempt.number - 1]
        rec.status, rec.error, rec.latency_ms = status, error, latency_ms
        key = record.call_session_id
        session = self._sessions[key]
        session.in_flight = False
        if status is not None and 200 <= status < 300:
            record.status = "delivered"
            self.delivered += 1
            self._advance(key, session, now)
            return
        delay = self._retry_delay(record, attempt.number, status)
        if delay is None:
            record.status = "failed"
            self.failed += 1
            self._advance(key, session, now)
            return
        session.ready_at = now + delay * self.time_scale
        heapq.heappush(self._wakeups, (session.ready_at, next(self._seq), key))

    def _retry_delay(self, record: WebhookRecord, number: int, status: int | None) -> float | None:
        if record.on_failover:
            return None
        if number <= len(record.retry_delays) and retryable(status):
            return record.retry_delays[number - 1]
        if record.failover_url:
            record.on_failover = True
            return 0.0
        return None

    def _advance(self, key: str, session: _Session, now: float) -> None:
        session.queue.popleft()
        if session.queue:
            session.ready_at = now
            heapq.heappush(self._wakeups, (now, next(self._seq), key))
        else:
            del self._sessions[key]

    def pending(self) -> int:
        return sum(len(s.queue) for s in self._sessions.values())

    def drop_tenant(self, tenant: str) -> None:
        """Forget queued webhooks of one tenant (``POST /_emulator/reset``)."""
        for key in list(self._sessions):
            session = self._sessions[key]
            head = [session.queue[0]] if session.in_flight else []  # settle() pops it later
            rest = list(session.queue)[len(head) :]
            kept = deque(head + [r for r in rest if r.tenant != tenant])
            if kept:
                session.queue = kept
            else:
                del self._sessions[key]
