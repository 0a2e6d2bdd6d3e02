"""Only needed in this repository's checkout.

A project that pip-installs telnyx-emulator gets the ``telnyx_emulator`` fixture from the
package's pytest11 entry point and needs no conftest at all. A bare checkout has no entry point,
so the plugin is registered here (unless the entry point already did).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from emulator.plugin import ensure_registered

    ensure_registered(config)
