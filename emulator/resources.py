"""Where the bundled data files live.

``schemas/`` and ``scenarios/`` are top-level directories of the repository because they are data
that users read and copy, not code. ``emulator/_bundled/schemas`` and
``emulator/_bundled/scenarios`` are symlinks to them, so a wheel carries them inside the package
(see ``pyproject.toml``) and a checkout or editable install reads the repository's own files
through the same path. A checkout
without symlinks (Git on Windows without ``core.symlinks``) falls back to the top-level
directories. Both go through here so nothing else has to know what kind of install it runs from.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _bundled_dir(name: str) -> Path:
    # ``emulator/_bundled/<name>`` in an installed wheel. Not ``importlib.resources.files``: the
    # ``_bundled`` packages have no ``__init__.py``, so it returns a MultiplexedPath whose str()
    # is its repr on Python 3.10/3.11, not a path.
    path = Path(__file__).resolve().parent / "_bundled" / name
    if not path.is_dir():
        path = _REPO_ROOT / name
    return path


def schemas_dir() -> Path:
    return _bundled_dir("schemas")


def scenarios_dir() -> Path:
    return _bundled_dir("scenarios")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>.schema.json`` once per process (schemas are immutable data)."""
    path = schemas_dir() / f"{name}.schema.json"
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
