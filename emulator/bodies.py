"""Request bodies: bytes to a JSON value, total over every byte string.

``json.loads`` alone accepts more than the rest of the emulator can carry: ``NaN`` and
``Infinity`` literals, numbers that become ``inf`` (``1e400``) or integers of thousands of digits,
``\\ud800`` escapes that decode to lone UTF-16 surrogates (which no UTF-8 encoder, orjson
included, will write back), and nesting deep enough to raise ``RecursionError``. Each of those
used to pass decoding and fail later, in the validator, the journal or a webhook, sometimes after
the command had acted. Here every such body is refused before anything reads it, as a
Telnyx-shaped 400 (not JSON) or 422 (JSON, but a value no field can hold), with a pointer to the
value where there is one. What comes out is a value every later step can encode.

Numbers are checked as the decoder makes them; the value is walked (to point at every problem)
only when a number failed or the text could hold another problem (a ``\\u`` escape of a
surrogate, many brackets), so an ordinary command body pays two bracket counts and a substring
test, not a walk (docs/performance.md, "The transfer hot path").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from . import errors
from .errors import ApiError, ApiFailure

# (chosen) Nesting allowed in a body. Telnyx's deepest request field is 4 levels down
# (webhook_retries_policies.<event>.retries_ms[i]); 32 leaves room for unknown fields and keeps
# every later recursive step (validator, encoders, the journal) far from its limit.
MAX_DEPTH = 32
# (chosen) Integers must be exact in an IEEE double: RFC 7493 (I-JSON) §2.2. No Telnyx field
# comes near (its integers are int32), and orjson, jsonschema-rs and JavaScript clients all
# handle this range the same way.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_PROBLEMS = 20  # errors reported for one body; the rest are summarised by the first ones

_UTF8_BOM = b"\xef\xbb\xbf"
# A sign that the decoded value needs the walk: a surrogate escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity)")


class _Unsafe(Exception):
    """A number no later step can carry: :func:`decode` starts again and walks the value, to
    name every such number with its pointer."""


def _safe_int(text: str) -> int:
    value = int(text)
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    raise _Unsafe


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isfinite(value):
        return value
    raise _Unsafe


# Made once: ``json.loads`` with any keyword builds a new decoder (and scanner) per call. The
# first checks every number as the scanner makes it (a typical body has two or three), which
# costs far less than scanning the text for long digit runs; a body it refuses (rare) is decoded
# again by the second, and walked.
_CHECKED = json.JSONDecoder(
    parse_constant=_no_constants, parse_int=_safe_int, parse_float=_finite_float
)
_UNCHECKED = json.JSONDecoder(parse_constant=_no_constants)


def decode(raw: bytes) -> Any:
    """The JSON value of ``raw``; raises :class:`ApiFailure` (400 or 422) for anything else.

    UTF-8 only (RFC 8259 §8.1), a leading UTF-8 byte order mark ignored; duplicate keys keep the
    last value, as ``json`` and Telnyx's own (Go) decoder do.
    """
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.invalid_json(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        try:
            value = _CHECKED.decode(text)
            walk = _needs_walk(text)
        except _Unsafe:
            value = _UNCHECKED.decode(text)  # raises as json.loads would for what is not JSON
            walk = True
    except RecursionError:
        raise ApiFailure(422, [_too_deep("/")]) from None
    except ValueError as exc:  # JSONDecodeError, and int()'s digit limit
        raise errors.invalid_json(str(exc)) from None
    if walk:
        problems = _problems(value)
        if problems:
            raise ApiFailure(422, problems)
    return value


def _needs_walk(text: str) -> bool:
    """Whether a value whose numbers all passed may still hold a problem: more brackets than
    MAX_DEPTH could nest, or a surrogate escape (both rare, and cheap to rule out)."""
    return text.count("[") + text.count("{") > MAX_DEPTH or (
        "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    )


def _problems(value: Any) -> list[ApiError]:
    """Every value in ``value`` that no later step could carry, with its pointer."""
    found: list[ApiError] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack and len(found) < MAX_PROBLEMS:
        item, path = stack.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                found.append(_not_unicode(path))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                found.append(
                    errors.out_of_range(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER, _pointer(path))
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                found.append(
                    ApiError(
                        "10033",
                        "Value outside of range",
                        "The number is too large to be represented (it must be a finite "
                        "double-precision number).",
                        _pointer(path),
                    )
                )
        elif len(path) >= MAX_DEPTH:
            found.append(_too_deep(_pointer(path)))
        elif isinstance(item, dict):
            for key, sub in reversed(item.items()):
                if not _is_unicode(key):
                    found.append(_not_unicode((*path, key)))
                else:
                    stack.append((sub, (*path, key)))
        elif isinstance(item, list):
            stack.extend((sub, (*path, i)) for i, sub in reversed(list(enumerate(item))))
    return found[:MAX_PROBLEMS]


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate (it has no UTF-8 encoding)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _pointer(path: tuple[str | int, ...]) -> str:
    # A key may itself hold a surrogate: shown escaped, so the error body stays encodable.
    safe = [
        p
        if isinstance(p, int) or _is_unicode(p)
        else p.encode("utf-8", "backslashreplace").decode("utf-8")
        for p in path
    ]
    return errors.pointer_for(safe)


def _not_unicode(path: tuple[str | int, ...]) -> ApiError:
    return errors.invalid_value(
        "The value is not valid Unicode: it holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF "
        "escape without its pair).",
        _pointer(path),
    )


def _too_deep(pointer: str) -> ApiError:
    return errors.invalid_value(f"The body is nested more than {MAX_DEPTH} levels deep.", pointer)
