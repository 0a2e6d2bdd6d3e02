"""What the event log (the dashboard's feed) costs a transfer, in one run.

Run: ``python bench/events_overhead.py [--ref main] [--transfers 20000] [--rounds 5]``
(repository root, dev venv active).

Three variants of the same in-process loop as ``bench/profile_api.py`` (``Api.handle`` for valid
transfers on 64 rotated calls, at --time-scale 1, the wall clock), each in its own fresh process,
interleaved round by round so machine noise hits them alike:

- ``before``: the code of ``--ref`` (default ``main``), exported with ``git archive``: no event
  log at all;
- ``nobody watching``: this tree, no subscriber (the default state of every server);
- ``page open``: this tree with one subscriber, so every command, webhook, call change is built,
  encoded and kept in the ring.

Prints transfers/s and µs per transfer (median of the rounds, and the best round) for each,
and the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from emulator.api import ApiRequest  # before bench/run.py, which puts this tree on sys.path
from emulator.config import Settings
from emulator.server import build_api
sys.path.insert(1, sys.argv[2])
from run import VALID_BODY

mode, n = sys.argv[3], int(sys.argv[4])
api = build_api(Settings(time_scale=1.0, max_live_calls=10_000_000))
headers = {"authorization": "Bearer k", "content-type": "application/json"}
body = json.dumps({"from": "+18005550100", "to": "+18005550111"}).encode()
calls = [api.handle(ApiRequest("POST", "/_emulator/calls", headers, body)) for _ in range(64)]
ids = [c.payload["data"]["call_control_id"] for c in calls]
raw = json.dumps(VALID_BODY).encode()
reqs = [ApiRequest("POST", f"/v2/calls/{i}/actions/transfer", headers, raw) for i in ids]
if mode == "page open":
    api.events.subscribe(lambda: None)
for k in range(2000):  # warm-up
    api.handle(reqs[k % 64]).content
t = time.perf_counter()
for k in range(n):
    api.handle(reqs[k % 64]).content
elapsed = time.perf_counter() - t
recorded = getattr(getattr(api, "events", None), "last_id", None)
import emulator
print(json.dumps({"per_s": n / elapsed, "us": elapsed / n * 1e6, "events": recorded,
                  "code": emulator.__file__}))
"""


def export(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", ref, "emulator", "schemas", "scenarios"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    # The exported package reads its data from the repository layout, as an editable install.
    return into


def run(code_root: Path, mode: str, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_root), str(ROOT / "bench"), mode, str(n)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=code_root,
    ).stdout
    result: dict[str, float] = json.loads(out)
    assert str(result["code"]).startswith(str(code_root)), result  # the variant it claims
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main")
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = export(args.ref, Path(tmp))
        variants = [
            ("before", before, "plain"),
            ("nobody watching", ROOT, "plain"),
            ("page open", ROOT, "page open"),
        ]
        results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in variants}
        for _ in range(args.rounds):
            for name, root, mode in variants:
                results[name].append(run(root, mode, args.transfers))
    base = statistics.median(r["per_s"] for r in results["before"])
    print(f"{args.transfers} transfers in-process, median of {args.rounds} rounds ({args.ref}):")
    for name, rounds in results.items():
        per_s = statistics.median(r["per_s"] for r in rounds)
        us = statistics.median(r["us"] for r in rounds)
        best = min(r["us"] for r in rounds)
        print(
            f"  {name:<16} {per_s:>9,.0f} transfers/s  {us:6.1f} µs (best {best:5.1f} µs)"
            f"  {per_s / base - 1:+.1%}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
