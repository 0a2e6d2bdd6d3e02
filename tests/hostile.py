"""Hostile request bodies: a hypothesis strategy for the byte strings that break JSON handlers.

Written here rather than taken from a JSON strategy, because the interesting bodies are the ones
a well-behaved generator never makes. It builds JSON *text* from fragments, biased toward:

- depth: nesting from a few levels to tens of thousands (past Python's recursion limit);
- escapes: ``\\uD800``-``\\uDFFF`` alone (lone surrogates), valid pairs, ``\\u0000``, raw
  control characters, stray backslashes;
- numbers: beyond int32, int64 and 2^53, thousands of digits, ``1e400`` (a double's infinity),
  ``-0``, tiny exponents, and the ``NaN``/``Infinity`` literals Python's json accepts;
- objects: duplicate keys, real Telnyx field names (so values reach the validators), keys that
  are themselves hostile;
- bytes: a UTF-8 byte order mark, UTF-16/32 encodings, encoded surrogates (``surrogatepass``),
  truncation, invalid UTF-8, or no JSON at all.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from emulator.resources import schemas_dir


def _field_names() -> list[str]:
    names: set[str] = set()
    for path in schemas_dir().glob("*_request.schema.json"):
        names |= set(json.loads(path.read_text()).get("properties", {}))
    inbound = json.loads((schemas_dir() / "inbound_call.schema.json").read_text())
    names |= set(inbound["properties"])
    names |= {"delivery", "commands", "delay", "retry_after", "timeout_secs", "count", "mode"}
    return sorted(names)


FIELDS = _field_names()

NUMBERS = st.one_of(
    st.integers().map(str),
    st.sampled_from(
        [
            "2147483647",
            "2147483648",
            "-2147483649",
            "9007199254740993",
            "18446744073709551616",
            "1e400",
            "-1e400",
            "1e-400",
            "1E+308",
            "-0",
            "0.0000000000000000000001",
            "NaN",
            "Infinity",
            "-Infinity",
            "9" * 400,
            "9" * 5000,
            "1" + "0" * 30 + ".5",
        ]
    ),
    st.floats().map(repr),  # 'nan', 'inf', '1e+300': some are not JSON at all
)

ESCAPES = st.sampled_from(
    [
        "\\ud800",
        "\\udfff",
        "\\uDBFF",
        "\\ud83d\\ude00",
        "\\ude00\\ud83d",
        "\\u0000",
        '\\"',
        "\\\\",
        "\\n",
        "\\/",
        "\\x41",  # not a JSON escape
        "\\u12",  # truncated
        "\x01",  # a raw control character: not allowed in a JSON string
        "\ud800",  # a surrogate character: encoded below as UTF-8 with surrogatepass, or refused
    ]
)


def _string_body(text: str) -> str:
    return json.dumps(text)[1:-1]


STRINGS = st.builds(
    lambda parts: '"' + "".join(parts) + '"',
    st.lists(st.text(max_size=8).map(_string_body) | ESCAPES, max_size=6),
)
KEYS = st.sampled_from(FIELDS).map(json.dumps) | STRINGS


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"


def _deep(args: tuple[int, str, str]) -> str:
    depth, kind, leaf = args
    if kind == "array":
        return "[" * depth + leaf + "]" * depth
    return '{"a":' * depth + leaf + "}" * depth


SCALARS = NUMBERS | STRINGS | st.sampled_from(["true", "false", "null"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(KEYS, inner), max_size=5).map(_object)
        # duplicate keys: the same field twice with different values
        | st.tuples(st.sampled_from(FIELDS).map(json.dumps), inner, inner).map(
            lambda t: _object([(t[0], t[1]), (t[0], t[2])])
        )
    ),
    max_leaves=12,
)
DEEP = st.tuples(
    st.sampled_from([30, 32, 33, 64, 500, 990, 1_100, 20_000, 100_000]),
    st.sampled_from(["array", "object"]),
    SCALARS,
).map(_deep)
# Top level: mostly objects of real fields, so hostile values reach every validator.
TEXTS = st.one_of(
    st.lists(st.tuples(KEYS, VALUES | DEEP), max_size=6).map(_object),
    st.lists(st.tuples(KEYS, VALUES | DEEP), max_size=6).map(_object),
    VALUES,
    DEEP,
    st.sampled_from(["", " ", "{", "}", "{}}", "[]", "null", '"x"', "{'a': 1}", '{"a" 1}']),
)


def _encode(args: tuple[str, str, int | None]) -> bytes:
    text, encoding, cut = args
    if encoding == "utf-8-surrogatepass":
        raw = text.encode("utf-8", "surrogatepass")
    elif encoding == "utf-8-sig":
        raw = b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    else:
        raw = text.encode(encoding, "surrogatepass")
    return raw if cut is None else raw[:cut]


ENCODED = st.tuples(
    TEXTS,
    st.sampled_from(["utf-8-surrogatepass"] * 6 + ["utf-8-sig", "utf-16", "utf-32"]),
    st.none() | st.none() | st.none() | st.integers(0, 200),
).map(_encode)

BODIES: Any = ENCODED | ENCODED | ENCODED | st.binary(max_size=64)
"""Hostile request bodies, as bytes."""
