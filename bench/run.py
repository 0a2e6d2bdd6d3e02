"""Measure the emulator, in one run, and print a markdown report (also bench/results/latest.md).

Run from the repository root with the dev venv active::

    python bench/run.py              # everything, ~15 minutes on 2 cores
    python bench/run.py --quick      # shorter loads, smaller counts, ~4 minutes
    python bench/run.py --phases http,footprint

Needs ``wrk`` (``apt-get install wrk``) and, for the Prism comparison, Prism's CLI
(``npm install --prefix /tmp/prism @stoplight/prism-cli``, or ``bench/.prism``, or ``$PRISM``).

Phases (docs/performance.md explains every figure):

1. ``http``: keep-alive transfer load with wrk at concurrency 1, 16, 64, and invalid bodies at 16,
   against the emulator (the real CLI), a no-op route on the same server stack
   (bench/noop_app.py), Prism serving the emulator's /openapi.json, and the bare-ASGI front-end
   prototype (bench/raw_asgi.py); ``--experiments`` adds the emulator with the cyclic GC off or
   tuned, with log level warning, with httptools and uvloop, and the no-op with httptools.
2. ``fanout``: N complete calls at --time-scale 0 (create + transfer to the bundled short_call
   number, 7 webhooks each) delivered to bench/receiver.py: webhooks/s, lag from occurred_at,
   lost / duplicated / out-of-order counts checked against GET /_emulator/webhooks.
3. ``inproc``: bench/plugin_speed.py (the pytest plugin), if present.
4. ``footprint``: CLI start-up to a healthy /_emulator/health (median of 5), RSS idle, RSS after
   100,000 completed calls with the default retention (10 min) and with a short one.

Every load is bounded in count and time and stops by itself; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    HOST,
    ROOT,
    Proc,
    emulator_argv,
    find_prism,
    machine,
    percentile,
    request,
    rss_mb,
    running,
    wait_quiet,
)

PY = sys.executable
SHORT_CALL = "+13125550106"  # bundled short_call: answers after 1 s, callee hangs up 10 s later
WEBHOOKS_PER_CALL = 7  # initiated A, initiated B, answered B, bridged B, bridged A, hangup B, A
BIG = "10000000"

VALID_BODY = {
    "to": SHORT_CALL,
    "from": "+18005550199",
    "from_display_name": "Support Desk",
    "timeout_secs": 45,
    "time_limit_secs": 3600,
    "client_state": "aGF2ZSBhIG5pY2UgZGF5",
    "target_leg_client_state": "bGVnLWI=",
    "answering_machine_detection": "detect",
    "custom_headers": [{"name": "X-Ticket", "value": "42"}],
}
INVALID_BODY = {  # 5 violations, as in bench/validator_speed.py
    "to": "12345",
    "timeout_secs": 3,
    "record_format": "ogg",
    "client_state": "not base64!",
    "sound_modifications": {"pitch": 0},
}
INBOUND = {"from": "+18005550100", "to": "+18005550111"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tmpfile(text: str, suffix: str = ".txt") -> str:
    fd, name = tempfile.mkstemp(prefix="bench-", suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str, script: str, env: dict[str, str], conns: int, secs: float, *, threads: int = 1
) -> dict[str, Any]:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{max(1, round(secs))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(BENCH / "wrk" / script),
        url,
    ]
    out = subprocess.run(
        argv,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=secs + 60,
        check=False,
    ).stdout
    res: dict[str, Any] = {"raw": out}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"p{pct}"] = _ms(m.group(1)) if m else None
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"CHAIN created=(\d+) transferred=(\d+) failed=(\d+)", out)
    if m:
        res["created"], res["transferred"], res["failed"] = (int(x) for x in m.groups())
    return res


# -- phase 1: HTTP transfers ---------------------------------------------------------------------

LOADS = [  # (label, body, connections)
    ("valid c1", "valid", 1),
    ("valid c16", "valid", 16),
    ("valid c64", "valid", 64),
    ("invalid c16", "invalid", 16),
]


def _openapi(emulator: Proc) -> tuple[str, str]:
    """The emulator's own /openapi.json, or a minimal 3.1 document for the transfer operation."""
    status, doc = request(emulator.port, "GET", "/openapi.json", token=None)
    if status == 200 and isinstance(doc, dict) and "paths" in doc:
        return tmpfile(json.dumps(doc), ".json"), "the emulator's GET /openapi.json"
    schema = json.loads((ROOT / "schemas" / "transfer_request.schema.json").read_text())
    schema.pop("$schema", None)
    schema.pop("$id", None)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "transfer only (bench fallback)", "version": "0"},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"transfer_request": schema},
        },
        "paths": {
            "/v2/calls/{call_control_id}/actions/transfer": {
                "post": {
                    "parameters": [
                        {
                            "name": "call_control_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/transfer_request"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"example": {"data": {"result": "ok"}}}
                            },
                        },
                        "422": {
                            "description": "invalid",
                            "content": {"application/json": {"example": {"errors": []}}},
                        },
                    },
                }
            }
        },
    }
    return (
        tmpfile(json.dumps(doc), ".json"),
        f"a minimal OpenAPI 3.1 document for transfer (GET /openapi.json answered {status})",
    )


def _emulator_ids(proc: Proc, n: int = 64) -> list[str]:
    ids = []
    for _ in range(n):
        status, body = request(proc.port, "POST", "/_emulator/calls", INBOUND)
        if status != 201:
            raise RuntimeError(f"POST /_emulator/calls -> {status}: {body}")
        ids.append(body["data"]["call_control_id"])
    return ids


def _load_target(
    label: str, proc: Proc, ids: list[str], secs: float, warm: float
) -> list[dict[str, Any]]:
    ids_file = tmpfile("\n".join(ids) + "\n")
    bodies = {
        "valid": tmpfile(json.dumps(VALID_BODY), ".json"),
        "invalid": tmpfile(json.dumps(INVALID_BODY), ".json"),
    }
    rows = []
    for load, body, conns in LOADS:
        env = {"BENCH_IDS": ids_file, "BENCH_BODY": bodies[body], "BENCH_TOKEN": "k"}
        if warm:
            wrk(proc.url + "/", "transfer.lua", env, conns, warm)
        res = wrk(proc.url + "/", "transfer.lua", env, conns, secs)
        res.update(target=label, load=load, rss=proc.rss())
        log(
            f"  {label:<28} {load:<12} {res['rps']:9.0f} req/s  p50 {res['p50']} ms  "
            f"p99 {res['p99']} ms  non-2xx {res['non2xx']}  RSS {res['rss']:.0f} MB"
        )
        rows.append(res)
    return rows


def _extra_site(*names: str) -> str | None:
    """Directories holding httptools / uvloop for the stack experiments
    (``pip install --target /tmp/bench-site/NAME NAME``), or None if one is missing."""
    dirs = []
    for name in names:
        d = Path(os.environ.get("BENCH_SITE_ROOT", "/tmp/bench-site")) / name
        if not (d / name).is_dir():
            return None
        dirs.append(str(d))
    return os.pathsep.join(dirs)


def phase_http(args: argparse.Namespace) -> dict[str, Any]:
    secs, warm = (3.0, 1.0) if args.quick else (args.duration, 2.0)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    emu_opts = ["--port", "0", "--time-scale", "1", "--max-live-calls", BIG]
    launcher = [PY, str(BENCH / "raw_asgi.py"), "--time-scale", "1", "--max-live-calls", BIG]
    noop = [PY, str(BENCH / "noop_app.py")]
    log("phase 1: HTTP transfers")
    notes.append(f"CPU busy before the phase (other processes): {100 * wait_quiet(300):.0f}%.")
    prism = find_prism()
    if prism is None or args.no_prism:
        notes.append(
            "Prism: skipped (not found; npm install --prefix /tmp/prism @stoplight/prism-cli)"
        )
    rounds: list[dict[str, Any]] = []
    repeat = 1 if args.quick else args.repeat
    for n in range(repeat):
        # Each round starts fresh processes, so the emulator's state starts empty each time.
        log(f" round {n + 1} of {repeat}")
        with running("emulator", emulator_argv(*emu_opts)) as emu:
            spec, spec_note = _openapi(emu)
            rounds += _load_target("emulator (CLI)", emu, _emulator_ids(emu), secs, warm)
        with running("noop", noop) as proc:
            rounds += _load_target("no-op (same stack)", proc, ["v3:noop"], secs, warm)
        if prism is not None and not args.no_prism:
            port = free_port()
            argv = [prism, "mock", "-v", "error", "-h", HOST, "-p", str(port), spec]
            with running("prism", argv, port=port, timeout=60) as pr:
                rounds += _load_target("Prism", pr, ["v3:prism"], secs, warm)
            if n == 0:
                notes.append(f"Prism {_prism_version(prism)} served {spec_note}.")
    rows += _medians(rounds)
    if repeat > 1:
        notes.append(
            f"Emulator, no-op and Prism rows: medians of {repeat} rounds (fresh processes each "
            "round); req/s of every round in the JSON's `runs`."
        )
    # (label, argv, extra site dirs, is the emulator); the launcher's --front starlette runs
    # emulator.server.create_app, the app the CLI serves, with the same uvicorn settings.
    star = [*launcher, "--front", "starlette"]
    variants: list[tuple[str, list[str], str | None, bool]] = [
        ("raw ASGI front (prototype)", [*launcher, "--front", "raw"], "", True),
    ]
    if args.experiments:
        ht, htuv = _extra_site("httptools"), _extra_site("httptools", "uvloop")
        variants += [
            ("emulator, gc off", [*star, "--gc", "off"], "", True),
            ("emulator, gc tuned", [*star, "--gc", "tuned"], "", True),
            ("emulator, log level warning", [*star, "--log-level", "warning"], "", True),
            ("emulator, httptools", star, ht, True),
            ("emulator, httptools+uvloop", star, htuv, True),
            ("no-op, httptools", noop, ht, False),
            (
                "raw ASGI, httptools+uvloop, gc off, log warning",
                [*launcher, "--front", "raw", "--gc", "off", "--log-level", "warning"],
                htuv,
                True,
            ),
        ]
        if ht is None or htuv is None:
            notes.append(
                "httptools/uvloop experiments skipped: pip install --target "
                "/tmp/bench-site/httptools httptools (and the same for uvloop)."
            )
    for label, argv, site, is_emulator in variants:
        if site is None:
            continue
        env = {"BENCH_EXTRA_SITE": site} if site else None
        with running(label, argv, env=env) as proc:
            ids = _emulator_ids(proc) if is_emulator else ["v3:noop"]
            rows += _load_target(label, proc, ids, secs, warm)
    return {"rows": rows, "notes": notes, "secs": secs}


def _medians(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (target, load): the median of each figure over the rounds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rounds:
        groups.setdefault((row["target"], row["load"]), []).append(row)
    out = []
    for runs in groups.values():
        row = dict(runs[0])
        for key in ("rps", "p50", "p99", "non2xx", "rss", "requests"):
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                row[key] = statistics.median(values)
        row["runs"] = [round(r["rps"]) for r in runs]
        row.pop("raw", None)
        out.append(row)
    return out


def _prism_version(prism: str) -> str:
    try:
        out = subprocess.run([prism, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


# -- phase 2: webhook fan-out ------------------------------------------------------------------


def _wait_count(rport: int, expected: int, limit: float, settle: float = 20.0) -> int:
    """Wait until the receiver has ``expected`` webhooks, or none arrived for ``settle`` s
    (longer than the default retry schedule, 1+2+4 s plus four 2 s timeouts), or ``limit``."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = request(rport, "GET", "/_count", token=None)[1]["count"]
        if count >= expected:
            return int(count)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since > settle:
            return int(count)
        time.sleep(0.2)
    return int(last)


def fanout_once(emu: Proc, rport: int, n: int, conns: int, run: int = 0) -> dict[str, Any]:
    token = f"fanout{n}-{run}"  # an API key of its own: nothing left over from an earlier run
    request(rport, "POST", "/_reset", token=None)
    create = tmpfile(json.dumps({**INBOUND, "webhook_url": f"http://{HOST}:{rport}/hook"}))
    transfer = tmpfile(json.dumps({"to": SHORT_CALL}))
    env = {
        "BENCH_CALLS": str(n),
        "BENCH_CREATE_BODY": create,
        "BENCH_TRANSFER_BODY": transfer,
        "BENCH_TOKEN": token,
    }
    started = time.time()
    res = wrk(emu.url + "/", "chain.lua", env, conns, n / 50 + 60)
    calls = res.get("transferred", 0)
    expected = calls * WEBHOOKS_PER_CALL
    received = _wait_count(rport, expected, limit=min(300.0, n / 20 + 120))
    rss = emu.rss()
    rows = request(rport, "GET", "/_dump", token=None, timeout=120)[1]["data"]
    status, journal = request(emu.port, "GET", "/_emulator/webhooks", token=token, timeout=300)
    journal = journal["data"] if status == 200 else []
    return _check_fanout(n, res, calls, expected, received, rows, journal, started, rss)


def _check_fanout(
    n: int,
    res: dict[str, Any],
    calls: int,
    expected: int,
    received: int,
    rows: list[list[Any]],
    journal: list[dict[str, Any]],
    started: float,
    rss: float | None,
) -> dict[str, Any]:
    ids = [r[2] for r in rows]
    seen = Counter(ids)
    duplicates = sum(c - 1 for c in seen.values() if c > 1)
    retries = sum(1 for r in rows if (r[7] or 1) > 1)
    journal_ids = {w["id"] for w in journal}
    journal_complete = len(journal) >= expected
    lost_vs_journal = len(journal_ids - set(seen))
    not_delivered = sum(1 for w in journal if w["status"] != "delivered")
    unexpected = len(set(seen) - journal_ids) if journal_complete else None
    # Order: per call session, the arrival order must be the emission order (journal order).
    by_session_rx: dict[str, list[str]] = defaultdict(list)
    for r in rows:  # rows are in arrival order
        by_session_rx[r[4]].append(r[2])
    by_session_em: dict[str, list[str]] = defaultdict(list)
    for w in journal:  # the journal is in emission order
        by_session_em[w["call_session_id"]].append(w["id"])
    types = {r[2]: r[5] for r in rows}
    sequences = Counter(tuple(types[i] for i in seq) for seq in by_session_rx.values())
    canonical = sequences.most_common(1)[0][0] if sequences else ()
    checked = out_of_order = 0
    for session, emitted in by_session_em.items():
        if len(emitted) < WEBHOOKS_PER_CALL:
            continue  # the journal kept only the tail of this session
        checked += 1
        if by_session_rx.get(session) != emitted:
            out_of_order += 1
    bad_sequence = sum(c for seq, c in sequences.items() if seq != canonical)
    failures: Counter[str] = Counter()
    for w in journal:
        for a in w.get("attempts") or []:
            if a.get("error"):
                failures[str(a["error"]).split(":", 1)[0]] += 1
            elif a.get("status") is not None and not 200 <= a["status"] < 300:
                failures[f"HTTP {a['status']}"] += 1
    lags = [(r[1] - r[6]) * 1000.0 for r in rows if r[6] is not None]
    arrivals = [r[1] for r in rows]
    span = (max(arrivals) - min(arrivals)) if len(arrivals) > 1 else 0.0
    return {
        "n": n,
        "calls": calls,
        "failed_requests": res.get("failed", 0),
        "inject_rps": res["rps"],
        "expected": expected,
        "received": received,
        "unique": len(seen),
        "duplicates": duplicates,
        "retries": retries,
        "journal": len(journal),
        "journal_complete": journal_complete,
        "lost_vs_journal": lost_vs_journal,
        "not_delivered": not_delivered,
        "failed_attempts": dict(failures.most_common(5)),
        "unexpected": unexpected,
        "sessions": len(by_session_rx),
        "order_checked": checked,
        "out_of_order": out_of_order,
        "bad_sequence": bad_sequence,
        "canonical": canonical,
        "rate": len(rows) / span if span else 0.0,
        "rate_total": len(rows) / (max(arrivals) - started) if arrivals else 0.0,
        "lag_p50": percentile(lags, 50) if lags else None,
        "lag_p99": percentile(lags, 99) if lags else None,
        "lag_max": max(lags) if lags else None,
        "rss": rss,
    }


def _shipped_sender() -> str:
    sys.path.insert(0, str(ROOT))
    from emulator import sender

    limit = getattr(sender, "MAX_IN_FLIGHT", None)
    how = f"at most {limit} requests at once" if limit else "one request per ready session"
    per_origin = getattr(sender, "MAX_IN_FLIGHT_PER_ORIGIN", None)
    if per_origin:
        how += f", {per_origin} per receiver"
    return f"emulator.sender.WebhookSender as shipped (aiohttp, {how})"


# The httpx-based sender and its prototypes (bounded httpx, aiohttp) were measured on
# 2026-11-23 (docs/performance.md); the shipped sender has used aiohttp since.
SENDERS = {"shipped": _shipped_sender()}


def _fanout_median(tries: list[dict[str, Any]]) -> dict[str, Any]:
    row = dict(tries[0])
    for key in ("rate", "rate_total", "lag_p50", "lag_p99", "lag_max", "rss"):
        values = [t[key] for t in tries if t.get(key) is not None]
        if values:
            row[key] = statistics.median(values)
    for key in ("duplicates", "not_delivered", "out_of_order", "retried"):
        if key in row:
            row[key] = max(t[key] for t in tries)
    row["received"] = min(t["received"] for t in tries)
    row["runs"] = [round(t["rate"]) for t in tries]
    return row


def phase_fanout(args: argparse.Namespace) -> dict[str, Any]:
    ns = [int(x) for x in args.fanout.split(",")] if args.fanout else None
    ns = ns or ([1000, 3000] if args.quick else [1000, 10000])
    senders = args.senders.split(",")
    log("phase 2: webhook fan-out")
    notes = [f"CPU busy before the phase (other processes): {100 * wait_quiet(300):.0f}%."]
    unknown = [s for s in senders if s not in SENDERS]
    if unknown:
        raise SystemExit(f"--senders: unknown {', '.join(unknown)} (known: {', '.join(SENDERS)})")
    results = []
    fanout_repeat = 1 if args.quick else args.repeat
    if fanout_repeat > 1:
        notes.append(
            f"Each row: the median webhooks/s and lag of {fanout_repeat} runs on one server; "
            "lost, duplicated and out-of-order counts are the worst run's."
        )
    with running("receiver", [PY, str(BENCH / "receiver.py"), "--max-secs", "7200"]) as rx:
        for sender in senders:
            if args.fanout_front == "cli" and sender == "shipped":
                argv = emulator_argv("--port", "0", "--time-scale", "0", "--max-live-calls", BIG)
                how = "the real CLI (the journal keeps the last 10,000 webhooks per API key)"
            else:
                argv = [
                    PY,
                    str(BENCH / "raw_asgi.py"),
                    "--front",
                    "starlette",
                    "--time-scale",
                    "0",
                    "--max-live-calls",
                    BIG,
                    "--journal-limit",
                    "1000000",
                ]
                how = "launcher"
            with running(f"emulator-fanout-{sender}", argv) as emu:
                for n in ns:
                    tries = [fanout_once(emu, rx.port, n, 16, k) for k in range(fanout_repeat)]
                    r = _fanout_median(tries)
                    r["sender"], r["how"] = sender, how
                    log(
                        f"  {sender} N={n}: {r['received']}/{r['expected']} webhooks, "
                        f"{r['rate']:.0f}/s, lag p99 {_f(r['lag_p99'], '{:.0f}')} ms, "
                        f"dup {r['duplicates']}, not delivered {r['not_delivered']}, "
                        f"out of order {r['out_of_order']}"
                    )
                    results.append(r)
    return {"results": results, "notes": notes}


# -- phase 3: in-process (the pytest plugin) -----------------------------------------------------


def phase_inproc(args: argparse.Namespace) -> dict[str, Any]:
    script = BENCH / "plugin_speed.py"
    log("phase 3: in-process (bench/plugin_speed.py)")
    if not script.exists():
        return {"skipped": "bench/plugin_speed.py does not exist yet"}
    argv = [PY, str(script)]
    if args.quick:
        argv += ["--flows", "50", "--imports", "5"]
    try:
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return {"skipped": "bench/plugin_speed.py took longer than 15 minutes"}
    if out.returncode != 0:
        return {"skipped": f"bench/plugin_speed.py failed: {out.stderr.strip()[-400:]}"}
    return {"output": out.stdout.rstrip()}


# -- phase 4: footprint ----------------------------------------------------------------------


def _startup_once() -> tuple[float, float | None]:
    port = free_port()
    argv = emulator_argv("--port", str(port))
    t0 = time.perf_counter()
    popen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(port, "GET", "/_emulator/health", token=None, timeout=2)[0] == 200:
                    elapsed = time.perf_counter() - t0
                    break
            except OSError:
                time.sleep(0.005)
        else:
            raise RuntimeError("emulator did not become healthy in 30 s")
        time.sleep(1.0)  # idle
        return elapsed, rss_mb(popen.pid)
    finally:
        popen.terminate()
        popen.wait(10)


def _calls_run(n: int, retention: float, conns: int = 16) -> dict[str, Any]:
    argv = emulator_argv(
        "--port", "0", "--time-scale", "0", "--max-live-calls", BIG, "--retention", f"{retention:g}"
    )
    create = tmpfile(json.dumps(INBOUND))  # no webhook_url: webhooks are recorded, not sent
    transfer = tmpfile(json.dumps({"to": SHORT_CALL}))
    env = {"BENCH_CALLS": str(n), "BENCH_CREATE_BODY": create, "BENCH_TRANSFER_BODY": transfer}
    with running(f"emulator-calls-{retention:g}", argv) as emu:
        request(emu.port, "GET", "/_emulator/health", token=None)
        idle = emu.rss()
        t0 = time.monotonic()
        res = wrk(emu.url + "/", "chain.lua", env, conns, n / 100 + 120)
        took = time.monotonic() - t0
        after = emu.rss()
        expired_rss = None
        if retention < 60:
            time.sleep(retention + 1)
            request(emu.port, "GET", "/v2/calls/housekeeping-probe")  # runs expiry
            expired_rss = emu.rss()
        _, calls = request(emu.port, "GET", "/_emulator/calls", timeout=300)
        retained = len(calls["data"]) if isinstance(calls, dict) else None
    return {
        "n": n,
        "retention": retention,
        "transferred": res.get("transferred", 0),
        "failed": res.get("failed", 0),
        "rps": res["rps"],
        "took": took,
        "idle": idle,
        "after": after,
        "after_expiry": expired_rss,
        "retained_legs": retained,
    }


def phase_footprint(args: argparse.Namespace) -> dict[str, Any]:
    log("phase 4: footprint")
    busy = wait_quiet(300)
    runs = [_startup_once() for _ in range(5)]
    startup = statistics.median(r[0] for r in runs)
    idle = statistics.median(r[1] or 0.0 for r in runs)
    log(f"  start-up to healthy: median {startup * 1000:.0f} ms; RSS idle {idle:.1f} MB")
    n = args.calls or (10_000 if args.quick else 100_000)
    calls = []
    for retention in (600.0, 5.0):
        r = _calls_run(n, retention)
        log(
            f"  {r['transferred']} calls, retention {retention:g} s: RSS {r['after']:.0f} MB "
            f"after ({r['rps']:.0f} req/s), retained legs {r['retained_legs']}"
        )
        calls.append(r)
    return {
        "busy": busy,
        "startup_ms": startup * 1000,
        "startup_all": [r[0] * 1000 for r in runs],
        "idle": idle,
        "calls": calls,
    }


# -- report ---------------------------------------------------------------------------------


def _f(v: float | None, fmt: str = "{:.1f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def _at(phase: dict[str, Any]) -> str:
    return f" ({phase['at']})" if phase.get("at") else ""


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(results: dict[str, Any], args: argparse.Namespace, started: dt.datetime) -> str:
    m = machine()
    dates = sorted(p["at"] for p in results.values() if isinstance(p, dict) and p.get("at"))
    when = f"{dates[0]} to {dates[-1][11:]}" if dates else f"{started:%Y-%m-%d %H:%M} UTC"
    out = [
        f"# telnyx-emulator benchmark: {when}",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}; Python {m['python']}; Linux {m['kernel']}. "
        f"Mode: {'--quick' if args.quick else 'full'}. Each phase's heading says when it ran.",
        "",
    ]
    targets: list[tuple[str, bool]] = []
    http = results.get("http")
    if http:
        rows = http["rows"]
        out += [
            f"## 1. HTTP transfers (wrk, 1 thread, keep-alive, {http['secs']:g} s per load)"
            f"{_at(http)}",
            "",
            "| target | load | req/s | p50 ms | p99 ms | non-2xx | RSS after MB |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            errs = f" (+{r['socket_errors']} socket errors)" if r["socket_errors"] else ""
            out.append(
                f"| {r['target']} | {r['load']} | {r['rps']:.0f} | {_f(r['p50'], '{:.2f}')} | "
                f"{_f(r['p99'], '{:.2f}')} | {r['non2xx']}{errs} | {_f(r['rss'], '{:.0f}')} |"
            )
        pick = {(r["target"], r["load"]): r for r in rows}
        prism = pick.get(("Prism", "valid c16"))
        out += [
            "",
            "Ratios at valid c16 (targets: ≥ 0.60 of the no-op, ≥ 2.5x Prism, p99 < 10 ms):",
            "",
        ]
        pairs = [
            ("emulator (CLI)", "no-op (same stack)"),
            ("raw ASGI front (prototype)", "no-op (same stack)"),
            ("emulator, gc off", "no-op (same stack)"),
            ("emulator, httptools", "no-op, httptools"),
            ("raw ASGI, httptools+uvloop, gc off, log warning", "no-op, httptools"),
        ]
        for emu_label, noop_label in pairs:
            e, n = pick.get((emu_label, "valid c16")), pick.get((noop_label, "valid c16"))
            if not e or not n:
                continue
            vs_noop = e["rps"] / n["rps"] if n["rps"] else 0.0
            vs_prism = e["rps"] / prism["rps"] if prism and prism["rps"] else None
            p99_ok = e["p99"] is not None and e["p99"] < 10
            out.append(
                f"- {emu_label}: {vs_noop:.2f} of {noop_label} ({_mark(vs_noop >= 0.6)}); "
                + (f"{vs_prism:.2f}x Prism ({_mark(vs_prism >= 2.5)}); " if vs_prism else "")
                + f"p99 {_f(e['p99'], '{:.1f}')} ms ({_mark(p99_ok)})"
            )
            if emu_label == "emulator (CLI)":
                targets += [
                    ("c16 ≥ 60% of no-op", vs_noop >= 0.6),
                    ("c16 p99 < 10 ms", p99_ok),
                ]
                if vs_prism is not None:
                    targets.append(("c16 ≥ 2.5x Prism", vs_prism >= 2.5))
        c1 = pick.get(("emulator (CLI)", "valid c1"))
        if c1 and c1["p50"] and c1["p50"] > 30:
            out += [
                "",
                f"Warning: one request at a time takes {c1['p50']:.0f} ms on the CLI's server: "
                "its connections look Nagle-delayed (no TCP_NODELAY; see docs/performance.md).",
            ]
        out += [""] + [f"{note}" for note in http["notes"]] + [""]
    fan = results.get("fanout")
    if fan and fan["results"]:
        out += [
            "## 2. Webhook fan-out (--time-scale 0, short_call, 7 webhooks per call)" + _at(fan),
            "",
            "Server: emulator.server.create_app (the CLI's app, uvicorn settings and log level) "
            "started by bench/raw_asgi.py with --journal-limit 1000000, so every webhook id is "
            "checked against GET /_emulator/webhooks (the CLI keeps the last 10,000). Receiver: "
            "bench/receiver.py (bare asyncio, answers 200 at once). Senders:",
            "",
        ]
        out += [
            f"- {name}: {SENDERS[name]}"
            for name in dict.fromkeys(r["sender"] for r in fan["results"])
        ]
        out += [
            "",
            "| sender | calls | received / expected | webhooks/s | lag p50 ms | lag p99 ms | "
            "lag max ms | duplicates | retried | not delivered | out of order | RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in fan["results"]:
            out.append(
                f"| {r['sender']} | {r['calls']} | {r['received']} / {r['expected']} | "
                f"{r['rate']:.0f} | {_f(r['lag_p50'], '{:.0f}')} | "
                f"{_f(r['lag_p99'], '{:.0f}')} | {_f(r['lag_max'], '{:.0f}')} | "
                f"{r['duplicates']} | {r['retries']} | {r['not_delivered']} | "
                f"{r['out_of_order']} of {r['order_checked']} | {_f(r['rss'], '{:.0f}')} |"
            )
        for r in fan["results"]:
            if r["sender"] != "shipped":
                continue
            ok_rate = r["rate"] >= 2000
            clean = (
                r["received"] == r["expected"]
                and r["duplicates"] == 0
                and r["lost_vs_journal"] == 0
                and r["out_of_order"] == 0
                and r["bad_sequence"] == 0
            )
            targets += [
                (f"fan-out {r['calls']} calls: ≥ 2,000 webhooks/s", ok_rate),
                (f"fan-out {r['calls']} calls: none lost, duplicated or out of order", clean),
            ]
        canonical = Counter(tuple(r["canonical"]) for r in fan["results"]).most_common(1)[0][0]
        out += [
            "",
            f'Per-call sequence: {" → ".join(canonical)}. "not delivered": webhooks the '
            "journal shows as failed or still pending when arrivals stopped (20 s without one, "
            'or 300 s); "out of order": call sessions whose arrival order differs from the '
            "journal's emission order (a session missing a webhook counts). webhooks/s runs "
            "from the first to the last arrival; injection (create + transfer, wrk -c16) ran "
            "at " + ", ".join(f"{r['inject_rps']:.0f}" for r in fan["results"]) + " req/s.",
            "",
        ]
        for r in fan["results"]:
            if r["failed_attempts"]:
                errs = ", ".join(f"{k}: {v}" for k, v in r["failed_attempts"].items())
                out.append(f"- {r['sender']}, {r['calls']} calls: failed attempts: {errs}.")
        out += ["", *fan["notes"], ""]
    inproc = results.get("inproc")
    if inproc:
        out += ["## 3. In-process (bench/plugin_speed.py)" + _at(inproc), ""]
        if "skipped" in inproc:
            out += [f"Skipped: {inproc['skipped']}", ""]
        else:
            out += ["```", inproc["output"], "```", ""]
    fp = results.get("footprint")
    if fp:
        out += [
            "## 4. Footprint" + _at(fp),
            "",
            "| figure | value | target |",
            "|---|---:|---|",
            f"| start-up to healthy (CLI, median of 5) | {fp['startup_ms']:.0f} ms | < 1 s "
            f"({_mark(fp['startup_ms'] < 1000)}) |",
            f"| RSS idle (CLI) | {fp['idle']:.1f} MB | < 100 MB ({_mark(fp['idle'] < 100)}) |",
        ]
        targets += [
            ("start-up < 1 s", fp["startup_ms"] < 1000),
            ("RSS idle < 100 MB", fp["idle"] < 100),
        ]
        for r in fp["calls"]:
            ok = r["after"] is not None and r["after"] < 200
            label = (
                f"RSS after {r['transferred']:,} calls, retention {r['retention']:g} s "
                f"({r['retained_legs']} legs kept)"
            )
            out.append(f"| {label} | {_f(r['after'], '{:.0f}')} MB | < 200 MB ({_mark(ok)}) |")
            if r["after_expiry"] is not None:
                out.append(
                    f"| … after the retention passed | {_f(r['after_expiry'], '{:.0f}')} MB | |"
                )
            targets.append((f"RSS after calls, retention {r['retention']:g} s < 200 MB", ok))
        out += [
            "",
            f"CPU busy before the phase (other processes): {100 * fp['busy']:.0f}%. "
            "Start-up runs (ms): " + ", ".join(f"{t:.0f}" for t in fp["startup_all"]) + ". "
            "Calls: the CLI with --time-scale 0 and --retention as shown; each call is created "
            "and transferred to short_call (wrk -c16), no webhook_url (webhooks recorded, not "
            "sent); " + ", ".join(f"{r['rps']:.0f} req/s" for r in fp["calls"]) + ".",
            "",
        ]
    if targets:
        out += ["## Targets", "", "| target | result |", "|---|---|"]
        out += [f"| {name} | {_mark(ok)} |" for name, ok in targets]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short loads, small counts")
    parser.add_argument(
        "--phases",
        default="http,fanout,inproc,footprint",
        help="comma-separated subset; 'none' with --reuse only re-renders the report",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk load")
    parser.add_argument("--fanout", help="comma-separated call counts (default 1000,10000)")
    parser.add_argument(
        "--fanout-front",
        choices=["launcher", "cli"],
        default="launcher",
        help="cli: run phase 2 on the real CLI (only the journal's last 10,000 ids are checked)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of phase 1's emulator, no-op and Prism loads and of each phase 2 fan-out; "
        "rows are medians",
    )
    parser.add_argument(
        "--senders",
        default="shipped",
        help="phase 2 webhook senders: shipped (the prototypes are gone; see docs/performance.md)",
    )
    parser.add_argument("--calls", type=int, help="completed calls for the footprint phase")
    parser.add_argument("--no-prism", action="store_true")
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="phase 1 also measures gc off/tuned, log level warning, httptools, uvloop",
    )
    parser.add_argument("--out", default=str(BENCH / "results" / "latest.md"))
    parser.add_argument(
        "--reuse",
        metavar="JSON",
        help="take the phases not run now from an earlier run's .json (e.g. re-run one phase)",
    )
    args = parser.parse_args()
    needs_wrk = {"http", "fanout", "footprint"} & {p.strip() for p in args.phases.split(",")}
    if needs_wrk and shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    started = dt.datetime.now(dt.timezone.utc)
    phases = {
        "http": phase_http,
        "fanout": phase_fanout,
        "inproc": phase_inproc,
        "footprint": phase_footprint,
    }
    results: dict[str, Any] = {}
    if args.reuse:  # phases measured earlier and not run now
        for name, value in json.loads(Path(args.reuse).read_text()).items():
            if name in phases:
                results[name] = value
    for name in [n.strip() for n in args.phases.split(",") if n.strip() not in ("", "none")]:
        results[name] = phases[name](args)
        results[name]["at"] = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    results = {name: results[name] for name in phases if name in results}
    text = report(results, args, started)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    (out.with_suffix(".json")).write_text(
        json.dumps({k: _strip_raw(v) for k, v in results.items()}, indent=1, default=str) + "\n"
    )
    log(f"written to {out}")


def _strip_raw(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_raw(v) for k, v in value.items() if k != "raw"}
    if isinstance(value, list):
        return [_strip_raw(v) for v in value]
    return value


if __name__ == "__main__":
    main()
