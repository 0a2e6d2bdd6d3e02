"""Where a transfer's time goes inside the process, without HTTP.

Run: ``python bench/profile_api.py [--transfers 10000] [--pyinstrument]`` (repository root,
dev venv active).

1. ``Api.handle`` for N valid transfers (the bundled short_call number, 64 calls rotated, the
   wall clock at --time-scale 1, as under ``wrk``) and N invalid ones: µs per request.
2. The same plus the server's per-request log line (``emulator.server._log_request`` at the
   default level, written to a file by the CLI's formatter): what logging adds.
3. The pieces, each timed alone (best of 5 ``timeit`` repeats, µs per call).
4. What stays behind: GC-tracked objects and traced bytes per transfer (these decide the cost of
   the cyclic GC's full collections and the RSS growth under load).
5. ``--pyinstrument``: a pyinstrument tree of the valid transfers (pyinstrument must be
   importable: dev venv, or ``BENCH_EXTRA_SITE``/``/tmp/benchtools``, appended to sys.path).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
sys.path += [p for p in os.environ.get("BENCH_EXTRA_SITE", "").split(os.pathsep) if p]
sys.path += [str(p) for p in Path("/tmp/benchtools/lib").glob("python*/site-packages")]

from run import INVALID_BODY, VALID_BODY  # noqa: E402

from emulator import logs  # noqa: E402
from emulator.api import ApiRequest, ApiResponse  # noqa: E402
from emulator.calls import iso  # noqa: E402
from emulator.config import Settings  # noqa: E402
from emulator.delivery import dumps  # noqa: E402
from emulator.server import _log_request, build_api  # noqa: E402

HEADERS = {"authorization": "Bearer k", "content-type": "application/json"}


def best_us(fn: Callable[[], object], number: int = 2000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def setup(n_calls: int = 64) -> tuple[Any, list[str]]:
    settings = Settings(time_scale=1.0, max_live_calls=10_000_000)
    api = build_api(settings)
    body = json.dumps({"from": "+18005550100", "to": "+18005550111"}).encode()
    ids = []
    for _ in range(n_calls):
        r = api.handle(ApiRequest("POST", "/_emulator/calls", HEADERS, body))
        assert r.status == 201, r.payload
        ids.append(r.payload["data"]["call_control_id"])
    return api, ids


def requests_for(ids: list[str], body: dict[str, Any]) -> list[ApiRequest]:
    raw = json.dumps(body).encode()
    return [ApiRequest("POST", f"/v2/calls/{i}/actions/transfer", HEADERS, raw) for i in ids]


def per_request_us(api: Any, reqs: list[ApiRequest], n: int, log_line: bool) -> tuple[float, float]:
    """µs per request: the median over batches of 1,000 (leaves out the batches in which the
    cyclic GC ran a full collection) and the mean (includes them)."""
    batches = []
    done = 0
    while done < n:
        t = time.perf_counter()
        for k in range(1000):
            req = reqs[(done + k) % len(reqs)]
            result = api.handle(req)
            if log_line:
                _log_request(req.method, req.path, result)
            _ = result.content
        batches.append((time.perf_counter() - t) / 1000 * 1e6)
        done += 1000
    return statistics.median(batches), statistics.fmean(batches)


def pieces(api: Any, ids: list[str]) -> list[tuple[str, float]]:
    now = time.time()
    valid_raw = json.dumps(VALID_BODY).encode()
    validator = api.validators.get("transfer_request")
    line = f"POST /v2/calls/{ids[0]}/actions/transfer -> 200 transfer call={ids[0]} result=accepted"
    handler = logging.getLogger("telnyx_emulator").handlers[0]
    record = logging.LogRecord("telnyx_emulator.api", logging.INFO, __file__, 1, line, (), None)
    ok = ApiResponse(200, {"data": {"result": "ok"}})
    out = [
        ("calls.iso(ts) (formatted second cached)", best_us(lambda: iso(now))),
        ("IdFactory.call_control_id() (randbytes + base64)", best_us(api.ids.call_control_id)),
        ("IdFactory.leg_uuid()", best_us(api.ids.leg_uuid)),
        ("IdFactory.event_id()", best_us(api.ids.event_id)),
        ("logs.scrub(one request line)", best_us(lambda: logs.scrub(line))),
        ("TextFormatter.format(record) incl. scrub", best_us(lambda: handler.format(record))),
        (
            "ScenarioBook.match(short_call number)",
            best_us(lambda: api.scenarios.match("+13125550106")),
        ),
        (
            "ScenarioBook.match(catch-all number)",
            best_us(lambda: api.scenarios.match("+18005550111")),
        ),
        ("json.loads(transfer body)", best_us(lambda: json.loads(valid_raw))),
        (
            "validator.validate(valid transfer body)",
            best_us(lambda: validator.validate(VALID_BODY)),
        ),
        (
            "validator.validate(invalid body, 5 violations)",
            best_us(lambda: validator.validate(INVALID_BODY), 500),
        ),
        ("ApiResponse(200, OK).content (delivery.dumps)", best_us(lambda: ok.content)),
        ("delivery.dumps(webhook-sized dict)", best_us(lambda: dumps(_webhook_like()))),
    ]
    return out


def _webhook_like() -> dict[str, Any]:
    return {
        "data": {
            "record_type": "event",
            "event_type": "call.initiated",
            "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
            "occurred_at": "2026-11-23T22:26:32.443567Z",
            "payload": {
                "call_control_id": "v3:" + "x" * 54,
                "call_leg_id": "faa99b42-81d7-1f40-b1c6-4b67cd63ac48",
                "call_session_id": "913c7da0-c291-18f1-a047-497bbc0651b5",
                "client_state": None,
                "connection_id": "2055240101615970036",
                "from": "+18005550100",
                "to": "+18005550111",
                "direction": "incoming",
                "state": "parked",
                "caller_id_name": "+18005550100",
                "calling_party_type": "pstn",
                "start_time": "2026-11-23T22:26:32.443567Z",
            },
        },
        "meta": {"attempt": 1, "delivered_to": "http://127.0.0.1:1/hook"},
    }


def retained(n: int) -> tuple[float, float]:
    """GC-tracked objects and traced bytes left behind per valid transfer, once the journals
    (10,000 commands and webhooks per key) are full."""
    api, ids = setup()
    reqs = requests_for(ids, VALID_BODY)
    for k in range(12_000):  # fill the journal deques, warm caches
        api.handle(reqs[k % len(reqs)])
    gc.collect()
    objects0 = len(gc.get_objects())
    tracemalloc.start()
    bytes0 = tracemalloc.get_traced_memory()[0]
    for k in range(n):
        api.handle(reqs[k % len(reqs)])
    gc.collect()
    bytes1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (len(gc.get_objects()) - objects0) / n, (bytes1 - bytes0) / n


def leak_check(n: int) -> tuple[int, int, int]:
    """With retention 0, after ``n`` transfers and housekeeping: legs still in the store, Leg
    objects still alive, and timeline entries still queued (cancelled ones included)."""
    from emulator.calls import Leg

    gc.collect()
    before = sum(1 for o in gc.get_objects() if type(o) is Leg)  # other Api objects' legs
    settings = Settings(time_scale=1.0, max_live_calls=10_000_000, retention_secs=0.0)
    api = build_api(settings)
    body = json.dumps({"from": "+18005550100", "to": "+18005550111"}).encode()
    ids = [
        api.handle(ApiRequest("POST", "/_emulator/calls", HEADERS, body)).payload["data"][
            "call_control_id"
        ]
        for _ in range(64)
    ]
    reqs = requests_for(ids, VALID_BODY)
    for k in range(n):
        api.handle(reqs[k % len(reqs)])
    engine = api.tenant("k")
    engine.housekeeping()
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if type(o) is Leg) - before
    queued = len(getattr(api.timeline, "_heap", ()))
    return len(engine.calls), alive, queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    n = args.transfers
    log_file = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115
    logs.configure("text", "info")
    logging.getLogger("telnyx_emulator").handlers[0].setStream(log_file)  # type: ignore[attr-defined]

    print(f"Python {sys.version.split()[0]}; {n} requests per figure")
    api, ids = setup()
    valid = requests_for(ids, VALID_BODY)
    invalid = requests_for(ids, INVALID_BODY)
    per_request_us(api, valid, 1000, False)  # warm up
    rows = [
        ("Api.handle, valid transfer", per_request_us(api, valid, n, False)),
        (
            "Api.handle, invalid transfer (422, 5 violations)",
            per_request_us(api, invalid, n, False),
        ),
        ("Api.handle + log line, valid transfer", per_request_us(api, valid, n, True)),
        ("Api.handle + log line, invalid transfer", per_request_us(api, invalid, n, True)),
    ]
    print("\nper request, µs: median of batches of 1,000 (no full GC) / mean (with GC)")
    for label, (median, mean) in rows:
        print(f"  {median:8.1f} / {mean:8.1f}  {label}")
    print("\npieces (best of 5, µs per call):")
    for label, us in pieces(api, ids):
        print(f"  {us:8.2f} µs  {label}")
    objs, nbytes = retained(min(n, 10_000))
    print(
        f"\nleft behind per valid transfer (time scale 1, default retention): "
        f"{objs:.0f} GC-tracked objects, {nbytes:.0f} bytes (tracemalloc)"
    )
    stored, alive, queued = leak_check(min(n, 10_000))
    print(
        f"retention 0 s, after {min(n, 10_000)} transfers and housekeeping: {stored} legs in "
        f"the store, {alive} Leg objects alive, {queued} timeline entries queued"
    )
    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("\npyinstrument not importable; skipped")
            return
        api, ids = setup()
        valid = requests_for(ids, VALID_BODY)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for k in range(n):
            req = valid[k % len(valid)]
            result = api.handle(req)
            _log_request(req.method, req.path, result)
            _ = result.content
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    log_file.close()
    os.unlink(log_file.name)


if __name__ == "__main__":
    main()
