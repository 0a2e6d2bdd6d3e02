"""The command registry: every Call Control endpoint as one frozen declaration.

A :class:`Command` says everything the rest of the emulator needs to know about an endpoint:
its route, its request schema (``schemas/<schema>.schema.json``), the leg states it is legal in
(a :class:`~emulator.state.Legality` profile, whose rows the registry adds to the one state
table), the webhooks it can cause, the SDK method that calls it, and its **effect**: a function
of a :class:`Context` and the validated body that changes the call through the engine's
primitives. ``effect=None`` declares an endpoint whose behaviour is not built yet, with the
``issue`` that brings it; it still validates, looks the call up and checks its state, then
answers :func:`emulator.errors.not_emulated`.

From the declarations come the routes (:mod:`emulator.api`), the OpenAPI document
(:mod:`emulator.openapi`) and the documentation's command tables (:mod:`emulator.commands.docs`),
so none of them can disagree with what the emulator does. The family modules
(``emulator/commands/<family>.py``) call :func:`declare` at import; :func:`commands` imports
them all once. Adding a command is a schema file and one ``declare(...)``; see
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..calls import Leg
from ..engine import Engine
from ..scenarios import Scenario
from ..state import ANSWERED, Legality, register

Scope = Literal["call", "account", "read"]


@dataclass(slots=True)
class Context:
    """What an effect works with: the tenant's engine, the call the path names, and
    :meth:`scenario_for` to pick a new leg's scenario (the ``X-Emulator-Scenario`` header wins)."""

    engine: Engine
    pick: Callable[[Any, str], Scenario]  # Api.pick_scenario(request, to)
    request: Any  # the ApiRequest (typed Any: the registry does not import the API layer)
    call: Leg | None = None
    # Set by an account-scope effect (Dial): the call the journal names, and whether the
    # command was a command_id duplicate that did nothing.
    call_control_id: str | None = None
    duplicate: bool = False

    def scenario_for(self, to: str) -> Scenario:
        return self.pick(self.request, to)

    @property
    def leg(self) -> Leg:
        """The call of the path (every ``scope="call"`` command has one)."""
        if self.call is None:
            raise LookupError("this command has no call in its path")
        return self.call


# Returns the fields to add to the response's ``data`` (``{"result": "ok"}`` for a call
# command; the whole ``data`` for an account or read command), or None.
Effect = Callable[[Context, dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # the journal's and OpenAPI's name: the last path segment for actions
    path: str  # without /v2; {call_control_id} for the call
    sdk: str  # the official Python SDK's method, as a user calls it
    summary: str
    family: str  # the module that declares it
    method: str = "POST"
    scope: Scope = "call"  # call: a command on a call; account: Dial; read: a GET
    schema: str | None = None  # default: "<name>_request" (None for a read)
    legal: Legality = ANSWERED
    webhooks: tuple[str, ...] = ()  # what it can cause, for the docs and /openapi.json
    effect: Effect | None = None
    issue: int | None = None  # the follow-up issue that brings a not-yet-emulated effect
    # Options of an emulated command that still answer "not emulated" (501) when set.
    not_emulated_options: tuple[str, ...] = ()
    response: str = "command"  # the shape of ``data`` (emulator.openapi's _RESPONSES)
    new_leg: bool = False  # places a call: X-Emulator-Scenario applies, 429 at the cap
    description: str = ""  # more for /openapi.json

    @property
    def emulated(self) -> bool:
        return self.effect is not None

    @property
    def request_schema(self) -> str | None:
        if self.schema is not None or self.scope == "read":
            return self.schema
        return f"{self.name}_request"

    @property
    def http_path(self) -> str:
        return f"/v2{self.path}"

    @property
    def route_path(self) -> str:
        """The route table's form of the path (without /v2)."""
        return self.path.replace("{call_control_id}", "(?P<id>[^/]+)")


REGISTRY: dict[str, Command] = {}


def declare(command: Command) -> Command:
    """Add a declaration (once per name) and its state rows."""
    if command.name in REGISTRY:
        raise ValueError(f"command {command.name!r} is declared twice")
    if command.effect is None and command.issue is None:
        raise ValueError(f"{command.name}: a command without an effect names its issue")
    if command.scope == "call":
        register(command.name, command.legal)
    REGISTRY[command.name] = command
    return command


def commands() -> list[Command]:
    """Every declaration, in the order of :data:`emulator.commands.FAMILIES`."""
    from . import FAMILIES  # importing the families fills REGISTRY

    order = {module.FAMILY: i for i, module in enumerate(FAMILIES)}
    return sorted(REGISTRY.values(), key=lambda c: order[c.family])
