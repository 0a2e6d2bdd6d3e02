"""Tenants as the dashboard and the event stream name them: an id and a label, never the key.

A tenant is an API key (``emulator/api.py``). Events and the tenant list must not show keys
(an app may have been pointed at the emulator with a real Telnyx key), so each tenant is named by
a stable digest of its key, and labelled with a masked form a developer can still recognise.

Who may see every tenant (the admin view): the holder of ``--admin-token``; and, on a server
with neither ``--admin-token`` nor ``--api-key`` (the local default, where any key is accepted
anyway), anyone who can reach it. An admin acts on one tenant by naming its id in
``X-Emulator-Tenant`` instead of sending its key.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from .config import Settings

TENANT_HEADER = "x-emulator-tenant"
ID_LENGTH = 12


@lru_cache(maxsize=1024)
def tenant_id(api_key: str) -> str:
    """``t-`` and 12 hex digits of the key's SHA-256: the same id at every start."""
    return "t-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def tenant_label(api_key: str) -> str:
    """(chosen) A key of up to 8 characters is a test fixture (``KEY123``) and is shown whole;
    a longer one shows its first 4 and last 2 characters (``KEY0…9f``)."""
    if len(api_key) <= 8:
        return api_key
    return f"{api_key[:4]}…{api_key[-2:]}"


def open_admin(settings: Settings) -> bool:
    """Whether the admin view needs no credential at all (see the module docstring)."""
    return not settings.admin_token and not settings.api_keys
