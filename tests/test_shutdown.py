"""Shutdown of ``telnyx-emulator serve`` (a real subprocess) by SIGTERM (``docker stop``, CI
clean-up) and SIGINT (Ctrl-C): it stops accepting connections at once, lets webhook deliveries
in flight finish within the grace period, logs what was left undelivered, and exits with 0
(SIGTERM) or 130 (SIGINT) without a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import Receiver

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": "Bearer KEY_SHUTDOWN"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_signal_drains_in_flight_webhooks_and_logs_the_rest(
    receiver: Receiver, sig: signal.Signals, status: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELNYX_EMULATOR_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--webhook-retries",
            "60",  # a failed webhook waits a minute for its retry: still queued at shutdown
            "--webhook-timeout",
            "10",
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on", 1)[1].strip()
        port = int(url.rsplit(":", 1)[1])

        def call(path: str) -> str:
            r = httpx.post(
                url + "/_emulator/calls",
                json={
                    "from": "+12125550199",
                    "to": "+13125550100",
                    "webhook_url": receiver.url + path,
                },
                headers=AUTH,
            )
            assert r.status_code == 201, r.text
            return str(r.json()["data"]["call_control_id"])

        def attempts(ccid: str) -> list[dict[str, Any]]:
            hooks = httpx.get(
                url + "/_emulator/webhooks", params={"call_control_id": ccid}, headers=AUTH
            ).json()["data"]
            return list(hooks[0]["attempts"]) if hooks else []

        receiver.respond("/fail", 500)
        receiver.respond("/slow", 200, delay=1.5)
        failed = call("/fail")
        wait_until(lambda: [a["status"] for a in attempts(failed)] == [500], 10, "the 500")
        slow = call("/slow")
        wait_until(lambda: len(attempts(slow)) == 1, 10, "the slow delivery to start")

        proc.send_signal(sig)
        wait_until(lambda: refuses_connections(port), 2, "the listening socket to close")
        assert receiver.events("/slow") == []  # closed while the delivery was still in flight
        receiver.wait_events(1, "/slow", timeout=10)  # ... which was let finish
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == status, err
    assert "Traceback" not in err, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert all(x["level"] != "error" for x in lines), err
    [delivered] = [x for x in lines if x.get("event") == "webhook" and x["url"].endswith("/slow")]
    assert delivered["http_status"] == 200 and delivered["delivery_status"] == "delivered"
    [summary] = [x for x in lines if x.get("event") == "shutdown"]
    assert summary["message"] == "shutting down with 1 webhook(s) undelivered"
    [left] = [x for x in lines if x.get("event") == "undelivered"]
    assert left["call_control_id"] == failed and left["url"] == receiver.url + "/fail"
    assert left["event_type"] == "call.initiated" and left["attempt"] == 1


def test_idle_server_exits_at_once_without_warnings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELNYX_EMULATOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    assert "listening on" in proc.stdout.readline()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and time.monotonic() - started < 3
    assert "undelivered" not in err and "Traceback" not in err


def test_an_open_event_stream_does_not_hold_up_shutdown() -> None:
    """A dashboard left open must not keep ``docker stop`` waiting: streams end on SIGTERM."""
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("TELNYX_EMULATOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().rsplit(" ", 1)[1].strip()
    with httpx.stream("GET", base + "/_emulator/events", timeout=10) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: ready"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and time.monotonic() - started < 3, err
    assert "Traceback" not in err
