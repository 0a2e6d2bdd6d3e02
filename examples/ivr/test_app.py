"""Tests of the IVR, written as the app's own suite would be: the caller is the emulator's
person on the line, pressing keys from the test (``press``) or from a bundled scenario."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import telnyx

from emulator.config import Settings
from emulator.inprocess import TelnyxEmulator
from tests.servers import EmulatorServer, ServerThread

from .app import SALES, SUPPORT, create_app

CALLER = "+12125550123"
OUR_NUMBER = "+13125550000"
WEBHOOK_URL = "https://ivr.example.com/telnyx/webhook"


def start(telnyx_emulator: TelnyxEmulator, **extra: str) -> str:
    telnyx_emulator.deliver_to(create_app())
    call = telnyx_emulator.create_call(
        from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL, **extra
    )
    telnyx_emulator.advance(1)  # initiated -> answer -> answered -> the menu starts
    return call.call_control_id


def test_pressing_1_transfers_to_sales(telnyx_emulator: TelnyxEmulator) -> None:
    ccid = start(telnyx_emulator)
    assert telnyx_emulator.events(ccid)[-1] == "call.speak.started"
    telnyx_emulator.press(ccid, "1")
    telnyx_emulator.advance(5)
    ended = telnyx_emulator.webhooks_for(ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("1", "valid")
    transfers = [c["body"]["to"] for c in telnyx_emulator.commands if c["command"] == "transfer"]
    assert transfers == [SALES]
    assert telnyx_emulator.events(ccid)[-1] == "call.bridged"


def test_a_wrong_key_replays_the_menu_then_2_goes_to_support(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    telnyx_emulator.deliver_to(create_app())
    call = telnyx_emulator.create_call(from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL)
    telnyx_emulator.advance(1)
    call.press("7")
    telnyx_emulator.advance(1)
    assert telnyx_emulator.webhooks_for(call.call_control_id, "call.gather.ended") == []
    call.press("2")
    telnyx_emulator.advance(5)
    events = telnyx_emulator.events(call.call_control_id)
    # The menu, interrupted by 7, then "sorry" + the menu again, interrupted by 2.
    assert events.count("call.speak.started") == 2
    assert events.count("call.dtmf.received") == 2
    ended = telnyx_emulator.webhooks_for(call.call_control_id, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("2", "valid")
    transfers = [c["body"]["to"] for c in telnyx_emulator.commands if c["command"] == "transfer"]
    assert transfers == [SUPPORT]


def test_silence_ends_with_goodbye_and_hangup(telnyx_emulator: TelnyxEmulator) -> None:
    ccid = start(telnyx_emulator, scenario="caller_silent")
    telnyx_emulator.run_until_idle()
    events = telnyx_emulator.events(ccid)
    assert events.count("call.speak.started") == 4  # three tries, then the goodbye
    ended = telnyx_emulator.webhooks_for(ccid, "call.gather.ended")[0].payload
    assert ended["status"] == "timeout"
    assert events[-3:] == ["call.speak.started", "call.speak.ended", "call.hangup"]
    hangup = telnyx_emulator.webhooks_for(ccid, "call.hangup")[0].payload
    assert hangup["hangup_source"] == "caller"  # our app hung up (Telnyx: caller)


def test_a_scripted_caller_who_presses_1(telnyx_emulator: TelnyxEmulator) -> None:
    ccid = start(telnyx_emulator, scenario="caller_presses_1")
    telnyx_emulator.advance(10)
    ended = telnyx_emulator.webhooks_for(ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("1", "valid")


def test_the_caller_hangs_up_during_the_menu(telnyx_emulator: TelnyxEmulator) -> None:
    ccid = start(telnyx_emulator)
    telnyx_emulator.hang_up(ccid)
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events(ccid)[-3:] == [
        "call.speak.ended",
        "call.gather.ended",
        "call.hangup",
    ]
    assert telnyx_emulator.webhooks_for(ccid, "call.gather.ended")[0].payload["status"] == (
        "call_hangup"
    )
    assert telnyx_emulator.commands[-1]["command"] == "far_end_hangup"


# -- against a real server: the app runs on uvicorn, the test presses through the HTTP route --


@pytest.fixture
def live() -> Iterator[tuple[EmulatorServer, str]]:
    server = EmulatorServer(Settings(time_scale=0.05)).start()
    client = telnyx.Telnyx(
        api_key="KEY_IVR", base_url=server.base_url, public_key=server.public_key
    )
    app = ServerThread(create_app(client)).start()
    try:
        yield server, f"{app.url}/telnyx/webhook"
    finally:
        app.stop()
        server.stop()


def test_against_a_real_server_pressing_2_over_http(live: tuple[EmulatorServer, str]) -> None:
    import httpx

    server, webhook_url = live
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer KEY_IVR"})
    r = http.post(
        "/_emulator/calls", json={"from": CALLER, "to": OUR_NUMBER, "webhook_url": webhook_url}
    )
    assert r.status_code == 201
    ccid = r.json()["data"]["call_control_id"]

    def events() -> list[str]:
        hooks = http.get("/_emulator/webhooks", params={"call_control_id": ccid}).json()["data"]
        return [h["event_type"] for h in hooks]

    wait_until(lambda: "call.speak.started" in events())
    assert http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "2"}).status_code == 200
    wait_until(lambda: "call.bridged" in events())
    commands = http.get("/_emulator/commands", params={"call_control_id": ccid}).json()["data"]
    assert [c["command"] for c in commands] == [
        "answer",
        "gather_using_speak",
        "far_end_dtmf",
        "transfer",
    ]
    assert commands[-1]["body"]["to"] == SUPPORT
    state = json.loads(base64.b64decode(commands[-1]["body"]["client_state"]))
    assert state == {"ivr": "routed"}


def wait_until(condition: object, timeout: float = 10.0) -> None:
    import time

    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
