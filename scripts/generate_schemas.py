"""Write ``schemas/<command>_request.schema.json`` and ``schemas/webhooks/<event>.schema.json``
from Telnyx's published OpenAPI spec.

    python scripts/generate_schemas.py [--spec PATH] [--check]

Source: ``/work/shared/telnyx/openapi/call-control.json`` by default, the Call Control subset of
``team-telnyx/openapi`` ``openapi/spec3.yml`` at commit ``12de4dd0`` (see its README). The
package and the tests never read the spec: they read what this script wrote, and every written
file names its source in ``$comment``. ``--check`` writes nothing and exits 1 if a file would
change (run it after editing the overrides or upgrading the spec).

What the script does to each request schema:

1. resolves every ``$ref`` inline (a recursive one would become ``$defs``; the spec has none);
2. turns OpenAPI-only keywords into JSON Schema 2020-12 (``example`` -> ``examples``, drops
   ``discriminator`` and ``x-*`` vendor keys);
3. hardens it (``_harden``): Base64 ``client_state``, a range on every integer and number;
4. merges the hand-reviewed prose rules of ``scripts/schema_overrides.py`` on top.

Hand-maintained, not written here (:data:`HAND_MAINTAINED`): the request schemas of the seven
commands emulated before the registry existed (``transfer``, ``answer``, ``hangup``, ``reject``,
``bridge``, ``client_state_update``, ``dial``). They encode rules a regeneration would lose
(``x-telnyx-error: 10016`` on phone numbers, ``x-telnyx-max-total-ms`` on retry policies, the
``link_to`` dependencies, the SDK-only fields and enum values), and their tests pin them. ``pay``
is not in the spec at all: ``schemas/pay_request.schema.json`` is written by hand from the SDK's
``telnyx/types/calls/action_pay_params.py``. The ten webhook schemas the emulator emitted before
(``call.initiated`` ... ``call.machine.premium.*``) are hand-curated too (they merge spec and
SDK, with ``x-sources``); this script writes the other call webhooks of the spec.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from schema_overrides import BASE64, OVERRIDES

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path("/work/shared/telnyx/openapi/call-control.json")
SOURCE = (
    "team-telnyx/openapi openapi/spec3.yml @12de4dd039fd867f7a81c8ec415e6fb6477d5687 "
    "(2026-07-16), Call Control subset"
)
HAND_MAINTAINED = frozenset(
    {"transfer", "answer", "hangup", "reject", "bridge", "client_state_update", "dial", "pay"}
)
HAND_WEBHOOKS = frozenset(
    {
        "call.initiated",
        "call.answered",
        "call.bridged",
        "call.hangup",
        "call.machine.detection.ended",
        "call.machine.greeting.ended",
        "call.machine.premium.detection.ended",
        "call.machine.premium.detection.started",
        "call.machine.premium.greeting.ended",
        "call.machine.premium.call_screening.detected",
    }
)
INT32_MIN, INT32_MAX = -2_147_483_648, 2_147_483_647
NUMBER_BOUND = 1e9
_NON_NEGATIVE = re.compile(r"(_secs|_millis|_ms|_count|_size|_length|_tries|_results)$|^(max|min)_")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "contains", "oneOf", "anyOf", "allOf")
_DROP = frozenset({"discriminator", "xml", "externalDocs", "nullable"})


class Resolver:
    """Inline ``#/components/schemas/...`` references of one spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        self.defs: dict[str, Any] = {}

    def resolve(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in stack:  # recursive: keep one definition and point at it
                if name not in self.defs:
                    self.defs[name] = {}
                    self.defs[name] = self.resolve(self.schemas[name], (*stack, name))
                out["$ref"] = f"#/$defs/{name}"
            else:
                out.update(self.resolve(self.schemas[name], (*stack, name)))
        for key, value in node.items():
            if key == "$ref" or key in _DROP or key.startswith("x-"):
                continue
            if key == "example":
                out["examples"] = [value]
            elif key in ("properties", "patternProperties", "$defs", "dependentSchemas"):
                out[key] = {k: self.resolve(v, stack) for k, v in value.items()}
            elif key in ("enum", "required", "default", "examples", "const", "dependentRequired"):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = self.resolve(value, stack)
        return out


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("type")
    return {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()


def _harden(node: Any, name: str = "") -> None:
    """Base64 client_state; a range on every integer and number (see schema_overrides)."""
    if isinstance(node, list):
        for item in node:
            _harden(item, name)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    if name == "client_state" and types == {"string"}:
        node.update(copy.deepcopy(BASE64))
    if "integer" in types:
        low = 0 if _NON_NEGATIVE.search(name) else INT32_MIN
        node.setdefault("minimum", low)
        node.setdefault("maximum", INT32_MAX)
        node["maximum"] = min(node["maximum"], INT32_MAX)
        node["minimum"] = max(node["minimum"], INT32_MIN)
    elif "number" in types:
        node.setdefault("minimum", 0 if _NON_NEGATIVE.search(name) else -NUMBER_BOUND)
        node.setdefault("maximum", NUMBER_BOUND)
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs"):
            for child_name, child in value.items():
                _harden(child, child_name)
        elif key in _SUBSCHEMAS:
            _harden(value, name)


def _drop_invalid_defaults(node: Any) -> None:
    """A ``default`` its own schema rejects (the spec has ``"default": null`` on objects) is
    dropped: OpenAPI validators refuse it, and it documents nothing true."""
    if isinstance(node, list):
        for item in node:
            _drop_invalid_defaults(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _drop_invalid_defaults(value)
    if "default" in node:
        rest = {k: v for k, v in node.items() if k != "default"}
        if not jsonschema.Draft202012Validator(rest).is_valid(node["default"]):
            del node["default"]


def _apply_overrides(schema: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> None:
    for path, keywords in overrides.items():
        node = schema
        parts = [p for p in path.split("/") if p]
        for i, part in enumerate(parts):
            properties = node.setdefault("properties", {})
            if part not in properties and i == len(parts) - 1:
                properties[part] = {}  # a field the SDK has and the spec lacks
            node = properties[part]  # KeyError: the override names no such parent field
        for key, value in keywords.items():
            if value is None:
                node.pop(key, None)
            else:
                node[key] = copy.deepcopy(value)


def _command_paths(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """command name -> (HTTP method, path, operation) for every /calls action of the spec."""
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        m = re.fullmatch(r"/calls/\{call_control_id\}/actions/(\w+)", path)
        if m is None:
            continue
        for method, op in item.items():
            if method in ("post", "put"):
                out[m[1]] = (method.upper(), path, op)
    return out


def request_schema(spec: dict[str, Any], command: str) -> dict[str, Any]:
    method, path, op = _command_paths(spec)[command]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    component = body["$ref"].rsplit("/", 1)[-1]
    resolver = Resolver(spec)
    resolved = resolver.resolve(body)
    _harden(resolved)
    _apply_overrides(resolved, OVERRIDES.get(command, {}))
    _drop_invalid_defaults(resolved)
    resolved.pop("title", None)
    resolved.pop("examples", None)
    summary = op.get("summary") or command
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://telnyx-emulator.local/schemas/{command}_request.schema.json",
        "$comment": (
            f"Generated by scripts/generate_schemas.py from {SOURCE}, "
            f"components/schemas/{component} ({op.get('operationId')}), with the prose rules of "
            "scripts/schema_overrides.py on top. Do not edit: change the overrides and rerun."
        ),
        "title": f"Telnyx Call Control: {summary} request body",
        "description": f"{method} /v2{path}. Unknown fields are accepted (strict mode is "
        "applied in Python).",
    }
    schema.update(resolved)
    schema.setdefault("type", "object")
    if resolver.defs:
        schema["$defs"] = resolver.defs
    return schema


def webhook_schemas(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """event_type -> schema of its webhook body, for every call webhook of the spec."""
    out: dict[str, dict[str, Any]] = {}
    for key, item in spec.get("webhooks", {}).items():
        op = item["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        resolved = Resolver(spec).resolve(body)
        event = _event_type(resolved)
        if event is None or event in HAND_WEBHOOKS:
            continue
        component = body.get("$ref", "").rsplit("/", 1)[-1] or key
        _drop_invalid_defaults(resolved)
        out[event] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://telnyx-emulator.local/schemas/webhooks/{event}.schema.json",
            "$comment": (
                f"Generated by scripts/generate_schemas.py from {SOURCE}, webhooks.{key} "
                f"(components/schemas/{component}). Do not edit: rerun the script."
            ),
            "title": f"{event} webhook",
            **{k: v for k, v in resolved.items() if k != "title"},
        }
    return out


def _event_type(schema: dict[str, Any]) -> str | None:
    data = schema.get("properties", {}).get("data", {})
    enum = data.get("properties", {}).get("event_type", {}).get("enum")
    return str(enum[0]) if isinstance(enum, list) and len(enum) == 1 else None


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def files(spec: dict[str, Any]) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for command in sorted(_command_paths(spec)):
        if command in HAND_MAINTAINED:
            continue
        target = ROOT / "schemas" / f"{command}_request.schema.json"
        out[target] = _dump(request_schema(spec, command))
    for event, schema in sorted(webhook_schemas(spec).items()):
        out[ROOT / "schemas" / "webhooks" / f"{event}.schema.json"] = _dump(schema)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    stale = []
    for path, text in files(spec).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
