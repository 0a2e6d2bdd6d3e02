"""Shared helpers for the benchmark scripts: starting servers, small HTTP calls, RSS, machine.

Everything here talks to 127.0.0.1 only, and every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOST = "127.0.0.1"
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process, from /proc/PID/status (VmRSS), in MB (10^6 bytes)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


@dataclass
class Proc:
    """A server we started as a subprocess: its pid, port and log file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss(self) -> float | None:
        return rss_mb(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start(
    name: str,
    argv: Sequence[str],
    *,
    port_re: re.Pattern[str] = _LISTENING,
    port: int | None = None,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> Proc:
    """Start a server; wait until it prints its port (or, with ``port`` given, accepts a TCP
    connection there). stdout+stderr go to a temp file (the server's log lines are real work it
    does, so they are written somewhere real rather than thrown away)."""
    slug = re.sub(r"\W+", "-", name).strip("-")
    log = Path(tempfile.mkstemp(prefix=f"bench-{slug}-", suffix=".log")[1])
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    popen = subprocess.Popen(
        list(argv),
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}: {log.read_text()[-2000:]}")
        if port is None:
            m = port_re.search(log.read_text(errors="replace"))
            if m:
                return Proc(name, popen, int(m.group(1)), log)
        else:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, port, timeout=1)
                conn.connect()
                conn.close()
                return Proc(name, popen, port, log)
        time.sleep(0.05)
    popen.kill()
    raise RuntimeError(f"{name} did not start within {timeout}s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running(*args: Any, **kwargs: Any) -> Iterator[Proc]:
    proc = start(*args, **kwargs)
    try:
        yield proc
    finally:
        proc.stop()


def emulator_argv(*options: str) -> list[str]:
    """The real CLI, as a user runs it (the console script if installed, else -m emulator)."""
    script = Path(sys.executable).with_name("telnyx-emulator")
    if script.exists():
        return [str(script), "serve", *options]
    return [sys.executable, "-m", "emulator", "serve", *options]


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = "k",
    timeout: float = 30.0,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {}
        data = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw
    finally:
        conn.close()


def find_prism() -> str | None:
    """Prism's CLI: $PRISM, bench/.prism, /tmp/prism (npm install --prefix DIR), or PATH."""
    candidates = [os.environ.get("PRISM", "")]
    for prefix in (BENCH / ".prism", Path("/tmp/prism")):
        candidates.append(str(prefix / "node_modules" / ".bin" / "prism"))
    candidates.append(shutil.which("prism") or "")
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def cpu_busy(interval: float = 1.0) -> float:
    """Fraction of the machine's CPU time spent busy over ``interval`` seconds (/proc/stat)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = read()
    time.sleep(interval)
    total1, idle1 = read()
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most ``limit`` seconds) until the machine is idle: other people's test runs on
    a 2-core machine change every figure. Returns the busy fraction last seen."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy
