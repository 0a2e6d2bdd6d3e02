"""Identifiers shaped like Telnyx's (NOTES.md §11).

Apps sometimes store, log or pattern-match these, so they follow the observed shapes:
``call_control_id`` is ``v3:`` + 54 URL-safe characters, leg and session IDs are version-1 UUIDs,
``connection_id`` is 19 digits. A seed makes every ID reproducible run to run, which is what
lets a seeded test compare whole transcripts.
"""

from __future__ import annotations

import base64
import random


def _uuid(bits: int, version: int) -> str:
    """``bits`` as a UUID string of ``version`` with the RFC 4122 variant: what
    ``str(uuid.UUID(int=bits, version=version))`` gives, without building the object."""
    bits = (bits & ~(0xF000 << 64) & ~(0xC000 << 48)) | (version << 76) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def call_control_id(self) -> str:
        # 54 URL-safe base64 characters from 41 random bytes (the last 2 of 56 are padding).
        return "v3:" + base64.urlsafe_b64encode(self._rng.randbytes(41)).decode("ascii")[:54]

    def leg_uuid(self) -> str:
        """A version-1 style UUID (time-based in real Telnyx IDs), from the seeded generator.
        The node's multicast bit is set, as for a node that is not a real MAC address."""
        return _uuid(self._rng.getrandbits(128) | 0x010000000000, 1)

    def event_id(self) -> str:
        return _uuid(self._rng.getrandbits(128), 4)

    def connection_id(self) -> str:
        return str(self._rng.randrange(10**18, 10**19))
