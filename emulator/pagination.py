"""Telnyx's list pagination, in its two forms, and the ``filter[...]`` query parameters.

Most list endpoints are numbered: ``page[number]`` (from 1) and ``page[size]`` (1-250, default
20), answered with ``meta: {page_number, page_size, total_pages, total_results}`` (spec
``PaginationMeta``; the SDK's ``DefaultFlatPagination`` reads ``page_number``/``total_pages``).
``GET /v2/connections/{id}/active_calls`` is cursor paginated (spec: "Returned results are cursor
paginated"): ``page[after]``/``page[before]`` and ``page[limit]``, answered with ``meta: {cursors:
{after, before}, next, previous, total_items}``. The SDK (4.189.0) pages that one with
``page[number]``/``page[size]`` and reads ``page_number``/``total_pages``, so given those it gets
numbered pages and numbered meta instead.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from .errors import ApiError, ApiFailure

T = TypeVar("T")
DEFAULT_SIZE = 20
MAX_SIZE = 250


def bad_parameter(name: str, detail: str, code: str = "10015") -> ApiFailure:
    title = "Value outside of range" if code == "10033" else "Invalid value"
    return ApiFailure(422, [ApiError(code, title, detail, parameter=name)])


def _positive(query: Mapping[str, str], name: str, default: int, top: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter(name, f"'{name}' must be an integer, got '{raw}'.") from None
    if value < 1 or (top is not None and value > top):
        upper = f" to {top}" if top is not None else " or more"
        raise bad_parameter(name, f"'{name}' must be 1{upper}, got {value}.", "10033")
    return value


def numbered(items: Sequence[T], query: Mapping[str, str]) -> tuple[list[T], dict[str, Any]]:
    """One page of ``items`` by ``page[number]``/``page[size]``, and its ``meta``."""
    number = _positive(query, "page[number]", 1, None)
    size = _positive(query, "page[size]", DEFAULT_SIZE, MAX_SIZE)
    total = len(items)
    start = (number - 1) * size
    meta = {
        "page_number": number,
        "page_size": size,
        "total_pages": max(1, math.ceil(total / size)),
        "total_results": total,
    }
    return list(items[start : start + size]), meta


def _cursor(key: str) -> str:
    return "v1:" + base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _uncursor(name: str, raw: str) -> str:
    try:
        if not raw.startswith("v1:"):
            raise ValueError(raw)
        return base64.urlsafe_b64decode(raw[3:].encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise bad_parameter(name, f"'{name}' is not a cursor this list handed out.") from None


def cursored(
    items: Sequence[T], keys: Sequence[str], query: Mapping[str, str], path: str
) -> tuple[list[T], dict[str, Any]]:
    """One page of ``items`` (whose stable keys are ``keys``) by ``page[after]``/``page[before]``
    and ``page[limit]``, or by ``page[number]``/``page[size]`` when those are given."""
    if "page[number]" in query or "page[size]" in query:
        # The SDK's paginator reads page_number/total_pages: numbered pages, numbered meta.
        return numbered(items, query)
    size = _positive(query, "page[limit]", DEFAULT_SIZE, MAX_SIZE)
    start = 0
    if query.get("page[after]"):
        after = _uncursor("page[after]", query["page[after]"])
        # (chosen) a cursor whose item has gone (the call ended) starts from the beginning
        start = keys.index(after) + 1 if after in keys else 0
    elif query.get("page[before]"):
        before = _uncursor("page[before]", query["page[before]"])
        end_at = keys.index(before) if before in keys else 0
        start = max(0, end_at - size)
    end = start + size
    page = list(items[start:end])
    page_keys = list(keys[start:end])
    meta: dict[str, Any] = {"cursors": {}, "total_items": len(items)}
    if page_keys:
        meta["cursors"] = {"after": _cursor(page_keys[-1]), "before": _cursor(page_keys[0])}
        if end < len(items):
            meta["next"] = f"{path}?page[after]={meta['cursors']['after']}"
        if start > 0:
            meta["previous"] = f"{path}?page[before]={meta['cursors']['before']}"
    return page, meta


def filters(query: Mapping[str, str], allowed: Sequence[str], endpoint: str) -> dict[str, str]:
    """The ``filter[...]`` parameters by dotted name (``filter[occurred_at][gte]`` is
    ``occurred_at.gte``). One the endpoint does not apply is refused (422) rather than ignored:
    a list that looks filtered but is not would lie."""
    out: dict[str, str] = {}
    for name, value in query.items():
        if not name.startswith("filter["):
            continue
        key = name[len("filter[") :].removesuffix("]").replace("][", ".")
        if key not in allowed:
            raise bad_parameter(
                name,
                f"'{name}' is not a filter of {endpoint}; it takes: "
                + ", ".join(f"filter[{a.replace('.', '][')}]" for a in allowed)
                + ".",
            )
        out[key] = value
    return out
