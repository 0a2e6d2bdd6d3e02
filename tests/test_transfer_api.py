"""The transfer command end to end: the official SDK against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import telnyx

from .conftest import API_KEY
from .servers import EmulatorServer


def new_call(emulator: EmulatorServer, key: str = API_KEY, **extra: Any) -> dict[str, Any]:
    body = {"from": "+12125550199", "to": "+13125550100", **extra}
    r = httpx.post(
        emulator.url + "/_emulator/calls",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def commands(emulator: EmulatorServer, key: str = API_KEY) -> list[dict[str, Any]]:
    r = httpx.get(emulator.url + "/_emulator/commands", headers={"Authorization": f"Bearer {key}"})
    return list(r.json()["data"])


def calls(emulator: EmulatorServer, key: str = API_KEY) -> list[dict[str, Any]]:
    r = httpx.get(emulator.url + "/_emulator/calls", headers={"Authorization": f"Bearer {key}"})
    return list(r.json()["data"])


def test_health_and_public_key(emulator: EmulatorServer) -> None:
    assert httpx.get(emulator.url + "/_emulator/health").status_code == 200
    key = httpx.get(emulator.url + "/_emulator/public-key").json()["data"]["public_key"]
    assert key == emulator.public_key


def test_inbound_call_shape(emulator: EmulatorServer) -> None:
    call = new_call(emulator, client_state="aGk=")
    assert call["call_control_id"].startswith("v3:") and len(call["call_control_id"]) == 57
    assert len(call["call_leg_id"]) == 36 and len(call["call_session_id"]) == 36
    assert call["connection_id"].isdigit()
    assert call["state"] == "parked" and call["direction"] == "incoming"
    assert call["client_state"] == "aGk="


def test_transfer_ok_with_sdk(emulator: EmulatorServer, client: telnyx.Telnyx) -> None:
    call = new_call(emulator)
    result = client.calls.actions.transfer(call["call_control_id"], to="+13125550100")
    assert type(result).__name__ == "ActionTransferResponse"
    assert result.data is not None and result.data.result == "ok"
    [cmd] = commands(emulator)
    assert cmd["command"] == "transfer" and cmd["result"] == "accepted"
    legs = calls(emulator)
    assert len(legs) == 2
    b = next(leg for leg in legs if leg["direction"] == "outgoing")
    assert b["parent_call_control_id"] == call["call_control_id"]
    assert b["call_session_id"] == call["call_session_id"]


def test_both_url_forms(emulator: EmulatorServer) -> None:
    call = new_call(emulator)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for prefix in ("/v2", ""):
        url = f"{emulator.url}{prefix}/calls/{call['call_control_id']}/actions/transfer"
        r = httpx.post(url, json={"to": "+13125550100"}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"data": {"result": "ok"}}
    r = httpx.get(f"{emulator.url}/calls/{call['call_control_id']}", headers=headers)
    assert r.json()["data"]["record_type"] == "call"


INVALID_SDK_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"to": "12125550100"}, "10016", "/to"),
    ({"to": "+13125550100", "from_": "not-a-number"}, "10016", "/from"),
    ({"to": "+13125550100", "timeout_secs": 4}, "10033", "/timeout_secs"),
    ({"to": "+13125550100", "time_limit_secs": 14401}, "10033", "/time_limit_secs"),
    (
        {"to": "+13125550100", "answering_machine_detection": "maybe"},
        "10032",
        "/answering_machine_detection",
    ),
    ({"to": "+13125550100", "client_state": "not base64!"}, "10015", "/client_state"),
    ({"to": "+13125550100", "from_display_name": "x" * 129}, "10015", "/from_display_name"),
    (
        {"to": "+13125550100", "sound_modifications": {"semitone": 20}},
        "10033",
        "/sound_modifications/semitone",
    ),
    ({"to": "+13125550100", "record_channels": "triple"}, "10032", "/record_channels"),
    ({"to": "+13125550100", "send_digits_on_answer": "12x"}, "10015", "/send_digits_on_answer"),
]


@pytest.mark.parametrize(("params", "code", "pointer"), INVALID_SDK_CASES)
def test_invalid_transfer_raises_sdk_error(
    emulator: EmulatorServer,
    client: telnyx.Telnyx,
    params: dict[str, Any],
    code: str,
    pointer: str,
) -> None:
    call = new_call(emulator)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.transfer(call["call_control_id"], **params)
    body = info.value.body
    assert isinstance(body, dict)
    [error] = body["errors"]
    assert error["code"] == code
    assert error["source"]["pointer"] == pointer
    assert isinstance(error["title"], str) and error["detail"]
    # nothing happened: no leg B
    assert len(calls(emulator)) == 1
    assert commands(emulator)[-1]["result"] == "rejected"


def test_missing_to_and_many_errors_at_once(emulator: EmulatorServer) -> None:
    call = new_call(emulator)
    r = httpx.post(
        f"{emulator.url}/v2/calls/{call['call_control_id']}/actions/transfer",
        json={"timeout_secs": 1, "mute_dtmf": "all", "client_state": "%%%"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 422
    found = {(e["code"], e["source"]["pointer"]) for e in r.json()["errors"]}
    assert found == {
        ("10004", "/to"),
        ("10033", "/timeout_secs"),
        ("10032", "/mute_dtmf"),
        ("10015", "/client_state"),
    }


def test_unknown_fields_accepted_unless_strict(
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    lenient, strict = start_emulator(), start_emulator(strict=True)
    for server, expected in ((lenient, 200), (strict, 422)):
        call = new_call(server)
        r = httpx.post(
            f"{server.base_url}/calls/{call['call_control_id']}/actions/transfer",
            json={"to": "+13125550100", "tiemout_secs": 30},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert r.status_code == expected, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == "/tiemout_secs"


def test_unknown_call_control_id(client: telnyx.Telnyx) -> None:
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.transfer("v3:nope", to="+13125550100")
    assert info.value.body["errors"][0]["code"] == "90015"  # type: ignore[index]
    assert info.value.body["errors"][0]["source"]["pointer"] == "/call_control_id"  # type: ignore[index]


def test_ended_call_gets_90018(emulator: EmulatorServer, client: telnyx.Telnyx) -> None:
    call = new_call(emulator, hangup_after_secs=0)
    ccid = call["call_control_id"]
    deadline = 200
    while client.calls.retrieve_status(ccid).data.is_alive and deadline:  # type: ignore[union-attr]
        deadline -= 1
        threading.Event().wait(0.01)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.transfer(ccid, to="+13125550100")
    error = info.value.body["errors"][0]  # type: ignore[index]
    assert error["code"] == "90018" and error["title"] == "Call has already ended"
    status = client.calls.retrieve_status(ccid).data
    assert status is not None and status.is_alive is False and status.end_time


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Token KEY", "bearer"],
)
def test_authentication_failures(emulator: EmulatorServer, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = httpx.post(f"{emulator.base_url}/calls/v3:x/actions/transfer", json={}, headers=headers)
    assert r.status_code == 401
    [error] = r.json()["errors"]
    assert error["code"] == "10009" and error["title"] == "Authentication failed"


def test_api_key_allow_list(start_emulator: Callable[..., EmulatorServer]) -> None:
    server = start_emulator(api_keys=("good",))
    bad = telnyx.Telnyx(api_key="bad", base_url=server.base_url, max_retries=0)
    with pytest.raises(telnyx.AuthenticationError) as info:
        bad.calls.actions.transfer("v3:x", to="+13125550100")
    assert info.value.body["errors"][0]["code"] == "10009"  # type: ignore[index]
    good = telnyx.Telnyx(api_key="good", base_url=server.base_url, max_retries=0)
    call = new_call(server, key="good")
    assert good.calls.actions.transfer(call["call_control_id"], to="+13125550100").data


def test_duplicate_command_id_is_ignored(emulator: EmulatorServer, client: telnyx.Telnyx) -> None:
    call = new_call(emulator)
    ccid = call["call_control_id"]
    for _ in range(3):
        r = client.calls.actions.transfer(ccid, to="+13125550100", command_id="cmd-1")
        assert r.data is not None and r.data.result == "ok"
    assert len(calls(emulator)) == 2  # one leg B only
    assert [c["result"] for c in commands(emulator)] == ["accepted", "duplicate", "duplicate"]
    # another command_id is a new command; the same id on another call is independent
    client.calls.actions.transfer(ccid, to="+13125550100", command_id="cmd-2")
    other = new_call(emulator)
    client.calls.actions.transfer(other["call_control_id"], to="+13125550100", command_id="cmd-1")
    assert [c["result"] for c in commands(emulator)][-2:] == ["accepted", "accepted"]


def test_rejected_command_does_not_claim_its_command_id(
    emulator: EmulatorServer, client: telnyx.Telnyx
) -> None:
    call = new_call(emulator)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.transfer(call["call_control_id"], to="bad", command_id="c")
    client.calls.actions.transfer(call["call_control_id"], to="+13125550100", command_id="c")
    assert [c["result"] for c in commands(emulator)] == ["rejected", "accepted"]


def test_concurrent_duplicates_make_one_leg(emulator: EmulatorServer) -> None:
    call = new_call(emulator)
    url = f"{emulator.base_url}/calls/{call['call_control_id']}/actions/transfer"
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def fire() -> None:
        with httpx.Client() as c:
            barrier.wait()
            r = c.post(
                url,
                json={"to": "+13125550100", "command_id": "same"},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            statuses.append(r.status_code)

    threads = [threading.Thread(target=fire) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert len(calls(emulator)) == 2
    results = [c["result"] for c in commands(emulator)]
    assert results.count("accepted") == 1 and results.count("duplicate") == 19


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "10023"),
        (b"[1, 2]", "application/json", 422, "10015"),
        (b'"to"', "application/json", 422, "10015"),
        (b"to=%2B1", "application/x-www-form-urlencoded", 415, "10014"),
        (b"\xff\xfe", "application/json", 400, "10023"),
    ],
)
def test_malformed_bodies(
    emulator: EmulatorServer, content: bytes, content_type: str, status: int, code: str
) -> None:
    call = new_call(emulator)
    r = httpx.post(
        f"{emulator.base_url}/calls/{call['call_control_id']}/actions/transfer",
        content=content,
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": content_type},
    )
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["code"] == code


def test_oversized_body(start_emulator: Callable[..., EmulatorServer]) -> None:
    server = start_emulator(max_body_bytes=1000)
    call = new_call(server)
    url = f"{server.base_url}/calls/{call['call_control_id']}/actions/transfer"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    big = json.dumps({"to": "+13125550100", "audio_url": "x" * 2000})
    r = httpx.post(url, content=big, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["errors"][0]["code"] == "10015"

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield big[:600].encode()
        yield big[600:].encode()

    r = httpx.post(url, content=chunks(), headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    # the server is still fine
    assert httpx.post(url, json={"to": "+13125550100"}, headers=headers).status_code == 200


def test_unknown_route_and_method(emulator: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    r = httpx.get(f"{emulator.base_url}/nothing/here", headers=headers)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "10005"
    r = httpx.delete(f"{emulator.base_url}/calls/v3:x/actions/transfer", headers=headers)
    assert r.status_code == 405 and "POST" in r.headers["allow"]


def test_retrieve_status_with_sdk(emulator: EmulatorServer, client: telnyx.Telnyx) -> None:
    call = new_call(emulator, client_state="aGk=")
    status = client.calls.retrieve_status(call["call_control_id"]).data
    assert status is not None
    assert status.call_control_id == call["call_control_id"]
    assert status.is_alive is True and status.record_type == "call"
    assert status.client_state == "aGk=" and status.start_time


@pytest.fixture(scope="module")
def shared_server() -> Any:
    from emulator.config import Settings

    server = EmulatorServer(Settings(time_scale=0.01)).start()
    yield server
    server.stop()


def _every_invalid_row() -> list[Any]:
    from .test_validation import INVALID_ROWS

    return [
        pytest.param(body, code, pointer, id=name) for name, body, code, pointer in INVALID_ROWS
    ]


@pytest.mark.parametrize(("body", "code", "pointer"), _every_invalid_row())
def test_every_invalid_body_through_the_sdk(
    shared_server: EmulatorServer, body: dict[str, Any], code: str, pointer: str
) -> None:
    """The whole validation table, end to end: the SDK's own request path raises
    UnprocessableEntityError carrying the code and pointer (the SDK's typed method cannot send
    some of these bodies, e.g. a missing `to`, so its generic ``post`` is used)."""
    from telnyx.types.calls import ActionTransferResponse

    client = telnyx.Telnyx(api_key=API_KEY, base_url=shared_server.base_url, max_retries=0)
    call = new_call(shared_server)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.post(
            f"/calls/{call['call_control_id']}/actions/transfer",
            body=body,
            cast_to=ActionTransferResponse,
        )
    errors = info.value.body["errors"]  # type: ignore[index]
    assert (code, pointer) in {(e["code"], e["source"]["pointer"]) for e in errors}


def test_a_call_of_another_key_is_named_in_the_422(emulator: EmulatorServer) -> None:
    """The server keeps per-key tenants, but says why another key's call is "not valid"."""
    call = new_call(emulator, key="KEY_CREATOR")["call_control_id"]
    other = telnyx.Telnyx(api_key="KEY_OTHER", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(telnyx.UnprocessableEntityError) as raised:
        other.calls.actions.transfer(call, to="+13125550100")
    [error] = raised.value.body["errors"]  # type: ignore[index]
    assert error["code"] == "90015" and error["source"] == {"pointer": "/call_control_id"}
    assert f"call {call} exists, but was created with another API key" in error["detail"]
    assert "KEY_CREATOR" not in json.dumps(raised.value.body)
    [entry] = commands(emulator, key="KEY_OTHER")
    assert entry["errors"][0]["detail"] == error["detail"]
    with pytest.raises(telnyx.UnprocessableEntityError) as raised:
        other.calls.retrieve_status(call)
    assert "another API key" in raised.value.body["errors"][0]["detail"]  # type: ignore[index]
    # A call that exists nowhere keeps Telnyx's own words.
    with pytest.raises(telnyx.UnprocessableEntityError) as raised:
        other.calls.actions.hangup("v3:nowhere")
    detail = raised.value.body["errors"][0]["detail"]  # type: ignore[index]
    assert detail == "The call_control_id provided was not valid."
    assert commands(emulator, key="KEY_CREATOR") == []


def test_routes_not_emulated_are_journaled(emulator: EmulatorServer) -> None:
    # A route Telnyx might have and the emulator does not know at all (the SDK's own commands
    # are all declared: those answer 501, tests/test_sdk_surface.py).
    headers = {"Authorization": f"Bearer {API_KEY}"}
    call = new_call(emulator)["call_control_id"]
    r = httpx.post(
        f"{emulator.base_url}/calls/{call}/actions/whisper", headers=headers, json={"a": 1}
    )
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "10005"
    httpx.get(f"{emulator.url}/messages/abc", headers=headers)  # bare path, Telnyx-looking
    httpx.get(f"{emulator.url}/v2/_emulator/nothing", headers=headers)  # the emulator's own: no
    httpx.get(f"{emulator.url}/favicon.ico", headers=headers)  # not Telnyx-looking: no
    httpx.get(f"{emulator.base_url}/phone_numbers")  # unauthenticated: no
    entries = commands(emulator)
    assert [(e["method"], e["path"], e["command"], e["result"], e["status"]) for e in entries] == [
        ("POST", f"/v2/calls/{call}/actions/whisper", "whisper", "not_emulated", 404),
        ("GET", "/messages/abc", "messages", "not_emulated", 404),
    ]
    assert entries[0]["call_control_id"] == call and entries[0]["body"] == {"a": 1}
    r = httpx.get(f"{emulator.url}/_emulator/commands?call_control_id={call}", headers=headers)
    assert [e["result"] for e in r.json()["data"]] == ["not_emulated"]
