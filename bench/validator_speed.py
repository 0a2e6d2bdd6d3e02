"""Time JSON Schema validators on the transfer request body.

Run: ``python bench/validator_speed.py`` (from the repository root, dev venv active).

Bodies: a typical valid 15-field transfer request and an invalid body with 5 violations. Each
validator is built once (compiled/prebuilt) and only the validation call is timed. Numbers are
the best of several ``timeit`` repeats, in microseconds per validation. ``errors`` is how many
violations the engine reports for the invalid body (the emulator must report all 5 at once).
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastjsonschema
import jsonschema
import jsonschema_rs

from emulator.resources import load_schema

VALID_BODY: dict[str, Any] = {
    "to": "+18005550100",
    "from": "+18005550199",
    "from_display_name": "Support Desk",
    "timeout_secs": 45,
    "time_limit_secs": 3600,
    "client_state": "aGF2ZSBhIG5pY2UgZGF5",
    "target_leg_client_state": "bGVnLWI=",
    "command_id": "891510ac-f3e4-11e8-af5b-de00688a4901",
    "answering_machine_detection": "detect",
    "answering_machine_detection_config": {
        "total_analysis_time_millis": 5000,
        "greeting_duration_millis": 3000,
    },
    "webhook_url": "https://example.com/webhooks/leg-b",
    "webhook_url_method": "POST",
    "early_media": True,
    "custom_headers": [{"name": "X-Ticket", "value": "42"}],
    "sip_headers": [{"name": "User-to-User", "value": "12345"}],
}
assert len(VALID_BODY) == 15

INVALID_BODY: dict[str, Any] = {
    "to": "12345",  # neither +E.164 nor a SIP URI
    "timeout_secs": 3,  # below 5
    "record_format": "ogg",  # not in enum
    "client_state": "not base64!",  # pattern
    "sound_modifications": {"pitch": 0},  # exclusiveMinimum 0
}
EXPECTED_VIOLATIONS = 5


def best_us(fn: Callable[[], object], repeat: int = 5) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def fast_first_error(validate: Callable[[Any], Any], body: dict[str, Any]) -> int:
    try:
        validate(body)
    except fastjsonschema.JsonSchemaValueException:
        return 1
    return 0


def main() -> None:
    schema = load_schema("transfer_request")
    rows: list[tuple[str, float, float, str]] = []

    py = jsonschema.Draft202012Validator(schema)
    rows.append(
        (
            "jsonschema (Draft202012Validator) is_valid",
            best_us(lambda: py.is_valid(VALID_BODY)),
            best_us(lambda: py.is_valid(INVALID_BODY)),
            "-",
        )
    )
    rows.append(
        (
            "jsonschema (Draft202012Validator) iter_errors",
            best_us(lambda: list(py.iter_errors(VALID_BODY))),
            best_us(lambda: list(py.iter_errors(INVALID_BODY))),
            str(len(list(py.iter_errors(INVALID_BODY)))),
        )
    )

    rs = jsonschema_rs.validator_for(schema)
    rows.append(
        (
            "jsonschema-rs is_valid",
            best_us(lambda: rs.is_valid(VALID_BODY)),
            best_us(lambda: rs.is_valid(INVALID_BODY)),
            "-",
        )
    )
    rows.append(
        (
            "jsonschema-rs iter_errors",
            best_us(lambda: list(rs.iter_errors(VALID_BODY))),
            best_us(lambda: list(rs.iter_errors(INVALID_BODY))),
            str(len(list(rs.iter_errors(INVALID_BODY)))),
        )
    )

    # use_default=False: by default the generated code writes schema defaults into the body.
    fast = fastjsonschema.compile(schema, use_default=False)
    rows.append(
        (
            "fastjsonschema (compiled; raises at 1st error)",
            best_us(lambda: fast(VALID_BODY)),
            best_us(lambda: fast_first_error(fast, INVALID_BODY)),
            str(fast_first_error(fast, INVALID_BODY)),
        )
    )

    from emulator.validation import RequestValidator

    for strict in (False, True):
        ours = RequestValidator(schema, strict=strict)
        assert ours.validate(VALID_BODY) == []
        rows.append(
            (
                f"emulator RequestValidator.validate strict={strict}",
                best_us(lambda ours=ours: ours.validate(VALID_BODY)),
                best_us(lambda ours=ours: ours.validate(INVALID_BODY)),
                str(len(ours.validate(INVALID_BODY))),
            )
        )

    print(
        f"python {sys.version.split()[0]}; jsonschema {_version('jsonschema')}; "
        f"jsonschema-rs {_version('jsonschema_rs')}; fastjsonschema {fastjsonschema.VERSION}"
    )
    assert len(VALID_BODY) == 15, "a validator mutated the body"
    print(f"valid body: {len(VALID_BODY)} fields; invalid body: {EXPECTED_VIOLATIONS} violations")
    header = f"{'validator':<50} {'valid µs':>10} {'invalid µs':>11} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for name, valid_us, invalid_us, errors in rows:
        print(f"{name:<50} {valid_us:>10.1f} {invalid_us:>11.1f} {errors:>7}")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
