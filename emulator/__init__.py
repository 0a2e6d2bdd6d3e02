"""telnyx-emulator: a local stand-in for the Telnyx Call Control API.

The public surface: :func:`mock` (the in-process emulator for tests and scripts), the
``telnyx_emulator`` pytest fixture (registered by the ``pytest11`` entry point), and the
``telnyx-emulator`` command. Importing this package stays cheap: nothing heavy is loaded until
it is used.
"""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
