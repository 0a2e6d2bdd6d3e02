"""Recordings: record_start/pause/resume/stop over the official SDK against a real server, the
call.recording.saved webhook (validated against its schema), the real WAV and MP3 it links to,
and the Recordings API; the in-process path for timing rules (max_length, hangup, pause)."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import telnyx
from mutagen.mp3 import MP3

from .harness import Harness, assert_valid_webhook
from .servers import EmulatorServer, Receiver
from .test_webhooks_e2e import inbound

MP3_SLACK = 0.3  # LAME pads to whole frames (72 ms at 8 kHz) and adds its encoder delay


def _wav_secs(data: bytes) -> tuple[float, int]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate(), w.getnchannels()


def _answered(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx, **extra: Any
) -> str:
    ccid = inbound(emulator, receiver, **extra)
    client.calls.actions.answer(ccid)
    receiver.wait_for(lambda rs: any(r.event_type == "call.answered" for r in rs))
    return ccid


def test_record_stop_saves_real_files_of_the_recorded_time(
    start_emulator: Any, receiver: Receiver
) -> None:
    emulator = start_emulator()
    client = telnyx.Telnyx(api_key="KEY_TEST", base_url=emulator.base_url, max_retries=0)
    ccid = _answered(emulator, receiver, client)
    _tick = _stepped_clock(emulator)
    client.calls.actions.start_recording(ccid, channels="dual", format="mp3", client_state="cmVj")
    _tick(2.0)
    client.calls.actions.pause_recording(ccid)
    _tick(5.0)  # paused: not in the file
    client.calls.actions.resume_recording(ccid)
    _tick(1.5)
    client.calls.actions.stop_recording(ccid)
    [saved] = [
        r
        for r in receiver.wait_for(
            lambda rs: any(r.event_type == "call.recording.saved" for r in rs)
        )
        if r.event_type == "call.recording.saved"
    ]
    for r in receiver.requests:
        assert_valid_webhook(r.json)
    p = saved.payload
    assert p["channels"] == "dual" and p["client_state"] == "cmVj"
    assert p["call_control_id"] == ccid
    assert set(p["recording_urls"]) == {"wav", "mp3"}
    assert p["public_recording_urls"] == p["recording_urls"]
    assert p["recording_urls"]["wav"].startswith(emulator.url + "/_emulator/recordings/")

    wav = httpx.get(p["recording_urls"]["wav"])  # no API key: the link is the credential
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    secs, channels = _wav_secs(wav.content)
    # 3.5 s of engine time recorded, plus the few real milliseconds between the commands
    assert secs == pytest.approx(3.5, abs=0.1) and channels == 2
    mp3 = httpx.get(p["recording_urls"]["mp3"])
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    info = MP3(io.BytesIO(mp3.content)).info
    assert info.length == pytest.approx(secs, abs=MP3_SLACK) and info.channels == 2

    # The Recordings API lists, shows and deletes it.
    rec_id = p["recording_id"]
    listed = list(client.recordings.list())
    assert [r.id for r in listed] == [rec_id]
    shown = client.recordings.retrieve(rec_id).data
    assert shown is not None and shown.status == "completed"
    assert shown.duration_millis == pytest.approx(round(secs * 1000), abs=1)
    assert shown.download_urls is not None and shown.download_urls.wav == p["recording_urls"]["wav"]
    assert list(client.recordings.list(filter={"call_control_id": "v3:other"})) == []
    client.recordings.delete(rec_id)
    assert httpx.get(p["recording_urls"]["wav"]).status_code == 404
    with pytest.raises(telnyx.NotFoundError):
        client.recordings.retrieve(rec_id)


SCRIPTED_CALLER = """\
name: caller_talks_to_a_recording
far_end:
  - after_secs: 50
    say: I need help
  - press: "1"
  - after_secs: 100
    say: my card number is 4111
  - press: "2"
  - after_secs: 100
    say: thank you
  - after_secs: 50
    hangup: true
"""


def test_recording_transcription_of_a_scripted_caller_over_the_sdk(
    start_emulator: Any, receiver: Receiver, tmp_path: Any
) -> None:
    """The scripted caller marks its steps with digits (call.dtmf.received) so the app can pause
    around the card number; 100 emulated seconds are 1 s of real time at scale 0.01."""
    (tmp_path / "caller.yaml").write_text(SCRIPTED_CALLER)
    emulator = start_emulator(scenario_dirs=(tmp_path,))
    client = telnyx.Telnyx(api_key="KEY_TEST", base_url=emulator.base_url, max_retries=0)
    ccid = _answered(emulator, receiver, client, scenario="caller_talks_to_a_recording")
    client.calls.actions.start_recording(
        ccid, channels="single", format="mp3", transcription=True, transcription_engine="B"
    )

    def digits(n: int) -> None:
        receiver.wait_for(
            lambda rs: sum(r.event_type == "call.dtmf.received" for r in rs) >= n, timeout=10
        )

    digits(1)
    client.calls.actions.pause_recording(ccid)
    digits(2)
    client.calls.actions.resume_recording(ccid)
    got = receiver.wait_for(
        lambda rs: any(r.event_type == "call.recording.transcription.saved" for r in rs),
        timeout=10,
    )
    for r in got:
        assert_valid_webhook(r.json)
    types = [r.event_type for r in got]
    assert types[-3:] == [
        "call.recording.saved", "call.hangup", "call.recording.transcription.saved",
    ]  # fmt: skip
    saved, transcribed = got[-3].payload, got[-1].payload
    assert transcribed["transcription_text"] == "I need help thank you"
    assert transcribed["recording_id"] == saved["recording_id"]
    assert transcribed["status"] == "completed" and transcribed["call_control_id"] == ccid

    tid = transcribed["recording_transcription_id"]
    [listed] = list(client.recording_transcriptions.list())
    assert listed.id == tid and listed.transcription_text == "I need help thank you"
    assert listed.recording_id == saved["recording_id"]
    shown = client.recording_transcriptions.retrieve(tid).data
    assert shown is not None and shown.status == "completed"
    assert list(client.recording_transcriptions.list(filter={"recording_id": "other"})) == []
    client.recording_transcriptions.delete(tid)
    with pytest.raises(telnyx.NotFoundError):
        client.recording_transcriptions.retrieve(tid)


def _stepped_clock(emulator: EmulatorServer) -> Callable[[float], None]:
    """Let the server's engine clock jump forward (recorded time without sleeping); returns
    the function that moves it. Webhook delivery keeps the wall clock."""
    clock = emulator.api.clock
    real = type(clock).now.__get__(clock)
    offset = [0.0]
    clock.now = lambda: real() + offset[0]  # type: ignore[method-assign]

    def tick(secs: float) -> None:
        offset[0] += secs

    return tick


# -- in-process: timing rules -----------------------------------------------------------------


def _call(h: Harness) -> str:
    ccid = h.inbound()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    return ccid


def _saved(h: Harness) -> dict[str, Any]:
    [s] = [s for s in h.sent if s.event_type == "call.recording.saved"]
    return s.payload


def test_max_length_counts_recorded_time_only() -> None:
    h = Harness()
    ccid = _call(h)
    body = {"channels": "single", "format": "wav", "max_length": 10}
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body).status == 200
    h.run(4)
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_pause", {}).status == 200
    h.run(100)  # paused: max_length does not run out
    assert "call.recording.saved" not in h.events()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_resume", {}).status == 200
    h.run(7)
    p = _saved(h)
    rec = h.request("GET", f"/v2/recordings/{p['recording_id']}").payload["data"]
    assert rec["duration_millis"] == 10_000
    # The call is still up: max_length ends the recording, not the call.
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body).status == 200


def test_hangup_saves_the_recording_before_call_hangup() -> None:
    h = Harness()
    ccid = _call(h)
    body = {"channels": "single", "format": "mp3"}
    h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body)
    second = h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body)
    assert second.status == 422 and second.payload["errors"][0]["code"] == "90016"
    h.run(3)
    h.request("POST", f"/v2/calls/{ccid}/actions/hangup", {})
    h.run(1)
    assert h.events()[-2:] == ["call.recording.saved", "call.hangup"]
    url = _saved(h)["recording_urls"]["wav"]
    assert url.startswith("http://127.0.0.1:8787/_emulator/recordings/")  # the listen address
    wav = h.request("GET", urlsplit(url).path, headers={"authorization": ""})
    assert wav.status == 200 and _wav_secs(wav.content)[0] == pytest.approx(3.0, abs=0.01)


def test_stop_without_a_recording_and_with_a_wrong_id() -> None:
    h = Harness()
    ccid = _call(h)
    r = h.request("POST", f"/v2/calls/{ccid}/actions/record_stop", {})
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90016"
    h.request("POST", f"/v2/calls/{ccid}/actions/record_start", {"channels": "single",
                                                                   "format": "wav"})  # fmt: skip
    other = "6e00ab49-9487-4364-8ad6-23965965afb2"
    r = h.request("POST", f"/v2/calls/{ccid}/actions/record_stop", {"recording_id": other})
    assert r.status == 422 and r.payload["errors"][0]["source"]["pointer"] == "/recording_id"


def test_transcription_hears_the_far_end_while_recording_not_while_paused() -> None:
    h = Harness()
    ccid = _call(h)
    body = {"channels": "single", "format": "wav", "transcription": True,
            "transcription_engine": "B", "transcription_language": "en-US"}  # fmt: skip
    h.request("POST", "/_emulator/calls/" + ccid + "/speech", {"text": "before the recording"})
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body).status == 200
    h.run(1)
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "I need help"})
    h.request("POST", f"/_emulator/calls/{ccid}/dtmf", {"digits": "12"})
    h.run(1)
    h.request("POST", f"/v2/calls/{ccid}/actions/record_pause", {})
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "my card is 4111"})
    h.run(5)
    h.request("POST", f"/v2/calls/{ccid}/actions/record_resume", {})
    h.run(1)
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "thank you"})
    h.request("POST", f"/v2/calls/{ccid}/actions/record_stop", {})
    h.run(1)  # less than the transcription's delay
    assert "call.recording.transcription.saved" not in h.events()
    h.run(2)
    assert h.events()[-2:] == ["call.recording.saved", "call.recording.transcription.saved"]
    [sent] = [s for s in h.sent if s.event_type == "call.recording.transcription.saved"]
    p = sent.payload  # Harness.run validated it against its schema
    rec_id = _saved(h)["recording_id"]
    # Digits are not words: speech-to-text leaves the DTMF out; paused speech is not recorded.
    assert p["transcription_text"] == "I need help thank you"
    assert (p["recording_id"], p["status"], p["call_control_id"]) == (rec_id, "completed", ccid)
    # Kept with their offsets in the recorded audio (paused time excluded).
    recording = h.api.tenant(h.key).recordings.get(rec_id)
    assert recording is not None
    assert [(x.kind, x.value, x.offset) for x in recording.heard] == [
        ("speech", "I need help", 1.0), ("dtmf", "1", 1.0), ("dtmf", "2", 1.0),
        ("speech", "thank you", 3.0),
    ]  # fmt: skip
    # The Recording Transcriptions API files it.
    tid = p["recording_transcription_id"]
    listed = h.request("GET", "/v2/recording_transcriptions").payload["data"]
    assert [t["id"] for t in listed] == [tid]
    assert listed[0]["transcription_text"] == p["transcription_text"]
    assert listed[0]["recording_id"] == rec_id and listed[0]["duration_millis"] == 3000
    assert h.request("DELETE", f"/v2/recording_transcriptions/{tid}").status == 200
    r = h.request("GET", f"/v2/recording_transcriptions/{tid}")
    assert r.status == 404 and r.payload["errors"][0]["code"] == "10005"


def test_transcription_after_the_hangup_and_not_of_the_outbound_track() -> None:
    h = Harness()
    ccid = _call(h)
    body = {"channels": "single", "format": "wav", "transcription": True}
    h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body)
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "bye"})
    h.request("POST", f"/v2/calls/{ccid}/actions/hangup", {})
    h.run(3)
    assert h.events()[-3:] == [
        "call.recording.saved", "call.hangup", "call.recording.transcription.saved",
    ]  # fmt: skip
    [sent] = [s for s in h.sent if s.event_type == "call.recording.transcription.saved"]
    assert sent.payload["transcription_text"] == "bye"

    ccid = _call(h)
    body = {**body, "recording_track": "outbound"}  # the far end is not on this track
    h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body)
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "unheard"})
    h.request("POST", f"/v2/calls/{ccid}/actions/record_stop", {})
    h.run(3)
    texts = [s.payload["transcription_text"] for s in h.sent
             if s.event_type == "call.recording.transcription.saved"]  # fmt: skip
    assert texts == ["bye", ""]


def test_no_transcription_without_the_option_and_profanity_filter_not_emulated() -> None:
    h = Harness()
    ccid = _call(h)
    body = {"channels": "single", "format": "wav", "transcription": True,
            "transcription_profanity_filter": True}  # fmt: skip
    r = h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body)
    assert r.status == 501 and r.payload["errors"][0]["code"] == "10501"
    assert "profanity" in r.payload["errors"][0]["detail"]
    # Nothing started: a plain record_start is accepted, and sends no transcription.
    body = {"channels": "single", "format": "wav"}
    assert h.request("POST", f"/v2/calls/{ccid}/actions/record_start", body).status == 200
    h.request("POST", f"/_emulator/calls/{ccid}/speech", {"text": "hello"})
    h.request("POST", f"/v2/calls/{ccid}/actions/record_stop", {})
    h.run(5)
    assert "call.recording.saved" in h.events()
    assert "call.recording.transcription.saved" not in h.events()


def test_record_from_answer_records_with_the_announced_id() -> None:
    h = Harness()
    ccid = h.inbound()
    r = h.request(
        "POST",
        f"/v2/calls/{ccid}/actions/answer",
        {"record": "record-from-answer", "record_channels": "single", "record_max_length": 5},
    )
    announced = r.payload["data"]["recording_id"]
    h.run(10)
    p = _saved(h)
    assert p["recording_id"] == announced and p["channels"] == "single"
    rec = h.request("GET", f"/v2/recordings/{announced}").payload["data"]
    assert rec["duration_millis"] == 5000 and rec["initiated_by"] == "DialVerb"


def test_record_from_answer_on_dial_starts_when_the_far_end_answers() -> None:
    h = Harness()
    r = h.request(
        "POST",
        "/v2/calls",
        {"connection_id": "1234567890", "from": "+12125550199", "to": "+13125550100",
         "webhook_url": "http://app/d", "record": "record-from-answer"},
    )  # fmt: skip
    announced = r.payload["data"]["recording_id"]
    ccid = r.payload["data"]["call_control_id"]
    h.run(10)
    h.request("POST", f"/v2/calls/{ccid}/actions/hangup", {})
    h.run(1)
    assert _saved(h)["recording_id"] == announced


def test_delete_many_is_all_or_nothing() -> None:
    h = Harness()
    ids = []
    for _ in range(2):
        ccid = _call(h)
        h.request("POST", f"/v2/calls/{ccid}/actions/record_start",
                  {"channels": "single", "format": "wav"})  # fmt: skip
        h.request("POST", f"/v2/calls/{ccid}/actions/hangup", {})
        h.run(1)
    ids = [r["id"] for r in h.request("GET", "/v2/recordings").payload["data"]]
    assert len(ids) == 2
    r = h.request("POST", "/v2/recordings/actions/delete", {"ids": [ids[0], "nope"]})
    assert r.status == 404
    assert len(h.request("GET", "/v2/recordings").payload["data"]) == 2
    r = h.request("POST", "/v2/recordings/actions/delete", {"ids": ids})
    assert r.status == 200 and r.payload == {"status": "ok"}
    assert h.request("GET", "/v2/recordings").payload["data"] == []


def test_in_process_links_are_served_by_the_mock() -> None:
    from emulator.inprocess import TelnyxEmulator

    with TelnyxEmulator() as emu:
        client = emu.client()
        ccid = emu.create_call().call_control_id
        client.calls.actions.answer(ccid)
        client.calls.actions.start_recording(ccid, channels="single", format="wav")
        emu.advance(2)
        client.calls.actions.stop_recording(ccid)
        emu.advance(0)
        [saved] = emu.webhooks_for(ccid, "call.recording.saved")
        url = saved.payload["recording_urls"]["wav"]
        assert url.startswith("http://telnyx-emulator.local/_emulator/recordings/")
        data = httpx.get(url).content  # the app's own download, answered by the mock
        assert _wav_secs(data)[0] == pytest.approx(2.0, abs=0.01)


def test_in_process_transcription_of_what_the_fixture_says() -> None:
    from emulator.inprocess import TelnyxEmulator

    with TelnyxEmulator() as emu:
        client = emu.client()
        call = emu.create_call()
        client.calls.actions.answer(call.call_control_id)
        client.calls.actions.start_recording(
            call.call_control_id, channels="single", format="wav", transcription=True
        )
        call.say("please call me back")
        call.press("9")
        emu.advance(1)
        client.calls.actions.stop_recording(call.call_control_id)
        emu.advance(3)
        [hook] = emu.webhooks_for(call.call_control_id, "call.recording.transcription.saved")
        assert hook.payload["transcription_text"] == "please call me back"
