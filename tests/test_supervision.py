"""Supervision (issue #12): one broken step, webhook or delivery fails alone, visibly; a dead
pump turns health 503 at once and makes ``serve`` exit non-zero.

Failures are injected into a step (monkeypatching the engine or the pump), not only provoked by
the inputs known to fail today: the guarantee is about any bug, including the next one.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from emulator.delivery import Outbox
from emulator.engine import Engine

from .conftest import API_KEY
from .harness import Harness
from .servers import EmulatorServer, Receiver

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def errors_logged() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.ERROR)
    logger = logging.getLogger("telnyx_emulator")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def break_answers_for(monkeypatch: pytest.MonkeyPatch, doomed: set[str]) -> None:
    """Make the far end's answer step raise for legs whose ``to`` is in ``doomed``."""
    original = Engine._far_end_answers

    def answers(self: Engine, b: object) -> None:
        if getattr(b, "to", None) in doomed:
            raise RuntimeError("injected: the answer step broke")
        original(self, b)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "_far_end_answers", answers)


def test_a_failing_step_is_recorded_on_its_call_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch, errors_logged: list[logging.LogRecord]
) -> None:
    break_answers_for(monkeypatch, {"+13125550199"})
    h = Harness()
    a, c = h.inbound(), h.inbound()
    h.transfer(a, to="+13125550199")  # its answer step will raise
    h.transfer(c, to="+13125550106")  # a healthy call, planned at the same time
    h.run(60)
    assert "call.bridged" in h.events(c) and "call.hangup" in h.events(c)
    calls = {leg["to"]: leg for leg in h.request("GET", "/_emulator/calls").payload["data"]}
    broken = calls["+13125550199"]
    assert broken["errors"] == [
        "a timed step failed: RuntimeError: injected: the answer step broke"
    ]
    assert calls["+13125550106"]["errors"] == []
    [record] = [r for r in errors_logged if "timed step failed" in r.getMessage()]
    assert record.exc_info is not None  # with its traceback
    assert h.api.timeline.failures == 1


def test_a_webhook_that_cannot_be_built_fails_alone(
    monkeypatch: pytest.MonkeyPatch, errors_logged: list[logging.LogRecord]
) -> None:
    original = Outbox._attempt

    def attempt(self: Outbox, record: object, now: float) -> object:
        if getattr(record, "event_type", "") == "call.answered":
            raise ValueError("injected: building the webhook broke")
        return original(self, record, now)  # type: ignore[arg-type]

    monkeypatch.setattr(Outbox, "_attempt", attempt)
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550106")
    h.run(60)
    assert "call.answered" not in h.events() and "call.hangup" in h.events()  # the rest went
    hooks = h.request("GET", "/_emulator/webhooks", None).payload["data"]
    [answered] = [w for w in hooks if w["event_type"] == "call.answered"]
    assert answered["status"] == "failed"
    assert answered["attempts"][0]["error"].startswith("emulator error: ValueError: injected")
    assert any(r.exc_info for r in errors_logged)
    assert h.api.outbox.pending() == 0


def test_a_failing_step_on_a_real_server_stops_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
) -> None:
    break_answers_for(monkeypatch, {"+13125550199"})
    server = start_emulator(time_scale=0.001)
    http = httpx.Client(base_url=server.url, headers=AUTH)
    ids = []
    for path in ("/broken", "/healthy"):
        r = http.post(
            "/_emulator/calls",
            json={"from": "+12125550199", "to": "+13125550100", "webhook_url": receiver.url + path},
        )
        ids.append(r.json()["data"]["call_control_id"])
    http.post(f"/v2/calls/{ids[0]}/actions/transfer", json={"to": "+13125550199"})
    http.post(f"/v2/calls/{ids[1]}/actions/transfer", json={"to": "+13125550106"})
    receiver.wait_for(
        lambda rs: any(r.path == "/healthy" and r.event_type == "call.hangup" for r in rs)
    )
    assert http.get("/_emulator/health").status_code == 200
    legs = http.get("/_emulator/calls").json()["data"]
    assert [leg["errors"] for leg in legs if leg["to"] == "+13125550199"] == [
        ["a timed step failed: RuntimeError: injected: the answer step broke"]
    ]
    # and the server keeps working for new calls
    r = http.post(
        "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100", "webhook_url": receiver.url + "/new"},
    )
    assert r.status_code == 201
    receiver.wait_for(lambda rs: any(x.path == "/new" for x in rs), timeout=1.0)
    http.close()


def test_a_dead_pump_turns_health_503_at_once(
    monkeypatch: pytest.MonkeyPatch,
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    server = start_emulator()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.CRITICAL)
    logging.getLogger("telnyx_emulator").addHandler(handler)
    try:
        assert httpx.get(server.url + "/_emulator/health").status_code == 200

        def broken() -> float:
            raise RuntimeError("injected: the pump's own loop broke")

        monkeypatch.setattr(server.api, "next_wakeup", broken)
        httpx.post(  # any request wakes the pump
            server.url + "/_emulator/calls",
            headers=AUTH,
            json={"from": "+12125550199", "to": "+13125550100"},
        )
        deadline = time.monotonic() + 5
        while (r := httpx.get(server.url + "/_emulator/health")).status_code == 200:
            assert time.monotonic() < deadline, "health still 200"
            time.sleep(0.01)
        assert r.status_code == 503
        detail = r.json()["errors"][0]["detail"]
        assert "the webhook pump stopped: RuntimeError: injected" in detail
        [record] = records
        assert record.exc_info is not None and "webhook pump stopped" in record.getMessage()
    finally:
        logging.getLogger("telnyx_emulator").removeHandler(handler)


SERVE_WITH_A_BROKEN_PUMP = """
import sys
from emulator import cli
from emulator.api import Api

def broken(self):
    raise RuntimeError("injected: the pump's own loop broke")

Api.next_wakeup = broken
sys.exit(cli.main(["serve", "--port", "0"]))
"""


def test_serve_exits_non_zero_after_its_pump_died(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELNYX_EMULATOR_")}
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE_WITH_A_BROKEN_PUMP],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split("listening on", 1)[1].strip()
        deadline = time.monotonic() + 10
        while httpx.get(url + "/_emulator/health").status_code != 503:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    log = stderr.read_text()
    assert code == 1, log
    assert "CRITICAL the webhook pump stopped: RuntimeError: injected" in log
    assert log.rstrip().endswith("(see the log above)")
