"""What a command needs on a call before it is legal (a recording to stop, a queue to leave, a
supervisor leg), for the tests that send every declared command to a real server."""

from __future__ import annotations

import time
from typing import Any

import httpx

from emulator.commands.registry import Command

# What a command needs on the call before it is legal (a recording to stop, a queue to leave).
PRECONDITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "record_stop": ("record_start", {"channels": "single", "format": "wav"}),
    "record_pause": ("record_start", {"channels": "single", "format": "wav"}),
    "record_resume": ("record_start", {"channels": "single", "format": "wav"}),
    "leave_queue": ("enqueue", {"queue_name": "surface"}),
    "suppression_stop": ("suppression_start", {}),
}


def prepare(command: Command, ccid: str | None, http: httpx.Client) -> str | None:
    """Put the call in the state the command needs; returns the call to send it to."""
    if command.name == "switch_supervisor_role":  # a supervisor leg, answered
        assert ccid is not None
        r = http.post(
            "/v2/calls",
            json={"connection_id": "1234567890", "from": "+12125550199", "to": "+13125550100",
                  "supervise_call_control_id": ccid, "supervisor_role": "monitor"},
        )  # fmt: skip
        supervisor = str(r.json()["data"]["call_control_id"])
        deadline = time.monotonic() + 10
        while _state(http, supervisor) != "answered":  # the far end answers in ~1 ms
            assert time.monotonic() < deadline, "the supervisor leg was never answered"
        return supervisor
    needed = PRECONDITIONS.get(command.name)
    if needed is not None:
        name, body = needed
        r = http.post(f"/v2/calls/{ccid}/actions/{name}", json=body)
        assert r.status_code == 200, r.text
    return ccid


def _state(http: httpx.Client, ccid: str) -> str:
    calls = http.get("/_emulator/calls").json()["data"]
    return str(next(c["state"] for c in calls if c["call_control_id"] == ccid))
