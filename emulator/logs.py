"""Log output: one readable line per command and per webhook attempt, or JSON lines.

Handlers log with ``extra={"event": ...}`` fields; the JSON formatter emits those fields so a CI
log can be filtered with ``jq``. Secrets never reach a log: the command journal is redacted before
it is stored, the Authorization header is never logged, and as a second line of defence both
formatters scrub every line (bearer/basic credentials, ``sip_auth_password``-style fields, the
password in a URL's user info, and the literal values registered with :func:`add_secrets`, such
as the signing key) after it is formatted.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEYS = frozenset(
    {"authorization", "sip_auth_password", "signing_key", "private_key", "password", "secret"}
)
# (cheap substring that must be present, lower-cased; pattern; replacement). The substring test
# keeps an ordinary log line from paying for four regular expressions (bench/: ~14 µs -> ~1 µs).
_PATTERNS = [
    # Authorization: Bearer KEY / Basic dXNlcjpwYXNz
    ("bearer", re.compile(r"\b([Bb]earer|BEARER)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    (
        "basic",
        re.compile(r"\b(Basic)(\s+)[A-Za-z0-9+/]{6,}={0,2}(?![A-Za-z])"),
        rf"\1\2{REDACTED}",
    ),
    # sip_auth_password=..., "signing_key": "...", password: ...
    (
        "",
        re.compile(
            r"(?i)((?:sip_auth_password|signing_key|private_key|password|secret)"
            r"\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\s\"'\\,;&}]+"
        ),
        rf"\1{REDACTED}",
    ),
    # https://user:password@host
    ("@", re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\1{REDACTED}@"),
]
_SECRET_WORDS = ("password", "signing_key", "private_key", "secret")
_literals: set[str] = set()


def add_secrets(*values: str | None) -> None:
    """Never log these exact values (e.g. the signing key). Values under 8 characters are
    ignored: redacting them would garble ordinary words."""
    _literals.update(v for v in values if v and len(v) >= 8)


def scrub(text: str) -> str:
    """``text`` with every credential-looking part replaced by ``[redacted]``."""
    for literal in _literals:
        if literal in text:
            text = text.replace(literal, REDACTED)
    lowered = text.lower()
    for needle, pattern, replacement in _PATTERNS:
        if needle:
            if needle not in lowered:
                continue
        elif not any(word in lowered for word in _SECRET_WORDS):
            continue
        text = pattern.sub(replacement, text)
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS and value is not None:
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value("", v) for v in value]
    return value


class TextFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The default ``2026-11-24 00:29:03,123``, formatting each second once: a busy
        server logs thousands of lines a second."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            cached = self._second = (second, stamp)
        return f"{cached[1]},{int(record.msecs):03d}"


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
        out = {k: _scrub_value(k, v) for k, v in out.items()}
        return json.dumps(out, default=lambda v: scrub(str(v)))


FLUSH_SECS = 0.05


class CoalescingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes log lines to a buffer that a background thread flushes every ``FLUSH_SECS``.

    Under load the server logs thousands of lines a second, and a write system call per line
    cost ~5% of its throughput (bench/). Lines reach the terminal at most 50 ms late, in order;
    what is left is flushed at exit (after SIGTERM too). ``close`` only flushes: uvicorn's
    logging set-up "closes" every existing handler, and this one goes on being used.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._dirty = False
        self._stop = threading.Event()
        threading.Thread(target=self._flusher, name="log-flush", daemon=True).start()
        atexit.register(self._final_flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            self._dirty = True
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flusher(self) -> None:
        while not self._stop.wait(FLUSH_SECS):
            if self._dirty:
                self._dirty = False
                self.flush()

    def flush(self) -> None:
        # From the flusher thread or at exit: a stream closed or broken under us (a closed
        # pipe, a test's temporary file) must not kill the thread or print a traceback.
        with contextlib.suppress(ValueError, OSError):
            super().flush()

    def close(self) -> None:
        self.flush()

    def _final_flush(self) -> None:
        self._stop.set()
        self.flush()


def _handler() -> logging.Handler:
    if sys.stderr is not sys.__stderr__ or sys.stderr is None:
        return logging.StreamHandler(sys.stderr)  # captured (tests): write where we are told
    stream = open(  # noqa: SIM115 - lives as long as the process
        os.dup(sys.stderr.fileno()), "w", buffering=65_536, encoding="utf-8", errors="replace"
    )
    return CoalescingHandler(stream)


def configure(log_format: str = "text", level: str = "info") -> None:
    """Set up the CLI's logging. The server's process is ours, so it also turns off what no
    line shows: the caller's file and line, thread and process names (the logging HOWTO's
    "Optimization" section); a per-request line costs ~12 µs instead of ~17 µs."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # type: ignore[attr-defined]
    handler = _handler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-5s %(message)s"))
    root = logging.getLogger("telnyx_emulator")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
