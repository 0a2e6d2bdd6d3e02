"""``command_id`` deduplication (NOTES §13).

Telnyx ignores a command whose ``command_id`` was already used for the same ``call_control_id``
within 60 seconds. Only commands that were accepted claim their ``command_id``: a command that
failed validation did nothing, so retrying it must not be swallowed. Entries expire in the order
they were made, so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

from collections import deque


class Deduplicator:
    def __init__(self, window_secs: float = 60.0) -> None:
        self.window_secs = window_secs
        self._seen: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()

    def is_duplicate(self, call_control_id: str, command_id: str, now: float) -> bool:
        self.expire(now)
        return (call_control_id, command_id) in self._seen

    def remember(self, call_control_id: str, command_id: str, now: float) -> None:
        key = (call_control_id, command_id)
        self._seen[key] = now
        self._order.append((now, key))

    def expire(self, now: float) -> None:
        horizon = now - self.window_secs
        order, seen = self._order, self._seen
        while order and order[0][0] <= horizon:
            when, key = order.popleft()
            if seen.get(key) == when:
                del seen[key]

    def __len__(self) -> int:
        return len(self._seen)
