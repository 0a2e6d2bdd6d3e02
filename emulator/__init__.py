"""telnyx-emulator: a local stand-in for the Telnyx Call Control API.

The public surface: :func:`mock` (the in-process emulator for tests and scripts), the
``telnyx_emulator`` pytest fixture (registered by the ``pytest11`` entry point), and the
``telnyx-emulator`` command. Importing this package stays cheap: nothing heavy is loaded until
it is used.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "mock"]


def __getattr__(name: str) -> Any:
    # ``from emulator import mock`` without paying for the engine on ``import emulator``.
    # The in-process emulator lives in ``emulator.inprocess``, not ``emulator.mock``: importing
    # a submodule sets it as an attribute of the package, and a submodule named ``mock`` would
    # replace this function with a module after its first use.
    if name == "mock":
        from .inprocess import mock

        globals()["mock"] = mock
        return mock
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
