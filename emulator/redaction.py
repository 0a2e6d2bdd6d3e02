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


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


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
    named like a secret, and credentials inside URL strings."""
    if name and value is not None and is_secret_name(name):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, dict):
        out = {k: redact_value(v, k) for k, v in value.items()}
        header = value.get("name")
        if isinstance(header, str) and "value" in out and is_secret_name(header):
            out["value"] = REDACTED  # custom_headers / sip_headers: {"name": "X-Api-Token", ...}
        return out
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value
