"""The command journal: a bounded record of every command, kept encoded.

An entry is written once and never changed, and a busy server keeps thousands of them (10,000
per API key by default). As JSON bytes an entry is one object the cyclic garbage collector does
not track, instead of a dict with its nested body, lists and error objects that every collection
would scan again (those scans were the p99 of a loaded server, docs/performance.md). Readers, the
inspection API and tests, get decoded copies.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from .delivery import dumps


class Journal:
    def __init__(self, limit: int) -> None:
        self._entries: deque[bytes] = deque(maxlen=limit)

    def append(self, entry: dict[str, Any], body: bytes | None = None) -> None:
        """Store ``entry``; ``body``, already encoded, becomes its ``"body"`` member (a command
        encodes its body before it acts, so storing it afterwards cannot fail)."""
        encoded = dumps(entry)
        if body is not None:
            encoded = b"".join((encoded[:-1], b',"body":', body, b"}"))
        self._entries.append(encoded)

    def amend(self, entry: dict[str, Any]) -> None:
        """Set the fields of ``entry`` on the stored entry with its ``id`` (an injected timeout
        fault is only known to have hit a command after the command has journaled itself)."""
        entries = self._entries
        for index in range(len(entries) - 1, -1, -1):
            stored = json.loads(entries[index])
            if stored["id"] == entry["id"]:
                stored.update(entry)
                entries[index] = dumps(stored)
                return

    def find(self, entry_id: int) -> dict[str, Any] | None:
        """The stored entry with this ``id`` (newest first: it is nearly always the last)."""
        for index in range(len(self._entries) - 1, -1, -1):
            entry: dict[str, Any] = json.loads(self._entries[index])
            if entry["id"] == entry_id:
                return entry
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for raw in self._entries:
            yield json.loads(raw)

    def __getitem__(self, index: int) -> dict[str, Any]:
        entry: dict[str, Any] = json.loads(self._entries[index])
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
