"""Total input handling (issue #12): no request can stop, poison or slow the emulator.

Hostile bodies from ``tests/hostile.py`` (deep nesting, lone surrogates, extreme numbers,
NaN/Infinity, duplicate keys, BOMs, other encodings, truncation) go to every route, under
``/v2``, bare and ``/_emulator``, both in-process and through a real server. Every answer must be
a 2xx or a Telnyx-shaped 4xx (a 5xx only from a command fault the fuzzer itself switched on,
marked "injected fault"), the server's log must hold no traceback and no error, and afterwards
the same server must still deliver a fresh call's ``call.initiated`` to a real receiver within a
second: liveness, not only status codes.

Bounded for CI (``FUZZ_EXAMPLES``, default 100: a few seconds); ``bench/fuzz_long.py`` runs it
longer with a random seed.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import openapi
from emulator.api import ApiRequest
from emulator.config import Settings

from .harness import Harness
from .hostile import BODIES
from .servers import EmulatorServer, Receiver
from .test_fuzz import EXAMPLES, fuzz_settings, is_telnyx_error, seeded

ROUTES = sorted(
    (method.upper(), path)
    for path, item in openapi.document()["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
)
# Every route, and each /v2 route in its bare form too.
ALL_ROUTES = ROUTES + [(m, p.removeprefix("/v2")) for m, p in ROUTES if p.startswith("/v2/")]


class Collected(logging.Handler):
    """Every record at WARNING or above, and any record carrying a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.records.append(record)

    def problems(self) -> list[str]:
        return [
            f"{r.name} {r.levelname} {r.getMessage()}"
            for r in self.records
            if r.exc_info or r.levelno >= logging.ERROR
        ]


@pytest.fixture
def log_records() -> Iterator[Collected]:
    handler = Collected()
    loggers = [logging.getLogger(n) for n in ("telnyx_emulator", "uvicorn", "asyncio")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.WARNING:
            lg.setLevel(logging.WARNING)
    yield handler
    for lg, level in saved:
        lg.removeHandler(handler)
        lg.setLevel(level)


def injected(payload: Any) -> bool:
    return is_telnyx_error(payload) and "(injected fault)" in payload["errors"][0]["detail"]


def check_answer(status: int, payload: Any) -> None:
    assert status < 500 or injected(payload), (status, payload)
    if status >= 400:
        assert is_telnyx_error(payload), payload


def target(path: str, live: str | None) -> str:
    return path.replace("{call_control_id}", live or "v3:unknown")


# -- in-process ----------------------------------------------------------------------------------


@seeded
@fuzz_settings(examples=EXAMPLES * 2)
@given(
    route=st.sampled_from(ALL_ROUTES),
    body=BODIES,
    live=st.booleans(),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", ""]),
)
def test_hostile_bodies_in_process(
    route: tuple[str, str], body: bytes, live: bool, content_type: str
) -> None:
    h = Harness()
    method, path = route
    ccid = h.inbound() if live else None
    headers = {"authorization": f"Bearer {h.key}"}
    if content_type:
        headers["content-type"] = content_type
    r = h.api.handle(ApiRequest(method, target(path, ccid), headers, body))
    check_answer(r.status, r.payload)
    r.content  # noqa: B018 - the answer always encodes
    h.run(120)  # and whatever it planned runs: webhooks valid, nothing raises


# -- a real server ---------------------------------------------------------------------------------


@pytest.fixture
def hostile_server(receiver: Receiver) -> Iterator[EmulatorServer]:
    # Webhooks may go only to the test's receiver: generated URLs are recorded "blocked".
    server = EmulatorServer(
        Settings(time_scale=0.001, webhook_allow=(f"127.0.0.1:{receiver.port}",), seed=5)
    ).start()
    yield server
    server.stop()


def assert_alive(server: EmulatorServer, receiver: Receiver, key: str = "KEY_LIVENESS") -> None:
    """A fresh call's call.initiated reaches a real receiver within a second."""
    path = f"/alive-{time.monotonic_ns()}"
    started = time.monotonic()
    r = httpx.post(
        f"{server.url}/_emulator/calls",
        headers={"Authorization": f"Bearer {key}"},
        json={"from": "+12125550199", "to": "+13125550100", "webhook_url": receiver.url + path},
    )
    assert r.status_code == 201, r.text
    receiver.wait_for(lambda rs: any(x.path == path for x in rs), timeout=1.0)
    assert time.monotonic() - started < 1.0
    health = httpx.get(f"{server.url}/_emulator/health")
    assert health.status_code == 200, health.text


def test_hostile_bodies_on_every_route_of_a_real_server(
    hostile_server: EmulatorServer, receiver: Receiver, log_records: Collected
) -> None:
    server = hostile_server
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer KEY_HOSTILE"})
    statuses: Counter[int] = Counter()
    calls = [
        http.post("/_emulator/calls", json={"from": "+12125550199", "to": "+13125550100"}).json()[
            "data"
        ]["call_control_id"]
        for _ in range(3)
    ]

    @seeded
    @fuzz_settings(examples=EXAMPLES * 3)
    @given(route=st.sampled_from(ALL_ROUTES), body=BODIES, call=st.sampled_from([None, *calls]))
    def run(route: tuple[str, str], body: bytes, call: str | None) -> None:
        method, path = route
        r = http.request(
            method,
            target(path, call),
            content=body,
            headers={"Content-Type": "application/json"},
        )
        statuses[r.status_code] += 1
        payload = r.json() if r.content and method != "HEAD" else None
        check_answer(r.status_code, payload)

    try:
        run()
    finally:
        http.close()
    assert statuses[400] and statuses[422], statuses  # the bodies did reach the decoder
    assert_alive(server, receiver)
    assert not log_records.problems(), log_records.problems()


# -- point by point: what used to break --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code", "pointer"),
    [
        (b'{"caller_id_name": "\\ud800"}', 422, "10015", "/caller_id_name"),
        (b'{"x\\udc00y": 1}', 422, "10015", "/x\\udc00y"),
        (b'{"hangup_after_secs": NaN}', 400, "10023", None),
        (b'{"hangup_after_secs": -Infinity}', 400, "10023", None),
        (b'{"hangup_after_secs": 1e400}', 422, "10033", "/hangup_after_secs"),
        (b'{"connection_id": 18446744073709551616}', 422, "10033", "/connection_id"),
        (b'{"a": ' + b"9" * 5000 + b"}", 400, "10023", None),
        (b"[" * 100_000 + b"]" * 100_000, 422, "10015", "/"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, 422, "10015", "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a" * 2),
        (b"\xff\xfe{\x00}\x00", 400, "10023", None),
        ('{"to": "+1"}'.encode("utf-16"), 400, "10023", None),
        (b'{"to": "\xed\xa0\x80"}', 400, "10023", None),  # a surrogate, UTF-8-encoded
    ],
)
def test_what_used_to_break_gets_a_clean_4xx_and_changes_nothing(
    raw: bytes, status: int, code: str, pointer: str | None
) -> None:
    h = Harness()
    r = h.api.handle(
        ApiRequest(
            "POST",
            "/_emulator/calls",
            {"authorization": "Bearer KEY", "content-type": "application/json"},
            b'{"from": "+12125550199", "to": "+13125550100", ' + raw[1:]
            if raw.startswith(b"{") and raw != b"{}"
            else raw,
        )
    )
    assert r.status == status, r.payload
    [error] = r.payload["errors"]
    assert error["code"] == code, r.payload
    assert error.get("source", {}).get("pointer") == pointer, r.payload
    json.loads(r.content)  # the error itself always encodes
    assert len(h.api.tenant("KEY").calls) == 0  # nothing happened


def test_a_bom_is_ignored_and_duplicate_keys_keep_the_last_value() -> None:
    h = Harness()
    body = b'\xef\xbb\xbf{"from": "+1", "from": "+12125550199", "to": "+13125550100"}'
    r = h.api.handle(ApiRequest("POST", "/_emulator/calls", {"authorization": "Bearer KEY"}, body))
    assert r.status == 201, r.payload
    assert r.payload["data"]["from"] == "+12125550199"


def test_a_surrogate_in_a_transfer_is_refused_before_anything_happens() -> None:
    """It used to pass json.loads, then fail in the journal or a webhook after leg B existed."""
    h = Harness()
    a = h.inbound()
    raw = b'{"to": "+13125550100", "from_display_name": "\\ud800", "command_id": "c1"}'
    r = h.api.handle(
        ApiRequest(
            "POST",
            f"/v2/calls/{a}/actions/transfer",
            {"authorization": "Bearer KEY", "content-type": "application/json"},
            raw,
        )
    )
    assert r.status == 422 and r.payload["errors"][0]["source"]["pointer"] == "/from_display_name"
    assert len(h.api.tenant("KEY").calls) == 1  # no leg B
    h.transfer(a, to="+13125550100", command_id="c1")  # the command_id was not claimed
    assert len(h.api.tenant("KEY").calls) == 2


def test_a_command_is_all_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure injected after validation and before the effect (the step that encodes what
    the journal keeps) leaves no trace: no leg B, no webhook, the command_id still free."""
    from emulator.engine import Engine

    h = Harness()
    a = h.inbound()
    h.run(1)
    engine = h.api.tenant("KEY")
    webhooks_before = len(engine.webhooks)
    original = Engine.encode_journal_body

    def failing(body: Any) -> bytes:
        if isinstance(body, dict) and body.get("command_id") == "boom":
            raise RuntimeError("injected: encoding the journal body failed")
        return original(body)

    monkeypatch.setattr(Engine, "encode_journal_body", staticmethod(failing))
    with pytest.raises(RuntimeError, match="injected"):
        h.request(
            "POST", f"/v2/calls/{a}/actions/transfer", {"to": "+13125550100", "command_id": "boom"}
        )
    assert len(engine.calls) == 1 and len(engine.webhooks) == webhooks_before
    assert h.api.outbox.pending() == 0
    monkeypatch.setattr(Engine, "encode_journal_body", staticmethod(original))
    h.transfer(a, to="+13125550100", command_id="boom")  # a retry acts, exactly once
    assert len(engine.calls) == 2
    assert [c["result"] for c in engine.commands] == ["accepted"]


# -- every number has its range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer", "says"),
    [
        ({"delivery": {"delay": 1e308}}, "/delivery", "delay must be between 0 and 86400"),
        ({"delivery": {"delay": [0, 86_401]}}, "/delivery", "delay must be between 0 and"),
        ({"delivery": {"jitter": -1}}, "/delivery", "jitter must be between 0 and 86400"),
        ({"delivery": {"duplicate": True}}, "/delivery", "duplicate must be a probability"),
        ({"delivery": "delay=inf"}, "/delivery", "delay must be a finite number"),
        ({"commands": {"mode": "429", "retry_after": 1e9}}, "/commands", "retry_after must be"),
        ({"commands": {"mode": "timeout", "timeout_secs": 1e300}}, "/commands", "timeout_secs"),
        ({"commands": {"count": 2**31}}, "/commands", "count must be a whole number from 0"),
        ({"commands": {"count": True}}, "/commands", "count must be a whole number"),
        ({"commands": {"probability": "nan"}}, "/commands", "probability must be a finite"),
    ],
)
def test_fault_settings_out_of_range_are_refused_and_change_nothing(
    body: dict[str, Any], pointer: str, says: str
) -> None:
    h = Harness()
    before = h.request("GET", "/_emulator/faults").payload
    r = h.request("PUT", "/_emulator/faults", body)
    assert r.status == 422, r.payload
    [error] = r.payload["errors"]
    assert error["source"]["pointer"] == pointer and says in error["detail"], error
    assert h.request("GET", "/_emulator/faults").payload == before


def test_the_largest_fault_delays_are_finite_and_deliver_in_order_for_others() -> None:
    """A day-long delay is stored as a number (not null) and does not reorder anyone else."""
    h = Harness()
    slow = {"authorization": "Bearer SLOW"}
    r = h.request("PUT", "/_emulator/faults", {"delivery": {"delay": 86_400}}, slow)
    assert r.status == 200 and r.payload["data"]["delivery"]["delay_max"] == 86_400
    h.request(
        "POST", "/_emulator/calls", {"from": "+12125550199", "to": "+13125550100",
                                     "webhook_url": "http://app/slow"}, slow,
    )  # fmt: skip
    a = h.inbound()
    h.transfer(a, to="+13125550106")
    h.run(60)
    assert h.events(a) == ["call.initiated", "call.bridged", "call.hangup"]
    assert all(s.attempt.url != "http://app/slow" for s in h.sent)  # still waiting its day
    h.run(86_400 + 1)
    assert any(s.attempt.url == "http://app/slow" for s in h.sent)


@pytest.mark.parametrize(
    ("extra", "pointer"),
    [
        ({"hangup_after_secs": 86_401}, "/hangup_after_secs"),
        ({"hangup_after_secs": 1e300}, "/hangup_after_secs"),
    ],
)
def test_inbound_call_numbers_have_ranges(extra: dict[str, Any], pointer: str) -> None:
    h = Harness()
    body = {"from": "+12125550199", "to": "+13125550100", **extra}
    r = h.request("POST", "/_emulator/calls", body)
    assert r.status == 422 and r.payload["errors"][0]["code"] == "10033", r.payload
    assert r.payload["errors"][0]["source"]["pointer"] == pointer


@pytest.mark.parametrize(
    ("yaml_text", "says"),
    [
        ("ring_secs: 86401\n", "2: ring_secs: must be at most 86400, got 86401"),
        ("ring_secs: 1.0e+400\n", "2: ring_secs: must be a finite number, got inf"),
        ("amd:\n  detection_secs: 100000\n", "3: amd.detection_secs: must be at most 86400"),
        ("delivery:\n  delay: [0, 1.0e+9]\n", "delivery.delay: "),
        ("ring_secs: " + "9" * 5000 + "\n", "1: invalid YAML: ValueError: "),
    ],
)
def test_scenario_numbers_have_ranges(tmp_path: Path, yaml_text: str, says: str) -> None:
    from emulator.scenarios import check_paths

    path = tmp_path / "x.yaml"
    path.write_text("name: x\n" + yaml_text)
    problems = [str(p) for p in check_paths([path])]
    assert problems and any(p.startswith(f"{path}:") and says in p for p in problems), problems
