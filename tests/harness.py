"""Drive the sans-I/O engine in virtual time, without HTTP (for engine unit tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from emulator.api import Api, ApiRequest, ApiResponse
from emulator.clock import VirtualClock
from emulator.config import Settings
from emulator.delivery import Attempt
from emulator.resources import schemas_dir

T0 = 1_800_000_000.0


@cache
def webhook_validator(event_type: str) -> jsonschema.Draft202012Validator:
    path = schemas_dir() / "webhooks" / f"{event_type}.schema.json"
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid_webhook(body: dict[str, Any]) -> None:
    webhook_validator(body["data"]["event_type"]).validate(body)


@dataclass
class Sent:
    at: float  # seconds since T0
    attempt: Attempt

    @property
    def event_type(self) -> str:
        return self.attempt.record.event_type

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.attempt.body["data"]["payload"])

    @property
    def ccid(self) -> str:
        return self.attempt.record.call_control_id


class Harness:
    def __init__(self, key: str = "KEY", **settings: Any) -> None:
        settings.setdefault("seed", 7)
        self.clock = VirtualClock(T0)
        self.api = Api(Settings(**settings), clock=self.clock, wall_clock=self.clock.now)
        self.key = key
        self.sent: list[Sent] = []
        self.statuses: dict[str, list[int | None]] = {}  # url -> scripted outcomes

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> ApiResponse:
        h = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        h.update(headers or {})
        raw = b"" if body is None else json.dumps(body).encode()
        return self.api.handle(ApiRequest(method, path, h, raw))

    def inbound(self, **extra: Any) -> str:
        body = {"from": "+12125550199", "to": "+13125550100", "webhook_url": "http://app/a"}
        body.update(extra)
        r = self.request("POST", "/_emulator/calls", body)
        assert r.status == 201, r.payload
        return str(r.payload["data"]["call_control_id"])

    def transfer(self, ccid: str, headers: dict[str, str] | None = None, **body: Any) -> None:
        r = self.request("POST", f"/v2/calls/{ccid}/actions/transfer", body, headers)
        assert r.status == 200, r.payload

    def run(self, seconds: float = 3600.0) -> list[Sent]:
        """Deliver everything due within ``seconds`` of virtual time; scripted statuses apply."""
        end = self.clock.now() + seconds
        while True:
            now = self.clock.now()
            for attempt in self.api.ready(now):
                self.sent.append(Sent(now - T0, attempt))
                assert_valid_webhook(attempt.body) if attempt.method == "POST" else None
                script = self.statuses.get(attempt.url.split("?", 1)[0])
                status = script.pop(0) if script else 200
                self.api.outbox.settle(attempt, now, status=status, error=None if status else "x")
            wake = self.api.next_wakeup()
            if wake is None or wake > end:
                self.clock.set(max(end, now)) if seconds < 3600 else None
                return self.sent
            self.clock.set(max(wake, now))

    def events(self, ccid: str | None = None) -> list[str]:
        return [s.event_type for s in self.sent if ccid is None or s.ccid == ccid]

    def leg_b(self) -> str:
        return next(s.ccid for s in self.sent if s.payload.get("direction") == "outgoing")
