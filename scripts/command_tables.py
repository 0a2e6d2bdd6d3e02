"""Write the command tables of README.md and docs/commands.md from the command declarations.

    python scripts/command_tables.py [--check]

The tables sit between ``<!-- BEGIN <name> -->`` and ``<!-- END <name> -->`` markers; the
rendering is :mod:`emulator.commands.tables`. ``--check`` writes nothing and exits 1 when a
committed table differs (``tests/test_command_tables.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.commands.tables import TABLES, replace_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    args = parser.parse_args(argv)
    texts: dict[str, str] = {}
    for (file, name), render in TABLES.items():
        text = texts.get(file) or (ROOT / file).read_text(encoding="utf-8")
        texts[file] = replace_table(text, name, render())
    stale = [f for f, t in texts.items() if (ROOT / f).read_text(encoding="utf-8") != t]
    for file in stale:
        print(f"{'out of date' if args.check else 'written'}: {file}")
        if not args.check:
            (ROOT / file).write_text(texts[file], encoding="utf-8")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
