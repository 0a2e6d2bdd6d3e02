"""Identifiers shaped like Telnyx's (NOTES.md §11).

Apps sometimes store, log or pattern-match these, so they follow the observed shapes:
``call_control_id`` is ``v3:`` + 54 URL-safe characters, leg and session IDs are version-1 UUIDs,
``connection_id`` is 19 digits. A seed makes every ID reproducible run to run, which is what
lets a seeded test compare whole transcripts.
"""

from __future__ import annotations

import random
import string
import uuid

_URLSAFE = string.ascii_letters + string.digits + "-_"


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def call_control_id(self) -> str:
        return "v3:" + "".join(self._rng.choices(_URLSAFE, k=54))

    def leg_uuid(self) -> str:
        """A version-1 style UUID (time-based in real Telnyx IDs), from the seeded generator."""
        node = self._rng.getrandbits(48) | 0x010000000000  # multicast bit: not a real MAC
        return str(
            uuid.UUID(
                fields=(
                    self._rng.getrandbits(32),
                    self._rng.getrandbits(16),
                    0x1000 | self._rng.getrandbits(12),
                    0x80 | self._rng.getrandbits(6),
                    self._rng.getrandbits(8),
                    node,
                )
            )
        )

    def event_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def connection_id(self) -> str:
        return str(self._rng.randrange(10**18, 10**19))
