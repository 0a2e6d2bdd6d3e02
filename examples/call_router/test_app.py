"""Tests of the call router, written as the app's own test suite would be: the app receives real
signed webhooks in-process, answers them through the official SDK, and time is virtual."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import telnyx

from emulator.inprocess import TelnyxEmulator

from .app import FIRST_DESTINATION, SECOND_DESTINATION, create_app, decode_state

CALLER = "+12125550123"
OUR_NUMBER = "+13125550000"
WEBHOOK_URL = "https://router.example.com/telnyx/webhook"


def test_busy_first_destination_falls_back_to_the_second(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    telnyx_emulator.deliver_to(create_app())
    call = telnyx_emulator.create_call(from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL)

    telnyx_emulator.run_until_idle()

    a = call.call_control_id
    legs = [w.call_control_id for w in telnyx_emulator.webhooks]
    b1, b2 = dict.fromkeys(leg for leg in legs if leg != a)  # in order of appearance
    assert [(w.event_type, w.call_control_id) for w in telnyx_emulator.webhooks] == [
        ("call.initiated", a),
        ("call.initiated", b1),
        ("call.hangup", b1),  # the first destination is busy...
        ("call.initiated", b2),  # ...so the router tries the second one
        ("call.answered", b2),
        ("call.bridged", b2),
        ("call.bridged", a),
    ]
    assert all(w.status == 200 for w in telnyx_emulator.webhooks)
    busy = telnyx_emulator.webhooks[2].payload
    assert (busy["to"], busy["hangup_cause"]) == (FIRST_DESTINATION, "user_busy")
    assert telnyx_emulator.webhooks[3].payload["to"] == SECOND_DESTINATION

    client = telnyx.Telnyx()  # the fixture points TELNYX_* at the emulator
    status = client.calls.retrieve_status(a)
    assert status.data is not None
    assert status.data.is_alive
    assert decode_state(status.data.client_state) == {
        "attempt": 2,
        "destination": SECOND_DESTINATION,
    }
    transfers = [(c["command"], c["body"]["to"]) for c in telnyx_emulator.commands]
    assert transfers == [("transfer", FIRST_DESTINATION), ("transfer", SECOND_DESTINATION)]


def test_the_call_ends_when_the_caller_hangs_up(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(create_app())
    call = telnyx_emulator.create_call(
        from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL, hangup_after_secs=30
    )

    telnyx_emulator.advance(2)  # the busy signal took 1 s, the second destination answers at 2 s
    assert telnyx_emulator.call(call.call_control_id)["state"] == "bridged"

    telnyx_emulator.run_until_idle()
    hangups = telnyx_emulator.webhooks_for(event_type="call.hangup")[1:]
    assert [(w.payload["hangup_source"], w.payload["hangup_cause"]) for w in hangups] == [
        ("caller", "normal_clearing"),
        ("caller", "normal_clearing"),
    ]
    status = telnyx.Telnyx().calls.retrieve_status(call.call_control_id)
    assert status.data is not None
    assert not status.data.is_alive
    assert status.data.call_duration == 30


@pytest.mark.telnyx_emulator(scenario="busy")  # every destination is busy
def test_gives_up_after_the_second_busy_destination(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(create_app())
    call = telnyx_emulator.create_call(from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL)

    telnyx_emulator.run_until_idle()

    causes = [
        w.payload["hangup_cause"] for w in telnyx_emulator.webhooks_for(event_type="call.hangup")
    ]
    assert causes == ["user_busy", "user_busy"]
    assert len(telnyx_emulator.commands) == 2  # no third attempt
    assert telnyx_emulator.call(call.call_control_id)["state"] == "parked"


def test_forged_webhooks_are_rejected(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.create_call(from_=CALLER, to=OUR_NUMBER, webhook_url=WEBHOOK_URL)
    [genuine] = telnyx_emulator.advance(0)  # recorded only: no app attached yet
    forged = genuine.raw.replace(CALLER.encode(), b"+19995550000")

    async def post(content: bytes, headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as app:
            response = await app.post("/telnyx/webhook", content=content, headers=headers)
            return response.status_code

    assert asyncio.run(post(forged, genuine.headers)) == 401
    assert asyncio.run(post(genuine.raw, {})) == 401  # no signature at all
    assert asyncio.run(post(genuine.raw, genuine.headers)) == 200  # the genuine one is fine
    assert [c["body"]["to"] for c in telnyx_emulator.commands] == [FIRST_DESTINATION]
