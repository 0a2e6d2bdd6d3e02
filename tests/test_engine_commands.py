"""Answer, hangup, reject, dial, bridge and client_state_update, driven without HTTP.

The API layer is called directly (``Api.handle``) on a virtual clock, so every test sees exact
times and the full webhook sequence; each webhook sent is validated against its schema by the
harness. The request schemas are checked here too (field sets against the SDK, portability).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from emulator.api import ApiResponse
from emulator.resources import load_schema
from emulator.state import COMMANDS, REFUSALS, LegState
from emulator.validation import RequestValidator

from .harness import Harness

CALLER = "+12125550199"
APP_NUMBER = "+13125550100"
ANSWERED = "+13125550100"
BUSY = "+13125550101"
NO_ANSWER = "+13125550102"
REJECTED = "+13125550103"
VOICEMAIL = "+13125550105"
SHORT_CALL = "+13125550106"
CONNECTION = "1293384261075731461"


class H(Harness):
    """The engine harness plus one helper per command."""

    def cmd(self, ccid: str, name: str, body: dict[str, Any] | None = None) -> ApiResponse:
        method = "PUT" if name == "client_state_update" else "POST"
        return self.request(method, f"/v2/calls/{ccid}/actions/{name}", body or {})

    def ok(self, ccid: str, name: str, **body: Any) -> dict[str, Any]:
        r = self.cmd(ccid, name, body)
        assert r.status == 200, r.payload
        data: dict[str, Any] = r.payload["data"]
        return data

    def fails(self, ccid: str, name: str, **body: Any) -> tuple[str, str | None]:
        r = self.cmd(ccid, name, body)
        assert r.status == 422, r.payload
        [error] = r.payload["errors"]
        return error["code"], error.get("source", {}).get("pointer")

    def dial(self, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        r = self.dial_raw(headers, **body)
        assert r.status == 200, r.payload
        data: dict[str, Any] = r.payload["data"]
        return data

    def dial_raw(self, headers: dict[str, str] | None = None, **body: Any) -> ApiResponse:
        full = {
            "connection_id": CONNECTION,
            "from": CALLER,
            "to": ANSWERED,
            "webhook_url": "http://app/dial",
        }
        full.update(body)
        return self.request("POST", "/v2/calls", full, headers)

    def status(self, ccid: str) -> dict[str, Any]:
        data: dict[str, Any] = self.request("GET", f"/v2/calls/{ccid}").payload["data"]
        return data

    def answered_call(self, **answer: Any) -> str:
        a = self.inbound()
        self.ok(a, "answer", **answer)
        self.run(1)
        return a

    def payloads(self, ccid: str, event_type: str) -> list[dict[str, Any]]:
        return [s.payload for s in self.sent if s.ccid == ccid and s.event_type == event_type]

    def journal(self) -> list[dict[str, Any]]:
        return list(self.api.tenant(self.key).commands)

    def emitted(self, event_type: str) -> list[str]:
        """call_control_ids of the webhooks of one type, in the order the engine emitted them
        (delivery order across call sessions may differ: one queue per session)."""
        hooks = self.api.tenant(self.key).webhooks
        return [w.call_control_id for w in hooks if w.event_type == event_type]


@pytest.fixture
def h() -> Iterator[H]:
    yield H()


# --------------------------------------------------------------------------------------------
# answer


def test_answer_sends_call_answered_with_client_state(h: H) -> None:
    a = h.inbound(client_state="b2xk")
    h.run(1)
    assert h.ok(a, "answer", client_state="bmV3") == {"result": "ok"}
    h.run(1)
    assert h.events(a) == ["call.initiated", "call.answered"]
    [answered] = h.payloads(a, "call.answered")
    assert answered["state"] == "answered" and answered["client_state"] == "bmV3"
    assert h.sent[1].at == 1
    status = h.status(a)
    assert status["is_alive"] is True and status["client_state"] == "bmV3"
    [call] = h.request("GET", "/_emulator/calls").payload["data"]
    assert call["state"] == "answered"


def test_answer_webhook_url_applies_to_this_and_later_webhooks(h: H) -> None:
    a = h.inbound()
    h.ok(a, "answer", webhook_url="http://app/answered", webhook_url_method="GET")
    h.ok(a, "hangup")
    h.run(5)
    urls = [(s.event_type, s.attempt.method, s.attempt.url.split("?")[0]) for s in h.sent]
    assert urls == [
        ("call.initiated", "POST", "http://app/a"),
        ("call.answered", "GET", "http://app/answered"),
        ("call.hangup", "GET", "http://app/answered"),
    ]


def test_answer_webhook_urls_and_retry_policy(h: H) -> None:
    a = h.inbound()
    h.statuses["http://app/hangups"] = [500, 200]
    h.ok(
        a,
        "answer",
        webhook_urls={"call.hangup": ["http://app/hangups"]},
        webhook_retries_policies={"call.hangup": {"retries_ms": [250]}},
    )
    h.ok(a, "hangup")
    h.run(5)
    hangups = [s for s in h.sent if s.event_type == "call.hangup"]
    assert [s.attempt.url for s in hangups] == ["http://app/hangups"] * 2
    assert hangups[1].at - hangups[0].at == pytest.approx(0.25)
    assert h.sent[1].attempt.url == "http://app/a"  # call.answered: not mapped


def test_answer_with_record_returns_recording_id(h: H) -> None:
    a = h.inbound()
    data = h.ok(a, "answer", record="record-from-answer", record_format="wav")
    assert data["result"] == "ok"
    assert re.fullmatch(r"[0-9a-f-]{36}", data["recording_id"])


def test_answer_accepts_and_ignores_media_fields(h: H) -> None:
    a = h.inbound()
    h.ok(
        a,
        "answer",
        custom_headers=[{"name": "X-Id", "value": "1"}],
        sip_headers=[{"name": "User-to-User", "value": "abc"}],
        stream_url="wss://example.com/stream",
        stream_track="both_tracks",
        transcription=True,
        transcription_config={"transcription_engine": "Deepgram"},
        deepfake_detection={"enabled": True},
        assistant={"id": "assistant-1", "dynamic_variables": {"n": 1}},
        conversation_relay_config={"url": "wss://relay.example.com"},
        send_silence_when_idle=True,
        billing_group_id="f5586561-8ff0-4291-a51b-c7dfe4139ff9",
    )
    h.run(1)
    assert h.events(a) == ["call.initiated", "call.answered"]
    assert "custom_headers" not in h.payloads(a, "call.answered")[0]


def test_answer_twice_and_answer_outgoing_are_refused(h: H) -> None:
    a = h.inbound()
    h.ok(a, "answer")
    code, pointer = h.fails(a, "answer")
    assert (code, pointer) == ("90016", "/call_control_id")
    assert h.cmd(a, "answer").payload["errors"][0]["detail"] == (
        "This call has already been answered."
    )
    dialed = h.dial(to=NO_ANSWER)["call_control_id"]
    r = h.cmd(dialed, "answer")
    assert r.payload["errors"][0]["code"] == "90016"
    assert "far end" in r.payload["errors"][0]["detail"]
    assert [c["result"] for c in h.journal() if c["command"] == "answer"] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]


def test_answer_ended_and_unknown_calls(h: H) -> None:
    a = h.inbound()
    h.ok(a, "hangup")
    assert h.fails(a, "answer") == ("90018", "/call_control_id")
    assert h.fails("v3:nope", "answer") == ("90015", "/call_control_id")


def test_answer_duplicate_command_id_is_ignored(h: H) -> None:
    a = h.inbound()
    h.ok(a, "answer", command_id="ans-1")
    h.ok(a, "answer", command_id="ans-1")  # ignored: no 90016, no second webhook
    h.run(1)
    assert h.events(a) == ["call.initiated", "call.answered"]
    assert [c["result"] for c in h.journal()][-2:] == ["accepted", "duplicate"]


def test_answer_then_transfer(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED)
    h.run(5)
    b = h.leg_b()
    assert h.events(a) == ["call.initiated", "call.answered", "call.bridged"]
    assert h.events(b) == ["call.initiated", "call.answered", "call.bridged"]
    assert h.status(b)["call_session_id"] == h.status(a)["call_session_id"]


def test_transfer_before_answer_then_answer_while_leg_b_rings(h: H) -> None:
    a = h.inbound()
    h.transfer(a, to=VOICEMAIL)  # rings 2 s
    h.run(1)
    h.ok(a, "answer")
    h.run(5)
    assert h.events(a) == ["call.initiated", "call.answered", "call.bridged"]


# --------------------------------------------------------------------------------------------
# hangup


def test_hangup_parked_call(h: H) -> None:
    a = h.inbound()
    h.run(2)
    h.ok(a, "hangup", client_state="Ynll", custom_headers=[{"name": "X-Why", "value": "done"}])
    h.run(1)
    [hangup] = h.payloads(a, "call.hangup")
    assert (hangup["hangup_cause"], hangup["hangup_source"], hangup["sip_hangup_cause"]) == (
        "normal_clearing",
        "caller",
        "16",
    )
    assert hangup["client_state"] == "Ynll"
    status = h.status(a)
    assert status["is_alive"] is False and status["end_time"] and status["call_duration"] == 2
    assert h.fails(a, "hangup") == ("90018", "/call_control_id")


def test_hangup_of_bridged_call_hangs_up_both_legs(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED)
    h.run(5)
    b = h.leg_b()
    h.ok(a, "hangup")
    h.run(1)
    assert h.emitted("call.hangup") == [a, b]
    assert h.payloads(b, "call.hangup")[0]["hangup_cause"] == "normal_clearing"
    assert h.status(b)["is_alive"] is False


def test_hangup_of_peer_parks_leg_with_park_after_unbridge(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED, park_after_unbridge="self")
    h.run(5)
    b = h.leg_b()
    h.ok(b, "hangup")
    h.run(1)
    assert h.events(b)[-1] == "call.hangup" and h.events(a)[-1] == "call.bridged"
    assert h.status(a)["is_alive"] is True
    h.ok(a, "hangup")  # and it can still be hung up itself
    h.run(1)
    assert h.events(a)[-1] == "call.hangup"


def test_hangup_while_transfer_leg_b_rings_cancels_it(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=NO_ANSWER)
    h.run(1)
    b = h.leg_b()
    h.ok(a, "hangup")
    h.run(1)
    [b_hangup] = h.payloads(b, "call.hangup")
    assert (b_hangup["hangup_cause"], b_hangup["sip_hangup_cause"]) == ("originator_cancel", "487")


def test_hangup_of_ringing_leg_b_leaves_leg_a_and_allows_a_new_transfer(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=NO_ANSWER)
    h.run(1)
    b = h.leg_b()
    h.ok(b, "hangup", reason="answered elsewhere")
    h.run(1)
    [b_hangup] = h.payloads(b, "call.hangup")
    assert b_hangup["hangup_cause"] == "originator_cancel"
    assert h.status(a)["is_alive"] is True
    h.transfer(a, to=ANSWERED)
    h.run(5)
    assert h.events(a)[-1] == "call.bridged"


def test_hangup_reason_rules(h: H) -> None:
    a = h.inbound()
    for reason in ('say "hi"', "back`tick", "bell\x07", "emoji \U0001f600"):
        assert h.fails(a, "hangup", reason=reason) == ("10015", "/reason")
    assert h.status(a)["is_alive"] is True
    h.ok(a, "hangup", reason="Call completed elsewhere — ☎ é")


# --------------------------------------------------------------------------------------------
# reject


@pytest.mark.parametrize(
    ("cause", "hangup_cause", "sip"),
    [
        ("CALL_REJECTED", "call_rejected", "603"),
        ("NOT_FOUND", "not_found", "404"),
        ("TEMPORARILY_UNAVAILABLE", "unspecified", "480"),
        ("USER_BUSY", "user_busy", "486"),
    ],
)
def test_reject_causes(h: H, cause: str, hangup_cause: str, sip: str) -> None:
    a = h.inbound()
    h.ok(a, "reject", cause=cause, client_state="cmVq")
    h.run(1)
    assert h.events(a) == ["call.initiated", "call.hangup"]
    [hangup] = h.payloads(a, "call.hangup")
    assert hangup["hangup_cause"] == hangup_cause
    assert hangup["sip_hangup_cause"] == sip
    assert hangup["hangup_source"] == "callee"
    assert hangup["client_state"] == "cmVq"
    assert h.status(a)["is_alive"] is False


def test_reject_refused_after_answer_for_outgoing_and_after_end(h: H) -> None:
    a = h.answered_call()
    assert h.fails(a, "reject", cause="USER_BUSY") == ("90016", "/call_control_id")
    dialed = h.dial(to=NO_ANSWER)["call_control_id"]
    assert h.fails(dialed, "reject", cause="USER_BUSY") == ("90016", "/call_control_id")
    gone = h.inbound()
    h.ok(gone, "reject", cause="USER_BUSY")
    assert h.fails(gone, "reject", cause="USER_BUSY") == ("90018", "/call_control_id")


def test_reject_validation(h: H) -> None:
    a = h.inbound()
    assert h.fails(a, "reject") == ("10004", "/cause")
    assert h.fails(a, "reject", cause="user_busy") == ("10032", "/cause")
    assert h.fails(a, "reject", cause="USER_BUSY", client_state="***") == (
        "10015",
        "/client_state",
    )
    assert h.status(a)["is_alive"] is True


# --------------------------------------------------------------------------------------------
# dial


def test_dial_answered_sequence_and_response(h: H) -> None:
    data = h.dial(client_state="ZGlhbA==", from_display_name="Sales")
    ccid = data["call_control_id"]
    assert data["record_type"] == "call" and data["is_alive"] is False
    assert ccid.startswith("v3:") and len(ccid) == 57
    assert len(data["call_leg_id"]) == 36 and len(data["call_session_id"]) == 36
    assert data["client_state"] == "ZGlhbA=="
    h.run(10)
    assert h.events(ccid) == ["call.initiated", "call.answered"]
    assert [s.at for s in h.sent] == [0, 1]
    initiated = h.sent[0].payload
    assert initiated["direction"] == "outgoing" and initiated["state"] == "bridging"
    assert initiated["from"] == CALLER and initiated["to"] == ANSWERED
    assert initiated["connection_id"] == CONNECTION
    assert initiated["caller_id_name"] == "Sales"
    assert all(s.payload["client_state"] == "ZGlhbA==" for s in h.sent)
    assert all(s.attempt.url == "http://app/dial" for s in h.sent)
    status = h.status(ccid)
    assert status["is_alive"] is True and status["call_control_id"] == ccid


@pytest.mark.parametrize(
    ("to", "extra", "cause", "sip", "at"),
    [
        (BUSY, {}, "user_busy", "486", 1),
        (REJECTED, {}, "call_rejected", "603", 1),
        ("+13125550104", {}, "not_found", "404", 1),
        (NO_ANSWER, {}, "timeout", "unspecified", 30),
        (NO_ANSWER, {"timeout_secs": 12}, "timeout", "unspecified", 12),
        (NO_ANSWER, {"retry_on_timeout": False}, "no_answer", "unspecified", 30),
        (VOICEMAIL, {"timeout_secs": 5, "retry_on_timeout": False}, None, None, None),
    ],
)
def test_dial_failures(
    h: H, to: str, extra: dict[str, Any], cause: str | None, sip: str | None, at: int | None
) -> None:
    ccid = h.dial(to=to, **extra)["call_control_id"]
    h.run(120)
    if cause is None:  # voicemail rings 2 s < 5 s: answered
        assert h.events(ccid)[:2] == ["call.initiated", "call.answered"]
        return
    assert h.events(ccid) == ["call.initiated", "call.hangup"]
    hangup = h.sent[-1]
    assert hangup.payload["hangup_cause"] == cause and hangup.at == at
    assert hangup.payload["sip_hangup_cause"] == sip
    assert h.status(ccid)["is_alive"] is False


def test_dial_timeout_on_slow_answer_and_time_limit(h: H) -> None:
    slow = h.dial(to=VOICEMAIL, timeout_secs=5)["call_control_id"]  # answered at 2 s
    limited = h.dial(to=ANSWERED, time_limit_secs=30)["call_control_id"]
    h.run(100)
    assert h.events(slow)[:2] == ["call.initiated", "call.answered"]
    [hangup] = h.payloads(limited, "call.hangup")
    assert hangup["hangup_cause"] == "time_limit"
    assert hangup["end_time"] > hangup["start_time"]


def test_dial_amd_and_callee_hangup(h: H) -> None:
    vm = h.dial(to=VOICEMAIL, answering_machine_detection="detect_beep")["call_control_id"]
    short = h.dial(to=SHORT_CALL)["call_control_id"]
    h.run(60)
    assert h.events(vm) == [
        "call.initiated",
        "call.answered",
        "call.machine.detection.ended",
        "call.machine.greeting.ended",
    ]
    assert h.payloads(vm, "call.machine.detection.ended")[0]["result"] == "machine"
    [hangup] = h.payloads(short, "call.hangup")
    assert hangup["hangup_source"] == "callee" and hangup["hangup_cause"] == "normal_clearing"
    assert next(s.at for s in h.sent if s.ccid == short and s.event_type == "call.hangup") == 11


def test_dial_headers_destinations_and_forced_scenario(h: H) -> None:
    first = h.dial(
        to=["+13125550101", "sip:alice@example.com"],
        custom_headers=[{"name": "X-Ticket", "value": "7"}],
        sip_headers=[{"name": "User-to-User", "value": "ab"}],
    )["call_control_id"]
    suffixed = h.dial(to="+13125550101,123w4")["call_control_id"]
    forced = h.dial({"x-emulator-scenario": "busy"}, to=ANSWERED)["call_control_id"]
    h.run(5)
    initiated = h.payloads(first, "call.initiated")[0]
    assert initiated["to"] == "+13125550101"
    assert initiated["custom_headers"] == [{"name": "X-Ticket", "value": "7"}]
    assert initiated["sip_headers"] == [{"name": "User-to-User", "value": "ab"}]
    for ccid in (first, suffixed, forced):
        assert h.events(ccid) == ["call.initiated", "call.hangup"]
        assert h.payloads(ccid, "call.hangup")[0]["hangup_cause"] == "user_busy"
    assert h.payloads(suffixed, "call.initiated")[0]["to"] == "+13125550101"


def test_dial_dedup_is_per_api_key_and_returns_the_first_ids(h: H) -> None:
    first = h.dial(command_id="d-1")
    again = h.dial(command_id="d-1", to=BUSY)
    assert again == first
    assert [c["result"] for c in h.journal()] == ["accepted", "duplicate"]
    assert {c["call_control_id"] for c in h.journal()} == {first["call_control_id"]}
    h.key = "OTHER"  # another API key: its own dedup scope
    assert h.dial(command_id="d-1")["call_control_id"] != first["call_control_id"]
    h.key = "KEY"
    h.run(61)  # past the dedup window: a new call
    later = h.dial(command_id="d-1")
    assert later["call_control_id"] != first["call_control_id"]
    assert len(h.request("GET", "/_emulator/calls").payload["data"]) == 2


def test_dial_without_webhook_url_is_recorded_not_sent(h: H) -> None:
    r = h.request(
        "POST", "/v2/calls", {"connection_id": CONNECTION, "from": CALLER, "to": ANSWERED}
    )
    ccid = r.payload["data"]["call_control_id"]
    h.run(5)
    assert h.sent == []
    hooks = h.request("GET", "/_emulator/webhooks", None).payload["data"]
    assert [(w["event_type"], w["status"]) for w in hooks if w["call_control_id"] == ccid] == [
        ("call.initiated", "not_sent"),
        ("call.answered", "not_sent"),
    ]


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        ({"connection_id": None}, "10020", "/connection_id"),
        ({"connection_id": ""}, "10004", "/connection_id"),
        ({"connection_id": "app-1"}, "10015", "/connection_id"),
        ({"from": "12125550199"}, "10016", "/from"),
        ({"to": "5550100"}, "10016", "/to"),
        ({"to": []}, "10015", "/to"),
        ({"to": [ANSWERED, "+1312555010,1"]}, "10016", "/to/1"),
        ({"timeout_secs": 601}, "10033", "/timeout_secs"),
        ({"time_limit_secs": 29}, "10033", "/time_limit_secs"),
        ({"answering_machine_detection": "on"}, "10032", "/answering_machine_detection"),
        ({"bridge_on_answer": True}, "10004", "/link_to"),
        ({"bridge_intent": True}, "10004", "/link_to"),
        ({"park_after_unbridge": "self"}, "10004", "/link_to"),
        ({"audio_url": "http://x/a.mp3", "media_name": "m"}, "10015", "/media_name"),
        ({"stream_url": "http://not-a-websocket"}, "10015", "/stream_url"),
        (
            {"stream_bidirectional_sampling_rate": 11025},
            "10032",
            "/stream_bidirectional_sampling_rate",
        ),
        ({"billing_group_id": "bg-1"}, "10015", "/billing_group_id"),
        (
            {"conference_config": {"hold_audio_url": "a", "hold_media_name": "b"}},
            "10015",
            "/conference_config/hold_media_name",
        ),
        (
            {"conversation_relay_config": {"greeting": "hi"}},
            "10004",
            "/conversation_relay_config/url",
        ),
        ({"link_to": "v3:unknown"}, "90015", "/link_to"),
    ],
)
def test_dial_invalid(h: H, body: dict[str, Any], code: str, pointer: str) -> None:
    r = h.dial_raw(**body)
    assert r.status == 422, r.payload
    [error] = r.payload["errors"]
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)
    assert h.request("GET", "/_emulator/calls").payload["data"] == []
    assert h.journal()[-1]["result"] == "rejected"


def test_dial_missing_everything(h: H) -> None:
    r = h.request("POST", "/v2/calls", {})
    found = {(e["code"], e["source"]["pointer"]) for e in r.payload["errors"]}
    assert found == {("10004", "/connection_id"), ("10004", "/from"), ("10004", "/to")}


def test_dial_link_to_shares_the_session_and_bridges_on_answer(h: H) -> None:
    a = h.answered_call()
    data = h.dial(link_to=a, bridge_on_answer=True, bridge_intent=True, **{"from": "+14155550111"})
    d = data["call_control_id"]
    assert data["call_session_id"] == h.status(a)["call_session_id"]
    h.run(5)
    assert h.events(d) == ["call.initiated", "call.answered", "call.bridged"]
    assert h.events(a)[-1] == "call.bridged"
    assert h.payloads(d, "call.initiated")[0]["from"] == CALLER  # the linked call's `from`
    h.ok(d, "hangup")
    h.run(1)
    assert h.events(a)[-1] == "call.hangup"


def test_dial_bridge_on_answer_to_an_ended_or_busy_link(h: H) -> None:
    a = h.answered_call()
    h.ok(a, "hangup")
    r = h.dial_raw(link_to=a, bridge_on_answer=True)
    assert r.status == 422
    assert (r.payload["errors"][0]["code"], r.payload["errors"][0]["source"]["pointer"]) == (
        "90018",
        "/link_to",
    )
    # link_to only to share the session: an ended call is fine
    assert h.dial(link_to=a)["call_session_id"] == h.status(a)["call_session_id"]
    # the linked call ends while the new call rings: the new call stays up, unbridged
    b = h.answered_call()
    d = h.dial(link_to=b, bridge_on_answer=True, to=VOICEMAIL)["call_control_id"]
    h.ok(b, "hangup")
    h.run(5)
    assert "call.bridged" not in h.events(d) and h.status(d)["is_alive"] is True


def test_dial_prevent_double_bridge_hangs_up_the_new_call(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED)
    h.run(5)
    d = h.dial(link_to=a, bridge_on_answer=True, prevent_double_bridge=True)["call_control_id"]
    h.run(5)
    assert h.events(d) == ["call.initiated", "call.answered", "call.hangup"]
    assert h.events(a)[-1] == "call.bridged"
    # without it, the linked call's old peer is released (and hung up)
    old_b = h.leg_b()
    e = h.dial(link_to=a, bridge_on_answer=True)["call_control_id"]
    h.run(5)
    assert h.events(e)[-1] == "call.bridged" and h.events(old_b)[-1] == "call.hangup"


def test_dial_park_after_unbridge(h: H) -> None:
    a = h.answered_call()
    d = h.dial(link_to=a, bridge_on_answer=True, park_after_unbridge="self")["call_control_id"]
    h.run(5)
    h.ok(a, "hangup")
    h.run(1)
    assert h.status(d)["is_alive"] is True and h.events(d)[-1] == "call.bridged"


def test_dial_record_returns_recording_id(h: H) -> None:
    data = h.dial(record="record-from-answer", command_id="rec")
    assert re.fullmatch(r"[0-9a-f-]{36}", data["recording_id"])
    assert h.dial(record="record-from-answer", command_id="rec") == data


# --------------------------------------------------------------------------------------------
# bridge


def test_bridge_two_answered_calls(h: H) -> None:
    a = h.answered_call()
    d = h.dial()["call_control_id"]
    h.run(2)
    assert h.ok(a, "bridge", call_control_id=d, client_state="YnJpZGdl") == {"result": "ok"}
    h.run(1)
    assert h.emitted("call.bridged") == [a, d]  # leg A (the commanded call) first
    assert h.payloads(a, "call.bridged")[0]["client_state"] == "YnJpZGdl"
    assert h.payloads(d, "call.bridged")[0]["client_state"] is None
    sessions = {h.status(a)["call_session_id"], h.status(d)["call_session_id"]}
    assert len(sessions) == 2  # bridging does not merge sessions
    calls = {c["call_control_id"]: c for c in h.request("GET", "/_emulator/calls").payload["data"]}
    assert calls[a]["bridged_to"] == d and calls[d]["bridged_to"] == a
    h.ok(d, "hangup")
    h.run(1)
    assert h.emitted("call.hangup") == [d, a]


def test_bridge_errors(h: H) -> None:
    a = h.answered_call()
    parked = h.inbound()
    ringing = h.dial(to=NO_ANSWER)["call_control_id"]
    gone = h.answered_call()
    h.ok(gone, "hangup")
    assert h.fails(a, "bridge", call_control_id=a) == ("10015", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id="v3:nope") == ("90015", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id=gone) == ("90018", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id=parked) == ("90034", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id=ringing) == ("90034", "/call_control_id")
    assert h.fails(parked, "bridge", call_control_id=a) == ("90034", "/call_control_id")
    assert h.fails(ringing, "bridge", call_control_id=a) == ("90034", "/call_control_id")
    assert h.fails(gone, "bridge", call_control_id=a) == ("90018", "/call_control_id")
    assert h.fails(a, "bridge") == ("10004", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id="") == ("10004", "/call_control_id")
    assert h.fails(a, "bridge", call_control_id=parked, queue="support") == ("10015", "/queue")
    assert h.fails(a, "bridge", call_control_id=parked, ringtone="xx") == ("10032", "/ringtone")
    h.run(1)
    assert "call.bridged" not in h.events()
    assert h.status(a)["is_alive"] is True


def test_bridge_releases_old_peers(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED)
    h.run(5)
    b = h.leg_b()
    c = h.answered_call()
    h.ok(c, "bridge", call_control_id=a)
    h.run(1)
    assert h.events(b)[-1] == "call.hangup"  # a's old peer, not parked: hung up
    assert h.payloads(b, "call.hangup")[0]["hangup_cause"] == "normal_clearing"
    assert h.events(a)[-1] == "call.bridged" and h.events(c)[-1] == "call.bridged"
    # an old peer that parks stays up: d (parking) bridged with c, then e takes c
    d = h.dial()["call_control_id"]
    h.run(2)
    h.ok(d, "bridge", call_control_id=c, park_after_unbridge="self")
    h.run(1)
    assert h.events(a)[-1] == "call.hangup"  # c's old peer a did not park
    e = h.answered_call()
    h.ok(e, "bridge", call_control_id=c)
    h.run(1)
    assert h.events(d)[-1] == "call.bridged" and h.status(d)["is_alive"] is True
    assert h.events(e)[-1] == "call.bridged" and h.events(c)[-1] == "call.bridged"
    h.ok(d, "bridge", call_control_id=e)  # the parked call can be bridged again; c hangs up
    h.run(1)
    assert h.events(c)[-1] == "call.hangup"


def test_bridge_with_the_current_peer_again(h: H) -> None:
    a = h.answered_call()
    d = h.dial()["call_control_id"]
    h.run(2)
    h.ok(a, "bridge", call_control_id=d)
    h.ok(d, "bridge", call_control_id=a, prevent_double_bridge=True)
    h.run(1)
    assert h.emitted("call.bridged") == [a, d, d, a]
    assert h.status(a)["is_alive"] and h.status(d)["is_alive"]


def test_bridge_prevent_double_bridge(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=ANSWERED)
    h.run(5)
    c = h.answered_call()
    assert h.fails(c, "bridge", call_control_id=a, prevent_double_bridge=True) == (
        "90016",
        "/call_control_id",
    )
    assert h.events(h.leg_b())[-1] == "call.bridged"


def test_bridge_cancels_a_pending_transfer_and_hold_after_unbridge(h: H) -> None:
    a = h.answered_call()
    h.transfer(a, to=NO_ANSWER)
    h.run(1)
    b = h.leg_b()
    d = h.dial()["call_control_id"]
    h.run(2)
    h.ok(a, "bridge", call_control_id=d, hold_after_unbridge=True)
    h.run(1)
    assert h.payloads(b, "call.hangup")[0]["hangup_cause"] == "originator_cancel"
    h.ok(d, "hangup")
    h.run(1)
    assert h.status(a)["is_alive"] is True  # held, not hung up


# --------------------------------------------------------------------------------------------
# client_state_update and status


def test_client_state_update_changes_later_webhooks(h: H) -> None:
    a = h.inbound(client_state="MQ==")
    h.run(1)
    assert h.ok(a, "client_state_update", client_state="Mg==") == {"result": "ok"}
    assert h.status(a)["client_state"] == "Mg=="
    h.run(1)
    assert h.events(a) == ["call.initiated"]  # no webhook of its own
    h.ok(a, "answer")
    h.ok(a, "hangup")
    h.run(2)
    assert [s.payload["client_state"] for s in h.sent] == ["MQ==", "Mg==", "Mg=="]
    assert h.fails(a, "client_state_update", client_state="Mw==") == ("90018", "/call_control_id")


def test_client_state_update_on_a_ringing_dial_and_validation(h: H) -> None:
    d = h.dial(to=NO_ANSWER)["call_control_id"]
    h.ok(d, "client_state_update", client_state="cmluZ2luZw==")
    h.run(60)
    assert h.payloads(d, "call.hangup")[0]["client_state"] == "cmluZ2luZw=="
    a = h.inbound()
    assert h.fails(a, "client_state_update") == ("10004", "/client_state")
    assert h.fails(a, "client_state_update", client_state="") == ("10004", "/client_state")
    assert h.fails(a, "client_state_update", client_state="not base64") == (
        "10015",
        "/client_state",
    )
    assert h.request("POST", f"/v2/calls/{a}/actions/client_state_update", {}).status == 405


def test_status_reflects_the_life_of_a_call(h: H) -> None:
    d = h.dial(client_state="eA==")["call_control_id"]
    h.run(1)
    h.clock.advance(4)
    s = h.status(d)
    assert s["is_alive"] is True and s["call_duration"] == 5 and "end_time" not in s
    h.ok(d, "client_state_update", client_state="eQ==")
    h.ok(d, "hangup")
    h.clock.advance(10)
    s = h.status(d)
    assert s["is_alive"] is False and s["call_duration"] == 5 and s["client_state"] == "eQ=="
    assert s["start_time"] < s["end_time"]


# --------------------------------------------------------------------------------------------
# the state table


def test_every_refused_pair_is_in_the_table() -> None:
    for command, states in COMMANDS.items():
        for state in LegState:
            if state.alive and state not in states:
                assert (command, state) in REFUSALS, (command, state)
    assert all(state.alive for (_, state) in REFUSALS)
    assert all((c, s) not in REFUSALS for c, states in COMMANDS.items() for s in states)


# --------------------------------------------------------------------------------------------
# the request schemas

SDK_PARAMS = {
    "answer_request": ("telnyx.types.calls.action_answer_params", "ActionAnswerParams"),
    "hangup_request": ("telnyx.types.calls.action_hangup_params", "ActionHangupParams"),
    "reject_request": ("telnyx.types.calls.action_reject_params", "ActionRejectParams"),
    "bridge_request": ("telnyx.types.calls.action_bridge_params", "ActionBridgeParams"),
    "client_state_update_request": (
        "telnyx.types.calls.action_update_client_state_params",
        "ActionUpdateClientStateParams",
    ),
    "dial_request": ("telnyx.types.call_dial_params", "CallDialParams"),
}
ALIASES = {"from_": "from", "call_control_id_to_bridge_with": "call_control_id"}


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


@pytest.mark.parametrize("name", sorted(SDK_PARAMS))
def test_schema_is_valid_and_matches_the_sdk(name: str) -> None:
    import importlib

    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema_rs.meta.is_valid(schema)
    module, cls = SDK_PARAMS[name]
    params = getattr(importlib.import_module(module), cls)
    sdk = {ALIASES.get(k, k) for k in params.__annotations__}
    assert sdk == set(schema["properties"])
    required = {  # the SDK uses string annotations: look for Required[...]
        ALIASES.get(k, k)
        for k, v in params.__annotations__.items()
        if getattr(v, "__forward_arg__", str(v)).startswith("Required[")
    }
    assert set(schema.get("required", [])) == required
    for key, sub in schema["properties"].items():
        assert sub.get("description"), f"{name}.{key} has no description"


@pytest.mark.parametrize("name", sorted(SDK_PARAMS))
def test_schema_patterns_are_portable(name: str) -> None:
    for _, node in _walk(load_schema(name)):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            re.compile(pattern)
            jsonschema_rs.validator_for({"pattern": pattern})
            assert "(?=" not in pattern and "(?!" not in pattern and "(?<" not in pattern
            assert "\\d" not in pattern and "\\w" not in pattern


def test_phone_fields_carry_the_10016_marker() -> None:
    marked = {p[-1] for p, n in _walk(load_schema("dial_request")) if n.get("x-telnyx-error")}
    assert marked == {"to", "from", "diversion", "items"}


FULL_DIAL: dict[str, Any] = {
    "connection_id": CONNECTION,
    "from": CALLER,
    "to": ["+18005550100", "sip:alice@example.com;transport=tls"],
    "answering_machine_detection": "premium",
    "answering_machine_detection_config": {"total_analysis_time_millis": 5000},
    "assistant": {"id": "a-1", "greeting": "Hi", "tools": [{"type": "hangup"}]},
    "audio_url": "https://example.com/a.mp3",
    "billing_group_id": "f5586561-8ff0-4291-a51b-c7dfe4139ff9",
    "bridge_intent": True,
    "bridge_on_answer": True,
    "client_state": "aGk=",
    "command_id": "c-1",
    "conference_config": {"conference_name": "room", "beep_enabled": "on_enter"},
    "conversation_relay_config": {"url": "wss://relay.example.com/ws", "interruptible": "any"},
    "custom_headers": [{"name": "X-A", "value": "1"}],
    "deepfake_detection": {"enabled": True, "timeout": 10},
    "dialogflow_config": {"analyze_sentiment": True},
    "diversion": "+18005550123",
    "enable_dialogflow": False,
    "from_display_name": "Support",
    "link_to": "v3:abc",
    "media_encryption": "SRTP",
    "park_after_unbridge": "self",
    "preferred_codecs": "G722,PCMU",
    "prevent_double_bridge": True,
    "privacy": "id",
    "record": "record-from-answer",
    "record_channels": "dual",
    "record_custom_file_name": "x",
    "record_format": "mp3",
    "record_max_length": 60,
    "record_timeout_secs": 5,
    "record_track": "both",
    "record_trim": "trim-silence",
    "retry_on_timeout": True,
    "route_to_mobile": False,
    "send_digits_on_answer": "1w2",
    "send_silence_when_idle": True,
    "sip_auth_password": "p",
    "sip_auth_username": "u",
    "sip_headers": [{"name": "User-to-User", "value": "x"}],
    "sip_region": "Europe",
    "sip_transport_protocol": "TLS",
    "sound_modifications": {"pitch": 1.5},
    "stream_auth_token": "t",
    "stream_bidirectional_codec": "OPUS",
    "stream_bidirectional_mode": "rtp",
    "stream_bidirectional_sampling_rate": 16000,
    "stream_bidirectional_target_legs": "both",
    "stream_codec": "PCMA",
    "stream_establish_before_call_originate": True,
    "stream_track": "both_tracks",
    "stream_url": "wss://example.com/stream",
    "supervise_call_control_id": "v3:sup",
    "supervisor_role": "whisper",
    "time_limit_secs": 600,
    "timeout_secs": 60,
    "transcription": True,
    "transcription_config": {"transcription_engine": "Telnyx", "transcription_tracks": "both"},
    "webhook_retries_policies": {"call.answered": {"retries_ms": [1000]}},
    "webhook_url": "https://example.com/hooks",
    "webhook_url_method": "GET",
    "webhook_urls": {"call.hangup": ["https://example.com/hangup"]},
    "webhook_urls_method": "POST",
}


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_full_dial_body(strict: bool) -> None:
    validator = RequestValidator(load_schema("dial_request"), strict=strict)
    body = {k: v for k, v in FULL_DIAL.items() if k != "media_name"}
    assert set(body) | {"media_name"} == set(load_schema("dial_request")["properties"])
    assert validator.validate(body) == []


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("answer_request", {"stream_track": "left", "client_state": "%", "webhook_url": "x"}),
        ("hangup_request", {"reason": 'a"b', "custom_headers": [{"name": "X"}]}),
        ("reject_request", {"cause": "BUSY", "command_id": 5}),
        ("bridge_request", {"call_control_id": "v3:x", "queue": "q", "video_room_context": "c"}),
        ("client_state_update_request", {"client_state": "a"}),
        ("dial_request", {"to": ["+1", 5], "timeout_secs": 1, "bridge_on_answer": True}),
    ],
)
def test_python_and_rust_engines_agree(name: str, body: dict[str, Any]) -> None:
    schema = load_schema(name)
    same = {"dependentRequired": "required"}  # jsonschema-rs reports it as `required`
    python = {
        ("/".join(str(p) for p in e.absolute_path), same.get(str(e.validator), str(e.validator)))
        for e in jsonschema.Draft202012Validator(schema).iter_errors(body)
    }
    rust = {
        ("/".join(str(p) for p in e.instance_path), e.kind.name)
        for e in jsonschema_rs.validator_for(schema).iter_errors(body)
    }
    assert python == rust
    assert RequestValidator(schema).validate(body)
