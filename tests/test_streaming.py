"""Media streams in-process (virtual time): the protocol's messages, pacing, the far end's
speech and DTMF, bidirectional audio, failures, forks; through the official SDK."""

from __future__ import annotations

import base64
import sys
import warnings
from typing import Any

import pytest
import telnyx

from emulator.inprocess import StreamConnection, TelnyxEmulator
from emulator.stream_audio import format_for, frame, loudness

from .harness import assert_valid_webhook

pytest_plugins = [] if "emulator.plugin" in sys.modules else ["emulator.plugin"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    emulator_mark = pytest.mark.telnyx_emulator

WS = "wss://agent.test/stream"


def answered_call(emu: TelnyxEmulator) -> tuple[telnyx.Telnyx, str]:
    client = emu.client(max_retries=0)
    call = emu.create_call()
    client.calls.actions.answer(call.call_control_id)
    emu.run_until_idle()
    return client, call.call_control_id


def assert_all_valid(emu: TelnyxEmulator) -> None:
    for webhook in emu.webhooks:
        assert_valid_webhook(webhook.body)


def test_connected_start_then_media_paced_every_20ms(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(
        ccid,
        stream_url=WS,
        stream_track="both_tracks",
        stream_codec="PCMA",
        stream_auth_token="s3cret",
        custom_parameters=[{"name": "customer", "value": "42"}],
        client_state="c3RyZWFt",
    )
    telnyx_emulator.advance(1.0)

    [stream] = telnyx_emulator.streams_for(ccid)
    assert stream.headers == {"x-telnyx-streaming-auth-token": "s3cret"}
    connected, start = stream.messages[:2]
    assert connected == {
        "event": "connected",
        "version": "1.0.0",
        "x-telnyx-streaming-auth-token": "s3cret",
    }
    assert start["event"] == "start" and start["sequence_number"] == "1"
    assert start["stream_id"] == stream.stream_id
    assert start["start"]["call_control_id"] == ccid
    assert start["start"]["custom_parameters"] == {"customer": "42"}
    assert start["start"]["client_state"] == "c3RyZWFt"
    assert start["start"]["media_format"] == {
        "encoding": "PCMA",
        "sample_rate": 8000,
        "channels": 1,
    }
    # One second: frames at 0, 20, ..., 1000 ms on each track, in order, numbered.
    inbound, outbound = stream.media("inbound"), stream.media("outbound")
    assert [int(m["timestamp"]) for m in inbound] == list(range(0, 1001, 20))
    assert [int(m["chunk"]) for m in outbound] == list(range(1, 52))
    numbers = [int(m["sequence_number"]) for m in stream.messages[1:]]
    assert numbers == list(range(1, len(numbers) + 1))
    # Nobody spoke: digital A-law silence, 160 bytes per 20 ms.
    payload = base64.b64decode(inbound[0]["payload"])
    assert len(payload) == 160 and loudness(format_for("PCMA"), payload) < 50
    assert telnyx_emulator.events(ccid)[-1] == "streaming.started"
    assert_all_valid(telnyx_emulator)


@emulator_mark(time_scale=0.5)
def test_pacing_follows_the_time_scale(telnyx_emulator: TelnyxEmulator) -> None:
    """At scale 0.5 a 20 ms frame is due every 10 ms of the clock: 0.25 s gives 26 frames
    (0..25), with emulated timestamps 0..500 ms."""
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(ccid, stream_url=WS)
    telnyx_emulator.advance(0.0)  # connects at the current time
    telnyx_emulator.advance(0.25)
    [stream] = telnyx_emulator.streams_for(ccid)
    frames = stream.media("inbound")
    assert [int(m["timestamp"]) for m in frames] == list(range(0, 501, 20))
    assert stream.media("outbound") == []  # inbound_track is the default


def test_the_far_end_speaks_and_presses_keys_into_the_stream(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(ccid, stream_url=WS)
    telnyx_emulator.advance(0.1)
    telnyx_emulator.say(ccid, "hi there")  # 8 characters x 60 ms = 24 frames
    telnyx_emulator.press(ccid, "1#")
    telnyx_emulator.advance(1.0)
    [stream] = telnyx_emulator.streams_for(ccid)
    pcmu = format_for("PCMU")
    sounds = [loudness(pcmu, base64.b64decode(m["payload"])) > 1000 for m in stream.media()]
    first = sounds.index(True)
    spoken = sounds[first : first + 24]
    # "hi there": a pause for the space (frames 6-8), speech otherwise, then silence again.
    assert spoken == [True] * 6 + [False] * 3 + [True] * 15
    assert not any(sounds[first + 24 :])
    assert [m["dtmf"]["digit"] for m in stream.events("dtmf")] == ["1", "#"]
    digits = [w.payload["digit"] for w in telnyx_emulator.webhooks_for(ccid, "call.dtmf.received")]
    assert digits == ["1", "#"]
    assert_all_valid(telnyx_emulator)


def test_hanging_up_stops_the_stream_before_call_hangup(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(ccid, stream_url=WS)
    telnyx_emulator.advance(0.5)
    client.calls.actions.hangup(ccid)
    telnyx_emulator.run_until_idle()
    [stream] = telnyx_emulator.streams_for(ccid)
    assert stream.messages[-1]["event"] == "stop"
    assert not stream.open
    assert telnyx_emulator.events(ccid)[-3:] == [
        "streaming.started",
        "streaming.stopped",
        "call.hangup",
    ]
    assert_all_valid(telnyx_emulator)


def test_dial_with_stream_url_streams_once_answered(telnyx_emulator: TelnyxEmulator) -> None:
    client = telnyx_emulator.client(max_retries=0)
    call = telnyx_emulator.create_call()
    dialled = client.calls.dial(
        connection_id=call.connection_id,
        to="+13125550100",  # answers after ringing
        from_="+13125550000",
        webhook_url="http://testserver/webhook",
        stream_url=WS,
        stream_codec="L16",
    )
    assert dialled.data is not None
    ccid = dialled.data.call_control_id
    telnyx_emulator.advance(0.1)
    assert telnyx_emulator.streams_for(ccid) == []  # still ringing
    telnyx_emulator.advance(10)
    [stream] = telnyx_emulator.streams_for(ccid)
    start = stream.events("start")[0]["start"]
    assert start["media_format"] == {"encoding": "L16", "sample_rate": 16000, "channels": 1}
    assert len(base64.b64decode(stream.media()[0]["payload"])) == 640  # 20 ms of 16-bit 16 kHz
    events = telnyx_emulator.events(ccid)
    assert events.index("call.answered") < events.index("streaming.started")


def test_a_codec_the_emulator_does_not_transcode_to_streams_the_calls_own(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(ccid, stream_url=WS, stream_codec="OPUS")
    telnyx_emulator.advance(0.1)
    [stream] = telnyx_emulator.streams_for(ccid)
    assert stream.events("start")[0]["start"]["media_format"]["encoding"] == "PCMU"


def test_refused_and_dropped_streams_fail(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.stream_to(url="wss://down.test", refuse=True)
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(ccid, stream_url="wss://down.test/x")
    telnyx_emulator.advance(0.1)
    [failed] = telnyx_emulator.webhooks_for(ccid, "streaming.failed")
    assert failed.payload["failure_reason"] == "connection_failed"

    client.calls.actions.start_streaming(ccid, stream_url=WS)  # the first one is over
    telnyx_emulator.advance(0.1)
    stream = telnyx_emulator.streams_for(ccid)[-1]
    stream.drop()
    telnyx_emulator.advance(0.1)
    reasons = [
        w.payload["failure_reason"] for w in telnyx_emulator.webhooks_for(ccid, "streaming.failed")
    ]
    assert reasons == ["connection_failed", "connection_closed"]
    assert "streaming.stopped" not in telnyx_emulator.events(ccid)
    assert_all_valid(telnyx_emulator)


def test_stream_commands_refuse_what_they_cannot_do(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_streaming(ccid)  # nothing running
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.start_streaming(ccid, stream_url="https://not-a-websocket.test")
    assert info.value.body["errors"][0]["source"]["pointer"] == "/stream_url"  # type: ignore[index]
    with pytest.raises(telnyx.APIStatusError) as not_emulated:
        client.calls.actions.start_streaming(ccid, stream_url=WS, enable_dialogflow=True)
    assert not_emulated.value.status_code == 501
    client.calls.actions.start_streaming(ccid, stream_url=WS)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.start_streaming(ccid, stream_url=WS)  # one stream at a time
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_streaming(ccid, stream_id="not-this-one")


def test_an_in_process_agent_plays_audio_and_gets_its_mark_back(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    one_second = base64.b64encode(frame(format_for("PCMU"), "playback") * 50).decode()
    marks: list[float] = []

    def agent(stream: StreamConnection, message: dict[str, Any]) -> None:
        if message["event"] == "dtmf":
            stream.send({"event": "media", "media": {"payload": one_second}})
            stream.send({"event": "mark", "mark": {"name": "reply"}})
        elif message["event"] == "mark":
            marks.append(telnyx_emulator.now)

    telnyx_emulator.stream_to(agent)
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(
        ccid, stream_url=WS, stream_track="both_tracks", stream_bidirectional_mode="rtp"
    )
    telnyx_emulator.advance(0.2)
    pressed = telnyx_emulator.now
    telnyx_emulator.press(ccid, "7")
    telnyx_emulator.run_until_idle()
    assert marks == [pytest.approx(pressed + 1.0)]
    [stream] = telnyx_emulator.streams_for(ccid)
    stream.send("not json")
    stream.send({"event": "media", "media": {"payload": "AAAA"}})  # 3 bytes: under 20 ms
    telnyx_emulator.advance(0.0)
    errors = [m["payload"]["title"] for m in stream.events("error")]
    assert errors == ["malformed_frame", "invalid_media"]


def test_clear_stops_the_audio_and_returns_queued_marks(telnyx_emulator: TelnyxEmulator) -> None:
    ten_seconds = base64.b64encode(frame(format_for("PCMU"), "playback") * 500).decode()
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_streaming(
        ccid, stream_url=WS, stream_track="outbound_track", stream_bidirectional_mode="rtp"
    )
    telnyx_emulator.advance(0.0)
    [stream] = telnyx_emulator.streams_for(ccid)
    stream.send({"event": "media", "media": {"payload": ten_seconds}})
    stream.send({"event": "mark", "mark": {"name": "end"}})
    telnyx_emulator.advance(1.0)
    assert stream.events("mark") == []
    stream.send({"event": "clear"})
    telnyx_emulator.advance(1.0)
    assert [m["mark"]["name"] for m in stream.events("mark")] == ["end"]
    pcmu = format_for("PCMU")
    loud = [loudness(pcmu, base64.b64decode(m["payload"])) > 1000 for m in stream.media("outbound")]
    assert 49 <= loud.count(True) <= 51  # one second played, then cleared


def test_fork_start_and_stop(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.start_forking(ccid, rx="tcp://nope")
    client.calls.actions.start_forking(ccid, rx="udp:192.0.2.1:9000", stream_type="decrypted")
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.start_forking(ccid, rx="udp:192.0.2.1:9000")
    client.calls.actions.stop_forking(ccid)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_forking(ccid)
    client.calls.actions.start_forking(ccid, tx="udp:192.0.2.1:9002")
    client.calls.actions.hangup(ccid)
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events(ccid)[2:] == [
        "call.fork.started",
        "call.fork.stopped",
        "call.fork.started",
        "call.fork.stopped",
        "call.hangup",
    ]
    assert_all_valid(telnyx_emulator)


def test_siprec_sessions_and_their_failure(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.start_siprec(ccid, connector_name="fail-call_rejected")
    client.calls.actions.start_siprec(ccid, connector_name="my-srs", siprec_track="both_tracks")
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.start_siprec(ccid, connector_name="my-srs")
    client.calls.actions.stop_siprec(ccid)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_siprec(ccid)
    client.calls.actions.start_siprec(ccid, connector_name="my-srs")
    client.calls.actions.hangup(ccid)
    telnyx_emulator.run_until_idle()
    hooks = [w for w in telnyx_emulator.webhooks_for(ccid) if w.event_type.startswith("siprec")]
    assert [
        (w.event_type, w.payload.get("failure_cause") or w.payload.get("hangup_cause"))
        for w in hooks
    ] == [
        ("siprec.failed", "call_rejected"),
        ("siprec.started", None),
        ("siprec.stopped", "normal_clearing"),
        ("siprec.started", None),
        ("siprec.stopped", "normal_clearing"),
    ]
    assert_all_valid(telnyx_emulator)
