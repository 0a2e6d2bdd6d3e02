"""Profile the emulator server under the c16 transfer load with py-spy, and summarise.

Run: ``python bench/profile_server.py [--secs 15] [--front starlette|raw] [--fanout N]``
(repository root, dev venv active; py-spy from PyPI: ``pip install py-spy``, found on PATH, in
$PYSPY or in /tmp/benchtools/bin).

The server is ``emulator.server.create_app`` (or the bare-ASGI prototype) started by
bench/raw_asgi.py with the CLI's uvicorn settings, socket and default log level; the launcher
adds ``--gc-log`` to measure the cyclic GC. ``--fanout N`` profiles webhook delivery instead
(N complete calls to bench/receiver.py). Writes the raw collapsed stacks to
/tmp/emulator-profile.txt and prints bench/profile_summary.py's breakdown, the inclusive share
of the usual suspects, and the time the server spent in the cyclic garbage collector, which a
sampling profiler cannot show: it is charged to whatever Python line allocated when it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, HOST, running, wait_quiet
from profile_summary import inclusive, summarise
from run import BIG, INBOUND, PY, SHORT_CALL, VALID_BODY, _emulator_ids, tmpfile, wrk

SUSPECTS = [
    ("Api.handle (routing, auth, command pipeline, engine)", r"Api\.handle "),
    ("  scenario matching (ScenarioBook.match)", r"ScenarioBook\.match"),
    ("  ids (IdFactory: random.choices, uuid)", r"emulator/ids\.py"),
    ("  iso timestamps (calls.iso)", r"^iso \(emulator/calls"),
    ("  JSON schema validation", r"emulator/validation\.py"),
    ("  json.loads of the body", r"json_body"),
    ("  command journal (journal_command)", r"journal_command"),
    ("  webhook records (Engine._emit)", r"Engine\._emit"),
    ("per-request log line (_log_request, logging, scrub)", r"_log_request"),
    ("  of which logs.scrub", r"scrub \(emulator/logs"),
    ("ApiResponse.content (json.dumps)", r"ApiResponse\.content"),
    ("Starlette endpoint body (create_app.<locals>.endpoint)", r"create_app\.<locals>\.endpoint"),
    ("Starlette app incl. endpoint (Starlette.__call__)", r"Starlette\.__call__"),
    ("uvicorn h11 protocol (H11Protocol)", r"H11Protocol"),
    ("uvicorn send path (RequestResponseCycle.send)", r"RequestResponseCycle\.send"),
    ("socket writes (_SelectorSocketTransport.write)", r"_SelectorSocketTransport\.write"),
    ("webhook sender (WebhookSender._send)", r"WebhookSender\._send|_send \(bench/raw_asgi"),
    ("httpx/httpcore", r"httpx/|httpcore/"),
]


def find_pyspy() -> str:
    for c in (
        os.environ.get("PYSPY", ""),
        shutil.which("py-spy") or "",
        "/tmp/benchtools/bin/py-spy",
    ):
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("py-spy not found: pip install py-spy (or set PYSPY)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--secs", type=float, default=15.0)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--front", choices=["starlette", "raw"], default="starlette")
    parser.add_argument("--fanout", type=int, default=0, help="profile N calls' webhooks")
    parser.add_argument("--out", default="/tmp/emulator-profile.txt")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = parser.parse_args()
    pyspy = find_pyspy()
    print(f"CPU busy before: {100 * wait_quiet(300):.0f}%")
    scale = "0" if args.fanout else "1"
    argv = [PY, str(BENCH / "raw_asgi.py"), "--front", args.front]
    argv += ["--time-scale", scale, "--max-live-calls", BIG, "--gc-log"]
    if args.fanout:  # every webhook stays inspectable; the HTTP profile keeps the CLI's 10,000
        argv += ["--journal-limit", "1000000"]
    with (
        running("receiver", [PY, str(BENCH / "receiver.py"), "--max-secs", "900"]) as rx,
        running("emulator-profiled", argv) as emu,
    ):
        if args.fanout:
            create = {**INBOUND, "webhook_url": f"http://{HOST}:{rx.port}/hook"}
            env = {
                "BENCH_CALLS": str(args.fanout),
                "BENCH_CREATE_BODY": tmpfile(json.dumps(create)),
                "BENCH_TRANSFER_BODY": tmpfile(json.dumps({"to": SHORT_CALL})),
            }
            script = "chain.lua"
        else:
            env = {
                "BENCH_IDS": tmpfile("\n".join(_emulator_ids(emu)) + "\n"),
                "BENCH_BODY": tmpfile(json.dumps(VALID_BODY)),
            }
            script = "transfer.lua"
            wrk(emu.url + "/", script, env, args.conns, 2)  # warm up
        spy = subprocess.Popen(
            [
                pyspy,
                "record",
                "-p",
                str(emu.pid),
                "-d",
                str(int(args.secs)),
                "-r",
                str(args.rate),
                "-f",
                "raw",
                "-o",
                args.out,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        res = wrk(emu.url + "/", script, env, args.conns, args.secs - 1)
        spy.wait(timeout=args.secs + 60)
    print(
        f"load: {res['rps']:.0f} req/s, p50 {res['p50']} ms, p99 {res['p99']} ms "
        f"(with py-spy attached at {args.rate} Hz)\n"
    )
    gc_lines = [line for line in emu.log.read_text().splitlines() if line.startswith("gc")]
    total = next((line for line in gc_lines if line.startswith("gc total")), "no summary")
    upto = gc_lines.index(total) if total in gc_lines else len(gc_lines)
    slow = [line for line in gc_lines[:upto] if line.startswith("gc: generation 2")]
    print(
        "cyclic GC in the server, whole run incl. warm-up (py-spy charges it to whatever "
        f"Python line allocated when it ran): {total}; full collections: "
        + ", ".join(line.split(" took ")[1].split(",")[0] for line in slow)
    )
    out = Path(args.out)
    print(summarise(out, 30))
    print("\ninclusive share of samples:")
    for label, pattern in SUSPECTS:
        print(f"  {inclusive(out, pattern):5.1f}%  {label}")


if __name__ == "__main__":
    main()
