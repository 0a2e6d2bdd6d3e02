"""Webhook delivery, without the network: what to send, to whom, in what order, and retries.

The engine puts each webhook it emits into the :class:`Outbox`. An adapter (the server's aiohttp
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
- **Faults.** A webhook's :class:`~emulator.faults.DeliveryPolicy` can shuffle, delay, drop,
  duplicate or mis-sign it (seeded); every fault is recorded on the attempt it hit.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import orjson

from .faults import DEFAULT_DELIVERY, DeliveryPolicy
from .redaction import redact_url
from .signing import Signer
from .tenancy import tenant_id

if TYPE_CHECKING:
    from .events import EventLog

# recorded = handed to no app (the pytest plugin without deliver_to) but counted as accepted
Status = Literal["pending", "delivered", "recorded", "failed", "not_sent", "blocked"]

log = logging.getLogger("telnyx_emulator.webhooks")
USER_AGENT = "telnyx-webhooks"
# An attempt's headers the event log shows: the signature a receiver verifies, and what it was
# sent as. None of a webhook's headers carries a secret.
SHOWN_HEADERS = ("telnyx-signature-ed25519", "telnyx-timestamp", "content-type", "user-agent")
# (chosen) Telnyx documents no schedule for voice webhooks: 3 retries, 1 s, 2 s and 4 s apart.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0)


def retryable(status: int | None) -> bool:
    """Whether an outcome is worth another attempt (``None`` = timeout or connection error)."""
    return status is None or status in (408, 429) or status >= 500


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Telnyx sends it: every response, webhook and journal entry.

    orjson writes the same bytes as ``json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)`` about 15 times faster (0.2 vs 3.8 µs for a webhook's data; a transfer
    encodes about eight of these, bench/). What orjson refuses (integers beyond 64 bits, keys
    that are not strings, from a request body echoed in the journal) falls back to the standard
    library. Two differences remain, both only possible in a rejected request body shown in the
    journal: orjson writes NaN and infinities as ``null``, and exponents without a leading zero
    (``1e-7``, not ``1e-07``).
    """
    try:
        # A copy of the exact size: orjson hands back its whole working buffer (4 kB and up for
        # a 600-byte webhook), and journals keep thousands of these (bench/: 4 kB per call).
        return memoryview(orjson.dumps(value)).tobytes()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
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
    fault: str | None = None  # the injected fault this attempt carried, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "url": redact_url(self.url),
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "fault": self.fault,
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
    # The envelope's "data" member, JSON-encoded once when the event happens ("meta" is per
    # attempt). Records outlive their delivery in the journal; as bytes they cost a third of the
    # memory of nested dicts and nothing to the cyclic GC, whose pauses were a loaded server's
    # p99 (docs/performance.md). Read it decoded through ``data``.
    data_json: bytes
    created_at: float
    failover_url: str | None = None
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    policy: DeliveryPolicy = DEFAULT_DELIVERY
    # Seconds the app has to answer each attempt: its connection's webhook_timeout_secs; None =
    # the sender's default (--webhook-timeout).
    timeout_secs: float | None = None
    status: Status = "pending"
    attempts: list[AttemptRecord] = field(default_factory=list)
    on_failover: bool = False
    duplicate_due: bool = False  # delivered, and about to be delivered again (fault)
    queue_key: str = ""  # which outbox queue holds it
    extra_delay: float = 0.0  # injected delay, applied when it reaches the head of its queue
    first_fault: str | None = None  # "shuffled" / "delay": what held its first attempt back

    @property
    def data(self) -> dict[str, Any]:
        """The envelope's ``data`` member (a fresh copy each time)."""
        data: dict[str, Any] = json.loads(self.data_json)
        return data

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "call_control_id": self.call_control_id,
            "call_session_id": self.call_session_id,
            "url": redact_url(self.url),
            "method": self.method,
            "status": self.status,
            "attempts": [a.to_json() for a in self.attempts],
            "faults": sorted({f for a in self.attempts if a.fault for f in a.fault.split("+")}),
            "body": {
                "data": self.data,
                "meta": {
                    "attempt": len(self.attempts) or 1,
                    "delivered_to": redact_url(
                        self.attempts[-1].url if self.attempts else self.url
                    ),
                },
            },
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
class _Queue:
    """The webhooks waiting on one call session (or one shuffled webhook on its own)."""

    records: deque[WebhookRecord] = field(default_factory=deque)
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
        seed: int | None = None,
        allow: Callable[[str], bool] | None = None,
    ) -> None:
        self.signer = signer
        self._wall_clock = wall_clock
        self.time_scale = time_scale
        self.default_retry_delays = default_retry_delays
        self.allow = allow
        self.rng = random.Random(seed)
        self._queues: dict[str, _Queue] = {}
        self._wakeups: list[tuple[float, int, str]] = []  # (ready_at, seq, queue key)
        self._seq = itertools.count()
        self._pending = 0
        self._pending_by_tenant: dict[str, int] = {}  # per-key caps (--max-pending-webhooks)
        self.delivered = 0
        self.failed = 0
        self.events: EventLog | None = None  # told of each attempt's outcome while ``on``

    # -- the engine's side --------------------------------------------------------------------

    def put(self, record: WebhookRecord, now: float) -> None:
        if record.url is None:
            record.status = "not_sent"
            return
        if self.allow is not None and not self.allow(record.url):
            record.status = "blocked"
            return
        policy = record.policy
        if policy.order == "shuffled":
            # On its own queue: nothing waits behind it, so a call's webhooks overtake each other.
            key = f"{record.call_session_id}/{next(self._seq)}"
            delay = self.rng.uniform(0.0, policy.jitter)
        else:
            key = record.call_session_id
            delay = 0.0
        if policy.delay_max > 0:
            delay += self.rng.uniform(policy.delay_min, policy.delay_max)
        held = (("shuffled", policy.order == "shuffled"), ("delay", policy.delay_max > 0))
        record.first_fault = "+".join(name for name, on in held if on) or None  # on attempt 1
        record.queue_key = key
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        queue.records.append(record)
        self._pending += 1
        by_tenant = self._pending_by_tenant
        by_tenant[record.tenant] = by_tenant.get(record.tenant, 0) + 1
        if len(queue.records) == 1 and not queue.in_flight:
            self._schedule(key, queue, now + delay * self.time_scale)
        else:
            record.extra_delay = delay  # applies once the record reaches the head

    # -- the adapter's side -------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        heap = self._wakeups
        while heap:
            when, _, key = heap[0]
            queue = self._queues.get(key)
            if queue and queue.records and not queue.in_flight and queue.ready_at == when:
                return when
            heapq.heappop(heap)
        return None

    def ready(self, now: float) -> list[Attempt]:
        out: list[Attempt] = []
        heap = self._wakeups
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            queue = self._queues.get(key)
            if not queue or not queue.records or queue.in_flight or queue.ready_at != when:
                continue
            record = queue.records[0]
            policy = record.policy
            if (
                not record.attempts
                and policy.drop_first > 0
                and self.rng.random() < policy.drop_first
            ):
                # Lost on the way: the app never sees it, and the retry path runs.
                url = record.url
                assert url is not None
                fault = f"{record.first_fault}+drop_first" if record.first_fault else "drop_first"
                record.attempts.append(AttemptRecord(1, url, now, error="dropped", fault=fault))
                self._failed_attempt(key, queue, record, 1, None, now)
                if self.events is not None and self.events.on:
                    self._report(record, record.attempts[0], {})
                continue
            try:
                attempt = self._attempt(record, now)
            except Exception as exc:  # supervised: this webhook fails, the others go on
                self._broken(key, queue, record, now, exc)
                continue
            queue.in_flight = True
            out.append(attempt)
        return out

    def _broken(
        self, key: str, queue: _Queue, record: WebhookRecord, now: float, exc: Exception
    ) -> None:
        """Building an attempt raised (a bug): the webhook fails for good, visibly (its
        attempt's ``error`` in ``GET /_emulator/webhooks``, a log line with the traceback), and
        its call's next webhook goes on."""
        message = f"emulator error: {type(exc).__name__}: {exc}"
        url = (record.failover_url if record.on_failover else record.url) or ""
        record.attempts.append(AttemptRecord(len(record.attempts) + 1, url, now, error=message))
        if record.duplicate_due:  # the injected second copy failed; the webhook was delivered
            record.duplicate_due = False
        else:
            record.status = "failed"
            self.failed += 1
        log.error(
            "webhook %s of call %s could not be built: %s",
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
        self._done(key, queue, now)

    def _attempt(self, record: WebhookRecord, now: float) -> Attempt:
        number = len(record.attempts) + 1
        url = record.failover_url if record.on_failover else record.url
        assert url is not None
        fault = "duplicate" if record.duplicate_due else record.first_fault if number == 1 else None
        meta = record.meta_for(number, url)
        headers = {"user-agent": USER_AGENT}
        if record.method == "GET":
            query = urlencode(flatten_query({"data": record.data, "meta": meta}))
            url = f"{url}{'&' if '?' in url else '?'}{query}"
            content = b""
            signed = query.encode("utf-8")
        else:
            # dumps({"data": data, "meta": meta}), byte for byte, without encoding data again.
            content = b'{"data":' + record.data_json + b',"meta":' + dumps(meta) + b"}"
            headers["content-type"] = "application/json"
            signed = content
        timestamp = int(self._wall_clock())
        policy = record.policy
        signature_fault = policy.signature
        if signature_fault != "none" and self.rng.random() < policy.signature_rate:
            fault = (
                f"{fault}+signature_{signature_fault}" if fault else f"signature_{signature_fault}"
            )
            if signature_fault == "stale":
                headers.update(self.signer.sign(signed, timestamp - 600))
            elif signature_fault == "bad":
                headers.update(self.signer.sign(signed + b" ", timestamp))
        else:
            signature_fault = "none"
        if signature_fault == "none":
            headers.update(self.signer.sign(signed, timestamp))
        record.attempts.append(AttemptRecord(number, url.split("?", 1)[0], now, fault=fault))
        return Attempt(record, number, record.method, url, headers, content)

    def settle(
        self,
        attempt: Attempt,
        now: float,
        *,
        status: int | None = None,
        error: str | None = None,
        latency_ms: float | None = None,
        recorded: bool = False,
    ) -> None:
        """Report what happened to an attempt; decides retry, failover or the next webhook.

        ``recorded`` says no app received it (the in-process mock without ``deliver_to``): it
        counts as accepted, so the call's next webhook follows, but is not called delivered.
        """
        record = attempt.record
        rec = record.attempts[attempt.number - 1]
        rec.status, rec.error, rec.latency_ms = status, error, latency_ms
        self._settle(record, attempt.number, now, status, recorded)
        if self.events is not None and self.events.on:
            self._report(record, rec, attempt.headers)

    def _report(self, record: WebhookRecord, rec: AttemptRecord, headers: dict[str, str]) -> None:
        """An attempt's outcome for the event log, with the signature headers it carried."""
        assert self.events is not None
        self.events.record(
            "attempt",
            tenant_id(record.tenant),
            {
                "webhook_id": record.id,
                "event_type": record.event_type,
                "webhook_status": record.status,
                "attempt": rec.to_json(),
                "headers": {k: headers[k] for k in SHOWN_HEADERS if k in headers},
            },
            call_control_id=record.call_control_id,
            call_session_id=record.call_session_id,
        )

    def _settle(
        self, record: WebhookRecord, number: int, now: float, status: int | None, recorded: bool
    ) -> None:
        key, queue = self._queue_of(record)
        queue.in_flight = False
        if record.duplicate_due:  # the second copy went out; the record was delivered already
            record.duplicate_due = False
            self._done(key, queue, now)
            return
        if status is not None and 200 <= status < 300:
            record.status = "recorded" if recorded else "delivered"
            self.delivered += 1
            duplicate = record.policy.duplicate
            if duplicate > 0 and self.rng.random() < duplicate:
                record.duplicate_due = True
                self._schedule(key, queue, now)
                return
            self._done(key, queue, now)
            return
        self._failed_attempt(key, queue, record, number, status, now)

    def _failed_attempt(
        self,
        key: str,
        queue: _Queue,
        record: WebhookRecord,
        number: int,
        status: int | None,
        now: float,
    ) -> None:
        delay = self._retry_delay(record, number, status)
        if delay is None:
            record.status = "failed"
            self.failed += 1
            self._done(key, queue, now)
            return
        self._schedule(key, queue, now + delay * self.time_scale)

    def _retry_delay(self, record: WebhookRecord, number: int, status: int | None) -> float | None:
        if record.on_failover:
            return None
        if number <= len(record.retry_delays) and retryable(status):
            return record.retry_delays[number - 1]
        if record.failover_url:
            record.on_failover = True
            return 0.0
        return None

    def _queue_of(self, record: WebhookRecord) -> tuple[str, _Queue]:
        return record.queue_key, self._queues[record.queue_key]

    def _schedule(self, key: str, queue: _Queue, when: float) -> None:
        queue.ready_at = when
        heapq.heappush(self._wakeups, (when, next(self._seq), key))

    def _done(self, key: str, queue: _Queue, now: float) -> None:
        record = queue.records.popleft()
        self._pending -= 1
        self._forget_pending(record.tenant, 1)
        if queue.records:
            self._schedule(key, queue, now + queue.records[0].extra_delay * self.time_scale)
        else:
            del self._queues[key]
        del record

    def _forget_pending(self, tenant: str, count: int) -> None:
        left = self._pending_by_tenant[tenant] - count
        if left:
            self._pending_by_tenant[tenant] = left
        else:
            del self._pending_by_tenant[tenant]

    def pending(self, tenant: str | None = None) -> int:
        """Webhooks waiting (queued, in flight or between retries): all, or one API key's."""
        if tenant is None:
            return self._pending
        return self._pending_by_tenant.get(tenant, 0)

    def undelivered(self) -> list[WebhookRecord]:
        """The webhooks still waiting (queued, in flight or between retries), oldest first."""
        waiting = [r for queue in self._queues.values() for r in queue.records]
        return sorted(waiting, key=lambda r: r.created_at)

    def drop_tenant(self, tenant: str) -> None:
        """Forget queued webhooks of one tenant (``POST /_emulator/reset``)."""
        for key in list(self._queues):
            queue = self._queues[key]
            head = [queue.records[0]] if queue.in_flight else []  # settle() pops it later
            rest = list(queue.records)[len(head) :]
            kept = deque(head + [r for r in rest if r.tenant != tenant])
            dropped = len(queue.records) - len(kept)
            if dropped:
                self._pending -= dropped
                self._forget_pending(tenant, dropped)
            if kept:
                queue.records = kept
                if not queue.in_flight:
                    self._schedule(key, queue, queue.ready_at)
            else:
                del self._queues[key]
