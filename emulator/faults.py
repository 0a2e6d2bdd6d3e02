"""Faults on demand: the misbehaviour Telnyx warns about, reproducible from a seed.

Telnyx's docs say webhooks may arrive late, out of order, at the same time or more than once,
and that clients must retry commands (with ``command_id`` making retries safe). An app's tests
need to see each of those on purpose, so the emulator can inject them:

- **Delivery policies** (per webhook): ``shuffled`` (a call's webhooks are no longer queued
  behind each other and each gets a random delay within ``jitter`` seconds, so they overtake
  each other), ``duplicate`` (probability that a delivered webhook is delivered again, same event
  id), ``delay`` (a random extra delay before the first attempt), ``drop_first`` (probability the
  first attempt is dropped, so the retry path runs), and signature faults (``bad``, ``stale``,
  ``missing``) with a probability.
- **Command faults** (per API key): the next ``count`` commands, or each with ``probability``,
  answer 429 with ``retry-after`` or 500 without acting, or act and then answer too late
  (``timeout``), so an app can prove its SDK retries plus ``command_id`` give one transfer.

A policy can be set globally (``--delivery``, ``--command-faults``), per API key through
``PUT /_emulator/faults``, per scenario (its ``delivery:`` key) and per test (the pytest marker).
Every fault that fires is recorded on the webhook attempt or command it hit.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

SignatureFault = Literal["none", "bad", "stale", "missing"]
CommandFaultMode = Literal["429", "500", "timeout"]


class FaultSpecError(ValueError):
    """A fault specification that cannot be understood; the message says why."""


# The words of the CLI form that stand alone, and the settings that take a value.
_DELIVERY_WORDS = ("in_order", "shuffled", "duplicate", "drop_first")
_DELIVERY_SETTINGS = (
    "order",
    "jitter",
    "duplicate",
    "delay",
    "delay_min",
    "delay_max",
    "drop_first",
    "signature",
    "signature_rate",
)
_DELIVERY_FORMS = (
    "in_order, shuffled, jitter=SECS, duplicate[=P], drop_first[=P], delay=SECS[-SECS], "
    "signature=bad|stale|missing, signature_rate=P"
)
COMMAND_FAULT_MODES = ("429", "500", "timeout")


def did_you_mean(word: str, known: tuple[str, ...] | list[str]) -> str:
    """``"did you mean 'x'? "`` for a near miss of one of ``known``, else ``""``: a typo in a
    fault spec is common enough (``shuffle`` for ``shuffled``) to be worth naming the fix."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _unknown(kind: str, word: str, known: tuple[str, ...] | list[str]) -> FaultSpecError:
    return FaultSpecError(
        f"unknown {kind} {word!r}; {did_you_mean(word, known)}known: {', '.join(known)}"
    )


# (chosen) The longest delay, hold or Retry-After a fault may ask for: a day, the bound of
# every seconds field the emulator defines. Without it "inf" (or 1e308) was stored, shown as
# null, and later broke the delivery queue's ordering for every API key.
MAX_FAULT_SECONDS = 86_400.0
MAX_COUNT = 2**31 - 1  # int32, like Telnyx's integer fields


def _number(name: str, value: Any, expected: str) -> float:
    """``value`` as a finite float: a JSON number, or its text (the CLI form); never a bool."""
    if isinstance(value, bool):
        raise FaultSpecError(f"{name} must be {expected}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FaultSpecError(f"{name} must be {expected}, got {value!r}") from None
    if not math.isfinite(number):
        raise FaultSpecError(f"{name} must be a finite number, got {value!r}")
    return number


def _probability(name: str, value: Any) -> float:
    p = _number(name, value, "a probability between 0 and 1")
    if not 0.0 <= p <= 1.0:
        raise FaultSpecError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return p


def _seconds(name: str, value: Any) -> float:
    s = _number(name, value, "a number of seconds")
    if not 0.0 <= s <= MAX_FAULT_SECONDS:
        raise FaultSpecError(
            f"{name} must be between 0 and {MAX_FAULT_SECONDS:.0f} seconds, got {value!r}"
        )
    return s


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    order: Literal["in_order", "shuffled"] = "in_order"
    jitter: float = 1.0  # shuffled: each webhook waits a random 0..jitter seconds
    duplicate: float = 0.0
    delay_min: float = 0.0
    delay_max: float = 0.0
    drop_first: float = 0.0
    signature: SignatureFault = "none"
    signature_rate: float = 1.0

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_DELIVERY

    @classmethod
    def from_json(cls, data: Any) -> DeliveryPolicy:
        """From the admin API / scenario / marker form: a mapping of the fields above, where
        ``delay`` may be given as ``[min, max]`` or a single number."""
        if data is None:
            return DEFAULT_DELIVERY
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise FaultSpecError("a delivery policy must be an object")
        known = {f.name for f in fields(cls)} | {"delay"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _unknown("delivery setting", unknown[0], sorted(known))
        values: dict[str, Any] = {}
        if "order" in data:
            if data["order"] not in ("in_order", "shuffled"):
                hint = did_you_mean(str(data["order"]), ["in_order", "shuffled"])
                raise FaultSpecError(f"order must be 'in_order' or 'shuffled'; {hint}".strip())
            values["order"] = data["order"]
        for name in ("duplicate", "drop_first", "signature_rate"):
            if name in data:
                values[name] = _probability(name, data[name])
        for name in ("jitter", "delay_min", "delay_max"):
            if name in data:
                values[name] = _seconds(name, data[name])
        if "delay" in data:
            low, high = _delay_range(data["delay"])
            values["delay_min"], values["delay_max"] = low, high
        if "signature" in data:
            if data["signature"] not in ("none", "bad", "stale", "missing"):
                hint = did_you_mean(str(data["signature"]), ["none", "bad", "stale", "missing"])
                raise FaultSpecError(
                    f"signature must be one of none, bad, stale, missing; {hint}".strip()
                )
            values["signature"] = data["signature"]
        policy = replace(DEFAULT_DELIVERY, **values)
        if policy.delay_max < policy.delay_min:
            raise FaultSpecError("delay: the maximum is below the minimum")
        return policy

    @classmethod
    def parse(cls, text: str) -> DeliveryPolicy:
        """The CLI form: ``shuffled,duplicate=0.2,delay=0.5-3,drop_first=1,signature=bad``."""
        data: dict[str, Any] = {}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep:
                if name in ("in_order", "shuffled"):
                    data["order"] = name
                    continue
                if name in ("duplicate", "drop_first"):
                    data[name] = 1.0
                    continue
                if name in _DELIVERY_SETTINGS:
                    raise FaultSpecError(f"{name!r} needs a value, like {name}=0.5")
                raise FaultSpecError(
                    f"unknown delivery setting {name!r}; "
                    f"{did_you_mean(name, [*_DELIVERY_WORDS, *_DELIVERY_SETTINGS])}"
                    f"known: {_DELIVERY_FORMS}"
                )
            if name == "delay" and "-" in value:
                low, _, high = value.partition("-")
                data["delay"] = [low, high]
            else:
                data[name] = value.strip()
        return cls.from_json(data)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _delay_range(value: Any) -> tuple[float, float]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _seconds("delay", value[0]), _seconds("delay", value[1])
    s = _seconds("delay", value)
    return s, s


DEFAULT_DELIVERY = DeliveryPolicy()


@dataclass(slots=True)
class CommandFaults:
    mode: CommandFaultMode = "429"
    count: int | None = None  # the next N commands; None = use probability
    probability: float = 0.0
    retry_after: float = 1.0  # 429: the Retry-After header, seconds
    timeout_secs: float = 65.0  # timeout: how long the answer is held back after acting

    @classmethod
    def from_json(cls, data: Any) -> CommandFaults | None:
        if data is None:
            return None
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise FaultSpecError("command faults must be an object")
        mode = str(data.get("mode", "429"))
        if mode not in COMMAND_FAULT_MODES:
            raise FaultSpecError(
                f"mode must be one of 429, 500, timeout, got {mode!r}; "
                f"{did_you_mean(mode, COMMAND_FAULT_MODES)}".strip().removesuffix(";")
            )
        count = data.get("count")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT
        ):
            raise FaultSpecError(f"count must be a whole number from 0 to {MAX_COUNT}")
        probability = _probability("probability", data.get("probability", 0.0 if count else 1.0))
        return cls(
            mode=mode,  # type: ignore[arg-type]
            count=count,
            probability=probability,
            retry_after=_seconds("retry_after", data.get("retry_after", 1.0)),
            timeout_secs=_seconds("timeout_secs", data.get("timeout_secs", 65.0)),
        )

    @classmethod
    def parse(cls, text: str) -> CommandFaults:
        """The CLI form: ``429:3`` (next 3 commands), ``500:p=0.1``, ``timeout:1``."""
        mode, _, rest = text.strip().partition(":")
        data: dict[str, Any] = {"mode": mode}
        rest = rest.strip()
        if rest.startswith("p="):
            data["probability"] = rest[2:]
        elif rest:
            try:
                data["count"] = int(rest)
            except ValueError:
                raise FaultSpecError(
                    f"expected a count or p=PROBABILITY after ':', got {rest!r}"
                ) from None
        faults = cls.from_json(data)
        assert faults is not None
        return faults

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "count": self.count,
            "probability": self.probability,
            "retry_after": self.retry_after,
            "timeout_secs": self.timeout_secs,
        }


@dataclass(slots=True)
class FaultPlan:
    """The faults in force for one tenant (or the defaults every tenant starts with)."""

    delivery: DeliveryPolicy = DEFAULT_DELIVERY
    commands: CommandFaults | None = None
    rng: random.Random = field(default_factory=random.Random)

    def next_command_fault(self) -> CommandFaults | None:
        """Decide whether the command being handled now is hit; consumes one of ``count``."""
        faults = self.commands
        if faults is None:
            return None
        if faults.count is not None:
            if faults.count <= 0:
                self.commands = None
                return None
            faults.count -= 1
            return faults
        if faults.probability > 0 and self.rng.random() < faults.probability:
            return faults
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery.to_json(),
            "commands": self.commands.to_json() if self.commands else None,
        }
