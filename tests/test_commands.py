"""Answer, hangup, reject, dial, bridge and client_state_update end to end.

The official SDK talks to a real emulator on 127.0.0.1 (time scale 0.01: one scenario second is
10 ms) and a real receiver collects the signed webhooks; tests wait on the receiver, never sleep.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import telnyx

from .conftest import API_KEY
from .harness import assert_valid_webhook
from .servers import EmulatorServer, Receiver

CALLER = "+12125550199"
CONNECTION = "1293384261075731461"
ANSWERED = "+13125550100"
BUSY = "+13125550101"
NO_ANSWER = "+13125550102"
REJECTED = "+13125550103"
VOICEMAIL = "+13125550105"
SHORT_CALL = "+13125550106"
LONG_RING = 600  # timeout_secs that keeps a no-answer leg ringing for 6 s at scale 0.01


def inbound(emulator: EmulatorServer, receiver: Receiver, path: str = "/a", **extra: Any) -> str:
    body = {"from": CALLER, "to": ANSWERED, "webhook_url": receiver.url + path, **extra}
    r = httpx.post(
        emulator.url + "/_emulator/calls", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 201, r.text
    ccid = str(r.json()["data"]["call_control_id"])
    receiver.wait_for(lambda rs: any(x.payload["call_control_id"] == ccid for x in rs))
    return ccid


def events(receiver: Receiver, path: str, n: int) -> list[str]:
    return [r.event_type for r in receiver.wait_events(n, path)]


def payloads(receiver: Receiver, path: str, event_type: str) -> list[dict[str, Any]]:
    return [r.payload for r in receiver.requests if r.path == path and r.event_type == event_type]


def dial(client: telnyx.Telnyx, receiver: Receiver, path: str = "/d", **extra: Any) -> str:
    extra.setdefault("to", ANSWERED)
    response = client.calls.dial(
        connection_id=CONNECTION, from_=CALLER, webhook_url=receiver.url + path, **extra
    )
    assert response.data is not None
    return response.data.call_control_id


def error_of(info: pytest.ExceptionInfo[telnyx.UnprocessableEntityError]) -> tuple[str, str]:
    body = info.value.body
    assert isinstance(body, dict)
    [error] = body["errors"]
    return error["code"], error["source"]["pointer"]


# --------------------------------------------------------------------------------------------
# answer


def test_answer_with_sdk(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    result = client.calls.actions.answer(
        a, client_state="YW5zd2VyZWQ=", webhook_url=receiver.url + "/answered"
    )
    assert type(result).__name__ == "ActionAnswerResponse"
    assert result.data is not None and result.data.result == "ok"
    assert result.data.recording_id is None
    assert events(receiver, "/answered", 1) == ["call.answered"]
    [answered] = payloads(receiver, "/answered", "call.answered")
    assert answered["call_control_id"] == a and answered["client_state"] == "YW5zd2VyZWQ="
    status = client.calls.retrieve_status(a).data
    assert status is not None and status.is_alive is True
    assert status.client_state == "YW5zd2VyZWQ="
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.answer(a)
    assert error_of(info) == ("90016", "/call_control_id")
    recorded = client.calls.actions.answer(
        inbound(emulator, receiver, "/r"), record="record-from-answer"
    )
    assert recorded.data is not None and recorded.data.recording_id


def test_answer_then_transfer(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.answer(a)
    client.calls.actions.transfer(a, to=ANSWERED, webhook_url=receiver.url + "/b")
    assert events(receiver, "/b", 3) == ["call.initiated", "call.answered", "call.bridged"]
    assert events(receiver, "/a", 3) == ["call.initiated", "call.answered", "call.bridged"]
    b = payloads(receiver, "/b", "call.initiated")[0]
    assert b["call_session_id"] == payloads(receiver, "/a", "call.answered")[0]["call_session_id"]


# --------------------------------------------------------------------------------------------
# dial


def test_dial_answered_then_hangup(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    response = client.calls.dial(
        connection_id=CONNECTION,
        from_=CALLER,
        to=ANSWERED,
        webhook_url=receiver.url + "/d",
        client_state="ZGlhbA==",
        custom_headers=[{"name": "X-Ticket", "value": "42"}],
        command_id="dial-1",
    )
    assert type(response).__name__ == "CallDialResponse"
    data = response.data
    assert data is not None and data.record_type == "call" and data.is_alive is False
    assert data.call_control_id.startswith("v3:") and len(data.call_leg_id) == 36
    assert data.client_state == "ZGlhbA=="
    got = receiver.wait_events(2, "/d")
    assert [r.event_type for r in got] == ["call.initiated", "call.answered"]
    initiated = got[0].payload
    assert initiated["call_control_id"] == data.call_control_id
    assert initiated["call_leg_id"] == data.call_leg_id
    assert initiated["call_session_id"] == data.call_session_id
    assert initiated["direction"] == "outgoing" and initiated["connection_id"] == CONNECTION
    assert initiated["custom_headers"] == [{"name": "X-Ticket", "value": "42"}]
    assert all(r.payload["client_state"] == "ZGlhbA==" for r in got)
    status = client.calls.retrieve_status(data.call_control_id).data
    assert status is not None and status.is_alive is True and status.end_time is None
    # a duplicate Dial names the same call and places nothing
    again = client.calls.dial(
        connection_id=CONNECTION, from_=CALLER, to=BUSY, command_id="dial-1"
    ).data
    assert again is not None and again.call_control_id == data.call_control_id
    assert again.call_session_id == data.call_session_id
    client.calls.actions.hangup(data.call_control_id, client_state="Ynll")
    assert events(receiver, "/d", 3)[-1] == "call.hangup"
    [hangup] = payloads(receiver, "/d", "call.hangup")
    assert (hangup["hangup_cause"], hangup["hangup_source"], hangup["client_state"]) == (
        "normal_clearing",
        "caller",
        "Ynll",
    )
    status = client.calls.retrieve_status(data.call_control_id).data
    assert status is not None and status.is_alive is False and status.end_time
    assert status.client_state == "Ynll" and status.call_duration is not None
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.hangup(data.call_control_id)
    assert error_of(info) == ("90018", "/call_control_id")
    for r in receiver.requests:
        assert_valid_webhook(r.json)


@pytest.mark.parametrize(
    ("to", "extra", "expected", "fields"),
    [
        (
            BUSY,
            {},
            ["call.initiated", "call.hangup"],
            {"hangup_cause": "user_busy", "sip_hangup_cause": "486", "hangup_source": "callee"},
        ),
        (
            REJECTED,
            {},
            ["call.initiated", "call.hangup"],
            {"hangup_cause": "call_rejected", "sip_hangup_cause": "603"},
        ),
        (NO_ANSWER, {}, ["call.initiated", "call.hangup"], {"hangup_cause": "timeout"}),
        (
            NO_ANSWER,
            {"retry_on_timeout": False, "timeout_secs": 5},
            ["call.initiated", "call.hangup"],
            {"hangup_cause": "no_answer"},
        ),
        (
            VOICEMAIL,
            {"answering_machine_detection": "premium"},
            [
                "call.initiated",
                "call.answered",
                "call.machine.premium.detection.ended",
                "call.machine.premium.greeting.ended",
            ],
            {"result": "beep_detected"},
        ),
        (
            SHORT_CALL,
            {},
            ["call.initiated", "call.answered", "call.hangup"],
            {"hangup_cause": "normal_clearing", "hangup_source": "callee"},
        ),
    ],
)
def test_dial_scenarios(
    emulator: EmulatorServer,
    receiver: Receiver,
    client: telnyx.Telnyx,
    to: str,
    extra: dict[str, Any],
    expected: list[str],
    fields: dict[str, str],
) -> None:
    ccid = dial(client, receiver, to=to, **extra)
    got = receiver.wait_events(len(expected), "/d")
    assert [r.event_type for r in got] == expected
    for key, value in fields.items():
        assert got[-1].payload[key] == value
    assert all(r.payload["call_control_id"] == ccid for r in got)


def test_dial_forced_scenario_and_validation(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    response = client.calls.dial(
        connection_id=CONNECTION,
        from_=CALLER,
        to=ANSWERED,
        webhook_url=receiver.url + "/d",
        extra_headers={"X-Emulator-Scenario": "busy"},
    )
    assert response.data is not None
    assert events(receiver, "/d", 2) == ["call.initiated", "call.hangup"]
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.dial(connection_id=CONNECTION, from_="2125550199", to=ANSWERED)
    assert error_of(info) == ("10016", "/from")
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.dial(connection_id="app", from_=CALLER, to=ANSWERED)
    assert error_of(info) == ("10015", "/connection_id")
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.dial(connection_id=CONNECTION, from_=CALLER, to=ANSWERED, link_to="v3:x")
    assert error_of(info) == ("90015", "/link_to")


def test_dial_bridge_on_answer_with_link_to(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.answer(a)
    d = dial(client, receiver, link_to=a, bridge_on_answer=True)
    assert events(receiver, "/d", 3) == ["call.initiated", "call.answered", "call.bridged"]
    assert events(receiver, "/a", 3)[-1] == "call.bridged"
    session = client.calls.retrieve_status(a).data
    assert session is not None
    assert payloads(receiver, "/d", "call.initiated")[0]["call_session_id"] == (
        session.call_session_id
    )
    client.calls.actions.hangup(d)
    assert events(receiver, "/a", 4)[-1] == "call.hangup"


# --------------------------------------------------------------------------------------------
# bridge and hangup


def test_bridge_two_calls_then_hangup_ends_both(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.answer(a)
    d = dial(client, receiver)
    receiver.wait_events(2, "/d")  # initiated, answered
    result = client.calls.actions.bridge(
        a, call_control_id_to_bridge_with=d, client_state="YnJpZGdlZA=="
    )
    assert type(result).__name__ == "ActionBridgeResponse"
    assert result.data is not None and result.data.result == "ok"
    assert events(receiver, "/a", 3)[-1] == "call.bridged"
    assert events(receiver, "/d", 3)[-1] == "call.bridged"
    assert payloads(receiver, "/a", "call.bridged")[0]["client_state"] == "YnJpZGdlZA=="
    client.calls.actions.hangup(a)
    assert events(receiver, "/a", 4)[-1] == "call.hangup"
    assert events(receiver, "/d", 4)[-1] == "call.hangup"
    for ccid in (a, d):
        status = client.calls.retrieve_status(ccid).data
        assert status is not None and status.is_alive is False


def test_bridge_errors(emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.answer(a)
    parked = inbound(emulator, receiver, "/p")
    ringing = dial(client, receiver, to=NO_ANSWER, timeout_secs=LONG_RING)
    cases = [
        (a, a, ("10015", "/call_control_id")),  # itself
        (a, "v3:unknown", ("90015", "/call_control_id")),
        (a, parked, ("90034", "/call_control_id")),  # the other call is not answered
        (a, ringing, ("90034", "/call_control_id")),
        (parked, a, ("90034", "/call_control_id")),  # this call is not answered
    ]
    for this, other, expected in cases:
        with pytest.raises(telnyx.UnprocessableEntityError) as info:
            client.calls.actions.bridge(this, call_control_id_to_bridge_with=other)
        assert error_of(info) == expected
    client.calls.actions.hangup(parked)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.bridge(a, call_control_id_to_bridge_with=parked)
    assert error_of(info) == ("90018", "/call_control_id")
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.answer(ringing)  # an outgoing call is answered by the far end
    assert error_of(info) == ("90016", "/call_control_id")
    assert "call.bridged" not in [r.event_type for r in receiver.requests]


def test_hangup_cancels_ringing_dial(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    d = dial(client, receiver, to=NO_ANSWER, timeout_secs=LONG_RING)
    receiver.wait_events(1, "/d")
    client.calls.actions.hangup(d, reason="Answered elsewhere")
    assert events(receiver, "/d", 2) == ["call.initiated", "call.hangup"]
    [hangup] = payloads(receiver, "/d", "call.hangup")
    assert (hangup["hangup_cause"], hangup["sip_hangup_cause"]) == ("originator_cancel", "487")


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
def test_reject_causes(
    emulator: EmulatorServer,
    receiver: Receiver,
    client: telnyx.Telnyx,
    cause: Any,
    hangup_cause: str,
    sip: str,
) -> None:
    a = inbound(emulator, receiver)
    result = client.calls.actions.reject(a, cause=cause)
    assert result.data is not None and result.data.result == "ok"
    assert events(receiver, "/a", 2) == ["call.initiated", "call.hangup"]
    [hangup] = payloads(receiver, "/a", "call.hangup")
    assert hangup["hangup_cause"] == hangup_cause and hangup["sip_hangup_cause"] == sip
    assert hangup["hangup_source"] == "callee"
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.reject(a, cause=cause)
    assert error_of(info) == ("90018", "/call_control_id")


def test_reject_after_answer_and_bad_cause(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    r = httpx.post(
        f"{emulator.base_url}/calls/{a}/actions/reject",
        json={"cause": "BUSY"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "10032"
    client.calls.actions.answer(a)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.reject(a, cause="USER_BUSY")
    assert error_of(info) == ("90016", "/call_control_id")


# --------------------------------------------------------------------------------------------
# client_state_update


def test_client_state_update(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver, client_state="Zmlyc3Q=")
    result = client.calls.actions.update_client_state(a, client_state="c2Vjb25k")
    assert type(result).__name__ == "ActionUpdateClientStateResponse"
    assert result.data is not None and result.data.result == "ok"
    status = client.calls.retrieve_status(a).data
    assert status is not None and status.client_state == "c2Vjb25k"
    client.calls.actions.answer(a)
    client.calls.actions.hangup(a)
    got = receiver.wait_events(3, "/a")
    assert [(r.event_type, r.payload["client_state"]) for r in got] == [
        ("call.initiated", "Zmlyc3Q="),
        ("call.answered", "c2Vjb25k"),
        ("call.hangup", "c2Vjb25k"),
    ]
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.update_client_state(a, client_state="dGhpcmQ=")
    assert error_of(info) == ("90018", "/call_control_id")
    other = inbound(emulator, receiver, "/o")
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.update_client_state(other, client_state="not base64!")
    assert error_of(info) == ("10015", "/client_state")


def test_commands_are_journaled(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.answer(a, command_id="x")
    client.calls.actions.answer(a, command_id="x")
    d = dial(client, receiver)
    r = httpx.get(
        emulator.url + "/_emulator/commands", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    journal = [(c["command"], c["call_control_id"], c["result"]) for c in r.json()["data"]]
    assert journal == [
        ("answer", a, "accepted"),
        ("answer", a, "duplicate"),
        ("dial", d, "accepted"),
    ]
