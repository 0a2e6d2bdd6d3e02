"""Summarise a py-spy profile (``py-spy record --format raw``: collapsed stacks) as text.

Run: ``python bench/profile_summary.py PROFILE.txt [--top 25]``. Prints, as percentages of all
samples: the functions with the most self time, the functions with the most inclusive time, and
a breakdown by area (the emulator's own code, validation, logging, JSON, Starlette, uvicorn/h11,
the webhook client, the event loop). Used by bench/profile_server.py.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Areas, checked in order against each frame from the innermost outwards: a sample belongs to
# the first area whose pattern matches its innermost matching frame (so time in json.dumps
# called by the logger counts as logging only if no more specific area matches deeper).
AREAS: list[tuple[str, str]] = [
    ("validation (jsonschema-rs + error mapping)", r"emulator/validation\.py|jsonschema_rs"),
    ("signing (Ed25519)", r"emulator/signing\.py|nacl/"),
    ("logging (records, formatting, scrub, write)", r"logging/|emulator/logs\.py|_log_request"),
    ("JSON encode (delivery.dumps / json.dumps)", r"json/encoder\.py|dumps \(emulator/delivery"),
    ("JSON decode (json.loads)", r"json/decoder\.py|json/__init__\.py:\d+\);?$"),
    ("webhook client (httpx, httpcore, h11 client)", r"httpx/|httpcore/"),
    ("engine + api (emulator/*.py)", r"emulator/"),
    ("Starlette (Request, routing, Response)", r"starlette/"),
    ("uvicorn + h11 (HTTP server protocol)", r"uvicorn/protocols|h11/"),
    ("anyio", r"anyio/"),
    ("asyncio event loop, selectors, sockets", r"asyncio/|selectors\.py|socket\.py"),
]
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        stacks.append((stack.split(";"), int(count)))
    return stacks


def _name(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m.group('func')} ({file})"


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for area, pattern in AREAS:
            if re.search(pattern, frame):
                return area
    return "other"


def summarise(path: Path, top: int = 25) -> str:
    stacks = parse(path)
    total = sum(c for _, c in stacks) or 1
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, count in stacks:
        names = [_name(f) for f in frames]
        self_t[names[-1]] += count
        for n in set(names):
            incl[n] += count
        areas[area_of(frames)] += count
    out = [f"{total} samples", "", "by area (innermost matching frame):"]
    for area, c in areas.most_common():
        out.append(f"  {100 * c / total:5.1f}%  {area}")
    out += ["", f"top {top} by self time:"]
    for name, c in self_t.most_common(top):
        out.append(f"  {100 * c / total:5.1f}%  {name}")
    out += ["", f"top {top} by inclusive time:"]
    for name, c in incl.most_common(top):
        out.append(f"  {100 * c / total:5.1f}%  {name}")
    return "\n".join(out)


def inclusive(path: Path, pattern: str) -> float:
    """Percentage of samples with a frame matching ``pattern``."""
    stacks = parse(path)
    total = sum(c for _, c in stacks) or 1
    rx = re.compile(pattern)
    hit = sum(c for frames, c in stacks if any(rx.search(f) for f in frames))
    return 100.0 * hit / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
