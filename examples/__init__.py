"""Example apps built on the Telnyx SDK, with tests that use the ``telnyx_emulator`` fixture."""
