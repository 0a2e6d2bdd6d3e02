from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import telnyx

from emulator.config import Settings

from .servers import EmulatorServer, Receiver

API_KEY = "KEY_TEST"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    started: list[EmulatorServer] = []

    def start(**overrides: Any) -> EmulatorServer:
        overrides.setdefault("time_scale", 0.01)
        server = EmulatorServer(Settings(**overrides)).start()
        started.append(server)
        return server  # type: ignore[return-value]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., EmulatorServer]) -> EmulatorServer:
    return start_emulator()


@pytest.fixture
def client(emulator: EmulatorServer) -> telnyx.Telnyx:
    return telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
