"""Time the pytest plugin: what it costs every pytest run, and what one call flow costs a test.

Run: ``python bench/plugin_speed.py [--flows 200] [--imports 15] [--profile]`` (from the
repository root, dev venv active).

1. **Import.** pytest imports every installed plugin at start-up, so ``emulator.plugin`` is paid
   for by every test run in the environment. Measured in fresh subprocesses (median): the time to
   import it once pytest is already imported (what a pytest run pays; target < 50 ms), the whole
   ``import emulator.plugin`` for reference (it includes pytest itself), and which heavy modules
   the import pulls in (must be none).
2. **Fixture.** The first use in a process (importing the engine, httpx and respx, compiling
   schemas), then setting up and tearing down one emulator (what each test using it pays).
3. **Flow.** One inbound call routed in virtual time, all webhooks delivered in-process to a
   trivial ASGI app: the call arrives, the app's test transfers it with AMD ``detect`` to the
   bundled ``short_call`` number (answered after 1 s, hangs up 10 s later), and
   ``run_until_idle()`` delivers initiated A, initiated B, answered B, bridged B, bridged A,
   machine.detection.ended B, hangup B, hangup A. Median per flow (target < 2 ms), with the
   transfer sent three ways: straight into the engine, through a plain ``httpx.Client``
   (respx), and through the official SDK (``telnyx.Telnyx``), which is what user code does.
   ``--profile`` prints a cProfile summary of the SDK variant.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEAVY = (
    "emulator.api",
    "emulator.inprocess",
    "httpx",
    "respx",
    "starlette",
    "jsonschema",
    "jsonschema_rs",
    "yaml",
    "nacl",
)
SHORT_CALL = "+13125550106"

_INCREMENT = """
import sys, time
import pytest
t = time.perf_counter()
import emulator.plugin
dt = time.perf_counter() - t
heavy = [m for m in {heavy!r} if m in sys.modules]
print(dt, ",".join(heavy))
"""

_FIRST_USE = """
import time
import pytest
t = time.perf_counter()
from emulator.inprocess import mock
with mock():
    pass
print(time.perf_counter() - t)
"""

_WHOLE = """
import time
t = time.perf_counter()
import emulator.plugin
print(time.perf_counter() - t)
"""


def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def bench_import(runs: int) -> None:
    increments: list[float] = []
    wholes: list[float] = []
    heavy = ""
    for _ in range(runs):
        dt, _, heavy = _python(_INCREMENT.format(heavy=HEAVY)).partition(" ")
        increments.append(float(dt) * 1000)
        wholes.append(float(_python(_WHOLE)) * 1000)
    print(f"import emulator.plugin after pytest (what a pytest run pays), median of {runs}:")
    print(f"  {statistics.median(increments):8.2f} ms   (target < 50 ms)")
    print(f"import emulator.plugin from scratch (includes pytest itself), median of {runs}:")
    print(f"  {statistics.median(wholes):8.2f} ms")
    print(f"heavy modules loaded by the import: {heavy or 'none'}")
    first = statistics.median(float(_python(_FIRST_USE)) * 1000 for _ in range(5))
    print("first fixture use in a process (imports engine, httpx, respx; median of 5):")
    print(f"  {first:8.2f} ms")


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body and answers 200: the cheapest app a webhook can be delivered to."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def bench_fixture(runs: int) -> None:
    from emulator.inprocess import mock

    mock().start().stop()  # warm: first-time imports and schema compilation
    times: list[float] = []
    for _ in range(runs):
        t = time.perf_counter()
        with mock():
            pass
        times.append((time.perf_counter() - t) * 1000)
    print(f"fixture set-up + tear-down, median of {runs}: {statistics.median(times):8.3f} ms")


def _flows(send_transfer: str, n: int, profile: bool = False) -> list[float]:
    import httpx

    from emulator.inprocess import mock

    times: list[float] = []
    with mock(seed=1) as emu:
        emu.deliver_to(trivial_app)
        transfer: Callable[[str], None]
        if send_transfer == "engine":

            def transfer(ccid: str) -> None:
                body = {"to": SHORT_CALL, "answering_machine_detection": "detect"}
                emu.request("POST", f"/v2/calls/{ccid}/actions/transfer", body)

        elif send_transfer == "httpx":
            client = httpx.Client(headers={"authorization": f"Bearer {emu.api_key}"})

            def transfer(ccid: str) -> None:
                client.post(
                    f"{emu.base_url}/calls/{ccid}/actions/transfer",
                    json={"to": SHORT_CALL, "answering_machine_detection": "detect"},
                ).raise_for_status()

        else:
            sdk = emu.client()

            def transfer(ccid: str) -> None:
                sdk.calls.actions.transfer(
                    ccid, to=SHORT_CALL, answering_machine_detection="detect"
                )

        def flow() -> None:
            call = emu.create_call()
            transfer(call.call_control_id)
            delivered = emu.run_until_idle()
            assert len(delivered) == 8, [w.event_type for w in delivered]

        for _ in range(20):
            flow()  # warm-up
        profiler = cProfile.Profile() if profile else None
        for _ in range(n):
            t = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            flow()
            if profiler is not None:
                profiler.disable()
            times.append((time.perf_counter() - t) * 1000)
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    return times


def bench_flow(n: int, profile: bool) -> None:
    print(f"full transfer flow in virtual time (8 webhooks to an ASGI app), median of {n}:")
    for variant, label in (
        ("engine", "transfer straight into the engine"),
        ("httpx", "transfer via httpx.Client (respx)"),
        ("sdk", "transfer via telnyx.Telnyx (the SDK)"),
    ):
        times = _flows(variant, n, profile and variant == "sdk")
        median = statistics.median(times)
        print(f"  {median:8.3f} ms  {label}   (target < 2 ms; p90 {_p90(times):.3f} ms)")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--imports", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}")
    bench_import(args.imports)
    bench_fixture(50)
    bench_flow(args.flows, args.profile)


if __name__ == "__main__":
    main()
