"""README's Python examples run as written: the pytest one in a fresh pytest project."""

from __future__ import annotations

import re
from pathlib import Path

from .test_plugin_xdist import run_pytest, write_project

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_pytest_example_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [example] = [b for b in python_blocks(readme) if "def test_" in b and "telnyx_emulator" in b]
    project = write_project(tmp_path, example)
    result = run_pytest(project, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
