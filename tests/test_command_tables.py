"""README.md's and docs/commands.md's command tables are what the declarations render
(regenerate with ``python scripts/command_tables.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.commands.registry import commands
from emulator.commands.tables import TABLES, readme_table, replace_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("file", "name"), list(TABLES), ids=lambda x: str(x))
def test_committed_table_is_generated(file: str, name: str) -> None:
    text = (ROOT / file).read_text(encoding="utf-8")
    expected = replace_table(text, name, TABLES[(file, name)]())
    assert text == expected, f"run: python scripts/command_tables.py ({file}, {name})"


def test_the_readme_table_lists_every_endpoint_with_its_status() -> None:
    rows = readme_table().splitlines()[2:]
    assert len(rows) == len(commands()) == 43
    emulated = [r for r in rows if "| emulated |" in r]
    assert len(emulated) == sum(c.emulated for c in commands()) == 43
    assert all("| not yet (#" in r for r in rows if r not in emulated)
