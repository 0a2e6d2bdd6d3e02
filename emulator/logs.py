"""Log output: one readable line per command and per webhook attempt, or JSON lines.

Handlers log with ``extra={"event": ...}`` fields; the JSON formatter emits those fields so a CI
log can be filtered with ``jq``. Secrets never reach a log: the command journal is redacted before
it is stored, and the Authorization header is never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(log_format: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s"))
    root = logging.getLogger("telnyx_emulator")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
