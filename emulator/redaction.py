"""What the inspection API may show of a secret: nothing.

Command bodies are kept for ``GET /_emulator/commands`` and URLs for ``/_emulator/calls`` and
``/_emulator/webhooks``, and anyone holding the API key (or the admin token) reads them, often in
a CI log. So before anything is stored for display, credentials are replaced by ``[redacted]``:
the password (or the lone user-name token) of a URL's user info, the value of a query parameter
named like a secret, and the value of every body field named like a password, token or secret
(``sip_auth_password``, ``stream_auth_token``, ...), at any depth. The logs scrub the same
things as a second line of defence (:mod:`emulator.logs`).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
# Field and query-parameter names that hold secrets: *password*, *token*, *secret* and the
# usual short forms. (chosen) Matched anywhere in the name, case-insensitively.
_SECRET_NAME = re.compile(r"(?i)passw(or)?d|pwd|token|secret|api_?key|credential")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:[^=&#]*(?:passw(?:or)?d|pwd|token|secret|api_?key|credential|sig)[^=&#]*)=)"
    r"[^&#]*"
)


# Names already looked at, so a body's usual field names cost a dict lookup, not a
# case-insensitive regex search each (that was most of a valid transfer's redaction,
# docs/performance.md). Bounded: names come from the client; short ones only, first come first
# kept (Telnyx's field names are all far shorter).
_KNOWN_NAMES: dict[str, bool] = {}
_KNOWN_NAMES_LIMIT = 4096
_KNOWN_NAME_LENGTH = 64


def is_secret_name(name: str) -> bool:
    known = _KNOWN_NAMES.get(name)
    if known is None:
        known = _SECRET_NAME.search(name) is not None
        if len(name) <= _KNOWN_NAME_LENGTH and len(_KNOWN_NAMES) < _KNOWN_NAMES_LIMIT:
            _KNOWN_NAMES[name] = known
    return known


def redact_url(url: str | None) -> str | None:
    """A URL fit to show: ``https://user:secret@host/`` becomes ``https://user:[redacted]@host/``,
    ``https://TOKEN@host/`` becomes ``https://[redacted]@host/``, ``?token=abc`` becomes
    ``?token=[redacted]``."""
    if url is None:
        return None
    if "@" in url:
        scheme, sep, rest = url.partition("://")
        authority, slash, path = rest.partition("/")
        if sep and "@" in authority:
            userinfo, _, host = authority.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            shown = f"{user}:{REDACTED}" if colon else REDACTED
            url = f"{scheme}://{shown}@{host}{slash}{path}"
    if "?" in url and "=" in url:
        url = _QUERY_SECRET.sub(rf"\1{REDACTED}", url)
    return url


def redact_value(value: Any, name: str = "") -> Any:
    """``value`` (a decoded request body, or part of one) with every secret replaced: fields
    named like a secret, and credentials inside URL strings.

    Copy on write: a dict or list with nothing to redact comes back as itself, so an ordinary
    body costs a look at each field and no copy. Nothing may change what is returned.
    """
    if name and value is not None and is_secret_name(name):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, dict):
        return _redact_dict(value)
    if isinstance(value, list):
        out: list[Any] | None = None
        for i, item in enumerate(value):
            shown = redact_value(item)
            if shown is not item:
                if out is None:
                    out = list(value)
                out[i] = shown
        return value if out is None else out
    return value


def _redact_dict(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    known = _KNOWN_NAMES
    for key, item in value.items():
        if item is None:
            continue
        secret = known.get(key)
        if secret is None:
            secret = is_secret_name(key)
        if secret:
            shown: Any = REDACTED
        elif isinstance(item, str):
            if "://" not in item:
                continue
            shown = redact_url(item)
        elif isinstance(item, (dict, list)):
            shown = redact_value(item)
        else:
            continue
        if shown is not item:
            if out is None:
                out = dict(value)
            out[key] = shown
    header = value.get("name")
    if isinstance(header, str) and "value" in value and is_secret_name(header):
        # custom_headers / sip_headers: {"name": "X-Api-Token", "value": ...}
        if out is None:
            out = dict(value)
        out["value"] = REDACTED
    return value if out is None else out
