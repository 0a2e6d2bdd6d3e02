"""The transfer hot path in-process, before and after a change, in one run.

Run: ``python bench/command_speed.py [--compare CHECKOUT ...] [--rounds 5]`` (repository root,
dev venv active). Each checkout (default: this one) is measured in fresh subprocesses with its
own ``emulator`` package first on ``sys.path`` (the same venv, so the same libraries), rounds
interleaved (A B A B ...) so machine noise hits both alike; the table shows medians over rounds.
Used for the command registry: ``python bench/command_speed.py --compare /work/main .``.

Per checkout and round:

1. ``Api.handle`` per valid transfer (µs): 20,000 transfers on 64 live calls to the bundled
   catch-all number, wall clock at time scale 1 (as under ``wrk``), the garbage collector tuned
   as the CLI's server tunes it (``emulator.cli._tune_gc``: start-up objects frozen, fewer young
   collections); the median of batches of 1,000.
2. ``Api.handle`` per invalid transfer (three violations, 422).
3. The in-process SDK transfer (ms): ``telnyx.Telnyx.calls.actions.transfer`` through the pytest
   plugin's mock (respx) on a fresh call, median of 300 (target < 1 ms).
4. The in-process SDK flow (ms): a call arrives, the SDK transfers it with AMD ``detect`` to the
   bundled ``short_call`` number, ``run_until_idle()`` delivers its 8 webhooks to a trivial ASGI
   app (``bench/plugin_speed.py``'s flow), median of 300.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"authorization": "Bearer k", "content-type": "application/json"}
VALID = {"to": "+18005550111", "timeout_secs": 30, "client_state": "aGk="}
INVALID = {"to": "12", "timeout_secs": 1, "client_state": "not base64"}
SHORT_CALL = "+13125550106"


def _api_handle(n: int) -> dict[str, float]:
    from emulator.api import ApiRequest
    from emulator.config import Settings
    from emulator.server import build_api

    api = build_api(Settings(time_scale=1.0, max_live_calls=10_000_000))
    raw = json.dumps({"from": "+18005550100", "to": "+18005550111"}).encode()
    ids = [
        api.handle(ApiRequest("POST", "/_emulator/calls", HEADERS, raw)).payload["data"][
            "call_control_id"
        ]
        for _ in range(64)
    ]
    from emulator.cli import _tune_gc

    _tune_gc()  # what `telnyx-emulator serve` does once it has loaded everything
    out: dict[str, float] = {}
    for label, body, status in (("valid", VALID, 200), ("invalid", INVALID, 422)):
        encoded = json.dumps(body).encode()
        reqs = [
            ApiRequest("POST", f"/v2/calls/{i}/actions/transfer", HEADERS, encoded) for i in ids
        ]
        assert api.handle(reqs[0]).status == status
        batches = []
        for start in range(0, n, 1000):
            t = time.perf_counter()
            for k in range(start, start + 1000):
                api.handle(reqs[k % len(reqs)])
            batches.append((time.perf_counter() - t) / 1000 * 1e6)
            api.run_due(time.time())  # what the server's pump does between requests
        out[f"handle_{label}_us"] = statistics.median(batches)
    return out


async def _trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _sdk(n: int) -> dict[str, float]:
    try:
        from emulator.inprocess import mock
    except ImportError:  # checkouts from before the module was renamed
        from emulator.mock import mock  # type: ignore[no-redef]

    single: list[float] = []
    with mock(seed=1) as emu:
        emu.deliver_to(_trivial_app)
        sdk = emu.client()
        for i in range(n + 20):
            call = emu.create_call()
            t = time.perf_counter()
            sdk.calls.actions.transfer(
                call.call_control_id, to=SHORT_CALL, answering_machine_detection="detect"
            )
            sent = time.perf_counter()
            delivered = emu.run_until_idle()
            assert len(delivered) == 8, [w.event_type for w in delivered]
            if i >= 20:  # warm-up
                single.append((sent - t) * 1000)
        flow_total: list[float] = []
        for _ in range(n):
            t = time.perf_counter()
            call = emu.create_call()
            sdk.calls.actions.transfer(
                call.call_control_id, to=SHORT_CALL, answering_machine_detection="detect"
            )
            emu.run_until_idle()
            flow_total.append((time.perf_counter() - t) * 1000)
    return {
        "sdk_transfer_ms": statistics.median(single),
        "sdk_flow_ms": statistics.median(flow_total),
    }


def measure(repo: Path, transfers: int, flows: int) -> dict[str, Any]:
    sys.path.insert(0, str(repo))
    import emulator

    assert Path(emulator.__file__).resolve().is_relative_to(repo.resolve()), emulator.__file__
    return {**_api_handle(transfers), **_sdk(flows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs="+", type=Path, default=[ROOT])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.transfers, args.flows)))
        return
    results: dict[Path, list[dict[str, float]]] = {repo: [] for repo in args.compare}
    for _ in range(args.rounds):
        for repo in args.compare:
            out = subprocess.run(
                [
                    *(sys.executable, __file__, "--measure", str(repo.resolve())),
                    *("--transfers", str(args.transfers), "--flows", str(args.flows)),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd="/",
            ).stdout
            results[repo].append(json.loads(out))
    keys = list(next(iter(results.values()))[0])
    print("| checkout | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for repo, rounds in results.items():
        cells = [f"{statistics.median(r[k] for r in rounds):.3f}" for k in keys]
        print(f"| {repo} | " + " | ".join(cells) + " |")
    print(json.dumps({str(repo): rounds for repo, rounds in results.items()}))


if __name__ == "__main__":
    main()
