"""The text log line's timestamp is the logging default, formatted once per second."""

from __future__ import annotations

import logging

from emulator.logs import TextFormatter

FORMAT = "%(asctime)s %(levelname)-5s %(message)s"


def test_text_formatter_time_matches_the_logging_default() -> None:
    ours, standard = TextFormatter(FORMAT), logging.Formatter(FORMAT)
    for created in (1_800_000_000.0, 1_800_000_000.0009, 1_800_000_000.5, 1_800_000_000.999,
                    1_800_000_001.25, 1_799_999_999.75):  # fmt: skip
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)


def test_coalescing_handler_flushes_soon_and_survives_close() -> None:
    """Lines are written without a system call each, yet reach the reader within a bounded
    time, even after something (uvicorn's logging set-up) has "closed" the handler."""
    import os
    import select

    from emulator.logs import CoalescingHandler

    read_fd, write_fd = os.pipe()
    handler = CoalescingHandler(open(write_fd, "w", buffering=65_536))  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("telnyx_emulator.test_coalescing")
    log.addHandler(handler)
    log.propagate = False
    try:
        received = b""
        for line in ("first", "second"):
            log.warning(line)
            handler.close()  # only flushes; the handler stays usable
            log.warning(line + " after close")
            while (line + " after close\n").encode() not in received:
                ready, _, _ = select.select([read_fd], [], [], 5.0)
                assert ready, f"{line!r} was not flushed within 5 s"
                received += os.read(read_fd, 65_536)
        assert received.decode().splitlines() == [
            "first",
            "first after close",
            "second",
            "second after close",
        ]
    finally:
        log.removeHandler(handler)
        os.close(read_fd)


def test_coalescing_handler_ignores_a_stream_closed_under_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from emulator.logs import CoalescingHandler

    stream = open(tmp_path / "log.txt", "w")  # noqa: SIM115
    handler = CoalescingHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "line", None, None))
    stream.close()
    handler.flush()  # at exit, or from the flusher thread: no exception, no traceback
    handler._final_flush()
