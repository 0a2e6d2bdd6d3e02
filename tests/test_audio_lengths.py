"""Real lengths of audio files (issue #15: "when the emulator can reach the audio_url on an
allowed address, from the file's real length"): measured by the server before the command runs,
only on loopback or --webhook-allow hosts; the scenario's media.audio_secs still wins."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import httpx
import pytest
import telnyx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import audio
from emulator.api import webhook_allow_list
from emulator.audio_lengths import measure, reachable

from .conftest import API_KEY
from .harness import Harness
from .servers import EmulatorServer, ServerThread


def wav_bytes(secs: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(2 * round(secs * rate)))
    return out.getvalue()


def test_wav_and_mp3_are_measured_and_other_bytes_are_not() -> None:
    assert measure(wav_bytes(1.5)) == pytest.approx(1.5)
    # LAME pads the stream with up to a few frames of encoder delay; mutagen counts them.
    assert measure(audio.mp3(2.0, 1)) == pytest.approx(2.0, abs=0.25)
    assert measure(b"not audio at all") is None
    assert measure(b"RIFF broken") is None


def test_only_loopback_or_allowed_hosts_are_fetched() -> None:
    assert reachable("http://127.0.0.1:9000/a.wav", None)
    assert reachable("http://localhost/a.wav", None)
    assert reachable("http://[::1]:80/a.wav", None)
    assert not reachable("https://example.com/a.wav", None)
    assert not reachable("ftp://127.0.0.1/a.wav", None)
    assert reachable("https://media.test/a.wav", webhook_allow_list(("media.test",)))


def test_a_measured_length_times_the_playback_unless_the_scenario_says() -> None:
    h = Harness()
    url = "http://127.0.0.1:1/greeting.wav"
    h.api.audio_lengths.remember(url, 1.5)
    ccid = h.inbound()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    assert (
        h.request("POST", f"/v2/calls/{ccid}/actions/playback_start", {"audio_url": url}).status
        == 200
    )
    h.run(60)
    started = [s.at for s in h.sent if s.event_type == "call.playback.started"]
    ended = [s.at for s in h.sent if s.event_type == "call.playback.ended"]
    assert ended[0] - started[0] == pytest.approx(1.5)


@pytest.fixture
def media_host() -> Iterator[tuple[str, list[str]]]:
    fetched: list[str] = []

    async def serve(request: Request) -> Response:
        fetched.append(request.url.path)
        if request.url.path == "/greeting.wav":
            return Response(wav_bytes(2.25), media_type="audio/wav")
        return Response(b"nope", status_code=404)

    server = ServerThread(Starlette(routes=[Route("/{name}", serve)])).start()
    try:
        yield server.url, fetched
    finally:
        server.stop()


def test_the_server_measures_a_loopback_file_before_playing_it(
    emulator: EmulatorServer,
    client: telnyx.Telnyx,
    media_host: tuple[str, list[str]],
) -> None:
    base, fetched = media_host
    r = httpx.post(
        emulator.url + "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    ccid = r.json()["data"]["call_control_id"]
    client.calls.actions.answer(ccid)
    client.calls.actions.start_playback(ccid, audio_url=base + "/greeting.wav")
    assert emulator.api.audio_lengths.get(base + "/greeting.wav") == pytest.approx(2.25)
    client.calls.actions.start_playback(ccid, audio_url=base + "/greeting.wav")
    assert fetched == ["/greeting.wav"]  # measured once, then remembered
    client.calls.actions.start_playback(ccid, audio_url=base + "/missing.wav")
    assert emulator.api.audio_lengths.get(base + "/missing.wav") is None  # default applies
