"""The pytest plugin: the ``telnyx_emulator`` fixture and marker.

pytest imports every installed plugin at start-up, in every project of the environment, whether
or not a test there uses it. So this module imports only pytest (already loaded by then) and
leaves the engine, respx and httpx to the first test that asks for the fixture;
``bench/plugin_speed.py`` measures the cost.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.inprocess import TelnyxEmulator

MARKER = (
    "telnyx_emulator(scenarios=(), scenario=None, time_scale=1.0, seed=None, base_url=None, "
    "api_key=None, strict=False, signing_key=None, start=None, webhook_url=..., env=True, "
    "retry_delays=None, delivery=None, command_faults=None, config=<rootdir>/telnyx-emulator.yaml, "
    "connections=(), unknown_connections='accept', tenancy='single'): options of the "
    "telnyx_emulator fixture (see emulator.mock)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def ensure_registered(config: pytest.Config) -> None:
    """Register the plugin from a conftest's ``pytest_configure`` unless the entry point did.

    For checkouts that are not pip-installed (no pytest11 entry point). ``pytest_plugins`` can't
    do it safely: pluggy refuses one module under two names, which is what an installed entry
    point plus ``pytest_plugins = ["emulator.plugin"]`` would be.
    """
    module = sys.modules[__name__]
    if not config.pluginmanager.is_registered(module):
        config.pluginmanager.register(module, "telnyx_emulator")


@pytest.fixture
def telnyx_emulator(request: pytest.FixtureRequest) -> Iterator[TelnyxEmulator]:
    """An in-process Telnyx emulator for one test: fresh state, virtual time, signed webhooks.

    Configure it with ``@pytest.mark.telnyx_emulator(...)`` (on the test, class or module; the
    closest marker wins per option).
    """
    from emulator.inprocess import mock

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("telnyx_emulator"))):
        if marker.args:
            raise pytest.UsageError(
                "@pytest.mark.telnyx_emulator takes keyword arguments only, "
                f"got positional {marker.args!r}"
            )
        options.update(marker.kwargs)
    scenarios = options.get("scenarios")
    if scenarios is not None:
        # Relative to the rootdir, so the marker means the same whatever directory pytest runs in.
        if isinstance(scenarios, (str, os.PathLike)):
            scenarios = [scenarios]
        options["scenarios"] = [request.config.rootpath / path for path in scenarios]
    # The repository's telnyx-emulator.yaml applies unless the marker names another (or None).
    config = options.get("config", request.config.rootpath / "telnyx-emulator.yaml")
    if config is not None:
        config = request.config.rootpath / config
        if "config" not in options and not config.is_file():
            config = None
    options["config"] = config
    try:
        emulator = mock(**options)
    except TypeError as exc:
        raise pytest.UsageError(f"@pytest.mark.telnyx_emulator: {exc}") from None
    with emulator:
        yield emulator
