"""Scenarios: what the far end of a call does, and when.

A scenario is chosen for every new outbound leg (a transfer's leg B, a Dial) by matching its
destination against each scenario's ``match.to`` patterns, and for a simulated inbound call that
names one. It says how long the leg rings, how it ends up (answered, busy, rejected, not found, no
answer), what answering-machine detection finds, whether the callee hangs up later, and what the
person on the line does once answered (``far_end``: press digits, say something, stay silent,
hang up; see :mod:`emulator.person`). The engine turns this into timed state transitions; the
loader below turns YAML files into these frozen objects, validating them against
``schemas/scenario.schema.json`` and reporting problems as ``file:line: reason``.

This module is pure (no I/O beyond reading scenario files at load time).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from emulator.faults import DeliveryPolicy
from emulator.resources import load_schema, scenarios_dir

Outcome = Literal["answer", "busy", "reject", "not_found", "no_answer", "unavailable"]
HangupSource = Literal["caller", "callee", "unknown"]


@dataclass(frozen=True, slots=True)
class Hangup:
    """How a leg that never answered ends (``call.hangup`` fields)."""

    cause: str  # hangup_cause enum, e.g. "user_busy"
    sip_code: str  # sip_hangup_cause, e.g. "486", or "unspecified"
    source: HangupSource = "callee"


@dataclass(frozen=True, slots=True)
class Amd:
    """What answering-machine detection reports once the leg is answered.

    Only used when the command asked for AMD; the command's mode decides which events are sent.
    """

    result: Literal["human", "machine", "not_sure"] = "human"
    # Premium modes report a richer result; when unset it is derived from ``result``
    # (human -> human_residence, machine -> machine, not_sure -> not_sure).
    premium_result: (
        Literal[
            "human_residence", "human_business", "machine", "silence", "fax_detected", "not_sure"
        ]
        | None
    ) = None
    detection_secs: float = 1.5  # after answer; capped by total_analysis_time_millis
    # How the machine's greeting ends: None = it does not end within the analysis (no event).
    greeting: Literal["beep_detected", "ended", "not_sure"] | None = None
    greeting_secs: float = 5.0  # after answer; capped by greeting_total_analysis_time_millis
    call_screening: bool = False  # premium_ios_call_screening_detection only


Action = Literal["press", "say", "silence", "hangup"]
ACTIONS: tuple[Action, ...] = ("press", "say", "silence", "hangup")


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the far end's script (``far_end:`` in a scenario file)."""

    action: Action
    value: str = ""  # the digits pressed or the text said
    after_secs: float = 0.0  # after the trigger, or after the previous step
    # `when:` in the file: prompt_started, prompt_ended, gather_started, dtmf_sent[:<digits>]
    on: str | None = None
    silence_secs: float = 0.0

    def describe(self) -> str:
        what = {
            "press": f"presses {self.value}",
            "say": f"says {self.value!r}",
            "silence": f"stays silent {_secs(self.silence_secs)}",
            "hangup": "hangs up",
        }[self.action]
        when = f" on {self.on}" if self.on else ""
        if self.after_secs:
            when += f" +{_secs(self.after_secs)}"
        return what + when


@dataclass(frozen=True, slots=True)
class Refer:
    """What a SIP REFER to an address this scenario matches does (the refer command)."""

    outcome: Literal["completed", "failed"] = "completed"
    sip_code: int = 200  # sip_notify_response of call.refer.completed / .failed
    after_secs: float = 1.0  # from call.refer.started to the final webhook


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    # Full-match regular expressions on the destination (``to``); empty = matches anything.
    match_to: tuple[re.Pattern[str], ...] = ()
    ring_secs: float = 1.0  # from call.initiated to the outcome
    outcome: Outcome = "answer"
    # For outcomes other than "answer" (defaults per outcome filled in by the loader);
    # for "no_answer" the leg rings until the command's timeout_secs.
    hangup: Hangup | None = None
    amd: Amd = field(default_factory=Amd)
    # After answer: the callee hangs up after this many seconds (None = stays up).
    hangup_after_secs: float | None = None
    hangup_after_source: HangupSource = "callee"
    refer: Refer = field(default_factory=Refer)
    # Faults for the webhooks of legs following this scenario (None = the API key's policy).
    delivery: DeliveryPolicy | None = None
    # What the person on the line does once answered, step by step (empty = stays silent).
    far_end: tuple[Step, ...] = ()
    audio_secs: float | None = None  # media.audio_secs: every audio file's length
    origin: str = "<builtin>"  # "path/to/file.yaml:LINE", for messages and `scenarios list`

    def matches(self, to: str) -> bool:
        return not self.match_to or any(p.fullmatch(to) for p in self.match_to)

    @property
    def is_catch_all(self) -> bool:
        return not self.match_to


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ScenarioError(Exception):
    """One or more scenario files are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[ScenarioProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------------------------
# Defaults

# call.hangup fields of a failed leg, per outcome (each can be overridden by the file's `hangup`).
# Which cause/SIP code Telnyx really reports for these is not documented (NOTES.md §4): these follow
# the hangup_cause enum and the usual SIP responses. "no_answer" is ended by the emulator when the
# command's timeout_secs runs out (hangup_cause "timeout"); no SIP final response exists for it.
DEFAULT_HANGUPS: Mapping[str, Hangup] = MappingProxyType(
    {
        "busy": Hangup("user_busy", "486", "callee"),
        "reject": Hangup("call_rejected", "603", "callee"),
        "not_found": Hangup("not_found", "404", "callee"),
        "unavailable": Hangup("unspecified", "503", "unknown"),
        "no_answer": Hangup("timeout", "unspecified", "callee"),
    }
)

MATCH_CACHE_SIZE = 4096  # destinations remembered by ScenarioBook.match; cleared when full
_YAML_SUFFIXES = (".yaml", ".yml")


# --------------------------------------------------------------------------------------------
# The book


class ScenarioBook:
    """The scenarios in force: user directories first (they win by name), then bundled ones."""

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        """Scenarios in priority order; those with match rules are tried before catch-alls.

        The relative order within each group is kept. Names must be unique (ValueError).
        """
        by_name: dict[str, Scenario] = {}
        for scenario in scenarios:
            if scenario.name in by_name:
                raise ValueError(
                    f"duplicate scenario name {scenario.name!r} "
                    f"({by_name[scenario.name].origin} and {scenario.origin})"
                )
            by_name[scenario.name] = scenario
        self._by_name = by_name
        self._matched: dict[str, Scenario] = {}
        self._ordered: tuple[Scenario, ...] = tuple(
            [s for s in scenarios if not s.is_catch_all] + [s for s in scenarios if s.is_catch_all]
        )

    @classmethod
    def load(cls, dirs: Sequence[Path] = (), *, include_bundled: bool = True) -> ScenarioBook:
        """Load every ``*.yaml``/``*.yml`` of ``dirs`` (in order, files sorted by name), then the
        bundled scenarios, which a user scenario of the same name replaces.

        Raises ScenarioError listing every problem in every file (nothing is loaded then).
        A path in ``dirs`` may also be a single scenario file.
        """
        problems: list[ScenarioProblem] = []
        user = _load_group(_expand(dirs, problems), problems)
        bundled: tuple[Scenario, ...] = ()
        if include_bundled:
            try:
                bundled = _bundled_scenarios()
            except ScenarioError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScenarioError(problems)
        names = {s.name for s in user}
        return cls([*user, *(s for s in bundled if s.name not in names)])

    def match(self, to: str) -> Scenario:
        """The first scenario whose ``match.to`` full-matches ``to`` (catch-alls come last)."""
        cached = self._matched.get(to)
        if cached is not None:
            return cached
        for scenario in self._ordered:
            if scenario.matches(to):
                # The book never changes, and apps dial the same few numbers over and over; the
                # cache spares every transfer a walk over the regular expressions (bench/).
                if len(self._matched) >= MATCH_CACHE_SIZE:
                    self._matched.clear()
                self._matched[to] = scenario
                return scenario
        names = ", ".join(s.name for s in self._ordered) or "none"
        raise LookupError(
            f"no scenario matches the destination {to!r} and there is no catch-all scenario "
            f"(one without `match`); scenarios loaded: {names}. Add a catch-all scenario file "
            "or load the bundled scenarios (they include the catch-all 'answered')."
        )

    def get(self, name: str) -> Scenario | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Scenario]:
        """In matching order: scenarios with match rules, then catch-alls."""
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __repr__(self) -> str:
        return f"ScenarioBook({[s.name for s in self._ordered]!r})"


def check_paths(paths: Sequence[Path]) -> list[ScenarioProblem]:
    """Validate scenario files (or directories of them) without loading: every problem found.

    Directories contribute their ``*.yaml``/``*.yml`` files (sorted by name); files named
    explicitly are checked whatever their extension. Names must be unique across all of them.
    """
    problems: list[ScenarioProblem] = []
    _load_group(_expand(paths, problems), problems)
    return problems


def load_file(path: Path) -> Scenario:
    """Load one scenario file; raises ScenarioError with its problems."""
    problems: list[ScenarioProblem] = []
    parsed = _parse_file(path, problems)
    if parsed is None or problems:
        raise ScenarioError(problems)
    return parsed[0]


def describe(scenario: Scenario) -> str:
    """A one-line summary of what the far end does, e.g. ``busy (user_busy, SIP 486) after 1 s``."""
    ring = f"after {_secs(scenario.ring_secs)}"
    if scenario.outcome == "answer":
        parts = [f"answers {ring}"]
        amd = scenario.amd
        detail = f"AMD {amd.result}"
        if amd.premium_result is not None:
            detail += f" (premium {amd.premium_result})"
        if amd.greeting is not None:
            greeting = {
                "beep_detected": "ends with a beep",
                "ended": "ends without a beep",
                "not_sure": "ends (not sure)",
            }[amd.greeting]
            detail += f", greeting {greeting} after {_secs(amd.greeting_secs)}"
        if amd.call_screening:
            detail += ", iOS call screening"
        parts.append(detail)
        if scenario.far_end:
            parts.append("then " + ", ".join(step.describe() for step in scenario.far_end))
        if scenario.hangup_after_secs is None:
            parts.append("stays up")
        else:
            parts.append(
                f"{scenario.hangup_after_source} hangs up "
                f"{_secs(scenario.hangup_after_secs)} after answer"
            )
        return "; ".join(parts)
    hangup = scenario.hangup or DEFAULT_HANGUPS[scenario.outcome]
    sip = "no SIP code" if hangup.sip_code == "unspecified" else f"SIP {hangup.sip_code}"
    what = f"{_OUTCOME_WORDS[scenario.outcome]} ({hangup.cause}, {sip})"
    if scenario.outcome == "no_answer":
        return f"{what} when the command's timeout_secs runs out"
    return f"{what} {ring}"


_OUTCOME_WORDS = {
    "busy": "busy",
    "reject": "rejected",
    "not_found": "not found",
    "no_answer": "no answer",
    "unavailable": "unavailable",
}


def _secs(value: float) -> str:
    return f"{value:g} s"


# --------------------------------------------------------------------------------------------
# Loading


@cache
def _validator() -> Any:
    # Imported here: python-jsonschema costs ~30 ms to import, paid only when files are loaded.
    import jsonschema

    schema = load_schema("scenario")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def _bundled_scenarios() -> tuple[Scenario, ...]:
    problems: list[ScenarioProblem] = []
    scenarios = _load_group(_expand([scenarios_dir()], problems), problems)
    if problems:
        raise ScenarioError(problems)
    return tuple(scenarios)


def _expand(paths: Sequence[Path], problems: list[ScenarioProblem]) -> list[Path]:
    """Scenario files of ``paths``: each directory's YAML files sorted by name; files as given."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(
                sorted(
                    (p for p in path.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file()),
                    key=lambda p: p.name,
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(ScenarioProblem(str(path), 0, "no such file or directory"))
    return files


def _load_group(files: Sequence[Path], problems: list[ScenarioProblem]) -> list[Scenario]:
    """Parse ``files`` in order; names must be unique within the group."""
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}  # name -> "file:line"
    for path in files:
        parsed = _parse_file(path, problems)
        if parsed is None:
            continue
        scenario, name_line = parsed
        where = f"{path}:{name_line}"
        if scenario.name in seen:
            problems.append(
                ScenarioProblem(
                    str(path),
                    name_line,
                    f"duplicate scenario name {scenario.name!r} (already defined at "
                    f"{seen[scenario.name]}); give one of them another `name`",
                )
            )
            continue
        seen[scenario.name] = where
        scenarios.append(scenario)
    return scenarios


def read_yaml(path: Path, problems: list[ScenarioProblem]) -> tuple[yaml.Node | None, Any] | None:
    """Read and compose a YAML file the emulator is given (a scenario, the config file): its
    root node (for line numbers) and data, or None with the reason in ``problems`` as
    ``file:line``. Never raises, whatever the file holds."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ScenarioProblem(file, 0, f"cannot read the file: {exc}"))
        return None
    try:
        return _compose(text)
    except yaml.MarkedYAMLError as exc:
        problems.append(ScenarioProblem(file, _yaml_error_line(exc), _yaml_error_reason(exc)))
    except yaml.YAMLError as exc:
        problems.append(ScenarioProblem(file, 1, f"invalid YAML: {exc}"))
    except (ValueError, RecursionError) as exc:  # a 5,000-digit integer; absurdly deep nesting
        problems.append(ScenarioProblem(file, 1, f"invalid YAML: {type(exc).__name__}: {exc}"))
    return None


def _parse_file(path: Path, problems: list[ScenarioProblem]) -> tuple[Scenario, int] | None:
    """The scenario in ``path`` and the line of its name; None (and ``problems``) if invalid."""
    file = str(path)
    composed = read_yaml(path, problems)
    if composed is None:
        return None
    root, data = composed

    if root is None:
        problems.append(
            ScenarioProblem(file, 1, "the file is empty: expected a mapping of scenario keys")
        )
        return None

    found: list[tuple[int, str]] = []
    found.extend(_duplicate_keys(root, []))
    found.extend(_schema_problems(data, root))
    found.extend(_regex_problems(data, root))
    found.extend(_number_problems(data, root, []))
    found.extend(_step_problems(data, root))
    if found:
        problems.extend(ScenarioProblem(file, line, reason) for line, reason in sorted(set(found)))
        return None

    return _build(data, path, root), _line_of(root, ["name"])


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def _yaml_error_line(exc: yaml.MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else 1


def _yaml_error_reason(exc: yaml.MarkedYAMLError) -> str:
    reason = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
    if exc.problem and exc.context:
        context = exc.context
        start, problem = exc.context_mark, exc.problem_mark
        if start is not None and problem is not None and start.line != problem.line:
            context += f" started at line {start.line + 1}"
        reason += f" ({context})"
    if exc.problem and "unknown escape character" in exc.problem:
        reason += (
            "; write regular expressions in single quotes, where a backslash is literal: "
            "'\\+1\\d{3}5550101'"
        )
    return reason


# --------------------------------------------------------------------------------------------
# Problems, each as (line, reason)

_KeyPath = list[str | int]  # a location in the document: keys and list indexes


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _at(path: Sequence[str | int], message: str) -> str:
    dotted = _dotted(path)
    return f"{dotted}: {message}" if dotted else message


def _line_of(root: yaml.Node, path: Sequence[str | int]) -> int:
    """1-based line of the key (or sequence item) at ``path``, as deep as the file goes."""
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):  # the last duplicate is the one loaded
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: yaml.Node, path: _KeyPath) -> Iterator[tuple[int, str]]:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in first:
                    yield (
                        line,
                        _at(
                            [*path, key.value], f"duplicate key (first at line {first[key.value]})"
                        ),
                    )
                else:
                    first[key.value] = line
                yield from _duplicate_keys(value, [*path, key.value])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, [*path, index])


_NOT_ALLOWED_HINTS = {
    "hangup": "a call that is answered has no failure hangup; "
    "use after_answer.hangup_secs to make the callee hang up later",
    "amd": "only an answered call goes through answering-machine detection",
    "after_answer": "the call is never answered",
    "far_end": "the call is never answered, so nobody is on the line",
    "ring_secs": "a no_answer leg rings until the command's timeout_secs",
}

_TYPE_WORDS = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping (key: value lines)",
    "array": "a list",
    "null": "null",
}


def _show(value: Any) -> str:
    """A scalar as the YAML author wrote it, quoted when a string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return repr(value)
    return _describe(value)


def _describe(value: Any) -> str:
    """What a value is, for "expected X, got Y"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{_show(value)} (a boolean)"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({value})"


def _option(value: Any) -> str:
    return "null" if value is None else str(value)


def _schema_problems(data: Any, root: yaml.Node) -> list[tuple[int, str]]:
    errors = list(_validator().iter_errors(data))
    # A key that is not allowed at all is reported once, not also for what is inside it.
    banned = [list(e.absolute_path) for e in errors if e.validator == "not"]
    found: list[tuple[int, str]] = []
    for error in errors:
        path = list(error.absolute_path)
        if error.validator != "not" and any(path[: len(b)] == b for b in banned):
            continue
        for sub_path, message in _translate(error, data):
            found.append((_line_of(root, sub_path), _at(sub_path, message)))
    return found


def _translate(error: Any, data: Any) -> Iterator[tuple[_KeyPath, str]]:
    """One jsonschema error as (path, message) pairs worded for a YAML author."""
    path: _KeyPath = list(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            if key is True and "when" in allowed:  # YAML 1.1 reads a bare `on` as true
                yield [*path, "on"], "unknown key; YAML reads `on` as true: write `when:`"
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
            )
            yield [*path, str(key)], f"unknown key; {hint}"
    elif kind == "enum":
        options = ", ".join(_option(v) for v in value)
        yield path, f"{_show(instance)} is not one of {options}"
    elif kind == "const":
        yield path, f"{_show(instance)} is not {_option(value)}"
    elif kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        yield path, f"expected {expected}, got {_describe(instance)}"
    elif kind == "minimum":
        if value == 0:
            yield path, f"must not be negative, got {instance!r}"
        else:
            yield path, f"must be at least {value!r}, got {instance!r}"
    elif kind == "maximum":
        if not (isinstance(instance, float) and not math.isfinite(instance)):  # said once below
            yield path, f"must be at most {value!r}, got {instance!r}"
    elif kind == "exclusiveMinimum":
        yield path, f"must be more than {value!r}, got {instance!r}"
    elif kind == "required":
        for key in value:
            if key not in instance:
                yield path, f"missing required key {key!r}"
    elif kind == "minItems":
        if path == ["match", "to"]:
            yield path, "must list at least one pattern (omit `match` for a catch-all)"
        else:
            yield path, f"must list at least {value} item(s)"
    elif kind == "pattern":
        if path == ["name"]:
            yield (
                path,
                f"{instance!r} is not a valid name: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit",
            )
        elif path[-1:] == ["sip_code"]:
            yield path, f'{instance!r} is not a SIP response code (such as "486") or unspecified'
        else:
            yield path, f"{instance!r} does not match the pattern {value!r}"
    elif kind == "not":
        key = str(path[-1]) if path else ""
        outcome = data.get("outcome", "answer") if isinstance(data, dict) else "answer"
        why = _NOT_ALLOWED_HINTS.get(key)
        message = f"not allowed when outcome is {outcome}"
        yield path, f"{message} ({why})" if why else message
    elif kind == "dependentRequired":
        for key, needs in value.items():
            if key in instance:
                for need in needs:
                    if need not in instance:
                        yield [*path, key], f"has no effect without {need}"
    else:
        yield path, error.message


def _regex_problems(data: Any, root: yaml.Node) -> Iterator[tuple[int, str]]:
    match = data.get("match") if isinstance(data, dict) else None
    patterns = match.get("to") if isinstance(match, dict) else None
    if not isinstance(patterns, list):
        return
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            path: _KeyPath = ["match", "to", index]
            reason = f"invalid regular expression: {exc.msg}"
            if exc.pos is not None:
                reason += f" at position {exc.pos}"
            if exc.msg == "nothing to repeat" and pattern.startswith("+"):
                reason += " (escape a literal plus sign: '\\+1...')"
            yield _line_of(root, path), _at(path, reason)


def _step_problems(data: Any, root: yaml.Node) -> Iterator[tuple[int, str]]:
    """Each far_end step does exactly one thing (the schema checks the rest)."""
    steps = data.get("far_end") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        given = [a for a in ACTIONS if a in step]
        if len(given) != 1:
            path: _KeyPath = ["far_end", index]
            found = f"got {', '.join(given)}" if given else "got none"
            reason = f"a step does exactly one of press, say, silence, hangup ({found})"
            yield _line_of(root, path), _at(path, reason)


def _number_problems(value: Any, root: yaml.Node, path: _KeyPath) -> Iterator[tuple[int, str]]:
    """YAML's .inf and .nan pass the schema's number checks; durations must be finite."""
    if isinstance(value, float) and not math.isfinite(value):
        yield _line_of(root, path), _at(path, f"must be a finite number, got {value!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _number_problems(item, root, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _number_problems(item, root, [*path, index])


# --------------------------------------------------------------------------------------------
# Building (the data is valid by now)


def _build(data: dict[str, Any], path: Path, root: yaml.Node) -> Scenario:
    outcome = data.get("outcome", "answer")
    hangup: Hangup | None = None
    if outcome != "answer":
        default = DEFAULT_HANGUPS[outcome]
        given = data.get("hangup") or {}
        sip_code = given.get("sip_code", default.sip_code)
        hangup = Hangup(
            cause=given.get("cause", default.cause),
            sip_code=str(int(sip_code)) if isinstance(sip_code, int | float) else sip_code,
            source=given.get("source", default.source),
        )
    amd_data = data.get("amd") or {}
    amd_default = Amd()
    amd = Amd(
        result=amd_data.get("result", amd_default.result),
        premium_result=amd_data.get("premium_result", amd_default.premium_result),
        detection_secs=float(amd_data.get("detection_secs", amd_default.detection_secs)),
        greeting=amd_data.get("greeting", amd_default.greeting),
        greeting_secs=float(amd_data.get("greeting_secs", amd_default.greeting_secs)),
        call_screening=bool(amd_data.get("call_screening", amd_default.call_screening)),
    )
    after = data.get("after_answer") or {}
    hangup_after = after.get("hangup_secs")
    refer_data = data.get("refer") or {}
    refer_outcome = refer_data.get("outcome", "completed")
    refer = Refer(
        outcome=refer_outcome,
        sip_code=int(refer_data.get("sip_code", 200 if refer_outcome == "completed" else 603)),
        after_secs=float(refer_data.get("after_secs", 1.0)),
    )
    return Scenario(
        name=data.get("name") or path.stem,
        description=data.get("description", ""),
        match_to=tuple(re.compile(p) for p in (data.get("match") or {}).get("to", ())),
        ring_secs=float(data.get("ring_secs", 1.0)),
        outcome=outcome,
        hangup=hangup,
        amd=amd,
        hangup_after_secs=None if hangup_after is None else float(hangup_after),
        hangup_after_source=after.get("hangup_source", "callee"),
        refer=refer,
        delivery=DeliveryPolicy.from_json(data["delivery"]) if "delivery" in data else None,
        far_end=tuple(_step(item) for item in data.get("far_end") or ()),
        audio_secs=_float_or_none((data.get("media") or {}).get("audio_secs")),
        origin=f"{path}:{root.start_mark.line + 1}",
    )


def _step(item: dict[str, Any]) -> Step:
    action = next(a for a in ACTIONS if a in item)
    value = item[action]
    return Step(
        action=action,
        value=str(value) if action in ("press", "say") else "",
        after_secs=float(item.get("after_secs", 0.0)),
        on=item.get("when"),
        silence_secs=float(value) if action == "silence" else 0.0,
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
