"""Every number that enters through a request body has a range (issue #12, point 3).

Telnyx's integer fields are int32; seconds and milliseconds are never negative; a float without
bounds lets ``1e308`` through to the timeline. The generated schemas get their ranges from
scripts/generate_schemas.py; the hand-maintained ones (transfer, dial, answer, bridge, ...) were
bounded by hand. This test walks every request schema, generated or not, so a field added later
without a range fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.validation import Validators

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
INT32_MAX = 2_147_483_647
REQUESTS = [
    *sorted(SCHEMAS.glob("*_request.schema.json")),
    SCHEMAS / "inbound_call.schema.json",
]


def _unbounded(node: Any, where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            found += _unbounded(item, f"{where}/{i}")
        return found
    if not isinstance(node, dict):
        return found
    types = node.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if types & {"integer", "number"} and "enum" not in node and "const" not in node:
        low = "minimum" in node or "exclusiveMinimum" in node
        high = "maximum" in node or "exclusiveMaximum" in node
        if not (low and high):
            found.append(where or "/")
        if "integer" in types and node.get("maximum", 0) > INT32_MAX:
            found.append(f"{where} (above int32)")
    for key, value in node.items():
        if key in ("examples", "default", "enum", "const"):
            continue  # data, not schemas
        found += _unbounded(value, f"{where}/{key}")
    return found


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name.removesuffix(".schema.json"))
def test_every_number_has_a_range(path: Path) -> None:
    assert _unbounded(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"to": "+18005550111", "timeout_secs": 2**31}, "/timeout_secs"),
        (
            {
                "to": "+18005550111",
                "answering_machine_detection_config": {"total_analysis_time_millis": 2**31},
            },
            "/answering_machine_detection_config/total_analysis_time_millis",
        ),
        (
            {
                "to": "+18005550111",
                "answering_machine_detection_config": {"greeting_duration_millis": -1},
            },
            "/answering_machine_detection_config/greeting_duration_millis",
        ),
    ],
)
def test_out_of_range_is_an_invalid_value(body: dict[str, Any], pointer: str) -> None:
    problems = Validators().get("transfer_request").validate(body)
    assert [p.pointer for p in problems] == [pointer]
