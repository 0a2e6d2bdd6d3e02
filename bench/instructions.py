"""The transfer hot path counted, not timed: instructions, allocations and calls per request.

Run: ``python bench/instructions.py [--compare CHECKOUT ...] [--transfers 2000]`` (repository
root, dev venv active, ``valgrind`` installed). Wall-clock figures on a shared 2-core machine
move by 10-20 % between runs; these counts move by well under 1 %, so two trees compare in one
run without rounds. Each checkout (default: this one; an old tree can be exported with ``git
archive <commit> | tar -x -C /tmp/<commit>``) is measured in fresh processes with its own
``emulator`` package first on ``sys.path`` and the same venv, ``PYTHONHASHSEED=0`` and a seeded
``Settings`` so every run makes the same IDs.

The workload is ``Api.handle`` on ``POST /v2/calls/{id}/actions/transfer`` with bench/run.py's
9-field body (to the bundled ``short_call`` number), rotating over 64 live calls, on a virtual
clock that moves 100 µs per request (so the timeline never runs: what is counted is the
request). Every transfer dials a new leg B and cancels the previous one, as under ``wrk``.
After a warm-up (schemas compiled, caches filled, steady state), per checkout:

1. Under ``valgrind --tool=callgrind`` (counters zeroed and dumped around each loop with
   ``callgrind_control``), the garbage collector off so a collection's timing does not land in
   one tree's loop and not the other's:

   - **Ir/transfer**: machine instructions per valid transfer (and per invalid one, 5
     violations, 422);
   - **allocs/transfer**: calls to CPython's allocators (``_PyObject_Malloc``/``Calloc``/
     ``Realloc``, ``_PyMem_RawMalloc``...), i.e. every object, buffer and dict table made.

2. Natively: **py calls/transfer** (cProfile's call count, builtins included), **GC-tracked
   kept/transfer** (growth of the young generation's count, collector off: what makes young
   collections come), **GC young / gen1+2 per 10k** (collections, counted by a ``gc.callbacks``
   hook under the server's GC tuning, ``emulator.cli._tune_gc``, over 50,000 transfers), and
   **blocks kept/transfer** (``sys.getallocatedblocks`` growth per transfer: the ended legs, the
   journal entries and the webhook records a transfer leaves for the inspection API).

``--keep DIR`` keeps the callgrind files (``callgrind_annotate DIR/<name>.valid`` shows the C
functions; the Python functions are best seen with ``bench/profile_api.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"authorization": "Bearer k", "content-type": "application/json"}
# bench/run.py's bodies (kept in step by hand: this script must run against old trees too).
VALID_BODY = {
    "to": "+13125550106",
    "from": "+18005550199",
    "from_display_name": "Support Desk",
    "timeout_secs": 45,
    "time_limit_secs": 3600,
    "client_state": "aGF2ZSBhIG5pY2UgZGF5",
    "target_leg_client_state": "bGVnLWI=",
    "answering_machine_detection": "detect",
    "custom_headers": [{"name": "X-Ticket", "value": "42"}],
}
INVALID_BODY = {
    "to": "12345",
    "timeout_secs": 3,
    "record_format": "ogg",
    "client_state": "not base64!",
    "sound_modifications": {"pitch": 0},
}
ALLOCATORS = (
    "_PyObject_Malloc",
    "_PyObject_Calloc",
    "_PyObject_Realloc",
    "_PyMem_RawMalloc",
    "_PyMem_RawCalloc",
    "_PyMem_RawRealloc",
)


class _Ticking:
    """A clock that moves 100 µs each time a request is made (see ``_Workload.run``)."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def now(self) -> float:
        return self.t


class _Workload:
    def __init__(self) -> None:
        from emulator.api import Api, ApiRequest
        from emulator.config import Settings

        self.clock = _Ticking()
        settings = Settings(time_scale=1.0, max_live_calls=10_000_000, seed=1)
        self.api = Api(settings, clock=self.clock, wall_clock=self.clock.now)
        raw = json.dumps({"from": "+18005550100", "to": "+18005550111"}).encode()
        ids = []
        for _ in range(64):
            r = self.api.handle(ApiRequest("POST", "/_emulator/calls", HEADERS, raw))
            assert r.status == 201, r.payload
            ids.append(r.payload["data"]["call_control_id"])
        self.requests: dict[str, list[Any]] = {}
        for label, body in (("valid", VALID_BODY), ("invalid", INVALID_BODY)):
            encoded = json.dumps(body).encode()
            self.requests[label] = [
                ApiRequest("POST", f"/v2/calls/{i}/actions/transfer", HEADERS, encoded) for i in ids
            ]
        assert self.api.handle(self.requests["valid"][0]).status == 200
        assert self.api.handle(self.requests["invalid"][0]).status == 422

    def run(self, label: str, n: int) -> None:
        reqs, handle, clock = self.requests[label], self.api.handle, self.clock
        for k in range(n):
            clock.t += 0.0001
            handle(reqs[k % 64])


def _callgrind(ctl: str, *args: str) -> None:
    subprocess.run([ctl, *args, str(os.getpid())], check=True, capture_output=True)


def measure_counted(n: int, warmup: int) -> None:
    """Runs under callgrind: zero the counters, run a loop, dump them (one file per loop)."""
    work = _Workload()
    ctl = shutil.which("callgrind_control") or "callgrind_control"
    for label in ("valid", "invalid"):
        work.run(label, warmup)
        gc.collect()
        gc.disable()
        _callgrind(ctl, "--zero")
        work.run(label, n)
        _callgrind(ctl, "--dump=" + label)
        gc.enable()


def measure_native(n: int, warmup: int) -> dict[str, float]:
    from emulator.cli import _tune_gc

    work = _Workload()
    out: dict[str, float] = {}
    work.run("valid", warmup)
    for label in ("valid", "invalid"):
        profile = cProfile.Profile()
        profile.enable()
        work.run(label, 1000)
        profile.disable()
        calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        out[f"py_calls_{label}"] = calls / 1000
    gc.collect()
    gc.disable()
    tracked = gc.get_count()[0]  # GC-tracked allocations minus deallocations
    work.run("valid", 1000)
    out["tracked_kept"] = (gc.get_count()[0] - tracked) / 1000
    gc.enable()
    _tune_gc()  # what `telnyx-emulator serve` does once it has loaded everything
    collections = [0, 0, 0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    blocks = sys.getallocatedblocks()
    work.run("valid", n)
    blocks = sys.getallocatedblocks() - blocks
    gc.callbacks.remove(count)
    out["gc_young_per_10k"] = collections[0] * 10_000 / n
    out["gc_older_per_10k"] = (collections[1] + collections[2]) * 10_000 / n
    out["blocks_kept"] = blocks / n
    return out


def parse_callgrind(path: Path) -> tuple[int, int]:
    """(instructions, allocator calls) of one callgrind dump."""
    names: dict[str, str] = {}
    total = allocs = 0
    callee = ""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            total = int(line.split()[1])
        elif line.startswith("cfn="):
            m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
            assert m is not None
            if m[2]:
                names[m[1]] = m[2]
            callee = names.get(m[1], "")
        elif line.startswith("fn="):
            m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
            if m is not None and m[2]:
                names[m[1]] = m[2]
        elif line.startswith("calls=") and callee in ALLOCATORS:
            allocs += int(line.split()[0].removeprefix("calls="))
    return total, allocs


def run_tree(repo: Path, n: int, warmup: int, keep: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    me = [sys.executable, str(Path(__file__).resolve()), "--measure", str(repo.resolve())]
    sizes = ["--transfers", str(n), "--warmup", str(warmup)]
    native = subprocess.run(
        [*me, "--native", "--transfers", "50000", "--warmup", str(warmup)],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
    ).stdout
    out: dict[str, float] = json.loads(native)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out"),
                *me,
                *sizes,
            ],
            check=True,
            capture_output=True,
            cwd="/",
            env=env,
        )
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        for label, dump in zip(("valid", "invalid"), dumps, strict=True):
            instructions, allocs = parse_callgrind(dump)
            out[f"ir_{label}"] = instructions / n
            out[f"allocs_{label}"] = allocs / n
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(dump, keep / f"{repo.resolve().name}.{label}")
    return out


COLUMNS = (
    ("ir_valid", "Ir/transfer valid", "{:,.0f}"),
    ("ir_invalid", "Ir/transfer invalid", "{:,.0f}"),
    ("allocs_valid", "allocs/transfer valid", "{:.0f}"),
    ("allocs_invalid", "allocs/transfer invalid", "{:.0f}"),
    ("py_calls_valid", "py calls valid", "{:.0f}"),
    ("py_calls_invalid", "py calls invalid", "{:.0f}"),
    ("tracked_kept", "GC-tracked kept/transfer", "{:.1f}"),
    ("gc_young_per_10k", "GC young/10k", "{:.1f}"),
    ("gc_older_per_10k", "GC gen1+2/10k", "{:.1f}"),
    ("blocks_kept", "blocks kept/transfer", "{:.1f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs="+", type=Path, default=[ROOT])
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="keep the callgrind dumps here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--native", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        sys.path.insert(0, str(args.measure))
        import emulator

        assert Path(emulator.__file__).resolve().is_relative_to(args.measure), emulator.__file__
        if args.native:
            print(json.dumps(measure_native(args.transfers, args.warmup)))
        else:
            measure_counted(args.transfers, args.warmup)
        return
    keep = args.keep or Path(tempfile.mkdtemp(prefix="instructions-"))
    results = {repo: run_tree(repo, args.transfers, args.warmup, keep) for repo in args.compare}
    print("| checkout | " + " | ".join(title for _, title, _ in COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for repo, r in results.items():
        print(f"| {repo} | " + " | ".join(fmt.format(r[k]) for k, _, fmt in COLUMNS) + " |")
    print(json.dumps({str(repo): r for repo, r in results.items()}))


if __name__ == "__main__":
    main()
