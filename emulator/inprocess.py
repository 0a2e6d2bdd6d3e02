"""The emulator in-process: Telnyx API calls answered by the engine, webhooks in virtual time.

Tests of a Telnyx app want three things a remote emulator can't give them: no server to start,
no waiting for timers, and webhooks delivered straight into the app under test. This module gives
all three on top of the same :class:`~emulator.api.Api` the server uses, so validation, errors,
state rules and webhook bodies are identical in both:

- **Requests.** respx (``using="httpx"``, which patches ``Client._transport_for_url`` and so
  catches every transport, the SDK's included) routes each request for the Telnyx API into
  :meth:`Api.handle <emulator.api.Api.handle>`. Every path under the captured origins goes to the
  engine, none is special-cased, so commands added to the API later work here unchanged. Other
  hosts pass through untouched.
- **Time.** The engine runs on a :class:`~emulator.clock.VirtualClock` that moves only in
  :meth:`TelnyxEmulator.advance` and :meth:`TelnyxEmulator.run_until_idle`, which jump from one
  due event to the next. Nothing sleeps. Signatures still carry the wall-clock time, because the
  SDK's verifier rejects timestamps more than 300 s away from ``time.time()``.
- **Webhooks.** Each webhook the outbox hands out is delivered to the app registered with
  :meth:`TelnyxEmulator.deliver_to` (ASGI or WSGI, called directly, chosen by the path of the
  webhook's URL), or only recorded. The app's status goes back to the outbox, so retries,
  failover and per-call ordering behave as with the server, in virtual time.

Re-entrancy is the normal case: an app that answers a webhook by calling the SDK sends that
request back through respx into the engine while the delivery is still in progress. The engine is
synchronous and no lock is held while the app runs, so that works from any thread or event loop
the app's handler runs on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import io
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
import respx
from respx.mocks import HTTPXMocker

from . import config_file
from .api import SCENARIO_HEADER, Api, ApiRequest, ApiResponse
from .clock import VirtualClock
from .config import MAX_RETRIES, MAX_SECONDS, MAX_SEED, MAX_TIME_SCALE, Settings
from .connections import ConnectionSpec
from .delivery import Attempt
from .faults import CommandFaults, DeliveryPolicy
from .inprocess_streams import InProcessStreams, StreamConnection, StreamHandler
from .tenancy import CALL_PATH, SINGLE
from .tenancy import check as check_tenancy

if TYPE_CHECKING:
    import telnyx

__all__ = [
    "DEFAULT_BASE_URL",
    "OPTIONS",
    "Call",
    "EmulatorError",
    "StreamConnection",
    "TelnyxEmulator",
    "Webhook",
    "mock",
]

log = logging.getLogger("telnyx_emulator.mock")

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
IN_PROCESS_ORIGIN = "http://telnyx-emulator.local"  # where in-process recording links point
DEFAULT_API_KEY = "KEY_TELNYX_EMULATOR"
DEFAULT_WEBHOOK_URL = "http://testserver/webhook"
DEFAULT_FROM = "+12125550199"
DEFAULT_TO = "+13125550100"
# The real API is captured whatever the base URL, so a test can never reach it by accident.
TELNYX_ORIGIN = "https://api.telnyx.com"
# A call that stays up ends on its 4 h time_limit timer; stopping an hour in never reaches it.
DEFAULT_IDLE_BOUND_SECS = 3600.0
# An app that answers every webhook with a command that causes another webhook, at time_scale 0,
# never lets time move; this many deliveries in one drive is taken to be that loop.
MAX_DELIVERIES_PER_DRIVE = 100_000
_SDK_RETRIES = frozenset({408, 409, 429})  # and 5xx: what the SDK retries after sleeping
INTERNAL_ERROR = {
    "code": "10007",
    "title": "Unexpected error",
    "detail": "An unexpected error occurred in the emulator.",
}

OPTIONS = (
    "scenarios",
    "scenario",
    "time_scale",
    "seed",
    "base_url",
    "api_key",
    "strict",
    "signing_key",
    "start",
    "webhook_url",
    "env",
    "retry_delays",
    "delivery",
    "command_faults",
    "config",
    "connections",
    "unknown_connections",
    "tenancy",
)

T = TypeVar("T")
AppKind = Literal["asgi", "wsgi"]


class EmulatorError(Exception):
    """The emulator refused a helper call (e.g. :meth:`TelnyxEmulator.create_call`)."""

    def __init__(self, status: int, payload: Any) -> None:
        self.status = status
        self.payload = payload
        self.errors: list[dict[str, Any]] = (
            list(payload.get("errors", [])) if isinstance(payload, dict) else []
        )
        details = "; ".join(
            f"{e.get('code')} {e.get('title')}: {e.get('detail')}" for e in self.errors
        )
        super().__init__(f"HTTP {status}: {details or payload!r}")


@dataclass(frozen=True, slots=True)
class Call:
    """A simulated inbound call, as :meth:`TelnyxEmulator.create_call` made it; ``press``,
    ``say`` and ``hang_up`` act as the caller (see :meth:`TelnyxEmulator.press`)."""

    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    data: dict[str, Any]  # the inspection API's view of the leg when it was created
    emulator: TelnyxEmulator | None = field(default=None, repr=False, compare=False)

    def press(self, digits: str) -> None:
        self._emulator().press(self.call_control_id, digits)

    def say(self, text: str) -> None:
        self._emulator().say(self.call_control_id, text)

    def hang_up(self) -> None:
        self._emulator().hang_up(self.call_control_id)

    def _emulator(self) -> TelnyxEmulator:
        if self.emulator is None:
            raise RuntimeError("this Call was not made by TelnyxEmulator.create_call")
        return self.emulator


@dataclass(slots=True)
class Webhook:
    """One webhook request made to the app (or recorded, when no app was attached).

    Every attempt is an entry: a webhook the app answered with 500 and then 200 appears twice,
    with ``attempt`` 1 and 2, because the app really saw it twice.
    """

    event_type: str
    call_control_id: str
    call_session_id: str
    id: str  # the event id (data.id), shared by every attempt of one webhook
    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    raw: bytes = field(repr=False)  # the request body: the signed bytes (POST); b"" for GET
    attempt: int = 1
    at: float = 0.0  # virtual time of the attempt
    status: int | None = None  # what the app answered; None = recorded only, not delivered
    response: bytes = field(default=b"", repr=False)  # the app's response body, for debugging
    _attempt: Attempt | None = field(default=None, repr=False)
    _body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def body(self) -> dict[str, Any]:
        """The webhook as the app received it: ``raw`` parsed (or the event a GET carries)."""
        if self._body is None:
            if self.raw:
                self._body = json.loads(self.raw)
            else:
                assert self._attempt is not None
                self._body = self._attempt.body
        return self._body

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.body["data"]["payload"]
        return payload

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class _Target:
    app: Any
    kind: AppKind
    url: str | None  # only webhooks whose URL starts with this; None = all
    raise_exceptions: bool


@dataclass(slots=True)
class _Outcome:
    status: int | None
    error: str | None = None
    response: bytes = b""
    exc: BaseException | None = None
    raise_exc: bool = False
    target: _Target | None = None


class TelnyxEmulator:
    """The in-process emulator a test drives; :func:`mock` and the pytest fixture make one."""

    def __init__(
        self,
        *,
        scenarios: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = (),
        scenario: str | None = None,
        time_scale: float = 1.0,
        seed: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        strict: bool = False,
        signing_key: str | None = None,
        start: float | None = None,
        webhook_url: str = DEFAULT_WEBHOOK_URL,
        env: bool = True,
        retry_delays: Sequence[float] | None = None,
        delivery: str | dict[str, Any] | None = None,
        command_faults: str | dict[str, Any] | None = None,
        config: str | os.PathLike[str] | None = None,
        connections: Sequence[Mapping[str, Any]] = (),
        unknown_connections: str = "accept",
        tenancy: str = SINGLE,
    ) -> None:
        if isinstance(scenarios, (str, os.PathLike)):
            scenarios = [scenarios]
        overrides: dict[str, Any] = {}
        # Connections and numbers: the config file's, then the marker's own.
        specs: tuple[ConnectionSpec, ...] = ()
        if config is not None:
            loaded = config_file.load(Path(config))
            specs = loaded.connections
            scenarios = [*loaded.scenario_paths, *scenarios]
        if connections:
            specs = (*specs, *config_file.specs_from_mappings(connections))
        if unknown_connections not in ("accept", "reject"):
            raise ValueError(
                f"unknown_connections must be accept or reject, got {unknown_connections!r}"
            )
        _in_range("time_scale", time_scale, 0, MAX_TIME_SCALE)
        if seed is not None:
            _in_range("seed", seed, -MAX_SEED, MAX_SEED, whole=True)
        if start is not None:
            _in_range("start", start, 0, MAX_START)
        if retry_delays is not None:
            if isinstance(retry_delays, (str, bytes)) or len(retry_delays) > MAX_RETRIES:
                raise ValueError(
                    f"retry_delays must be a list of at most {MAX_RETRIES} delays in seconds, "
                    f"got {retry_delays!r}"
                )
            overrides["webhook_retry_delays"] = tuple(
                float(_in_range("retry_delays", d, 0, MAX_SECONDS)) for d in retry_delays
            )
        self.settings = Settings(
            time_scale=time_scale,
            strict=strict,
            scenario_dirs=tuple(Path(p) for p in scenarios),
            signing_key=signing_key,
            seed=seed,
            connections=specs,
            unknown_connections=unknown_connections,
            config_file=None if config is None else Path(config),
            tenancy=check_tenancy(tenancy),
            forget_idle_tenants=False,  # the test reads every key's journal at its end
            **overrides,
        )
        self.clock = VirtualClock(start)
        self.api = Api(self.settings, clock=self.clock, wall_clock=time.time)
        # Faults given as mappings (the marker's natural form) or CLI-style strings.
        if delivery is not None:
            self.api.default_delivery = DeliveryPolicy.from_json(delivery)
        if command_faults is not None:
            self.api.default_command_faults = CommandFaults.from_json(command_faults)
        if scenario is not None and self.api.scenarios.get(scenario) is None:
            known = ", ".join(sorted(s.name for s in self.api.scenarios))
            raise ValueError(f"no scenario named {scenario!r}; known: {known}")
        self.scenario = scenario
        self.base_url = (base_url or os.environ.get("TELNYX_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.api_key = api_key or os.environ.get("TELNYX_API_KEY") or DEFAULT_API_KEY
        self.webhook_url = webhook_url
        self.webhooks: list[Webhook] = []
        self.internal_errors: list[Exception] = []  # emulator bugs met while answering requests
        self._env = env
        self._saved_env: dict[str, str | None] = {}
        self._targets: list[_Target] = []
        self._lock = threading.RLock()  # guards the engine; never held while the app runs
        self._driving = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._router: Any = None
        self._streams = InProcessStreams(self.api, self.clock, self._lock)
        base = urlsplit(self.base_url)
        self._base_path = base.path.rstrip("/")
        # Recording links point at the emulator's own origin, which the mock serves too.
        self.api.links.url = self.settings.public_url or IN_PROCESS_ORIGIN
        self._origins = {
            _origin(self.base_url),
            _origin(TELNYX_ORIGIN),
            _origin(self.api.links.url),
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TelnyxEmulator:
        """Start intercepting requests (``with`` does this; for unittest ``setUp``)."""
        if self._router is not None:
            return self
        # assert_all_mocked: a request declined by _not_ours goes on to the next router.
        router = respx.mock(using="httpx", assert_all_called=False, assert_all_mocked=True)
        router.route().mock(side_effect=self._on_request)
        router.start()
        self._router = router
        if self._env:
            for name, value in (
                ("TELNYX_API_KEY", self.api_key),
                ("TELNYX_PUBLIC_KEY", self.public_key),
                ("TELNYX_BASE_URL", self.base_url),
            ):
                self._saved_env[name] = os.environ.get(name)
                os.environ[name] = value
        return self

    def stop(self) -> None:
        """Stop intercepting, restore the environment, close the private event loop."""
        router, self._router = self._router, None
        if router is not None:
            router.stop(quiet=True)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # the usual case: no loop running here, so clean up properly
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> TelnyxEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a test looks at -----------------------------------------------------------------

    @property
    def public_key(self) -> str:
        """Base64 Ed25519 key that verifies the webhooks (``client.webhooks.unwrap(key=...)``)."""
        return self.api.signer.public_key

    @property
    def now(self) -> float:
        """The virtual time, Unix seconds (what webhook bodies' timestamps are made of)."""
        return self.clock.now()

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every leg of the test's API key, as ``GET /_emulator/calls`` shows it."""
        return self._list("/_emulator/calls")

    def call(self, call_control_id: str) -> dict[str, Any]:
        for leg in self.calls:
            if leg["call_control_id"] == call_control_id:
                return leg
        raise KeyError(call_control_id)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command journal (accepted, duplicate and rejected), oldest first."""
        return self._list("/_emulator/commands")

    def events(self, call_control_id: str | None = None) -> list[str]:
        """Event types of :attr:`webhooks` (optionally of one leg), in delivery order."""
        return [
            w.event_type
            for w in self.webhooks
            if call_control_id is None or w.call_control_id == call_control_id
        ]

    def webhooks_for(
        self, call_control_id: str | None = None, event_type: str | None = None
    ) -> list[Webhook]:
        return [
            w
            for w in self.webhooks
            if (call_control_id is None or w.call_control_id == call_control_id)
            and (event_type is None or w.event_type == event_type)
        ]

    def pending(self) -> int:
        """Webhooks waiting to be delivered (queued, or waiting for a retry)."""
        with self._lock:
            return self.api.outbox.pending()

    # -- what a test does ---------------------------------------------------------------------

    def create_call(
        self,
        to: str = DEFAULT_TO,
        from_: str = DEFAULT_FROM,
        webhook_url: str | None = None,
        **extra: Any,
    ) -> Call:
        """Make a call arrive at the app; its ``call.initiated`` goes out at the next
        :meth:`advance` or :meth:`run_until_idle`.

        Goes through ``POST /_emulator/calls`` so the body is validated as the server does;
        ``extra`` takes that endpoint's other fields (``client_state``, ``hangup_after_secs``,
        ``scenario``: the name of a scenario whose ``far_end`` steps script the caller...).
        """
        body = {"from": from_, "to": to, **extra}
        if webhook_url is not None:
            body["webhook_url"] = webhook_url
        elif not self._has_connection(to, extra.get("connection_id")):
            # No connection takes this call: the fixture's default URL, as before connections.
            body["webhook_url"] = self.webhook_url
        response = self.request("POST", "/_emulator/calls", body)
        if response.status >= 300:
            raise EmulatorError(response.status, response.payload)
        data: dict[str, Any] = response.payload["data"]
        return Call(
            call_control_id=data["call_control_id"],
            call_leg_id=data["call_leg_id"],
            call_session_id=data["call_session_id"],
            connection_id=data["connection_id"],
            data=data,
            emulator=self,
        )

    # -- the person on the line (POST /_emulator/calls/{id}/dtmf, /speech, /hangup) -----------

    def press(self, call_control_id: str, digits: str) -> None:
        """The far end of the call presses ``digits`` now: ``call.dtmf.received`` for each
        (delivered at the next :meth:`advance`), collected by a running gather."""
        self._far_end(call_control_id, "dtmf", {"digits": digits})

    def say(self, call_control_id: str, text: str) -> None:
        """The far end says ``text`` now: a running transcription hears it."""
        self._far_end(call_control_id, "speech", {"text": text})

    def hang_up(self, call_control_id: str) -> None:
        """The far end hangs up: ``call.hangup`` with ``hangup_source`` caller (an inbound
        call) or callee (an outbound one)."""
        self._far_end(call_control_id, "hangup", {})

    def _far_end(self, call_control_id: str, action: str, body: dict[str, Any]) -> None:
        response = self.request("POST", f"/_emulator/calls/{call_control_id}/{action}", body)
        if response.status >= 300:
            raise EmulatorError(response.status, response.payload)

    def _has_connection(self, to: str, connection_id: Any) -> bool:
        """Whether an inbound call would report to a connection (its number's, the one named,
        or the default), so it needs no ``webhook_url``."""
        with self._lock:
            store = self.api.tenant(self.api_key).connections
            ident = connection_id if isinstance(connection_id, str) else store.for_inbound(to)
            return ident is not None and store.reporting_to(ident) is not None

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send one request straight to the engine, authenticated with the test's API key."""
        hdrs = {"authorization": f"Bearer {self.api_key}", "content-type": "application/json"}
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        content = b"" if json_body is None else json.dumps(json_body).encode("utf-8")
        with self._lock:
            return self.api.handle(ApiRequest(method, path, hdrs, content, dict(query or {})))

    def deliver_to(
        self,
        app: Any,
        *,
        url: str | None = None,
        kind: AppKind | None = None,
        raise_app_exceptions: bool = True,
    ) -> None:
        """Deliver webhooks to ``app`` in-process, routed by the path and query of their URL.

        ``app`` is an ASGI app (Starlette, FastAPI, Django's ASGIHandler) or a WSGI app (Flask,
        Django's WSGIHandler); ``kind`` overrides the guess. With ``url``, only webhooks whose URL
        starts with it go to this app (several apps can be attached; the latest match wins).
        An exception in the app counts as a 500 for the outbox (so retries follow) and is then
        raised out of :meth:`advance`/:meth:`run_until_idle`, unless ``raise_app_exceptions`` is
        False. Lifespan events are not sent (as with ``httpx.ASGITransport``).
        """
        self._targets.append(_Target(app, kind or _guess_kind(app), url, raise_app_exceptions))

    def stream_to(
        self,
        handler: StreamHandler | None = None,
        *,
        url: str | None = None,
        refuse: bool = False,
    ) -> None:
        """Where media streams go in-process (see :mod:`emulator.inprocess_streams`).

        ``handler(stream, message)`` is called with each message the emulator sends on a
        stream whose ``stream_url`` starts with ``url`` (all streams without it; the latest
        match wins); it answers with ``stream.send({...})``. ``refuse=True``: the connection
        is refused (``streaming.failed``). Without any, streams connect and are recorded.
        """
        self._streams.add_target(handler, url, refuse)

    @property
    def streams(self) -> list[StreamConnection]:
        """Every media stream so far, in the order they connected."""
        return list(self._streams.connections)

    def streams_for(self, call_control_id: str) -> list[StreamConnection]:
        return self._streams.for_call(call_control_id)

    def advance(self, seconds: float) -> list[Webhook]:
        """Run everything due within ``seconds`` of virtual time, in order, then leave the clock
        at now + ``seconds``. Returns the webhooks delivered meanwhile."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        deadline = self.clock.now() + seconds
        delivered = self._run_sync(deadline)
        if deadline > self.clock.now():
            self.clock.set(deadline)
            delivered += self._run_sync(deadline)  # the stream frames due by the deadline
        return delivered

    def run_until_idle(self, max_seconds: float = DEFAULT_IDLE_BOUND_SECS) -> list[Webhook]:
        """Run until nothing is due within ``max_seconds``; the clock stops at the last event.

        The bound exists because a call that stays up (bridged, never hung up) ends only on its
        ``time_limit_secs`` timer (4 h by default), so "idle" would otherwise mean "4 h later".
        With the default bound, such calls are left up and their pending timers untouched.
        """
        return self._run_sync(self.clock.now() + max_seconds)

    async def aadvance(self, seconds: float) -> list[Webhook]:
        """:meth:`advance` for async tests: ASGI apps run on the test's own event loop."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        deadline = self.clock.now() + seconds
        delivered = await self._drive_async(deadline)
        if deadline > self.clock.now():
            self.clock.set(deadline)
            delivered += await self._drive_async(deadline)
        return delivered

    async def arun_until_idle(self, max_seconds: float = DEFAULT_IDLE_BOUND_SECS) -> list[Webhook]:
        """:meth:`run_until_idle` for async tests."""
        return await self._drive_async(self.clock.now() + max_seconds)

    # -- SDK clients --------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> telnyx.Telnyx:
        """A ``telnyx.Telnyx`` client set up for this emulator (key, base URL, public key)."""
        import telnyx

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("public_key", self.public_key)
        return telnyx.Telnyx(**kwargs)

    def async_client(self, **kwargs: Any) -> telnyx.AsyncTelnyx:
        import telnyx

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("public_key", self.public_key)
        return telnyx.AsyncTelnyx(**kwargs)

    # -- requests from the app and the test ---------------------------------------------------

    def _on_request(self, request: httpx.Request) -> httpx.Response | httpx.Request | None:
        """respx side effect: answer requests for the Telnyx API, let everything else through."""
        url = request.url
        if (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)) not in self._origins:
            return self._not_ours(request)
        path = url.path
        base = self._base_path
        if base and (path == base or path.startswith(base + "/")):
            # Hand the engine the path the real API would see, whatever the base URL's prefix.
            path = "/v2" + path[len(base) :]
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.scenario is not None and SCENARIO_HEADER not in headers:
            headers[SCENARIO_HEADER] = self.scenario
        api_request = ApiRequest(request.method, path, headers, request.content, dict(url.params))
        try:
            with self._lock:
                result = self.api.handle(api_request)
        except Exception as exc:  # an emulator bug: answer like the server, keep the traceback
            log.exception("unexpected error handling %s %s", request.method, path)
            self.internal_errors.append(exc)
            result = ApiResponse(500, {"errors": [INTERNAL_ERROR]})
        if result.status in (404, 422):
            self._hint_other_tenant(path, headers.get("authorization", ""))
        out_headers = dict(result.headers)
        if result.payload is not None:
            out_headers.setdefault("content-type", "application/json")
        injected = bool(result.journal and result.journal.get("fault"))
        if result.hold_secs:
            # Injected "timeout" fault: the command was applied, the answer never comes.
            raise httpx.ReadTimeout("injected fault: the command was applied", request=request)
        if injected:
            # An injected 429/500 is there to exercise the SDK's retry: let it retry at once.
            out_headers["retry-after-ms"] = "1"
        elif result.status in _SDK_RETRIES or result.status >= 500:
            # The SDK would sleep and retry these; on a frozen virtual clock nothing changes
            # meanwhile, so tell it not to (the one header the real API wouldn't send).
            out_headers["x-should-retry"] = "false"
        content = b"" if request.method == "HEAD" else result.content
        return httpx.Response(result.status, headers=out_headers, content=content)

    def _hint_other_tenant(self, path: str, authorization: str) -> None:
        """With ``tenancy="per_key"``, the classic mistake: a client built with another API key
        than the fixture's, which is another tenant, so the fixture's calls are "not found". The
        422 says so without naming keys (as the server's does); the test's log names both."""
        match = CALL_PATH.match(path)
        if match is None:
            return
        used = authorization.partition(" ")[2].strip()
        for key, engine in list(self.api.tenants.items()):
            if key != used and engine.calls.get(match["id"]) is not None:
                log.warning(
                    "call %s belongs to API key %r, but the request used %r: with "
                    "tenancy='per_key' each API key is its own tenant. Build the client with "
                    "telnyx.Telnyx() (the fixture sets TELNYX_API_KEY) or "
                    "api_key=telnyx_emulator.api_key.",
                    match["id"],
                    key,
                    used,
                )
                return

    def _not_ours(self, request: httpx.Request) -> httpx.Request | None:
        """Pass other hosts through, unless the test runs respx routers of its own in httpx
        mode. Then decline (no match), so those routers decide whatever their start order:
        respx asks routers in turn, and a pass-through from ours would skip the ones after it.
        (Routers in respx's default httpcore mode sit below ours and see passed-through
        requests anyway.)"""
        routers = getattr(HTTPXMocker, "routers", [])
        if any(router is not self._router for router in routers):
            return None
        return request

    def _list(self, path: str) -> list[dict[str, Any]]:
        response = self.request("GET", path)
        if response.status != 200:
            raise EmulatorError(response.status, response.payload)
        data: list[dict[str, Any]] = response.payload["data"]
        return data

    # -- driving virtual time -----------------------------------------------------------------

    def _run_sync(self, deadline: float) -> list[Webhook]:
        if any(t.kind == "asgi" for t in self._targets):
            return self._run_coroutine(self._drive_async(deadline))
        return self._drive(deadline)

    def _drive(self, deadline: float) -> list[Webhook]:
        first = len(self.webhooks)
        steps = self._steps(deadline)
        try:
            attempt = next(steps)
            while True:
                attempt = steps.send(self._deliver(attempt))
        except StopIteration:
            pass
        finally:
            steps.close()
        return self.webhooks[first:]

    async def _drive_async(self, deadline: float) -> list[Webhook]:
        first = len(self.webhooks)
        steps = self._steps(deadline)
        try:
            attempt = next(steps)
            while True:
                attempt = steps.send(await self._adeliver(attempt))
        except StopIteration:
            pass
        finally:
            steps.close()  # a cancelled test must not leave the clock marked as running
        return self.webhooks[first:]

    def _steps(self, deadline: float) -> Generator[Attempt, _Outcome, None]:
        """The one driving loop, shared by sync and async callers: yields each attempt to make,
        receives its outcome, settles it, and moves the clock from one due event to the next."""
        if self._driving:
            raise RuntimeError(
                "advance()/run_until_idle() called from inside a webhook delivery; "
                "the emulator is already running the clock"
            )
        self._driving = True
        api, clock, lock = self.api, self.clock, self._lock
        budget = MAX_DELIVERIES_PER_DRIVE
        try:
            streams = self._streams
            while True:
                # Stream frames due by now go before the timeline steps due now.
                moved = streams.pump()
                with lock:
                    batch = api.ready(clock.now())
                    moved = moved or api.streams.has_new()
                if batch:
                    for attempt in batch:
                        outcome = yield attempt
                        now = clock.now()
                        self.webhooks.append(_webhook(attempt, outcome, now))
                        with lock:
                            api.outbox.settle(
                                attempt,
                                now,
                                status=200 if outcome.target is None else outcome.status,
                                error=outcome.error,
                                recorded=outcome.target is None,
                            )
                        if outcome.exc is not None and outcome.raise_exc:
                            raise outcome.exc
                        budget -= 1
                        if budget <= 0:
                            raise RuntimeError(
                                f"{MAX_DELIVERIES_PER_DRIVE} webhooks in one drive: the app and "
                                "the emulator seem to be answering each other forever"
                            )
                    continue
                if moved:
                    continue
                with lock:
                    wake = api.next_wakeup()
                    frame = streams.next_due()
                if frame is not None and (wake is None or frame < wake):
                    wake = frame
                if wake is None or wake > deadline:
                    return
                if wake > clock.now():
                    clock.set(wake)
        finally:
            self._driving = False

    def _target(self, url: str) -> _Target | None:
        for target in reversed(self._targets):
            if target.url is None or url.startswith(target.url):
                return target
        return None

    def _deliver(self, attempt: Attempt) -> _Outcome:
        target = self._target(attempt.url)
        if target is None:
            return _Outcome(None)
        if target.kind == "wsgi":
            return _guard(target, lambda: _call_wsgi(target.app, attempt))
        return _guard(target, lambda: self._run_coroutine(_call_asgi(target.app, attempt)))

    async def _adeliver(self, attempt: Attempt) -> _Outcome:
        target = self._target(attempt.url)
        if target is None:
            return _Outcome(None)
        if target.kind == "wsgi":
            return _guard(target, lambda: _call_wsgi(target.app, attempt))
        try:
            status, body = await _call_asgi(target.app, attempt)
        except Exception as exc:
            return _failed(target, exc)
        return _Outcome(status, response=body, target=target)

    def _run_coroutine(self, coro: Awaitable[T]) -> T:
        """Run a coroutine to completion from sync code, on the emulator's private loop.

        One loop for the whole test keeps loop-bound objects an app caches (clients, locks)
        valid across deliveries. Inside an already running loop (a sync call from an async
        test) the loop can't be nested, so it runs in a helper thread instead; async tests
        should prefer :meth:`arun_until_idle`.
        """

        async def wrapper() -> T:
            return await coro

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(wrapper())
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="telnyx-emulator") as ex:
            return ex.submit(asyncio.run, wrapper()).result()


# (chosen) The latest virtual clock start: 9999-12-31T23:59:59Z, the last second a Telnyx
# timestamp (four-digit year) can show.
MAX_START = 253_402_300_799.0


def _in_range(name: str, value: Any, low: float, high: float, *, whole: bool = False) -> float:
    """A numeric option of the marker or :func:`mock`, checked against the bounds the CLI and
    the environment use (emulator.config), so a typo fails here, with the option's name, and not
    later inside a call flow."""
    kind = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "a whole number" if whole else "a number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        shown = [
            f"{b:.0f}" if isinstance(b, float) and b == int(b) else str(b) for b in (low, high)
        ]
        raise ValueError(f"{name} must be between {shown[0]} and {shown[1]}, got {value!r}")
    return value  # type: ignore[no-any-return]


def mock(**options: Any) -> TelnyxEmulator:
    """The in-process emulator, outside pytest: ``with mock(seed=1) as telnyx: ...``.

    Options (also the ``telnyx_emulator`` marker's): ``scenarios`` (directories or files of extra
    scenarios), ``scenario`` (force one scenario on every outbound leg), ``time_scale``, ``seed``
    (reproducible IDs), ``base_url`` (captured in addition to https://api.telnyx.com), ``api_key``
    (the default tenant), ``strict`` (reject unknown request fields), ``signing_key``, ``start``
    (virtual clock start, Unix seconds), ``webhook_url`` (default for :meth:`create_call`),
    ``env`` (set ``TELNYX_API_KEY``/``TELNYX_PUBLIC_KEY``/``TELNYX_BASE_URL`` while active),
    ``retry_delays`` (default webhook retry schedule, seconds), ``delivery`` (webhook faults:
    a mapping like ``{"order": "shuffled", "duplicate": 0.5}`` or ``"shuffled,duplicate=0.5"``),
    ``command_faults`` (``{"mode": "429", "count": 2}`` or ``"429:2"``), ``config`` (a
    telnyx-emulator.yaml: its connections, numbers and scenarios), ``connections`` (more
    connections, as the file's entries: ``[{"webhook_event_url": ..., "numbers": [...]}]``),
    ``unknown_connections`` (``"accept"`` or ``"reject"`` a Dial on an unknown connection_id),
    ``tenancy`` (``"single"``, the default: every API key reaches the test's one world;
    ``"per_key"``: each key is its own tenant, as on the server).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    return TelnyxEmulator(**options)


# -- in-process delivery ----------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return (parsed.scheme, parsed.host, parsed.port or _DEFAULT_PORTS.get(parsed.scheme))


def _guess_kind(app: Any) -> AppKind:
    # Starlette, FastAPI and Django's ASGIHandler are instances with an async __call__.
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__):
        return "asgi"
    return "wsgi"


def _webhook(attempt: Attempt, outcome: _Outcome, now: float) -> Webhook:
    record = attempt.record
    return Webhook(
        event_type=record.event_type,
        call_control_id=record.call_control_id,
        call_session_id=record.call_session_id,
        id=record.id,
        method=attempt.method,
        url=attempt.url,
        headers=attempt.headers,
        raw=attempt.content,
        attempt=attempt.number,
        at=now,
        status=outcome.status if outcome.target is not None else None,
        response=outcome.response,
        _attempt=attempt,
    )


def _guard(target: _Target, call: Callable[[], tuple[int, bytes]]) -> _Outcome:
    try:
        status, body = call()
    except Exception as exc:
        return _failed(target, exc)
    return _Outcome(status, response=body, target=target)


def _failed(target: _Target, exc: BaseException) -> _Outcome:
    return _Outcome(
        500,
        error=f"{type(exc).__name__}: {exc}",
        exc=exc,
        raise_exc=target.raise_exceptions,
        target=target,
    )


def _request_parts(attempt: Attempt) -> tuple[str, str, str, int, str, str]:
    """scheme, host header, server name, port, raw path, query of an attempt's URL."""
    parts = urlsplit(attempt.url)
    scheme = parts.scheme or "http"
    port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
    return (
        scheme,
        parts.netloc,
        parts.hostname or "testserver",
        port,
        parts.path or "/",
        parts.query,
    )


async def _call_asgi(app: Any, attempt: Attempt) -> tuple[int, bytes]:
    """One HTTP request into an ASGI app, without a socket or an httpx client in between."""
    import anyio

    scheme, netloc, host, port, raw_path, query = _request_parts(attempt)
    body = attempt.content
    headers = [(b"host", netloc.encode("latin-1"))]
    headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in attempt.headers.items())
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": attempt.method,
        "scheme": scheme,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("utf-8"),
        "query_string": query.encode("utf-8"),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": (host, port),
        "extensions": {},
    }
    status = 500
    chunks: list[bytes] = []
    request_sent = False
    complete = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await complete.wait()  # like a client that stays connected until the response ends
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                complete.set()

    try:
        await app(scope, receive, send)
    finally:
        complete.set()
    return status, b"".join(chunks)


def _call_wsgi(app: Any, attempt: Attempt) -> tuple[int, bytes]:
    """One HTTP request into a WSGI app (PEP 3333), called directly."""
    scheme, netloc, host, port, raw_path, query = _request_parts(attempt)
    body = attempt.content
    environ: dict[str, Any] = {
        "REQUEST_METHOD": attempt.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(raw_path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": netloc,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in attempt.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    started: list[str] = []
    chunks: list[bytes] = []

    def start_response(
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: Any = None,
    ) -> Callable[[bytes], object]:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status]
        return chunks.append

    result: Iterable[bytes] = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return int(started[0].split(" ", 1)[0]), b"".join(chunks)
