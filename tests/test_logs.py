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
