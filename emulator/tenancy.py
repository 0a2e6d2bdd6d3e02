"""Tenancy: which of the emulator's worlds a request's API key reaches, and how a tenant is named.

**Which world.** Two uses pull in opposite directions. A shared server must keep each API key's
calls, commands and webhooks apart, so that parallel CI jobs never see each other's (moto's
per-account backends): that is ``per_key``, the server's default. A test, on the other hand, is
one world: the app under test builds its Telnyx client from its own settings, often at import
time and before any fixture runs, with whatever key its test configuration holds, and the test
must still see and command the calls it made. moto and LocalStack answer the same problem the
same way (any credentials reach one default account unless isolation is asked for), so the
pytest fixture and ``mock()`` default to ``single``: every key reaches one tenant.

When keys are separate, the commonest mistake is a command sent with another key than the one
that created the call. Telnyx would only say "invalid call control id"; the emulator says that the
call exists under another key (never which one), because that is the whole fix.

**How a tenant is named** (the dashboard and the event stream): an id and a label, never the
key. Events and the tenant list must not show keys (an app may have been pointed at the emulator
with a real Telnyx key), so each tenant is named by a stable digest of its key, and labelled with
a masked form a developer can still recognise.

Who may see every tenant (the admin view): the holder of ``--admin-token``; and, on a server
with neither ``--admin-token`` nor ``--api-key`` (the local default, where any key is accepted
anyway), anyone who can reach it. An admin acts on one tenant by naming its id in
``X-Emulator-Tenant`` instead of sending its key.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from .config import Settings

TENANT_HEADER = "x-emulator-tenant"
ID_LENGTH = 12

SINGLE = "single"
PER_KEY = "per_key"
TENANCIES = (SINGLE, PER_KEY)
# The one tenant of ``single`` tenancy: a fixed name, so that IDs and fault draws made from a
# seed do not depend on which key the app happens to use.
SHARED_TENANT = "*"

# The call a request names in its path: /v2/calls/{id} and /calls/{id}[/actions/...].
CALL_PATH = re.compile(r"^(?:/v2)?/calls/(?P<id>[^/]+)")
# Body fields that name another existing call (bridge, dial with link_to).
_CALL_FIELDS = ("call_control_id", "link_to")
INVALID_CALL_CONTROL_ID = "90015"
OTHER_TENANT_DETAIL = (
    "The call_control_id provided was not valid for this API key: call {id} exists, but was "
    "created with another API key. Each API key is its own tenant on this emulator; send the "
    "command with the key that created the call."
)


class _Calls(Protocol):
    def get(self, call_control_id: str) -> object | None: ...


class _Tenant(Protocol):
    @property
    def calls(self) -> _Calls: ...


def check(tenancy: str) -> str:
    """``tenancy`` itself, or a ValueError that names the known values (and the near miss)."""
    if tenancy in TENANCIES:
        return tenancy
    close = difflib.get_close_matches(str(tenancy), TENANCIES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(f"unknown tenancy {tenancy!r}; {hint}known: {', '.join(TENANCIES)}")


def tenant_for(tenancy: str, api_key: str) -> str:
    """The tenant an authenticated API key reaches."""
    return SHARED_TENANT if tenancy == SINGLE else api_key


def named_calls(path: str, body: Any) -> list[str]:
    """The call control IDs a request names: in its path, then in its body."""
    ids: list[str] = []
    match = CALL_PATH.match(path)
    if match is not None:
        ids.append(match["id"])
    if isinstance(body, dict):
        ids.extend(v for k in _CALL_FIELDS if isinstance(v := body.get(k), str))
    return ids


def owned_elsewhere(
    tenants: Mapping[str, _Tenant], tenant: str, call_ids: Iterable[str]
) -> str | None:
    """The first of ``call_ids`` that ``tenant`` does not have but another tenant does."""
    mine = tenants.get(tenant)
    for call_control_id in call_ids:
        if mine is not None and mine.calls.get(call_control_id) is not None:
            continue
        for name, other in list(tenants.items()):
            if name != tenant and other.calls.get(call_control_id) is not None:
                return call_control_id
    return None


def explain_other_tenant(errors: list[dict[str, Any]], call_control_id: str) -> bool:
    """Rewrite the detail of the "invalid call control id" errors in place; True if any."""
    changed = False
    for error in errors:
        if error.get("code") == INVALID_CALL_CONTROL_ID:
            error["detail"] = OTHER_TENANT_DETAIL.format(id=call_control_id)
            changed = True
    return changed


# -- names ----------------------------------------------------------------------------------------


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
