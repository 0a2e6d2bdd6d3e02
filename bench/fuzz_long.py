"""The long fuzz run: tests/test_fuzz.py and tests/test_hostile.py with many more examples and a
fresh random seed.

CI runs both with 100 examples per operation and mode, derandomized, so they are quick and never
fail on luck. This runs the same tests (schemathesis on every route of a real server's
/openapi.json, the transfer schema against the reference validator, arbitrary bodies, the engine
state machine, and tests/hostile.py's hostile bodies on every route, in-process and on a real
server, with the no-traceback and liveness checks after) with ``--examples`` per operation and
mode and a new seed each time, so every run explores new inputs. Run it from the repository root
with the dev venv active::

    python bench/fuzz_long.py                    # 2,000 examples, random seed, ~10 min on 2 cores
    python bench/fuzz_long.py --examples 500     # shorter
    python bench/fuzz_long.py --seed 1234        # replay a run (the seed is printed first)

A failure prints hypothesis's shrunk example and the seed that reproduces it. The run is bounded
(``--max-minutes``, default 60) and talks only to the servers it starts on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="per operation and mode")
    parser.add_argument("--seed", type=int, default=None, help="default: a new random seed")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--max-minutes", type=float, default=60.0, help="stop after this long")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz: {args.examples} examples per operation and mode, seed {seed}", flush=True)
    env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples), "FUZZ_SEED": str(seed)}
    command = [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "tests/test_hostile.py", "-q"]
    if args.workers > 1:
        command += ["-n", str(args.workers)]
    command += ["--hypothesis-show-statistics", "-s"]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, timeout=args.max_minutes * 60)
    except subprocess.TimeoutExpired:
        print(f"fuzz: stopped after {args.max_minutes} minutes (seed {seed})", file=sys.stderr)
        return 2
    minutes = (time.monotonic() - started) / 60
    verdict = "passed" if result.returncode == 0 else "FAILED"
    print(f"fuzz: {verdict} in {minutes:.1f} min; replay with --seed {seed}", flush=True)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
