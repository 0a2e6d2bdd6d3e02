"""Tests of the voice agent, as its own test suite would be: in-process (webhooks delivered to
the app, the media stream to its Agent, virtual time) and against a real emulator server that
connects to the app's real WebSocket endpoint."""

from __future__ import annotations

import time
from typing import Any

import httpx
import telnyx

from emulator.config import Settings
from emulator.inprocess import StreamConnection, TelnyxEmulator
from tests.servers import EmulatorServer, ServerThread

from .app import Agent, create_app

CALLER = "+12125550123"
OUR_NUMBER = "+13125550000"
WEBHOOK_URL = "https://agent.example.com/telnyx/webhook"
STREAM_URL = "wss://agent.example.com/stream"


def attach_agent(emu: TelnyxEmulator) -> dict[str, Agent]:
    """Run the app's Agent on every stream, as its /stream endpoint does."""
    agents: dict[str, Agent] = {}
    client = telnyx.Telnyx()

    def handler(stream: StreamConnection, message: dict[str, Any]) -> None:
        agent = agents.setdefault(
            stream.stream_id, Agent(lambda ccid: client.calls.actions.hangup(ccid))
        )
        for reply in agent.on_message(message):
            stream.send(reply)

    emu.stream_to(handler, url=STREAM_URL)
    return agents


def test_the_agent_answers_replies_to_keys_and_speech_and_hangs_up(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    telnyx_emulator.deliver_to(create_app())  # streams to wss://agent.example.com/stream
    agents = attach_agent(telnyx_emulator)
    call = telnyx_emulator.create_call(from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL)
    ccid = call.call_control_id
    telnyx_emulator.advance(1)
    assert telnyx_emulator.events(ccid) == ["call.initiated", "call.answered", "streaming.started"]
    [stream] = telnyx_emulator.streams_for(ccid)
    assert [m["mark"]["name"] for m in stream.events("mark")] == ["greeting"]

    telnyx_emulator.press(ccid, "5")
    telnyx_emulator.advance(1)
    telnyx_emulator.say(ccid, "I need help")
    telnyx_emulator.advance(2)
    marks = [m["mark"]["name"] for m in stream.events("mark")]
    assert marks == ["greeting", "reply-5", "reply-speech"]

    telnyx_emulator.press(ccid, "#")
    telnyx_emulator.run_until_idle()
    [agent] = agents.values()
    assert agent.turns == ["dtmf:5", "speech", "dtmf:#"]
    assert telnyx_emulator.events(ccid)[-3:] == [
        "call.dtmf.received",
        "streaming.stopped",
        "call.hangup",
    ]
    hangup = telnyx_emulator.webhooks_for(ccid, "call.hangup")[0]
    assert hangup.payload["hangup_source"] == "caller"  # the app (the callee side) hung up
    assert stream.messages[-1]["event"] == "stop"
    # The goodbye (0.4 s) was heard before the hang-up.
    goodbye = next(w for w in telnyx_emulator.webhooks_for(ccid, "call.dtmf.received")[1:])
    assert hangup.at >= goodbye.at + 0.4


def test_the_agent_against_a_real_server_and_a_real_websocket() -> None:
    emulator = EmulatorServer(Settings(time_scale=0.25)).start()
    client = telnyx.Telnyx(
        api_key="KEY_AGENT",
        public_key=emulator.public_key,
        base_url=emulator.base_url,
        max_retries=0,
    )
    app_server = ServerThread(create_app(client)).start()  # streams to its own /stream
    try:
        http = httpx.Client(base_url=emulator.url, headers={"Authorization": "Bearer KEY_AGENT"})
        r = http.post(
            "/_emulator/calls",
            json={
                "from": CALLER,
                "to": OUR_NUMBER,
                "webhook_url": app_server.url + "/telnyx/webhook",
            },
        )
        ccid = r.json()["data"]["call_control_id"]

        def events() -> list[str]:
            got = http.get("/_emulator/webhooks", params={"call_control_id": ccid}).json()["data"]
            return [w["event_type"] for w in got]

        def wait_for(event_type: str, timeout: float = 15.0) -> None:
            deadline = time.monotonic() + timeout
            while event_type not in events():
                assert time.monotonic() < deadline, f"no {event_type}; got {events()}"
                time.sleep(0.02)

        wait_for("streaming.started")
        http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "#"})
        wait_for("call.hangup")
        assert events()[-2:] == ["streaming.stopped", "call.hangup"]
        [summary] = http.get(f"/_emulator/calls/{ccid}/streams").json()["data"]
        assert [p["secs"] for p in summary["played"]] == [0.6, 0.4]  # greeting, goodbye
    finally:
        app_server.stop()
        emulator.stop()
