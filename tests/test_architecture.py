"""The engine stays sans-I/O: no web framework, HTTP client or event loop inside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from emulator.api import Api
from emulator.clock import VirtualClock
from emulator.config import Settings

ENGINE_MODULES = [
    "activities",
    "api",
    "bodies",
    "calls",
    "clock",
    "config",
    "dedup",
    "delivery",
    "engine",
    "errors",
    "events",
    "far_end",
    "faults",
    "ids",
    "journal",
    "redaction",
    "resources",
    "routes",
    "scenarios",
    "signing",
    "state",
    "tenancy",
    "tenant_list",
    "timeline",
    "validation",
    "webhooks",
]
PACKAGE = Path(__file__).resolve().parent.parent / "emulator"
# The command families are part of the engine too (their effects run inside it).
ENGINE_MODULES += sorted(f"commands/{p.stem}" for p in (PACKAGE / "commands").glob("*.py"))
FORBIDDEN = {"starlette", "httpx", "asyncio", "uvicorn", "anyio", "respx", "aiohttp"}


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_does_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"emulator/{module}.py imports {imported & FORBIDDEN}"


def test_every_request_schema_compiles_up_front() -> None:
    clock = VirtualClock()
    api = Api(Settings(), clock=clock, wall_clock=clock.now)
    api.precompile()
    compiled = set(api.validators._compiled)
    assert {"transfer_request", "dial_request", "answer_request", "inbound_call"} <= compiled
