"""The engine without HTTP: sequences, timers, AMD, routing, retries, all in virtual time."""

from __future__ import annotations

import pytest

from emulator.delivery import Outbox
from emulator.signing import Signer
from emulator.state import COMMANDS, TRANSITIONS, LegEvent, LegState, next_state

from .harness import Harness


def test_inbound_call_initiated() -> None:
    h = Harness()
    a = h.inbound(client_state="aGk=")
    [sent] = h.run()
    assert sent.event_type == "call.initiated" and sent.at == 0
    p = sent.payload
    assert p["direction"] == "incoming" and p["state"] == "parked"
    assert p["call_control_id"] == a and p["client_state"] == "aGk="
    assert sent.attempt.url == "http://app/a"


def test_successful_transfer_sequence_and_client_states() -> None:
    h = Harness()
    a = h.inbound()
    h.run()
    h.transfer(a, to="+13125550100", client_state="QQ==", target_leg_client_state="Qg==")
    h.run(60)
    b = h.leg_b()
    assert h.events(b) == ["call.initiated", "call.answered", "call.bridged"]
    assert h.events(a) == ["call.initiated", "call.bridged"]
    order = [(s.event_type, s.ccid) for s in h.sent[1:]]
    assert order == [
        ("call.initiated", b),
        ("call.answered", b),
        ("call.bridged", b),
        ("call.bridged", a),
    ]
    leg_b_events = [s for s in h.sent if s.ccid == b]
    assert all(s.payload["client_state"] == "Qg==" for s in leg_b_events)
    assert leg_b_events[0].payload["direction"] == "outgoing"
    assert leg_b_events[0].payload["state"] == "bridging"
    assert [s.at for s in leg_b_events] == [0, 1, 1]  # answered after ~1 s of ringing
    bridged_a = next(s for s in h.sent if s.ccid == a and s.event_type == "call.bridged")
    assert bridged_a.payload["client_state"] == "QQ=="
    b_initiated = leg_b_events[0].payload
    assert b_initiated["call_session_id"] == h.sent[0].payload["call_session_id"]
    assert b_initiated["from"] == "+13125550100"  # defaults to leg A's `to`


def test_unset_client_state_is_null() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550100")
    h.run(10)
    assert all(s.payload["client_state"] is None for s in h.sent)


@pytest.mark.parametrize(
    ("number", "cause", "sip", "at"),
    [
        ("+13125550101", "user_busy", "486", 1),
        ("+14155550103", "call_rejected", "603", 1),
        ("+13125550104", "not_found", "404", 1),
        ("+13125550102", "timeout", None, 30),
    ],
)
def test_failed_transfer_leaves_leg_a_up(number: str, cause: str, sip: str | None, at: int) -> None:
    h = Harness()
    a = h.inbound()
    h.run()
    h.transfer(a, to=number)
    h.run(120)
    b = h.leg_b()
    assert h.events(b) == ["call.initiated", "call.hangup"]
    assert h.events(a) == ["call.initiated"]
    hangup = h.sent[-1]
    assert hangup.payload["hangup_cause"] == cause and hangup.at == at
    if sip:
        assert hangup.payload["sip_hangup_cause"] == sip
    assert h.request("GET", f"/v2/calls/{a}").payload["data"]["is_alive"] is True
    # a second transfer on leg A works
    h.transfer(a, to="+13125550100")
    h.run(10)
    assert h.events(a)[-1] == "call.bridged"


def test_timeout_secs_shorter_than_ringing() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550100", timeout_secs=5, headers=None)
    h.run(10)
    assert h.events(h.leg_b())[-1] == "call.bridged"
    h2 = Harness()
    a2 = h2.inbound()
    h2.transfer(a2, to="+13125550105", timeout_secs=5)  # voicemail rings 2 s: answered
    h2.transfer(a2, to="+13125550102", timeout_secs=7)  # no answer: timeout at 7 s
    h2.run(60)
    last = h2.sent[-1]
    assert last.event_type == "call.hangup" and last.payload["hangup_cause"] == "timeout"


def test_time_limit_hangs_up_both_legs() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550100", time_limit_secs=30)
    h.run(100)
    hangups = [s for s in h.sent if s.event_type == "call.hangup"]
    assert [s.ccid for s in hangups] == [h.leg_b(), a]
    assert {s.payload["hangup_cause"] for s in hangups} == {"time_limit"}
    assert all(s.at == 31 for s in hangups)  # rings 1 s, then 30 s answered


def test_callee_hangs_up_both_legs_get_hangup() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550106")
    h.run(60)
    b = h.leg_b()
    hangups = [s for s in h.sent if s.event_type == "call.hangup"]
    assert [s.ccid for s in hangups] == [b, a]
    assert all(s.payload["hangup_cause"] == "normal_clearing" for s in hangups)
    assert hangups[0].payload["hangup_source"] == "callee"
    assert hangups[0].at == 11  # rings 1 s, talks 10 s
    assert hangups[0].payload["end_time"] > hangups[0].payload["start_time"]


def test_park_after_unbridge_self_keeps_leg_a() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550106", park_after_unbridge="self")
    h.run(60)
    assert h.events(a) == ["call.initiated", "call.bridged"]
    assert h.request("GET", f"/v2/calls/{a}").payload["data"]["is_alive"] is True
    h.transfer(a, to="+13125550100")  # and it can be transferred again
    h.run(5)
    assert h.events(a)[-1] == "call.bridged"


def test_caller_hangs_up_while_leg_b_rings() -> None:
    h = Harness()
    a = h.inbound(hangup_after_secs=3)
    h.transfer(a, to="+13125550102")
    h.run(60)
    b = h.leg_b()
    hangups = {s.ccid: s.payload for s in h.sent if s.event_type == "call.hangup"}
    assert hangups[a]["hangup_source"] == "caller"
    assert hangups[b]["hangup_cause"] == "originator_cancel"
    assert "call.answered" not in h.events(b)


def test_second_transfer_cancels_ringing_leg_b() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550102")
    h.transfer(a, to="+13125550100")
    h.run(10)
    first = h.leg_b()
    assert h.events(first) == ["call.initiated", "call.hangup"]
    assert h.sent[2].payload["hangup_cause"] == "originator_cancel"
    assert h.events(a)[-1] == "call.bridged"


AMD_CASES = [
    # (number, mode, expected leg B events after call.bridged, with results)
    ("+13125550100", "detect", [("call.machine.detection.ended", "human")]),
    ("+13125550105", "detect", [("call.machine.detection.ended", "machine")]),
    ("+13125550107", "detect", [("call.machine.detection.ended", "not_sure")]),
    ("+13125550100", "detect_beep", [("call.machine.detection.ended", "human")]),
    (
        "+13125550105",
        "detect_beep",
        [
            ("call.machine.detection.ended", "machine"),
            ("call.machine.greeting.ended", "beep_detected"),
        ],
    ),
    ("+13125550111", "detect_beep", [("call.machine.detection.ended", "machine")]),
    (
        "+13125550111",
        "greeting_end",
        [("call.machine.detection.ended", "machine"), ("call.machine.greeting.ended", "ended")],
    ),
    (
        "+13125550105",
        "detect_words",
        [
            ("call.machine.detection.ended", "machine"),
            ("call.machine.greeting.ended", "beep_detected"),
        ],
    ),
    ("+13125550100", "greeting_end", [("call.machine.detection.ended", "human")]),
    ("+13125550100", "premium", [("call.machine.premium.detection.ended", "human_residence")]),
    (
        "+13125550105",
        "premium",
        [
            ("call.machine.premium.detection.ended", "machine"),
            ("call.machine.premium.greeting.ended", "beep_detected"),
        ],
    ),
    ("+13125550108", "premium", [("call.machine.premium.detection.ended", "silence")]),
    ("+13125550109", "premium", [("call.machine.premium.detection.ended", "fax_detected")]),
    (
        "+13125550110",
        "premium_ios_call_screening_detection",
        [
            ("call.machine.premium.call_screening.detected", "screening"),
            ("call.machine.premium.detection.ended", "machine"),
        ],
    ),
    ("+13125550110", "premium", [("call.machine.premium.detection.ended", "machine")]),
    ("+13125550105", "disabled", []),
]


@pytest.mark.parametrize(("number", "mode", "expected"), AMD_CASES)
def test_amd_modes(number: str, mode: str, expected: list[tuple[str, str]]) -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to=number, answering_machine_detection=mode)
    h.run(60)
    b = h.leg_b()
    after = [s for s in h.sent if s.ccid == b][3:]
    assert [(s.event_type, s.payload["result"]) for s in after] == expected
    answered = next(s for s in h.sent if s.event_type == "call.answered")
    assert all(s.at > answered.at for s in after)


def test_amd_timing_respects_total_analysis_time() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(
        a,
        to="+13125550105",  # voicemail: detection after 3 s, greeting after 6 s
        answering_machine_detection="detect",
        answering_machine_detection_config={"total_analysis_time_millis": 1000},
    )
    h.run(60)
    [amd] = [s for s in h.sent if s.event_type.startswith("call.machine")]
    assert amd.payload["result"] == "not_sure"
    answered = next(s for s in h.sent if s.event_type == "call.answered")
    assert amd.at - answered.at == pytest.approx(1.0)


def test_greeting_capped_by_greeting_total_analysis_time() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(
        a,
        to="+13125550105",
        answering_machine_detection="greeting_end",
        answering_machine_detection_config={"greeting_total_analysis_time_millis": 1000},
    )
    h.run(60)
    greeting = next(s for s in h.sent if s.event_type == "call.machine.greeting.ended")
    assert greeting.payload["result"] == "not_sure"


def test_webhook_url_routing() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(
        a,
        to="+13125550106",
        webhook_url="http://app/b",
        webhook_urls={"call.answered": ["http://app/answered1", "http://app/answered2"]},
    )
    h.run(60)
    b = h.leg_b()
    by_event = [(s.ccid, s.event_type, s.attempt.url) for s in h.sent]
    assert (b, "call.initiated", "http://app/b") in by_event
    assert (b, "call.answered", "http://app/answered1") in by_event
    assert (b, "call.answered", "http://app/answered2") in by_event
    assert (b, "call.hangup", "http://app/b") in by_event
    assert all(url == "http://app/a" for ccid, _, url in by_event if ccid == a)


def test_leg_b_uses_leg_a_url_without_webhook_url() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550100")
    h.run(5)
    assert {s.attempt.url for s in h.sent} == {"http://app/a"}


def test_get_method_flattens_into_query() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, to="+13125550101", webhook_url="http://app/b?x=1", webhook_url_method="GET")
    h.run(5)
    get = [s for s in h.sent if s.attempt.method == "GET"]
    assert len(get) == 2
    url = get[0].attempt.url
    assert url.startswith("http://app/b?x=1&data.record_type=event&")
    assert "data.payload.direction=outgoing" in url and "meta.attempt=1" in url
    assert get[0].attempt.content == b""


def test_no_url_records_without_sending() -> None:
    h = Harness()
    h.request("POST", "/_emulator/calls", {"from": "+12125550199", "to": "+13125550100"})
    assert h.run() == []
    hooks = h.request("GET", "/_emulator/webhooks").payload["data"]
    assert [w["status"] for w in hooks] == ["not_sent"]
    assert hooks[0]["event_type"] == "call.initiated"


def test_retries_then_failover() -> None:
    h = Harness(webhook_retry_delays=(1.0, 2.0))
    h.statuses["http://app/a"] = [500, 503, 502]
    h.inbound(webhook_failover_url="http://app/failover")
    h.run()
    assert [(s.at, s.attempt.url, s.attempt.number) for s in h.sent] == [
        (0, "http://app/a", 1),
        (1, "http://app/a", 2),
        (3, "http://app/a", 3),
        (3, "http://app/failover", 4),
    ]
    assert [s.attempt.body["meta"]["attempt"] for s in h.sent] == [1, 2, 3, 4]
    assert h.sent[-1].attempt.body["meta"]["delivered_to"] == "http://app/failover"
    [hook] = h.request("GET", "/_emulator/webhooks").payload["data"]
    assert hook["status"] == "delivered" and len(hook["attempts"]) == 4


def test_4xx_is_not_retried_and_final_failure_recorded() -> None:
    h = Harness()
    h.statuses["http://app/a"] = [404]
    h.inbound()
    h.run()
    assert len(h.sent) == 1
    [hook] = h.request("GET", "/_emulator/webhooks").payload["data"]
    assert hook["status"] == "failed" and hook["attempts"][0]["status"] == 404


def test_retry_policy_from_command() -> None:
    h = Harness()
    a = h.inbound()
    h.run()
    h.statuses["http://app/a"] = [500, 500, 200]
    h.transfer(
        a,
        to="+13125550101",
        webhook_retries_policies={"call.initiated": {"retries_ms": [250, 750]}},
    )
    h.run()
    times = [s.at for s in h.sent if s.event_type == "call.initiated"][1:]
    assert times == [0, 0.25, 1.0]


def test_a_failing_call_does_not_hold_up_another() -> None:
    h = Harness()
    h.statuses["http://app/slow"] = [500, 500, 500]
    h.inbound(webhook_url="http://app/slow")
    h.inbound(webhook_url="http://app/fast")
    h.run(0.5)
    fast = [s for s in h.sent if s.attempt.url == "http://app/fast"]
    assert len(fast) == 1 and fast[0].at == 0


def test_order_kept_per_call_behind_retries() -> None:
    h = Harness()
    a = h.inbound()
    h.statuses["http://app/a"] = [500]
    h.transfer(a, to="+13125550100")
    h.run(30)
    seen = [(s.event_type, s.ccid == a, s.attempt.number, s.at) for s in h.sent]
    # leg A's call.initiated fails once; leg B's waits behind its retry (same session)
    assert seen[:3] == [
        ("call.initiated", True, 1, 0),
        ("call.initiated", True, 2, 1),
        ("call.initiated", False, 1, 1),
    ]
    assert [e for e, *_ in seen[3:]] == ["call.answered", "call.bridged", "call.bridged"]


def test_time_scale_zero_keeps_order() -> None:
    h = Harness(time_scale=0)
    a = h.inbound()
    h.transfer(a, to="+13125550105", answering_machine_detection="detect_beep")
    h.run(0)
    assert [s.at for s in h.sent] == [0] * len(h.sent)
    assert h.events() == [
        "call.initiated",
        "call.initiated",
        "call.answered",
        "call.bridged",
        "call.bridged",
        "call.machine.detection.ended",
        "call.machine.greeting.ended",
        # everything plays at once, so the default 4 h time limit ends the call last
        "call.hangup",
        "call.hangup",
    ]
    assert h.sent[-1].payload["hangup_cause"] == "time_limit"


def test_forced_scenario_header() -> None:
    h = Harness()
    a = h.inbound()
    h.transfer(a, headers={"x-emulator-scenario": "busy"}, to="+13125550100")
    h.run(5)
    assert h.sent[-1].payload["hangup_cause"] == "user_busy"
    r = h.request(
        "POST",
        f"/v2/calls/{a}/actions/transfer",
        {"to": "+13125550100"},
        {"x-emulator-scenario": "nope"},
    )
    assert r.status == 422 and "nope" in r.payload["errors"][0]["detail"]


def test_tenants_are_isolated() -> None:
    h = Harness()
    a = h.inbound()
    h.key = "OTHER"
    r = h.request("POST", f"/v2/calls/{a}/actions/transfer", {"to": "+13125550100"})
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90015"
    assert h.request("GET", "/_emulator/calls").payload["data"] == []
    h.request("POST", "/_emulator/reset")
    h.key = "KEY"
    assert len(h.request("GET", "/_emulator/calls").payload["data"]) == 1


def test_ended_calls_and_dedup_entries_expire() -> None:
    h = Harness(retention_secs=600)
    a = h.inbound(hangup_after_secs=1)
    h.run(5)
    assert h.request("GET", f"/v2/calls/{a}").status == 200
    h.clock.advance(601)
    r = h.request("GET", f"/v2/calls/{a}")
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90015"
    engine = h.api.tenant("KEY")
    b = h.inbound()
    h.transfer(b, to="+13125550101", command_id="c1")
    assert len(engine.dedup) == 1
    h.clock.advance(61)
    engine.housekeeping()
    assert len(engine.dedup) == 0
    h.transfer(b, to="+13125550101", command_id="c1")  # accepted again after the window
    assert [c["result"] for c in engine.commands][-1] == "accepted"


def test_seeded_runs_are_identical() -> None:
    def run() -> list[bytes]:
        h = Harness(seed=42)
        a = h.inbound()
        h.transfer(a, to="+13125550105", answering_machine_detection="premium")
        h.run(60)
        return [s.attempt.content for s in h.sent]

    assert run() == run()


def test_state_table_is_complete() -> None:
    for state in LegState:
        if state.alive:
            assert (state, LegEvent.HANGUP) in TRANSITIONS
    assert next_state(LegState.RINGING, LegEvent.ANSWER) is LegState.ANSWERED
    with pytest.raises(ValueError):
        next_state(LegState.HANGUP, LegEvent.ANSWER)
    assert all(LegState.HANGUP not in states for states in COMMANDS.values())


def test_outbox_signs_with_wall_clock_not_engine_clock() -> None:
    signer = Signer()
    box = Outbox(signer, wall_clock=lambda: 1234.9)
    h = Harness()
    h.api.outbox = box
    engine = h.api.tenant("KEY")
    engine.outbox = box
    h.inbound()
    [attempt] = box.ready(h.clock.now())
    assert attempt.headers["telnyx-timestamp"] == "1234"


def test_inspection_never_shows_url_passwords() -> None:
    h = Harness()
    h.inbound(webhook_url="http://app:s3cret@app/a")
    h.run()
    [hook] = h.request("GET", "/_emulator/webhooks").payload["data"]
    [call] = h.request("GET", "/_emulator/calls").payload["data"]
    shown = str(hook) + str(call)
    assert "s3cret" not in shown and "app:[redacted]@app/a" in shown
    assert h.sent[0].attempt.url == "http://app:s3cret@app/a"  # the real request keeps it
