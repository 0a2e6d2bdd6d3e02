"""The route table: which handler answers a (method, path), found in constant time.

Routes are values collected into one table at import (Starlette's ``routing.py``, aiohttp's
``RouteTableDef``): the Call Control commands from their declarations
(:mod:`emulator.commands`), the emulator's own ``/_emulator/*`` routes and other resources with
the :func:`route` decorator. A path is written with ``/``-separated segments, where a segment
that is a named group (``(?P<id>[^/]+)``, i.e. :data:`_ID`) or ``{name}`` is a parameter.

Dispatch does not try routes one by one: a path's *shape* is its segments with the parameter
positions replaced by ``*``, and the table is a dict from shape to ``{method: route}``. A
request's path is looked up once per distinct parameter layout of its length (a handful, however
many routes there are), literal layouts first, then the one matching route's regular expression
runs once to hand the handler a real :class:`re.Match` (``m["id"]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Api, ApiRequest, ApiResponse
    from .commands.registry import Command
    from .engine import Engine

Handler = Callable[["Api", "ApiRequest", "Engine", "re.Match[str]"], "ApiResponse"]

_ID = r"(?P<id>[^/]+)"
_GROUP = re.compile(r"\(\?P<(\w+)>\[\^/\]\+\)")
_PARAM = re.compile(r"\{(\w+)\}")
_LITERAL = re.compile(r"[A-Za-z0-9_.~:-]*")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool = True
    command: bool = False  # a Call Control command: command faults apply
    admin: bool = False  # the emulator's own /_emulator API: --admin-token, --no-admin apply
    declaration: Command | None = None  # the command it serves (emulator/commands/)

    @property
    def name(self) -> str:
        """The operation's name: the command's, else the handler's."""
        return self.declaration.name if self.declaration is not None else self.handler.__name__


def _shape(path: str) -> tuple[tuple[str, ...], str]:
    """``("", "calls", "*")`` and the anchored regex of a registered path."""
    segments: list[str] = []
    regex: list[str] = []
    for segment in _GROUP.sub(r"{\1}", path).split("/"):
        param = _PARAM.fullmatch(segment)
        if param is not None:
            segments.append("*")
            regex.append(f"(?P<{param[1]}>[^/]+)")
        elif _LITERAL.fullmatch(segment):
            segments.append(segment)
            regex.append(segment.replace(".", r"\."))  # the only metacharacter _LITERAL allows
        else:
            raise ValueError(f"route path segment {segment!r} is neither literal nor a parameter")
    return tuple(segments), "^" + "/".join(regex) + "$"


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []  # in registration order (the OpenAPI document's order)
        self._by_shape: dict[tuple[str, ...], dict[str, Route]] = {}
        # Segment count -> the distinct parameter layouts of that length (the positions of the
        # parameters), literal-most first.
        self._layouts: dict[int, list[tuple[int, ...]]] = {}

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        auth: bool = True,
        command: bool = False,
        declaration: Command | None = None,
        admin: bool | None = None,
    ) -> Route:
        shape, regex = _shape(path)
        if admin is None:
            admin = path.startswith("/_emulator/") and path != "/_emulator/health"
        r = Route(method, re.compile(regex), handler, auth, command, admin, declaration)
        methods = self._by_shape.setdefault(shape, {})
        if method in methods:
            raise ValueError(f"two routes for {method} {path}")
        methods[method] = r
        layout = tuple(i for i, s in enumerate(shape) if s == "*")
        layouts = self._layouts.setdefault(len(shape), [])
        if layout not in layouts:
            layouts.append(layout)
            layouts.sort(key=len)
        self.routes.append(r)
        return r

    def find(self, method: str, path: str) -> tuple[Route, re.Match[str]] | list[str]:
        """The route and its match, or the methods the path allows (``[]``: unknown path).

        HEAD is answered by the GET route.
        """
        segments = path.split("/")
        allowed: list[str] = []
        for layout in self._layouts.get(len(segments), ()):
            key = segments
            if layout:
                key = segments.copy()
                for i in layout:
                    key[i] = "*"
            methods = self._by_shape.get(tuple(key))
            if methods is None:
                continue
            r = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
            # The regex also refuses an empty parameter ("/calls//actions/x").
            m = r.pattern.match(path) if r is not None else None
            if r is not None and m is not None:
                return r, m
            if m is None and any(not segments[i] for i in layout):
                continue
            allowed += [name for name in methods if name not in allowed]
        return allowed


ROUTES = RouteTable()


def route(
    method: str,
    path: str,
    *,
    auth: bool = True,
    command: bool = False,
    admin: bool | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler for ``method path`` in :data:`ROUTES` (a decorator). ``admin``
    defaults to whether the path is under ``/_emulator/`` (health excepted)."""

    def register(fn: Handler) -> Handler:
        ROUTES.add(method, path, fn, auth=auth, command=command, admin=admin)
        return fn

    return register
