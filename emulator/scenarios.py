"""Scenarios: what the far end of an outbound leg does, and when.

A scenario is chosen for every new outbound leg (a transfer's leg B, later a Dial) by matching its
destination against each scenario's ``match.to`` patterns. It says how long the leg rings, how it
ends up (answered, busy, rejected, not found, no answer), what answering-machine detection finds,
and whether the callee hangs up later. The engine turns this into timed state transitions; the
loader below turns YAML files into these frozen objects, validating them against
``schemas/scenario.schema.json`` and reporting problems as ``file:line: reason``.

This module is pure (no I/O beyond reading scenario files at load time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
        Literal["human_residence", "human_business", "machine", "silence", "fax_detected", "not_sure"]
        | None
    ) = None
    detection_secs: float = 1.5  # after answer; capped by total_analysis_time_millis
    # How the machine's greeting ends: None = it does not end within the analysis (no event).
    greeting: Literal["beep_detected", "ended", "not_sure"] | None = None
    greeting_secs: float = 5.0  # after answer; capped by greeting_total_analysis_time_millis
    call_screening: bool = False  # premium_ios_call_screening_detection only


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


class ScenarioBook:
    """The scenarios in force: user directories first (they win by name), then bundled ones."""

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, dirs: Sequence[Path] = (), *, include_bundled: bool = True) -> ScenarioBook:
        raise NotImplementedError

    def match(self, to: str) -> Scenario:
        raise NotImplementedError

    def get(self, name: str) -> Scenario | None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Scenario]:
        raise NotImplementedError


def check_paths(paths: Sequence[Path]) -> list[ScenarioProblem]:
    """Validate scenario files (or directories of them) without loading: every problem found."""
    raise NotImplementedError
