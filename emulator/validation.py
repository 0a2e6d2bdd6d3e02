"""Validate command request bodies against ``schemas/<name>.schema.json``; return Telnyx errors.

Engine choice: **jsonschema-rs only** (``is_valid`` fast path, then ``iter_errors`` on failure).

Measured with ``bench/validator_speed.py`` (Python 3.11.7, jsonschema 4.26.0, jsonschema-rs
0.60.3, fastjsonschema 2.22.3; typical 15-field valid transfer body / 5-violation body; best of
5 ``timeit`` runs, microseconds per validation)::

    engine                                    valid    invalid   errors reported
    jsonschema Draft202012Validator.is_valid  108.1      9.7     -
    jsonschema iter_errors                    107.6     48.4     5
    jsonschema-rs is_valid                      1.0      0.2     -
    jsonschema-rs iter_errors                   1.3      6.7     5
    fastjsonschema (compiled)                   8.5      3.9     1 (stops at the first)
    RequestValidator.validate (this module)     1.6     24.9     5 (Telnyx errors, mapped)

* jsonschema-rs is ~100x faster than python-jsonschema on the common (valid) path, and its
  ``iter_errors`` yields every violation with structured data: ``kind`` (``Required.property``,
  ``Enum.options``, ``Minimum.limit``, ...), ``instance_path`` and ``schema_path``. That is all
  the error mapper needs, so python-jsonschema adds nothing at run time; a hybrid (rs for
  ``is_valid``, python for errors) would cost ~50 us per bad request and two regex dialects.
* fastjsonschema is out: it raises at the first error (the API must report all violations at
  once), it rewrites every ``$`` in a pattern to ``\\Z`` (even inside a character class, which
  then fails to compile), and by default it writes schema defaults into the body it validates.
* python-jsonschema stays a test dependency: tests check both engines flag the same violations.
  Patterns stay in the common subset of Python ``re`` and Rust ``regex`` (no lookaround, no
  backreferences, ``[0-9]`` rather than ``\\d``). One known divergence remains: Python's ``$``
  also matches before a final newline, so python-jsonschema accepts ``"+18005550100\\n"``;
  jsonschema-rs (ECMA-262 semantics, the JSON Schema norm) rejects it, which is what we want.

Error mapping (codes from ``emulator.errors``): missing ``required`` -> 10004 (a required string
sent as ``""`` too, "cannot be blank"); a ``pattern`` on a property annotated
``"x-telnyx-error": "10016"`` -> 10016; ``enum`` -> 10032; ``minimum``/``maximum``/
``exclusive*`` -> 10033; ``type`` -> 10020 (a type error hides other errors on the same value);
everything else -> 10015 ``invalid_value`` naming the field and the rule (``x-telnyx-rule``
gives a pattern's rule in words). Schema extensions handled here: ``x-telnyx-max-total-ms``
(the numbers of the array must add up to at most N; registered as a jsonschema-rs custom
keyword) and strict mode: ``strict=True`` compiles a copy of the schema where every object
schema that lists ``properties`` (top level, nested ``properties``/``items``/
``additionalProperties``/``$defs``; not inside ``allOf``/``anyOf``/``oneOf``/``not``) gets
``additionalProperties: false``; those failures become ``errors.unknown_parameter``.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

import jsonschema_rs

from emulator import errors
from emulator.errors import ApiError
from emulator.resources import load_schema

__all__ = ["MAX_TOTAL_KEYWORD", "RequestValidator", "Validators"]

MAX_TOTAL_KEYWORD = "x-telnyx-max-total-ms"
"""Schema extension: the numbers in the array must add up to at most this many milliseconds."""

_ERROR_CODE_KEYWORD = "x-telnyx-error"
_RULE_KEYWORD = "x-telnyx-rule"

Kind = jsonschema_rs.ValidationErrorKind
Path = tuple[str | int, ...]


class _MaxTotalMs:
    """jsonschema-rs custom keyword for ``x-telnyx-max-total-ms``."""

    def __init__(
        self, parent_schema: dict[str, Any], value: Any, schema_path: list[str | int]
    ) -> None:
        if not _is_number(value):
            raise ValueError(f"{MAX_TOTAL_KEYWORD} must be a number, got {value!r}")
        self.limit = value

    def validate(self, instance: Any) -> None:
        if not isinstance(instance, list):
            return
        total = sum(item for item in instance if _is_number(item))
        if total > self.limit:
            raise ValueError(
                f"must add up to at most {_fmt(self.limit)} ms in total (got {_fmt(total)} ms)"
            )


class RequestValidator:
    """One compiled request schema. ``validate`` returns all violations as Telnyx errors."""

    def __init__(self, schema: dict[str, Any], *, strict: bool = False) -> None:
        self.strict = strict
        self._schema = _closed_copy(schema) if strict else schema
        self._rs = jsonschema_rs.validator_for(
            self._schema, keywords={MAX_TOTAL_KEYWORD: _MaxTotalMs}
        )

    def validate(self, body: dict[str, Any]) -> list[ApiError]:
        """``[]`` when valid; otherwise one error per violation, ordered by pointer.

        Total: a value the validator itself cannot take (emulator.bodies refuses the ones known,
        such as lone surrogates and huge numbers, before they get here) is an invalid body, not
        an exception.
        """
        try:
            if self._rs.is_valid(body):
                return []
            raw = list(self._rs.iter_errors(body))
        except (ValueError, OverflowError, RecursionError, UnicodeError) as exc:
            detail = f"The body could not be validated ({type(exc).__name__})."
            return [errors.invalid_value(detail, "/")]
        type_failed = {tuple(e.instance_path) for e in raw if isinstance(e.kind, Kind.Type)}
        found: dict[tuple[Any, ...], ApiError] = {}
        for error in raw:
            where: Path = tuple(error.instance_path)
            if where in type_failed and not isinstance(error.kind, Kind.Type):
                continue  # e.g. null for an enum field: report the type only
            for path, api_error in self._map(error, where):
                key = (_sort_key(path), api_error.code, api_error.detail)
                found.setdefault(key, api_error)
        return [found[key] for key in sorted(found)]

    # --- mapping one jsonschema-rs error to Telnyx errors ------------------------------------

    def _map(
        self, error: jsonschema_rs.ValidationError, where: Path
    ) -> Iterable[tuple[Path, ApiError]]:
        kind = error.kind
        keyword_path = list(error.schema_path)
        subschema = _subschema(self._schema, keyword_path[:-1])
        label = _label(where)
        pointer = errors.pointer_for(where)

        if isinstance(kind, Kind.Required):
            path = (*where, kind.property)
            yield path, errors.missing_parameter(_label(path), errors.pointer_for(path))
        elif isinstance(kind, Kind.Type):
            yield where, errors.invalid_type(" or ".join(kind.types), pointer)
        elif error.instance == "" and self._is_required(keyword_path):
            yield where, errors.missing_parameter(label, pointer)
        elif isinstance(kind, Kind.Enum):
            yield where, errors.invalid_enum(list(kind.options), pointer)
        elif isinstance(
            kind, (Kind.Minimum, Kind.Maximum, Kind.ExclusiveMinimum, Kind.ExclusiveMaximum)
        ):
            yield where, _out_of_range(subschema, pointer)
        elif isinstance(kind, Kind.Pattern):
            if str(subschema.get(_ERROR_CODE_KEYWORD)) == "10016":
                yield where, errors.not_e164(label, pointer)
            else:
                rule = subschema.get(_RULE_KEYWORD) or f"must match the pattern {kind.pattern}"
                yield where, errors.invalid_value(f"The '{label}' parameter {rule}.", pointer)
        elif isinstance(kind, Kind.AdditionalProperties):
            for name in kind.unexpected:
                path = (*where, name)
                ptr = errors.pointer_for(path)
                if self.strict:
                    yield path, errors.unknown_parameter(_label(path), ptr)
                else:
                    yield (
                        path,
                        errors.invalid_value(
                            f"The '{_label(path)}' parameter is not allowed.", ptr
                        ),
                    )
        elif isinstance(kind, Kind.Not):
            yield from _map_not(kind.schema, where, error.message)
        elif isinstance(kind, Kind.AnyOf) and _one_of_required(subschema.get("anyOf")):
            # [{"required": [a]}, {"required": [b]}]: one of the fields is needed.
            names = [branch["required"][0] for branch in subschema["anyOf"]]
            path = (*where, names[0])
            listed = " or ".join(f"'{_label((*where, n))}'" for n in names)
            yield (
                path,
                errors.ApiError(
                    "10004",
                    "Missing required parameter",
                    f"One of {listed} is required.",
                    errors.pointer_for(path),
                ),
            )
        else:
            yield where, errors.invalid_value(_detail(kind, label, error.message), pointer)

    def _is_required(self, keyword_path: list[str | int]) -> bool:
        """True when the keyword belongs to a property its parent object lists as required."""
        if len(keyword_path) < 3 or keyword_path[-3] != "properties":
            return False
        parent = _subschema(self._schema, keyword_path[:-3])
        return keyword_path[-2] in parent.get("required", ())


class Validators:
    """Compiled validators by schema name ("transfer_request", later "answer_request",
    "dial_request", ...), loaded with emulator.resources.load_schema(name) and compiled once."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._compiled: dict[str, RequestValidator] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> RequestValidator:
        validator = self._compiled.get(name)
        if validator is None:
            with self._lock:
                validator = self._compiled.get(name)
                if validator is None:
                    validator = RequestValidator(load_schema(name), strict=self.strict)
                    self._compiled[name] = validator
        return validator


# --- helpers ----------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label(path: Path) -> str:
    """Human name of a body location: ``custom_headers[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "body"


def _sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)


def _subschema(schema: dict[str, Any], path: Iterable[str | int]) -> dict[str, Any]:
    node: Any = schema
    for part in path:
        if isinstance(node, dict):
            node = node.get(str(part), {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return {}
    return node if isinstance(node, dict) else {}


def _out_of_range(subschema: dict[str, Any], pointer: str) -> ApiError:
    low_incl, low_excl = subschema.get("minimum"), subschema.get("exclusiveMinimum")
    high_incl, high_excl = subschema.get("maximum"), subschema.get("exclusiveMaximum")
    low = low_excl if low_excl is not None else low_incl
    high = high_excl if high_excl is not None else high_incl
    error = errors.out_of_range(low, high, pointer)
    if low_excl is None and high_excl is None:
        return error
    # errors.out_of_range words every bound as inclusive; say "greater than"/"less than" here.
    parts = []
    if low is not None:
        parts.append(
            f"greater than {_fmt(low)}" if low_excl is not None else f"at least {_fmt(low)}"
        )
    if high is not None:
        parts.append(
            f"less than {_fmt(high)}" if high_excl is not None else f"at most {_fmt(high)}"
        )
    return dataclasses.replace(error, detail=f"The value must be {' and '.join(parts)}.")


def _one_of_required(branches: Any) -> bool:
    return isinstance(branches, list) and all(
        isinstance(b, dict) and set(b) == {"required"} and len(b["required"]) == 1 for b in branches
    )


def _map_not(schema: Any, where: Path, message: str) -> Iterable[tuple[Path, ApiError]]:
    names = schema.get("required") if isinstance(schema, dict) else None
    if isinstance(names, list) and names and set(schema) <= {"required", "description"}:
        # {"not": {"required": [a, b]}}: the fields are mutually exclusive; point at the last.
        path = (*where, str(names[-1]))
        listed = " and ".join(f"'{_label((*where, str(n)))}'" for n in names)
        detail = f"The parameters {listed} cannot be used together in one request."
        yield path, errors.invalid_value(detail, errors.pointer_for(path))
    else:
        label = _label(where)
        yield (
            where,
            errors.invalid_value(
                f"The '{label}' parameter is invalid: {message}", errors.pointer_for(where)
            ),
        )


def _detail(kind: jsonschema_rs.ValidationErrorKind, label: str, message: str) -> str:
    field = f"The '{label}' parameter"
    if isinstance(kind, Kind.MaxLength):
        return f"{field} must be at most {kind.limit} characters long."
    if isinstance(kind, Kind.MinLength):
        return f"{field} must be at least {kind.limit} characters long."
    if isinstance(kind, Kind.MaxItems):
        return f"{field} must have at most {kind.limit} items."
    if isinstance(kind, Kind.MinItems):
        return f"{field} must have at least {kind.limit} items."
    if isinstance(kind, Kind.Custom):
        return f"{field} {kind.message}."
    return f"{field} is invalid: {message}"


_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_SINGLE = ("additionalProperties", "items", "unevaluatedItems", "contains")


def _closed_copy(schema: dict[str, Any]) -> dict[str, Any]:
    """Strict mode: deep copy with ``additionalProperties: false`` on every object that lists
    ``properties`` and leaves extra keys open. Combinators are skipped on purpose: closing an
    ``allOf``/``anyOf`` branch or a ``not`` would change what the schema means."""
    closed = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if (
            "properties" in node
            and "additionalProperties" not in node
            and "unevaluatedProperties" not in node
        ):
            node["additionalProperties"] = False
        for key in _SUBSCHEMA_MAPS:
            sub = node.get(key)
            if isinstance(sub, dict):
                for child in sub.values():
                    close(child)
        for key in _SUBSCHEMA_SINGLE:
            close(node.get(key))
        for child in node.get("prefixItems", ()):
            close(child)

    close(closed)
    return closed
