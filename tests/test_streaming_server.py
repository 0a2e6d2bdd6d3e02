"""Media streams over a real WebSocket: the emulator's server connects to a WebSocket server on
127.0.0.1 (tests/servers.py) as Telnyx connects to an app's ``stream_url``."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import telnyx

from emulator.stream_audio import format_for, frame, loudness

from .conftest import API_KEY
from .harness import assert_valid_webhook
from .servers import EmulatorServer, Receiver, StreamReceiver, StreamReply, StreamSession

SCALE = 0.25  # 20 ms frames every 5 ms (the server's floor, stream_client.MIN_FRAME_GAP_SECS)


@pytest.fixture
def streams() -> Iterator[Callable[..., StreamReceiver]]:
    started: list[StreamReceiver] = []

    def start(reply: StreamReply | None = None) -> StreamReceiver:
        server = StreamReceiver(reply).start()
        started.append(server)
        return server  # type: ignore[return-value]

    yield start
    for server in started:
        server.stop()


def answered(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx, **answer: Any
) -> str:
    r = httpx.post(
        emulator.url + "/_emulator/calls",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"from": "+13125550001", "to": "+13125550002", "webhook_url": receiver.url + "/hook"},
    )
    ccid = str(r.json()["data"]["call_control_id"])
    receiver.wait_events(1)
    client.calls.actions.answer(ccid, **answer)
    return ccid


def far_end(emulator: EmulatorServer, ccid: str, what: str, body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{emulator.url}/_emulator/calls/{ccid}/{what}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json=body,
    )
    assert r.status_code == 200, r.text


def wait_event(receiver: Receiver, event_type: str) -> dict[str, Any]:
    got = receiver.wait_for(lambda rs: any(r.event_type == event_type for r in rs))
    body = next(r.json for r in got if r.event_type == event_type)
    assert_valid_webhook(body)
    return dict(body["data"]["payload"])


def one_session(ws: StreamReceiver, predicate: Callable[[StreamSession], bool]) -> StreamSession:
    return ws.wait_for(lambda ss: bool(ss) and predicate(ss[0]))[0]


def test_a_stream_over_a_real_websocket(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    streams: Callable[..., StreamReceiver],
) -> None:
    emulator = start_emulator(time_scale=SCALE)
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    ws = streams()
    ccid = answered(
        emulator,
        receiver,
        client,
        stream_url=ws.ws_url + "/agent?call=1",
        stream_track="inbound_track",
    )
    started = wait_event(receiver, "streaming.started")
    assert started["stream_url"] == ws.ws_url + "/agent?call=1"
    session = one_session(ws, lambda s: len(s.events("media")) >= 60)
    assert session.path == "/agent"
    assert [m["event"] for m in session.messages[:3]] == ["connected", "start", "media"]
    start = session.messages[1]["start"]
    assert start["call_control_id"] == ccid
    assert start["media_format"] == {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}

    # The far end speaks and presses 5: loud inbound frames, then a dtmf message.
    far_end(emulator, ccid, "speech", {"text": "hello"})
    far_end(emulator, ccid, "dtmf", {"digits": "5"})
    session = one_session(ws, lambda s: bool(s.events("dtmf")))
    assert session.events("dtmf")[0]["dtmf"] == {"digit": "5"}
    pcmu = format_for("PCMU")
    session = one_session(
        ws,
        lambda s: any(
            loudness(pcmu, base64.b64decode(m["media"]["payload"])) > 1000
            for m in s.events("media")
        ),
    )
    wait_event(receiver, "call.dtmf.received")

    client.calls.actions.stop_streaming(ccid)
    session = one_session(ws, lambda s: s.closed_code is not None)
    assert session.messages[-1]["event"] == "stop"
    assert session.messages[-1]["stop"]["call_control_id"] == ccid
    assert session.closed_code == 1000
    timestamps = [int(m["media"]["timestamp"]) for m in session.events("media")]
    assert timestamps == list(range(0, 20 * len(timestamps), 20))
    numbers = [int(m["sequence_number"]) for m in session.messages[1:]]
    assert numbers == list(range(1, len(numbers) + 1))
    wait_event(receiver, "streaming.stopped")


def test_frames_are_paced_at_real_time_times_the_scale(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    streams: Callable[..., StreamReceiver],
) -> None:
    arrivals: list[float] = []

    def clock(session: StreamSession, message: dict[str, Any]) -> None:
        if message["event"] == "media":
            arrivals.append(time.monotonic())

    emulator = start_emulator(time_scale=SCALE)
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    ws = streams(clock)
    answered(emulator, receiver, client, stream_url=ws.ws_url + "/pace")
    one_session(ws, lambda s: len(s.events("media")) >= 101)
    # 100 frames span 2 emulated seconds: never faster than 0.5 s at scale 0.25 (a loaded
    # machine may be slower, never faster).
    assert arrivals[100] - arrivals[0] >= 100 * 0.02 * SCALE * 0.9


@pytest.mark.parametrize("how", ["handshake refused", "nobody listening"])
def test_a_refused_stream_is_streaming_failed(
    how: str,
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    streams: Callable[..., StreamReceiver],
) -> None:
    emulator = start_emulator(time_scale=SCALE)
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    if how == "handshake refused":
        url = streams().ws_url + "/refuse"
    else:
        gone = streams()
        url = gone.ws_url + "/x"
        gone.stop()
    ccid = answered(emulator, receiver, client)
    client.calls.actions.start_streaming(ccid, stream_url=url, stream_track="both_tracks")
    failed = wait_event(receiver, "streaming.failed")
    assert failed["failure_reason"] == "connection_failed"
    assert failed["stream_params"] == {"stream_url": url, "track": "both_tracks"}
    assert failed["stream_type"] == "websocket"
    assert "streaming.started" not in receiver.events()
    # The stream is over: stopping it is refused, a new one may start.
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_streaming(ccid)


def test_a_dropped_stream_is_streaming_failed(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    streams: Callable[..., StreamReceiver],
) -> None:
    def drop_after_start(session: StreamSession, message: dict[str, Any]) -> str | None:
        return "close" if message["event"] == "start" else None

    emulator = start_emulator(time_scale=SCALE)
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    ws = streams(drop_after_start)
    answered(emulator, receiver, client, stream_url=ws.ws_url + "/drop")
    wait_event(receiver, "streaming.started")
    failed = wait_event(receiver, "streaming.failed")
    assert failed["failure_reason"] == "connection_closed"
    assert "streaming.stopped" not in receiver.events()


def test_bidirectional_audio_plays_and_marks_come_back_after_it(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    streams: Callable[..., StreamReceiver],
) -> None:
    half_second = base64.b64encode(frame(format_for("PCMU"), "playback") * 25).decode()

    def agent(session: StreamSession, message: dict[str, Any]) -> list[dict[str, Any]]:
        if message["event"] == "start":
            return [
                {"event": "media", "media": {"payload": half_second}},
                {"event": "mark", "mark": {"name": "greeting-done"}},
            ]
        return []

    emulator = start_emulator(time_scale=SCALE)
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    ws = streams(agent)
    ccid = answered(emulator, receiver, client)
    client.calls.actions.start_streaming(
        ccid,
        stream_url=ws.ws_url + "/bidi",
        stream_track="both_tracks",
        stream_bidirectional_mode="rtp",
        stream_bidirectional_codec="PCMU",
    )
    session = one_session(ws, lambda s: bool(s.events("mark")))
    mark = session.events("mark")[0]
    assert mark["mark"] == {"name": "greeting-done"}
    # The mark came after the half second of audio had played: 25 outbound frames of it.
    before = session.messages[: session.messages.index(mark)]
    pcmu = format_for("PCMU")
    loud = [
        m
        for m in before
        if m["event"] == "media"
        and m["media"]["track"] == "outbound"
        and loudness(pcmu, base64.b64decode(m["media"]["payload"])) > 1000
    ]
    assert 24 <= len(loud) <= 26
    r = httpx.get(
        f"{emulator.url}/_emulator/calls/{ccid}/streams",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    [summary] = r.json()["data"]
    assert summary["played"] == [{"kind": "rtp", "bytes": 4000, "secs": 0.5}]
