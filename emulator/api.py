"""The emulated HTTP API, without HTTP: requests in, responses and webhooks out.

Both front ends (the Starlette server and the in-process pytest mock) turn what they receive
into an :class:`ApiRequest` and hand it to :meth:`Api.handle`, so authentication, routing, body
parsing, validation, errors, dedup and the command journal are one implementation. The
:class:`Api` also owns what all tenants share: the clock, the timeline and the outbox that the
front ends drive.

Tenancy: the bearer token picks the tenant. On the server each API key has its own calls,
commands and webhooks, so parallel CI jobs can share one emulator (moto's per-account backends);
in-process, every key reaches one tenant by default (see :mod:`emulator.tenancy`).
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import bodies, errors
from .audio_lengths import AudioLengths
from .calls import iso
from .clock import Clock
from .commands.registry import Command, Context, commands
from .config import Settings
from .connections import ConnectionStore
from .delivery import Attempt, Outbox, dumps
from .engine import Engine, EngineConfig
from .errors import ApiFailure, NotEmulated
from .events import EventLog
from .faults import CommandFaults, DeliveryPolicy, FaultPlan, FaultSpecError
from .ids import IdFactory
from .media_stream import StreamHub
from .recordings import PublicBase
from .resources import schemas_dir
from .routes import _ID, ROUTES, Handler, Route, route
from .scenarios import Scenario, ScenarioBook
from .signing import Signer
from .tenancy import (
    TENANT_HEADER,
    explain_other_tenant,
    named_calls,
    open_admin,
    owned_elsewhere,
    tenant_for,
    tenant_id,
)
from .tenancy import check as check_tenancy
from .timeline import Timeline
from .validation import Validators

SCENARIO_HEADER = "x-emulator-scenario"
OK: dict[str, Any] = {"data": {"result": "ok"}}
# A bare path whose first segment looks like a Telnyx resource (calls, messages, phone_numbers):
# (chosen) with /v2/..., what an unmatched request must look like to be journaled as not emulated.
_TELNYX_LOOKING = re.compile(r"^/[a-z][a-z0-9_]*(?:/|$)")
_ACTION = re.compile(r"/actions/(?P<action>[^/]+)$")


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str  # without the query string
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ApiResponse:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    journal: dict[str, Any] | None = None  # a command's journal entry, for the server's log line
    # A "timeout" command fault: the command was applied, but the answer is held back this long
    # (the server sleeps; the pytest mock raises httpx.ReadTimeout).
    hold_secs: float = 0.0
    # A body that is not JSON (a recording's audio); its content-type goes in ``headers``.
    raw: bytes | None = None

    @property
    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.payload is None else dumps(self.payload)


# The route table lives in emulator/routes.py; these names stay importable from here for the
# modules that register routes with @route (and for the tests that read the table).
_ROUTES = ROUTES.routes
__all__ = ["_ID", "_ROUTES", "ApiRequest", "ApiResponse", "Handler", "Route", "route"]
ADMIN_TOKEN_HEADER = "x-emulator-admin-token"


class Api:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        wall_clock: Callable[[], float],
        scenarios: ScenarioBook | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.settings = settings
        self.tenancy = check_tenancy(settings.tenancy)
        self.clock = clock
        self.ids = IdFactory(settings.seed)
        self.scenarios = scenarios or ScenarioBook.load(settings.scenario_dirs)
        self.validators = Validators(strict=settings.strict)
        self.signer = signer or (
            Signer.from_base64(settings.signing_key) if settings.signing_key else Signer()
        )
        self.timeline = Timeline()
        self.outbox = Outbox(
            self.signer,
            wall_clock=wall_clock,
            time_scale=settings.time_scale,
            default_retry_delays=settings.webhook_retry_delays,
            seed=settings.seed,
            allow=webhook_allow_list(settings.webhook_allow) if settings.webhook_allow else None,
        )
        # What the dashboard and GET /_emulator/events show; records only while watched.
        self.events = EventLog(clock)
        self.outbox.events = self.events
        self.streams = StreamHub()  # every tenant's media streams, for the adapters
        # Parsed once here so a bad --delivery / --command-faults fails at start-up.
        self.default_delivery = DeliveryPolicy.parse(settings.delivery or "")
        self.default_command_faults = (
            CommandFaults.parse(settings.command_faults) if settings.command_faults else None
        )
        self.engine_config = EngineConfig(
            time_scale=settings.time_scale,
            dedup_window_secs=settings.dedup_window_secs,
            retention_secs=settings.retention_secs,
            journal_limit=settings.journal_limit,
            max_live_calls=settings.max_live_calls,
            retry_delays=settings.webhook_retry_delays,
        )
        # The emulator's public address for recording links: --public-url, else where it
        # listens (the server sets the real port once bound; in-process, the mock's origin).
        self.audio_lengths = AudioLengths()  # filled by the server (emulator/audio_lengths.py)
        self.links = PublicBase(
            settings.public_url
            or f"http://{'[' + settings.host + ']' if ':' in settings.host else settings.host}"
            f":{settings.port}"
        )
        self.tenants: OrderedDict[str, Engine] = OrderedDict()  # least recently used first
        self.idle_tenant_secs = max(settings.retention_secs, settings.dedup_window_secs)
        self._next_sweep = 0.0
        # Set by a front end when a background task it runs (the server's webhook pump) has
        # died: health answers 503 with it, and ``serve`` exits non-zero.
        self.background_failure: str | None = None

    def precompile(self) -> None:
        """Compile every request schema now, so the first request pays nothing (the server
        does this at start-up; the pytest mock compiles on first use, per schema)."""
        names = [p.name.removesuffix(".schema.json") for p in schemas_dir().glob("*.schema.json")]
        for name in sorted(names):
            if name.endswith("_request") or name == "inbound_call":
                self.validators.get(name)

    # -- driving ------------------------------------------------------------------------------

    def tenant(self, api_key: str) -> Engine:
        """The API key's engine, made on first use. ``tenants`` is kept in order of last use
        (each use moves the key to the end), so idle keys are found at the front."""
        api_key = tenant_for(self.tenancy, api_key)
        engine = self.tenants.get(api_key)
        now = self.clock.now()
        if engine is not None:
            self.tenants.move_to_end(api_key)
        else:
            seed = self.settings.seed
            engine = Engine(
                api_key,
                clock=self.clock,
                ids=self.ids,
                timeline=self.timeline,
                outbox=self.outbox,
                config=self.engine_config,
                events=self.events,
                streams=self.streams,
                faults=FaultPlan(
                    delivery=self.default_delivery,
                    commands=copy.copy(self.default_command_faults),
                    rng=random.Random(None if seed is None else f"{seed}:{api_key}"),
                ),
                links=self.links,
            )
            engine.audio_lengths = self.audio_lengths
            engine.connections = ConnectionStore.seeded(
                self.settings.connections,
                iso(self.clock.now()),
                reject_unknown=self.settings.strict
                or self.settings.unknown_connections == "reject",
            )
            self.tenants[api_key] = engine
        engine.last_used = now
        if self.settings.forget_idle_tenants and now >= self._next_sweep:
            self._forget_idle_tenants(now)
        return engine

    def _forget_idle_tenants(self, now: float) -> None:
        """(chosen) Forget API keys idle for ``idle_tenant_secs``: no request in that time, no
        call (live, or ended and still retained), no webhook waiting and no connection or number
        created or changed through the API (user-made state is kept). Their journals and
        fault settings go with them; a later request starts afresh. Runs at most once a second,
        and only looks at the least recently used keys, so its cost is amortised O(1)."""
        self._next_sweep = now + 1.0
        horizon = now - self.idle_tenant_secs
        tenants = self.tenants
        for _ in range(len(tenants)):
            key, engine = next(iter(tenants.items()))  # O(1): an OrderedDict's linked list
            if engine.last_used > horizon:
                return  # every later key was used more recently
            engine.housekeeping()
            if (
                len(engine.calls)
                or self.outbox.pending(key)
                or engine.connections.changed
                or len(engine.recordings)
                or len(engine.queues)
            ):
                engine.last_used = now  # busy: look again one idle period from now
                tenants.move_to_end(key)
            else:
                del tenants[key]
                self.events.forget(engine.tenant_id)

    def run_due(self, now: float) -> None:
        self.timeline.run_due(now)

    def ready(self, now: float) -> list[Attempt]:
        """Run what is due, then return the webhook requests to make now."""
        self.timeline.run_due(now)
        return self.outbox.ready(now)

    def next_wakeup(self) -> float | None:
        times = [t for t in (self.timeline.next_time(), self.outbox.next_wakeup()) if t is not None]
        return min(times) if times else None

    # -- requests -----------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request. Never raises: every failure becomes a Telnyx-shaped error."""
        path = request.path
        if path.startswith("/v2/") or path == "/v2":
            path = path[3:] or "/"
        key, engine = "", None
        try:
            found = ROUTES.find(request.method, path)
            if isinstance(found, list):
                if found:
                    raise errors.method_not_allowed(request.method, request.path, found)
                raise self._not_emulated(request, path)
            r, m = found
            if r.admin:
                self._check_admin(request)
            if not r.auth:
                key = ""
            elif r.admin and TENANT_HEADER in request.headers:
                key = self.tenant_key(request)
            else:
                key = self._authenticate(request)
            engine = self.tenant(key)
            if r.command:
                response = self._command_with_faults(r, request, engine, m)
            else:
                response = r.handler(self, request, engine, m)
        except ApiFailure as failure:
            response = ApiResponse(failure.status, failure.body(), dict(failure.headers))
        if response.status == 422 and engine is not None and len(self.tenants) > 1:
            self._explain_other_tenant(request, key, engine, response)
        return response

    def _not_emulated(self, request: ApiRequest, path: str) -> ApiFailure:
        """A Telnyx route the emulator does not implement: 404, and, for an authenticated
        request, an entry in the key's command journal (``result: not_emulated``), so a user
        sees in ``/_emulator/commands`` which of the app's calls went unanswered."""
        failure = errors.route_not_found(request.path)
        if path.startswith("/_emulator") or not (
            request.path.startswith("/v2/") or _TELNYX_LOOKING.match(request.path)
        ):
            return failure
        try:
            key = self._authenticate(request)
        except ApiFailure:
            return failure
        body: Any = None
        # The journal shows what it can of the body; the method and path say the rest. Decoded
        # as every body is (emulator/bodies.py), so nothing it stores can fail to encode.
        with contextlib.suppress(ApiFailure):
            body = bodies.decode(request.body) if request.body.strip() else None
        action = _ACTION.search(path)
        ids = named_calls(path, None)
        self.tenant(key).journal_command(
            method=request.method,
            path=request.path,
            command=action["action"] if action else path.strip("/").split("/", 1)[0],
            call_control_id=ids[0] if ids else None,
            body=body,
            status=failure.status,
            result="not_emulated",
            errors_=[e.to_json() for e in failure.errors],
        )
        return failure

    def _explain_other_tenant(
        self, request: ApiRequest, key: str, engine: Engine, response: ApiResponse
    ) -> None:
        """A command named a call that exists under another API key: say so in the 422's
        detail (and its journal entry), without naming the other key."""
        # The entry handed back carries no body (it is stored encoded): read the stored one.
        stored = engine.commands.find(response.journal["id"]) if response.journal else None
        body = stored.get("body") if stored is not None else None
        call_control_id = owned_elsewhere(
            self.tenants, tenant_for(self.tenancy, key), named_calls(request.path, body)
        )
        if call_control_id is None or not isinstance(response.payload, dict):
            return
        explain_other_tenant(response.payload.get("errors", []), call_control_id)
        if response.journal is not None and explain_other_tenant(
            response.journal["errors"], call_control_id
        ):
            engine.commands.amend(response.journal)

    def _check_admin(self, request: ApiRequest) -> None:
        if self.settings.no_admin:
            raise errors.route_not_found(request.path)
        token = self.settings.admin_token
        if token and request.headers.get(ADMIN_TOKEN_HEADER) != token:
            raise ApiFailure(
                401,
                [
                    errors.ApiError(
                        "10009",
                        "Authentication failed",
                        "The emulator's /_emulator API needs the X-Emulator-Admin-Token header "
                        "(the server runs with --admin-token).",
                    )
                ],
            )

    def admin_view(self, request: ApiRequest) -> bool:
        """Whether this request may see and act on every tenant (emulator/tenancy.py).

        Call after :meth:`_check_admin`, which has refused a wrong admin token already.
        """
        if self.settings.admin_token:
            return request.headers.get(ADMIN_TOKEN_HEADER) == self.settings.admin_token
        return open_admin(self.settings)

    def tenant_key(self, request: ApiRequest) -> str:
        """The API key of the tenant an admin names in ``X-Emulator-Tenant`` (its id)."""
        wanted = request.headers.get(TENANT_HEADER, "").strip()
        if not self.admin_view(request):
            raise ApiFailure(
                401,
                [
                    errors.ApiError(
                        "10009",
                        "Authentication failed",
                        "X-Emulator-Tenant needs the admin view: the X-Emulator-Admin-Token "
                        "header, or a server without --admin-token and --api-key.",
                    )
                ],
            )
        for key in self.tenants:
            if key and tenant_id(key) == wanted:
                return key
        raise ApiFailure(
            404,
            [
                errors.ApiError(
                    "10005",
                    "Resource not found",
                    f"X-Emulator-Tenant names no tenant of this server: '{wanted}'.",
                    parameter="X-Emulator-Tenant",
                )
            ],
        )

    def _command_with_faults(
        self, r: Route, request: ApiRequest, engine: Engine, m: re.Match[str]
    ) -> ApiResponse:
        """Run a Call Control command, unless a command fault (``--command-faults``) hits it."""
        self.check_pending(engine)
        fault = engine.faults.next_command_fault()
        if fault is None or fault.mode == "timeout":
            response = r.handler(self, request, engine, m)
            if fault is not None:
                response.hold_secs = fault.timeout_secs
                if response.journal is not None:
                    response.journal["fault"] = "timeout"
                    engine.commands.amend(response.journal)
            return response
        if fault.mode == "429":
            failure = errors.too_many_requests(
                "You have exceeded the maximum number of allowed requests. (injected fault)",
                retry_after=fault.retry_after,
            )
        else:
            failure = ApiFailure(
                500,
                [
                    errors.ApiError(
                        "10007", "Unexpected error", "An unexpected error occured. (injected fault)"
                    )
                ],
            )
        entry = engine.journal_command(
            method=request.method,
            path=request.path,
            command=r.name,
            call_control_id=m.groupdict().get("id"),
            body=None,
            status=failure.status,
            result="rejected",
            errors_=[e.to_json() for e in failure.errors],
            fault=f"command_{fault.mode}",
        )
        return ApiResponse(failure.status, failure.body(), dict(failure.headers), entry)

    def check_pending(self, engine: Engine) -> None:
        """Per API key: one key's backlog (a dead receiver, huge delays) never refuses another
        key's commands."""
        if self.outbox.pending(engine.tenant) >= self.settings.max_pending_webhooks:
            raise errors.too_many_requests(
                f"More than {self.settings.max_pending_webhooks} webhooks of this API key are "
                "waiting to be delivered (--max-pending-webhooks); the app's webhook receiver "
                "is not keeping up.",
                retry_after=1,
            )

    def _authenticate(self, request: ApiRequest) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.authentication_failed()
        if self.settings.api_keys and token not in self.settings.api_keys:
            raise errors.authentication_failed()
        return token

    def json_body(self, request: ApiRequest) -> dict[str, Any]:
        if len(request.body) > self.settings.max_body_bytes:
            raise errors.body_too_large(self.settings.max_body_bytes)
        content_type = request.headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise errors.unsupported_media_type(content_type)
        if not request.body or request.body.isspace():  # strip()'s set, without a copy
            return {}
        body = bodies.decode(request.body)  # total: every byte string is a value or a 4xx
        if not isinstance(body, dict):
            raise errors.body_not_object()
        return body

    def validate(self, schema: str, body: dict[str, Any]) -> None:
        problems = self.validators.get(schema).validate(body)
        if problems:
            raise ApiFailure(422, problems)

    def pick_scenario(self, request: ApiRequest, to: str) -> Scenario:
        forced = request.headers.get(SCENARIO_HEADER)
        if forced:
            scenario = self.scenarios.get(forced.strip())
            if scenario is None:
                known = ", ".join(sorted(s.name for s in self.scenarios))
                raise ApiFailure(
                    422,
                    [
                        errors.ApiError(
                            "10015",
                            "Unknown scenario",
                            f"X-Emulator-Scenario names no scenario: '{forced}'. Known: {known}.",
                            parameter="X-Emulator-Scenario",
                        )
                    ],
                )
            return scenario
        return self.scenarios.match(to)

    def context(self, request: ApiRequest, engine: Engine) -> Context:
        """What a command's effect works with (see emulator.commands.registry)."""
        return Context(engine, self.pick_scenario, request)

    def journaled(
        self,
        request: ApiRequest,
        engine: Engine,
        name: str,
        call_control_id: str | None,
        schema: str | None,
        run: Callable[[dict[str, Any]], tuple[bool, Any, str | None]],
        shown: Callable[[Any], Any] | None = None,
    ) -> ApiResponse:
        """The pipeline every command shares: parse, validate, ``run``, and journal the outcome.

        ``shown`` turns the body into what the journal may keep (the digits pressed during a
        payment are card data: :func:`emulator.far_end.far_end_dtmf`).

        ``run`` returns (applied, response payload, the call it concerns); applied is False
        for a ``command_id`` duplicate, which Telnyx answers like the original and ignores.
        A declared command that is not emulated yet is journaled ``not_emulated``.
        """
        body: Any = None
        # Stamped when it arrived, before the webhooks it causes (the call events list's order).
        arrived = self.clock.now()
        encoded: bytes | None = None
        try:
            body = self.json_body(request)
            if schema is not None:
                self.validate(schema, body)
            # All or nothing: everything that can fail (decoding, validation, encoding what the
            # journal keeps) has run before ``run`` acts; what follows it cannot fail.
            encoded = engine.encode_journal_body(body if shown is None else shown(body))
            applied, payload, call_control_id = run(body)
        except ApiFailure as failure:
            entry = engine.journal_command(
                method=request.method,
                path=request.path,
                command=name,
                call_control_id=call_control_id,
                body=body if shown is None else shown(body),
                status=failure.status,
                result="not_emulated" if isinstance(failure, NotEmulated) else "rejected",
                errors_=[e.to_json() for e in failure.errors],
                at=arrived,
            )
            return ApiResponse(failure.status, failure.body(), dict(failure.headers), entry)
        entry = engine.journal_command(
            method=request.method,
            path=request.path,
            command=name,
            call_control_id=call_control_id,
            body=body,
            status=200,
            result="accepted" if applied else "duplicate",
            at=arrived,
            encoded_body=encoded,
        )
        return ApiResponse(200, payload, journal=entry)


def webhook_allow_list(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Which webhook URLs may be requested (and media stream URLs connected to): ``host`` or
    ``host:port`` patterns with ``*``.

    Without a list the emulator sends wherever a command says, as Telnyx does; a shared emulator
    should be given one so it cannot be used to make requests to arbitrary hosts.
    """
    lowered = tuple(p.lower() for p in patterns)

    def allowed(url: str) -> bool:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
        except ValueError:  # "http://[", "http://host:abc": nowhere to send it, so blocked
            return False
        return any(fnmatch.fnmatchcase(f"{host}:{port}" if ":" in p else host, p) for p in lowered)

    return allowed


# --- Call Control: one route per declared command ---------------------------------------------


def command_handler(command: Command) -> Handler:
    """The route handler of a declared command: the shared pipeline around its effect.

    ``call`` commands: parse, validate, then (in :meth:`Engine.run_command`) look the call up,
    dedup ``command_id``, check the state table, apply ``client_state``, run the effect, and
    journal the outcome. ``account`` commands (Dial) have no call: the effect does its own
    dedup. ``read`` commands (GET) only look the call up. Without an effect, a command answers
    :func:`errors.not_emulated` once everything before the effect has passed.
    """
    name, schema, effect, issue = (
        command.name,
        command.request_schema,
        command.effect,
        command.issue,
    )

    def not_emulated(ctx: Context, body: dict[str, Any]) -> dict[str, Any] | None:
        raise errors.not_emulated(name, issue)

    run_effect = effect or not_emulated

    def on_call(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
        call_control_id = m["id"]

        def run(body: dict[str, Any]) -> tuple[bool, Any, str | None]:
            ctx = api.context(request, engine)
            extra: dict[str, Any] | None = None

            def act(leg: Any) -> None:
                nonlocal extra
                ctx.call = leg
                extra = run_effect(ctx, body)

            applied = engine.run_command(name, call_control_id, body, act)
            return applied, ({"data": {**OK["data"], **extra}} if extra else OK), call_control_id

        return api.journaled(request, engine, name, call_control_id, schema, run)

    def on_account(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
        def run(body: dict[str, Any]) -> tuple[bool, Any, str | None]:
            ctx = api.context(request, engine)
            data = run_effect(ctx, body)
            return not ctx.duplicate, {"data": data}, ctx.call_control_id

        return api.journaled(request, engine, name, None, schema, run)

    def read(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
        ctx = api.context(request, engine)
        ctx.call = engine.leg(m["id"])
        return ApiResponse(200, {"data": run_effect(ctx, {})})

    handler = {"call": on_call, "account": on_account, "read": read}[command.scope]
    handler.__name__ = handler.__qualname__ = name
    return handler


for _command in commands():
    ROUTES.add(
        _command.method,
        _command.route_path,
        command_handler(_command),
        command=_command.scope != "read",
        declaration=_command,
    )


# --- the emulator's own API ----------------------------------------------------------------


@route("GET", "/_emulator/health", auth=False)
def health(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    if api.background_failure is not None:
        # Up, but not working: no webhook will be sent. CI's health checks must see it.
        raise ApiFailure(
            503,
            [
                errors.ApiError(
                    "10007",
                    "Unexpected error",
                    f"The emulator is not healthy: {api.background_failure}. Restart it; its "
                    "log has the traceback.",
                )
            ],
        )
    return ApiResponse(200, {"data": {"status": "ok"}})


@route("GET", "/_emulator/public-key", auth=False)
def public_key(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200, {"data": {"public_key": api.signer.public_key}})


@route("POST", "/_emulator/calls")
def create_call(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    body = api.json_body(request)
    api.validate("inbound_call", body)
    scenario = None
    if "scenario" in body:
        scenario = api.scenarios.get(body["scenario"])
        if scenario is None:
            known = ", ".join(sorted(s.name for s in api.scenarios))
            detail = f"'scenario' names no scenario: '{body['scenario']}'. Known: {known}."
            raise ApiFailure(
                422, [errors.ApiError("10015", "Unknown scenario", detail, "/scenario")]
            )
    api.check_pending(engine)
    leg = engine.create_inbound(body, scenario)
    data = leg.summary(api.clock.now())
    return ApiResponse(201, {"data": data})


@route("GET", "/_emulator/calls")
def list_calls(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    engine.housekeeping()
    now = api.clock.now()
    return ApiResponse(200, {"data": [leg.summary(now) for leg in engine.calls]})


@route("GET", "/_emulator/commands")
def list_commands(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    ccid = request.query.get("call_control_id")
    data = [c for c in engine.commands if ccid is None or c["call_control_id"] == ccid]
    return ApiResponse(200, {"data": data})


@route("GET", "/_emulator/webhooks")
def list_webhooks(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    ccid = request.query.get("call_control_id")
    event_type = request.query.get("event_type")
    data = [
        w.to_json()
        for w in engine.webhooks
        if (ccid is None or w.call_control_id == ccid)
        and (event_type is None or w.event_type == event_type)
    ]
    return ApiResponse(200, {"data": data})


@route("POST", "/_emulator/reset")
def reset(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    engine.reset()
    return ApiResponse(200, {"data": {"result": "ok"}})


@route("GET", "/_emulator/faults")
def get_faults(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200, {"data": engine.faults.to_json()})


@route("PUT", "/_emulator/faults")
def put_faults(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """Set this API key's faults: ``{"delivery": {...} | "spec", "commands": {...} | null}``.

    Fields left out keep their current value; ``null`` clears them.
    """
    body = api.json_body(request)
    problems: list[errors.ApiError] = []
    delivery, commands = engine.faults.delivery, engine.faults.commands
    try:
        if "delivery" in body:
            delivery = DeliveryPolicy.from_json(body["delivery"])
    except FaultSpecError as exc:
        problems.append(errors.invalid_value(str(exc), "/delivery"))
    try:
        if "commands" in body:
            commands = CommandFaults.from_json(body["commands"])
    except FaultSpecError as exc:
        problems.append(errors.invalid_value(str(exc), "/commands"))
    if problems:
        raise ApiFailure(422, problems)
    engine.faults.delivery, engine.faults.commands = delivery, commands
    return ApiResponse(200, {"data": engine.faults.to_json()})


@route("GET", "/openapi.json", auth=False)
def openapi_document(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    from .openapi import document  # built from _ROUTES on first use, then cached

    return ApiResponse(200, document())


# Routes of other modules register themselves on import (after _ROUTES and route exist).
# Routes of the emulator's own API kept in modules of their own (they import this one).
from . import (  # noqa: E402, F401
    connections_api,
    far_end,
    queues_api,
    recording_transcriptions_api,
    recordings_api,
    tenant_list,
)
