"""Media, gather, DTMF and transcription end to end: the official SDK against a real server,
webhooks to a real receiver (each validated against schemas/webhooks/), the person on the line
driven through /_emulator/calls/{id}/dtmf, /speech and /hangup or a scenario script."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import telnyx

from .conftest import API_KEY
from .harness import assert_valid_webhook
from .servers import EmulatorServer, Received, Receiver

Call = Callable[..., str]


@pytest.fixture
def http(emulator: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"})


@pytest.fixture
def answered(http: httpx.Client, client: telnyx.Telnyx, receiver: Receiver) -> Call:
    def make(scenario: str | None = None) -> str:
        body: dict[str, Any] = {
            "from": "+12125550199",
            "to": "+13125550100",
            "webhook_url": f"{receiver.url}/hook",
        }
        if scenario:
            body["scenario"] = scenario
        r = http.post("/_emulator/calls", json=body)
        assert r.status_code == 201, r.text
        ccid = str(r.json()["data"]["call_control_id"])
        client.calls.actions.answer(ccid)
        wait(receiver, ccid, "call.answered")
        return ccid

    return make


def hooks(receiver: Receiver, ccid: str) -> list[Received]:
    return [r for r in receiver.requests if r.body and r.payload.get("call_control_id") == ccid]


def wait(receiver: Receiver, ccid: str, event: str, count: int = 1) -> list[Received]:
    receiver.wait_for(lambda _: [r.event_type for r in hooks(receiver, ccid)].count(event) >= count)
    got = hooks(receiver, ccid)
    for r in got:
        assert_valid_webhook(r.json)
    return [r for r in got if r.event_type == event]


def events(receiver: Receiver, ccid: str) -> list[str]:
    return [r.event_type for r in hooks(receiver, ccid)]


# -- gather: every status -------------------------------------------------------------------


def test_gather_valid_with_the_terminating_digit(
    client: telnyx.Telnyx, http: httpx.Client, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    client.calls.actions.gather(ccid, valid_digits="0123456789", terminating_digit="#")
    assert http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "42#"}).status_code == 200
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("42", "valid")
    assert events(receiver, ccid).count("call.dtmf.received") == 3


def test_gather_invalid_digit(
    client: telnyx.Telnyx, http: httpx.Client, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    client.calls.actions.gather(ccid, valid_digits="12", maximum_digits=1)
    http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "5"})
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("5", "invalid")


def test_gather_timeout_with_a_silent_caller(
    client: telnyx.Telnyx, receiver: Receiver, answered: Call
) -> None:
    ccid = answered("caller_silent")
    client.calls.actions.gather(ccid, initial_timeout_millis=2000)
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("", "timeout")


def test_gather_stop_cancels(client: telnyx.Telnyx, receiver: Receiver, answered: Call) -> None:
    ccid = answered()
    client.calls.actions.gather(ccid, timeout_millis=600000, initial_timeout_millis=600000)
    client.calls.actions.stop_gather(ccid)
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert ended["status"] == "cancelled"


def test_far_end_hangs_up_during_a_gather(
    client: telnyx.Telnyx, http: httpx.Client, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    client.calls.actions.gather_using_speak(
        ccid, payload="Press 1 for sales", voice="AWS.Polly.Joanna-Neural"
    )
    wait(receiver, ccid, "call.speak.started")
    assert http.post(f"/_emulator/calls/{ccid}/hangup").status_code == 200
    wait(receiver, ccid, "call.hangup")
    assert events(receiver, ccid)[-3:] == ["call.speak.ended", "call.gather.ended", "call.hangup"]
    assert wait(receiver, ccid, "call.gather.ended")[0].payload["status"] == "call_hangup"
    assert wait(receiver, ccid, "call.hangup")[0].payload["hangup_source"] == "caller"


def test_gather_using_audio_interrupted_by_a_scripted_caller(
    client: telnyx.Telnyx, receiver: Receiver, answered: Call
) -> None:
    ccid = answered("caller_presses_1")
    client.calls.actions.gather_using_audio(
        ccid, audio_url="https://example.com/menu.mp3", valid_digits="12", maximum_digits=1
    )
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("1", "valid")
    assert events(receiver, ccid)[-4:] == [
        "call.playback.started",
        "call.dtmf.received",
        "call.playback.ended",
        "call.gather.ended",
    ]


# -- speak and playback: every ending ---------------------------------------------------------


def test_speak_completes(client: telnyx.Telnyx, receiver: Receiver, answered: Call) -> None:
    ccid = answered()
    client.calls.actions.speak(ccid, payload="Hello there", voice="female", language="en-US")
    ended = wait(receiver, ccid, "call.speak.ended")[0].payload
    assert ended["status"] == "completed"


def test_speak_ends_with_the_call(
    client: telnyx.Telnyx, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    client.calls.actions.speak(ccid, payload="Hello " * 200, voice="Telnyx.KokoroTTS.af")
    client.calls.actions.hangup(ccid)
    wait(receiver, ccid, "call.hangup")
    assert wait(receiver, ccid, "call.speak.ended")[0].payload["status"] == "call_hangup"


def test_playback_completes_is_stopped_replaced_and_fails(
    client: telnyx.Telnyx, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    url = "https://example.com/hold.mp3"
    client.calls.actions.start_playback(ccid, audio_url=url)
    assert wait(receiver, ccid, "call.playback.ended")[0].payload["status"] == "completed"
    client.calls.actions.start_playback(ccid, audio_url=url, loop="infinity")
    client.calls.actions.stop_playback(ccid)
    assert wait(receiver, ccid, "call.playback.ended", 2)[1].payload["status"] == "cancelled"
    not_audio = base64.b64encode(b"hello, not a WAV").decode()
    client.calls.actions.start_playback(ccid, playback_content=not_audio)
    failed = wait(receiver, ccid, "call.playback.ended", 3)[2].payload
    assert failed["status"] == "failed" and failed["status_detail"]
    client.calls.actions.start_playback(ccid, audio_url=url, loop="infinity")
    client.calls.actions.hangup(ccid)
    assert wait(receiver, ccid, "call.playback.ended", 4)[3].payload["status"] == "call_hangup"


def test_voice_is_validated_as_telnyx_does(client: telnyx.Telnyx, answered: Call) -> None:
    ccid = answered()
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.speak(ccid, payload="Hi", voice="robot")
    assert isinstance(info.value.body, dict)
    assert info.value.body["errors"][0]["source"]["pointer"] == "/voice"
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.speak(
            ccid, payload="Hi", voice="male", service_level="basic", language="fr-FR"
        )
    assert isinstance(info.value.body, dict)
    assert info.value.body["errors"][0]["source"]["pointer"] == "/language"


# -- DTMF, transcription, live control -------------------------------------------------------


def test_dtmf_outside_a_gather_is_reported_and_not_remembered(
    client: telnyx.Telnyx, http: httpx.Client, receiver: Receiver, answered: Call
) -> None:
    ccid = answered()
    http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "7"})
    assert wait(receiver, ccid, "call.dtmf.received")[0].payload["digit"] == "7"
    client.calls.actions.gather(ccid, initial_timeout_millis=1000)
    ended = wait(receiver, ccid, "call.gather.ended")[0].payload
    assert (ended["digits"], ended["status"]) == ("", "timeout")  # no type-ahead


def test_transcription_of_scripted_speech(
    client: telnyx.Telnyx, receiver: Receiver, answered: Call
) -> None:
    ccid = answered("caller_says_sales")
    client.calls.actions.start_transcription(ccid)
    client.calls.actions.speak(ccid, payload="Which department?", voice="female")
    data = wait(receiver, ccid, "call.transcription")[0].payload["transcription_data"]
    assert data["transcript"] == "sales" and data["is_final"] is True
    assert 0 < data["confidence"] <= 1


def test_live_control_errors_are_telnyx_shaped(
    http: httpx.Client, receiver: Receiver, answered: Call, client: telnyx.Telnyx
) -> None:
    r = http.post("/_emulator/calls/v3:nope/dtmf", json={"digits": "1"})
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "90015"
    ccid = answered()
    r = http.post(f"/_emulator/calls/{ccid}/dtmf", json={"digits": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["source"]["pointer"] == "/digits"
    r = http.post(f"/_emulator/calls/{ccid}/speech", json={})
    assert r.status_code == 422 and r.json()["errors"][0]["source"]["pointer"] == "/text"
    client.calls.actions.hangup(ccid)
    r = http.post(f"/_emulator/calls/{ccid}/speech", json={"text": "hello?"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "90018"
    journal = http.get("/_emulator/commands", params={"call_control_id": ccid}).json()["data"]
    assert [(c["command"], c["result"]) for c in journal if c["command"].startswith("far")] == [
        ("far_end_dtmf", "rejected"),
        ("far_end_speech", "rejected"),
        ("far_end_speech", "rejected"),
    ]
