"""Every Call Control command, declared once (see :mod:`emulator.commands.registry`).

One module per family; importing this package imports them all, which fills the registry in
the order of :data:`FAMILIES` (the order of the README's and docs/commands.md's tables).
"""

from __future__ import annotations

from . import (
    ai,
    call,
    dtmf,
    gather,
    media,
    pay,
    queue,
    recording,
    sip,
    streaming,
    supervisor,
    suppression,
    transcription,
)

FAMILIES = (
    call,
    media,
    gather,
    dtmf,
    recording,
    transcription,
    suppression,
    pay,
    queue,
    sip,
    streaming,
    ai,
    supervisor,
)
