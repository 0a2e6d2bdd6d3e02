"""The media rules in virtual time (tests/harness.py): durations from text and scenarios, gather
timers and tries, send_dtmf reaching a scripted far end, and far_end scripts in scenario files.
Every webhook sent is validated against schemas/webhooks/ by the harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.media_timing import dtmf_secs, speech_secs
from emulator.scenarios import check_paths

from .harness import Harness


def answered(h: Harness, **extra: str) -> str:
    ccid = h.inbound(**extra)
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    return ccid


def at(h: Harness, ccid: str, event: str) -> list[float]:
    return [s.at for s in h.sent if s.ccid == ccid and s.event_type == event]


def act(h: Harness, ccid: str, action: str, **body: object) -> None:
    r = h.request("POST", f"/v2/calls/{ccid}/actions/{action}", body)
    assert r.status == 200, r.payload


def test_speech_and_dtmf_durations() -> None:
    assert speech_secs("one two three four five") == pytest.approx(2.0)  # 150 words a minute
    assert speech_secs("Hi") == 0.5  # the minimum
    ssml = '<speak>one two <break time="1500ms"/> three <break time="2s"/></speak>'
    assert speech_secs(ssml, ssml=True) == pytest.approx(1.2 + 3.5)
    assert dtmf_secs("12w3W", 100) == pytest.approx(0.3 + 1.5)


def test_speak_lasts_its_text_times_loop_and_playback_the_scenario_audio() -> None:
    h = Harness()
    ccid = answered(h)
    h.run(0)
    start = h.sent[-1].at
    act(h, ccid, "speak", payload="one two three four five", voice="female", loop=2)
    h.run(60)
    assert at(h, ccid, "call.speak.ended") == [pytest.approx(start + 4.0)]
    act(h, ccid, "playback_start", audio_url="https://example.com/a.wav")
    h.run(60)
    assert at(h, ccid, "call.playback.ended")[0] - at(h, ccid, "call.playback.started")[0] == 5.0


def test_a_new_prompt_replaces_the_one_playing() -> None:
    h = Harness()
    ccid = answered(h)
    act(h, ccid, "playback_start", audio_url="https://example.com/a.wav")
    act(h, ccid, "speak", payload="Now this", voice="male")
    h.run(60)
    ended = [s.payload["status"] for s in h.sent if s.event_type == "call.playback.ended"]
    assert ended == ["cancelled"]
    assert h.events(ccid)[-3:] == ["call.playback.ended", "call.speak.started", "call.speak.ended"]


def test_gather_inter_digit_timeout_and_minimum_digits() -> None:
    h = Harness()
    ccid = answered(h)
    act(h, ccid, "gather", minimum_digits=3, inter_digit_timeout_millis=2000)
    h.run(1)
    h.request("POST", f"/_emulator/calls/{ccid}/dtmf", {"digits": "12"})
    h.run(1.9)
    assert at(h, ccid, "call.gather.ended") == []  # still within the inter-digit timeout
    h.run(1)
    ended = next(s.payload for s in h.sent if s.event_type == "call.gather.ended")
    assert (ended["digits"], ended["status"]) == ("12", "invalid")  # fewer than 3
    assert ended["gather_id"]


def test_gather_using_speak_reprompts_then_ends_invalid_after_maximum_tries() -> None:
    h = Harness()
    ccid = answered(h)
    act(
        h, ccid, "gather_using_speak", payload="Press one", voice="female",
        invalid_payload="Wrong", valid_digits="1", maximum_digits=1, maximum_tries=2,
    )  # fmt: skip
    for _ in range(2):
        h.run(0.1)
        h.request("POST", f"/_emulator/calls/{ccid}/dtmf", {"digits": "5"})
    h.run(60)
    assert h.events(ccid).count("call.speak.started") == 2
    ended = next(s.payload for s in h.sent if s.event_type == "call.gather.ended")
    assert (ended["digits"], ended["status"]) == ("5", "invalid")


def test_send_dtmf_reaches_a_scripted_far_end(tmp_path: Path) -> None:
    (tmp_path / "ivr_bot.yaml").write_text(
        "name: ivr_bot\nfar_end:\n  - when: dtmf_sent:42\n    after_secs: 1\n    press: '9'\n"
    )
    h = Harness(scenario_dirs=(tmp_path,))
    ccid = answered(h, scenario="ivr_bot")
    h.run(0)
    start = h.sent[-1].at
    act(h, ccid, "send_dtmf", digits="4w2", duration_millis=250)
    h.run(60)
    pressed = [s for s in h.sent if s.event_type == "call.dtmf.received"]
    assert [s.payload["digit"] for s in pressed] == ["9"]
    # 4 (0.25 s), w (0.5 s), 2 (0.25 s): heard at 1 s; the bot presses 1 s later.
    assert pressed[0].at == pytest.approx(start + 2.0)


def test_an_unknown_scenario_name_is_a_422() -> None:
    h = Harness()
    r = h.request(
        "POST", "/_emulator/calls", {"from": "+12125550199", "to": "+13125550100", "scenario": "x"}
    )
    assert r.status == 422 and r.payload["errors"][0]["source"]["pointer"] == "/scenario"


def test_far_end_steps_are_checked_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nfar_end:\n  - on: prompt_started\n    press: '1'\n"
        "  - press: '1'\n    say: hi\n  - when: sometime\n    hangup: true\n"
    )
    problems = [str(p) for p in check_paths([path])]
    assert problems == [
        f"{path}:3: far_end[0].on: unknown key; YAML reads `on` as true: write `when:`",
        f"{path}:5: far_end[1]: a step does exactly one of press, say, silence, hangup "
        "(got press, say)",
        f"{path}:7: far_end[2].when: 'sometime' does not match the pattern "
        "'^(prompt_started|prompt_ended|gather_started|dtmf_sent(:[0-9A-D*#]+)?)$'",
    ]


def dialled_with_amd(h: Harness, to: str) -> str:
    r = h.request(
        "POST",
        "/v2/calls",
        {
            "connection_id": "1234567890",
            "from": "+12125550199",
            "to": to,
            "webhook_url": "http://app/d",
            "answering_machine_detection": "detect",
        },
    )
    assert r.status == 200, r.payload
    ccid = str(r.payload["data"]["call_control_id"])
    h.run(2.5)  # the bundled voicemail and answered scenarios pick up within 2 s
    assert "call.answered" in h.events(ccid)
    return ccid


def test_a_machine_cancels_the_prompt_and_the_gather_playing_to_it() -> None:
    h = Harness()
    ccid = dialled_with_amd(h, "+13125550105")  # voicemail: AMD says machine 3 s after answer
    act(h, ccid, "speak", payload="Hello " * 60, voice="female")  # 24 s of speech
    h.run(10)
    ended = [s for s in h.sent if s.ccid == ccid and s.event_type == "call.speak.ended"]
    assert [s.payload["status"] for s in ended] == ["cancelled_amd"]
    events = h.events(ccid)
    assert events.index("call.machine.detection.ended") < events.index("call.speak.ended")

    h2 = Harness()
    ccid = dialled_with_amd(h2, "+13125550105")
    act(h2, ccid, "gather_using_speak", payload="Press one " * 20, voice="female")
    h2.run(10)
    statuses = {
        s.event_type: s.payload["status"]
        for s in h2.sent
        if s.ccid == ccid and s.event_type in ("call.gather.ended", "call.speak.ended")
    }
    assert statuses == {"call.gather.ended": "cancelled_amd", "call.speak.ended": "cancelled_amd"}


def test_a_human_hears_the_whole_prompt() -> None:
    h = Harness()
    ccid = dialled_with_amd(h, "+13125550100")  # answered: AMD says human
    act(h, ccid, "speak", payload="Hello " * 10, voice="female")
    h.run(30)
    ended = [s.payload["status"] for s in h.sent if s.event_type == "call.speak.ended"]
    assert ended == ["completed"]
