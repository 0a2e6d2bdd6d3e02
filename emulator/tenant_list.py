"""``GET /_emulator/tenants``: the tenants the dashboard's picker offers (emulator/tenancy.py).

An admin (see :func:`emulator.tenancy.open_admin`) sees every tenant; anyone else sees only the
tenant of their own bearer key, so the page can show one tenant plainly.
"""

from __future__ import annotations

import re
from typing import Any

from .api import Api, ApiRequest, ApiResponse, route
from .engine import Engine
from .tenancy import tenant_id, tenant_label


def describe(engine: Engine) -> dict[str, Any]:
    return {
        "id": tenant_id(engine.tenant),
        "label": tenant_label(engine.tenant),
        "calls": len(engine.calls),
        "live_calls": engine.calls.live_count(),
        "commands": len(engine.commands),
        "webhooks": len(engine.webhooks),
    }


@route("GET", "/_emulator/tenants", auth=False)
def list_tenants(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    if api.admin_view(request) and "authorization" not in request.headers:
        engines = [e for key, e in api.tenants.items() if key]  # "" is the no-auth routes' own
        return ApiResponse(200, {"data": [describe(e) for e in engines], "admin": True})
    own = api.tenant(api._authenticate(request))
    return ApiResponse(200, {"data": [describe(own)], "admin": False})
