"""The configuration a developer keeps in the repository: ``telnyx-emulator.yaml``.

It declares what a Telnyx account would already hold before the app runs: the Call Control
Applications (connections) with their webhook URLs, the numbers assigned to them, and the
scenario files to load. ``serve`` reads it from the working directory (or ``--config``), the
Docker image from ``/config/telnyx-emulator.yaml``, the pytest fixture from the rootdir (or the
marker's ``config``). Problems are reported as ``file:line: reason``, all at once, like scenario
files (``telnyx-emulator config check``)::

    connections:
      - application_name: my-app
        id: "1234567890123456789"        # optional: derived from the name when left out
        webhook_event_url: http://127.0.0.1:5000/webhooks
        webhook_event_failover_url: http://127.0.0.1:5000/failover
        webhook_timeout_secs: 5
        numbers: ["+13125550100"]
    scenarios: [telnyx-scenarios/]       # relative to this file
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from . import scenarios as sc
from .connections import ConnectionSpec, stable_id
from .resources import load_schema

# The problem type and the YAML-with-line-numbers helpers are the scenario loader's: one format
# of messages for every file the emulator reads.
from .scenarios import (
    ScenarioProblem as ConfigProblem,
)
from .scenarios import (
    _at,
    _compose,
    _duplicate_keys,
    _line_of,
    _translate,
)

DEFAULT_FILE = "telnyx-emulator.yaml"
NUMBER_PATTERN = r"^(\+[1-9][0-9]{1,14}|sips?:[^@\s]+@[^\s]+)$"


class ConfigError(Exception):
    """The config file is invalid; ``problems`` lists every problem in it."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class ConfigFile:
    path: Path
    connections: tuple[ConnectionSpec, ...] = ()
    scenario_paths: tuple[Path, ...] = ()

    def describe(self) -> list[str]:
        """What ``serve`` prints about it: one line per connection."""
        lines = []
        for c in self.connections:
            numbers = ", ".join(c.numbers) or "no numbers"
            default = " (default)" if c.default else ""
            lines.append(
                f"connection {c.fields.get('application_name')!s} id={c.id}{default}: "
                f"{c.fields.get('webhook_event_url')} ({numbers})"
            )
        return lines


@cache
def _schema() -> dict[str, Any]:
    """The create request's schema, plus the file's own keys, with nothing else allowed (a typo
    in a file is a mistake to report, not a field to store)."""
    connection = copy.deepcopy(load_schema("call_control_application_request"))
    for key in ("$schema", "$id", "title", "description", "$comment"):
        connection.pop(key, None)
    connection["required"] = ["webhook_event_url"]
    connection["additionalProperties"] = False
    connection["properties"].update(
        {
            "id": {"type": "string", "pattern": "^[0-9]{1,32}$"},
            "numbers": {
                "type": "array",
                "items": {"type": "string", "pattern": NUMBER_PATTERN},
            },
            "default": {"type": "boolean"},
        }
    )
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "connections": {"type": "array", "items": connection},
            "scenarios": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
    }


def _validator() -> Any:
    import jsonschema  # ~30 ms to import: paid only when a file is loaded

    return jsonschema.Draft202012Validator(_schema())


def find(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The file to load: ``explicit`` if given, else ``telnyx-emulator.yaml`` in ``cwd``."""
    if explicit is not None:
        return explicit
    candidate = (cwd or Path.cwd()) / DEFAULT_FILE
    return candidate if candidate.is_file() else None


def load(path: Path) -> ConfigFile:
    """Load and check a config file; raises ConfigError with every problem found."""
    problems: list[ConfigProblem] = []
    config = _parse(path, problems)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check(path: Path) -> list[ConfigProblem]:
    """Every problem in a config file and in the scenario files it names."""
    problems: list[ConfigProblem] = []
    config = _parse(path, problems)
    if config is not None and config.scenario_paths:
        problems.extend(sc.check_paths(list(config.scenario_paths)))
    return problems


def _parse(path: Path, problems: list[ConfigProblem]) -> ConfigFile | None:
    file = str(path)
    composed = sc.read_yaml(path, problems)
    if composed is None:
        return None
    root, data = composed
    if root is None:
        return ConfigFile(path)  # an empty file configures nothing, which is valid

    found: list[tuple[int, str]] = list(_duplicate_keys(root, []))
    for sub_path, message in _schema_problems(data):
        found.append((_line_of(root, sub_path), _at(sub_path, message)))
    if isinstance(data, dict):
        found.extend(_rules(data, root, path))
    if found:
        problems.extend(ConfigProblem(file, line, reason) for line, reason in sorted(set(found)))
        return None
    return _build(data, path, root)


def _schema_problems(data: Any) -> list[tuple[list[str | int], str]]:
    """The schema's complaints, worded for a YAML author; a pattern says what it wants."""
    out: list[tuple[list[str | int], str]] = []
    for error in _validator().iter_errors(data):
        rule = error.schema.get("x-telnyx-rule") if isinstance(error.schema, dict) else None
        if error.validator == "pattern" and error.schema.get("pattern") == NUMBER_PATTERN:
            rule = "must be a +E.164 number (+13125550100) or a SIP URI"
        if error.validator == "pattern" and rule:
            out.append((list(error.absolute_path), f"{error.instance!r} {rule}"))
            continue
        out.extend(_translate(error, data))
    return out


def _rules(data: Mapping[str, Any], root: yaml.Node, path: Path) -> list[tuple[int, str]]:
    """What the schema can't say: unique ids and numbers, one default, v2 webhooks only, and
    scenario paths that exist."""
    found: list[tuple[int, str]] = []
    ids: dict[str, int] = {}
    numbers: dict[str, int] = {}
    defaults: list[int] = []
    entries = data.get("connections")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        ident = _entry_id(entry, index)
        at: list[str | int] = ["connections", index]
        line = _line_of(root, at)
        if ident in ids:
            found.append(
                (line, _at(at, f"duplicate connection id {ident} (first at line {ids[ident]})"))
            )
        ids.setdefault(ident, line)
        listed = entry.get("numbers")
        for n, number in enumerate(listed if isinstance(listed, list) else []):
            where: list[str | int] = [*at, "numbers", n]
            if not isinstance(number, str):
                continue
            if number in numbers:
                found.append(
                    (
                        _line_of(root, where),
                        _at(where, f"{number} is already assigned (line {numbers[number]})"),
                    )
                )
            numbers.setdefault(number, _line_of(root, where))
        if entry.get("default"):
            defaults.append(line)
        if entry.get("webhook_api_version") == "1":
            version: list[str | int] = [*at, "webhook_api_version"]
            found.append(
                (
                    _line_of(root, version),
                    _at(version, "'1' is not emulated: the emulator sends API v2 webhooks"),
                )
            )
    for line in defaults[1:]:
        found.append(
            (line, f"only one connection can be the default (first at line {defaults[0]})")
        )
    paths = data.get("scenarios")
    for index, entry in enumerate(paths if isinstance(paths, list) else []):
        if not isinstance(entry, str) or not entry:
            continue
        target = path.parent / entry
        if not target.exists():
            item: list[str | int] = ["scenarios", index]
            found.append((_line_of(root, item), _at(item, f"no such file or directory: {target}")))
    return found


def _entry_id(entry: Mapping[str, Any], index: int) -> str:
    ident = entry.get("id")
    if isinstance(ident, str):
        return ident
    return stable_id(str(entry.get("application_name") or f"connection-{index + 1}"))


def _build(data: Mapping[str, Any], path: Path, root: yaml.Node) -> ConfigFile:
    entries = list(data.get("connections") or [])
    specs: list[ConnectionSpec] = []
    # (chosen) A file with a single connection makes it the default: every call reports there.
    only_one = len(entries) == 1
    for index, entry in enumerate(entries):
        fields = {k: v for k, v in entry.items() if k not in ("id", "numbers", "default")}
        fields.setdefault("application_name", f"connection-{index + 1}")
        specs.append(
            ConnectionSpec(
                id=_entry_id(entry, index),
                fields=fields,
                numbers=tuple(entry.get("numbers") or ()),
                default=bool(entry.get("default", only_one)),
                origin=f"{path}:{_line_of(root, ['connections', index])}",
            )
        )
    scenario_paths = tuple(path.parent / p for p in data.get("scenarios") or ())
    return ConfigFile(path, tuple(specs), scenario_paths)


def shortcut(
    webhook_url: str, *, connection_id: str | None = None, numbers: Sequence[str] = ()
) -> ConnectionSpec:
    """The single most common case without a file (``--webhook-url``): one default connection
    that every call reports to."""
    return ConnectionSpec(
        id=connection_id or stable_id("default"),
        fields={"application_name": "default", "webhook_event_url": webhook_url},
        numbers=tuple(numbers),
        default=True,
        origin="--webhook-url",
    )


def specs_from_mappings(entries: Sequence[Mapping[str, Any]]) -> tuple[ConnectionSpec, ...]:
    """Connections given as the file's entries, from Python (the pytest marker's
    ``connections``); checked like a file's. Raises ConfigError."""
    text = yaml.safe_dump({"connections": [dict(e) for e in entries]}, sort_keys=False)
    problems: list[ConfigProblem] = []
    marker = Path("<telnyx_emulator marker connections>")
    root, data = _compose(text)
    found = [(0, _at(sub_path, message)) for sub_path, message in _schema_problems(data)]
    if root is not None:
        found.extend(_rules(data, root, marker))
    if found:
        problems.extend(ConfigProblem(str(marker), 0, reason) for _, reason in found)
        raise ConfigError(problems)
    assert root is not None
    return _build(data, marker, root).connections
