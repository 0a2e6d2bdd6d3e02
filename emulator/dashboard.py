"""``GET /_emulator/ui``: the dashboard page, served from files in the package.

The page is three static files in ``emulator/ui/`` (no build step, no CDN: the server and CI
runners have no internet). Everything it shows and does goes through the documented API
(``/_emulator/*``, ``/_emulator/events``), as a test would; this module only hands the files out.

They load without credentials, even with ``--admin-token``: a browser cannot send a header when
it opens a URL, so the page asks for the token itself, once. ``--no-admin`` removes the page
with the rest of ``/_emulator``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import Receive, Scope, Send

from . import errors
from .config import Settings
from .delivery import dumps

PREFIX = "/_emulator/ui"
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The page needs nothing from elsewhere; saying so stops an injected script from calling out.
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def ui_file(name: str) -> bytes:
    return resources.files("emulator").joinpath("ui", name).read_bytes()


def routes(settings: Settings) -> dict[str, ASGIApp]:
    """Path -> ASGI app of every page file (none with ``--no-admin``)."""
    if settings.no_admin:
        return {}
    out: dict[str, ASGIApp] = {}
    for name, media_type in FILES.items():
        app = request_response(_serve(ui_file(name), media_type))
        out[f"{PREFIX}/{name}"] = app
        if name == "index.html":
            out[PREFIX] = out[f"{PREFIX}/"] = app
    return out


def _serve(content: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            failure = errors.method_not_allowed(request.method, request.url.path, ["GET"])
            return Response(
                dumps(failure.body()),
                status_code=failure.status,
                headers=dict(failure.headers),
                media_type="application/json",
            )
        body = b"" if request.method == "HEAD" else content
        return Response(body, headers=HEADERS, media_type=media_type)

    return endpoint
