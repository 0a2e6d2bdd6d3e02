"""Webhooks end to end: a real server sends signed webhooks to a real receiver on 127.0.0.1."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import telnyx

from .conftest import API_KEY
from .harness import assert_valid_webhook
from .servers import EmulatorServer, Receiver


def inbound(
    emulator: EmulatorServer, receiver: Receiver, path: str = "/a", key: str = API_KEY, **extra: Any
) -> str:
    body = {
        "from": "+12125550199",
        "to": "+13125550100",
        "webhook_url": receiver.url + path,
        **extra,
    }
    r = httpx.post(
        emulator.url + "/_emulator/calls", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


SCENARIOS: list[tuple[str, list[str], dict[str, Any]]] = [
    ("+13125550100", ["call.initiated", "call.answered", "call.bridged"], {}),
    (
        "+16465550101",
        ["call.initiated", "call.hangup"],
        {"hangup_cause": "user_busy", "sip_hangup_cause": "486"},
    ),
    ("+13125550102", ["call.initiated", "call.hangup"], {"hangup_cause": "timeout"}),
    (
        "+13125550103",
        ["call.initiated", "call.hangup"],
        {"hangup_cause": "call_rejected", "sip_hangup_cause": "603"},
    ),
    (
        "+13125550104",
        ["call.initiated", "call.hangup"],
        {"hangup_cause": "not_found", "sip_hangup_cause": "404"},
    ),
    (
        "+13125550105",
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.machine.detection.ended",
            "call.machine.greeting.ended",
        ],
        {"result": "beep_detected"},
    ),
    (
        "+13125550106",
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.machine.detection.ended",
            "call.hangup",
        ],
        {"hangup_cause": "normal_clearing", "hangup_source": "callee"},
    ),
]


@pytest.mark.parametrize(("number", "leg_b_events", "last_fields"), SCENARIOS)
def test_bundled_scenarios(
    emulator: EmulatorServer,
    receiver: Receiver,
    client: telnyx.Telnyx,
    number: str,
    leg_b_events: list[str],
    last_fields: dict[str, Any],
) -> None:
    a = inbound(emulator, receiver)
    receiver.wait_events(1, "/a")
    client.calls.actions.transfer(
        a, to=number, webhook_url=receiver.url + "/b", answering_machine_detection="greeting_end"
    )
    got = receiver.wait_events(len(leg_b_events), "/b")[: len(leg_b_events)]
    assert [r.event_type for r in got] == leg_b_events
    for field, value in last_fields.items():
        assert got[-1].payload[field] == value
    for r in receiver.requests:
        assert_valid_webhook(r.json)
        assert r.headers["content-type"] == "application/json"
        assert r.headers["user-agent"] == "telnyx-webhooks"
        assert r.json["meta"] == {"attempt": 1, "delivered_to": receiver.url + r.path}


def test_signatures_verify_with_sdk_unwrap(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.transfer(a, to="+13125550106")
    got = receiver.wait_events(6)  # A initiated, B initiated/answered/bridged, A bridged, ...
    key = httpx.get(emulator.url + "/_emulator/public-key").json()["data"]["public_key"]
    verifier = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, public_key=key)
    for r in got:
        event = verifier.webhooks.unwrap(r.body.decode(), headers=r.headers, key=key)
        assert event.data is not None and event.data.event_type == r.event_type  # type: ignore[union-attr]
    tampered = got[0].body.replace(b"call.initiated", b"call.hangup")
    with pytest.raises(Exception, match=r"(?i)signature"):
        verifier.webhooks.unwrap(tampered.decode(), headers=got[0].headers, key=key)


def test_pinned_signing_key(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    from emulator.signing import Signer

    pinned = Signer()
    server = start_emulator(signing_key=pinned.private_key_base64)
    key = httpx.get(server.url + "/_emulator/public-key").json()["data"]["public_key"]
    assert key == pinned.public_key
    inbound(server, receiver)
    [r] = receiver.wait_events(1)
    telnyx.Telnyx(api_key="k", base_url=server.base_url).webhooks.unwrap(
        r.body.decode(), headers=r.headers, key=key
    )


def test_amd_modes_over_http(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    modes = {
        "detect": ["call.machine.detection.ended"],
        "detect_beep": ["call.machine.detection.ended", "call.machine.greeting.ended"],
        "detect_words": ["call.machine.detection.ended", "call.machine.greeting.ended"],
        "greeting_end": ["call.machine.detection.ended", "call.machine.greeting.ended"],
        "premium": ["call.machine.premium.detection.ended", "call.machine.premium.greeting.ended"],
    }
    for mode in modes:
        a = inbound(emulator, receiver, path=f"/a-{mode}")
        client.calls.actions.transfer(
            a,
            to="+13125550105",
            webhook_url=f"{receiver.url}/b-{mode}",
            answering_machine_detection=mode,  # type: ignore[arg-type]
        )
    for mode, expected in modes.items():
        got = receiver.wait_events(3 + len(expected), f"/b-{mode}")
        assert [r.event_type for r in got][3:] == expected


def test_client_state_and_target_leg_client_state(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.transfer(
        a, to="+13125550106", client_state="bGVnQQ==", target_leg_client_state="bGVnQg=="
    )
    got = receiver.wait_events(7)  # A: initiated, bridged, hangup; B: 4 events
    for r in got[1:]:
        expected = "bGVnQQ==" if r.payload["call_control_id"] == a else "bGVnQg=="
        assert r.payload["client_state"] == expected, r.event_type
    assert got[0].payload["client_state"] is None


def test_webhook_urls_and_get_method(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.transfer(
        a,
        to="+13125550100",
        webhook_url=receiver.url + "/b",
        webhook_url_method="GET",
        webhook_urls={"call.answered": [receiver.url + "/answered"]},
        webhook_urls_method="POST",
    )
    receiver.wait_for(lambda rs: any(r.path == "/answered" for r in rs))
    got = receiver.wait_events(2, "/b")
    assert all(r.method == "GET" and r.body == b"" for r in got)
    assert [r.query["data.event_type"] for r in got] == ["call.initiated", "call.bridged"]
    assert got[0].query["data.payload.direction"] == "outgoing"
    assert got[0].query["meta.attempt"] == "1"
    [answered] = [r for r in receiver.requests if r.path == "/answered"]
    assert answered.method == "POST" and answered.event_type == "call.answered"


def test_timers_timeout_and_time_limit(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.transfer(
        a, to="+13125550102", timeout_secs=10, webhook_url=receiver.url + "/timeout"
    )
    got = receiver.wait_events(2, "/timeout")
    assert got[-1].payload["hangup_cause"] == "timeout"
    client.calls.actions.transfer(
        a, to="+13125550100", time_limit_secs=30, webhook_url=receiver.url + "/limit"
    )
    got = receiver.wait_events(4, "/limit")
    assert got[-1].event_type == "call.hangup" and got[-1].payload["hangup_cause"] == "time_limit"
    receiver.wait_for(lambda rs: rs[-1].path == "/a" and rs[-1].event_type == "call.hangup")


def test_retries_and_failover_against_failing_receiver(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(webhook_retry_delays=(0.5, 0.5))  # x0.01 time scale
    receiver.respond("/primary", 500, 503, 500)
    inbound(server, receiver, path="/primary", webhook_failover_url=receiver.url + "/failover")
    got = receiver.wait_events(4)
    assert [(r.path, r.json["meta"]["attempt"]) for r in got] == [
        ("/primary", 1),
        ("/primary", 2),
        ("/primary", 3),
        ("/failover", 4),
    ]
    assert got[-1].json["meta"]["delivered_to"] == receiver.url + "/failover"
    hooks = httpx.get(
        server.url + "/_emulator/webhooks", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()["data"]
    [hook] = hooks
    assert hook["status"] == "delivered"
    assert [a["status"] for a in hook["attempts"]] == [500, 503, 500, 200]


def test_dead_and_slow_receivers_do_not_hold_other_calls(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(webhook_timeout_secs=0.5, webhook_retry_delays=(0.1,))
    receiver.respond("/slow", 200, delay=2.0)
    inbound(server, receiver, path="/slow")
    r = httpx.post(
        server.url + "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100", "webhook_url": "http://127.0.0.1:9/x"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 201
    inbound(server, receiver, path="/fast")
    receiver.wait_events(1, "/fast", timeout=1.5)

    def final_statuses(rs: list[Any]) -> bool:
        hooks = httpx.get(
            server.url + "/_emulator/webhooks", headers={"Authorization": f"Bearer {API_KEY}"}
        ).json()["data"]
        return all(h["status"] != "pending" for h in hooks)

    receiver.wait_for(final_statuses, timeout=10)
    hooks = httpx.get(
        server.url + "/_emulator/webhooks", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()["data"]
    by_url = {h["url"].rsplit("/", 1)[1]: h for h in hooks}
    assert by_url["x"]["status"] == "failed" and by_url["x"]["attempts"][0]["error"]
    assert by_url["slow"]["attempts"][0]["error"] == "timeout"
    assert by_url["fast"]["status"] == "delivered"


def test_per_call_order_under_concurrency(emulator: EmulatorServer, receiver: Receiver) -> None:
    n = 40
    transfer_errors: list[str] = []

    def flow(i: int) -> None:
        a = inbound(emulator, receiver, path=f"/c{i}")
        with httpx.Client() as c:
            r = c.post(
                f"{emulator.base_url}/calls/{a}/actions/transfer",
                json={"to": "+13125550106", "command_id": f"cmd-{i}"},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            if r.status_code != 200:
                transfer_errors.append(r.text)

    threads = [threading.Thread(target=flow, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert transfer_errors == []
    per_call = 7  # A: initiated, bridged, hangup; B: initiated, answered, bridged, hangup
    got = receiver.wait_events(n * per_call, timeout=30)
    assert len(got) == n * per_call
    sessions: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in got:
        sessions[r.path].append((r.event_type, r.payload["call_control_id"]))
    ids = {r.json["data"]["id"] for r in got}
    assert len(ids) == len(got)  # nothing duplicated
    for events in sessions.values():
        a = events[0][1]
        b = events[1][1]
        assert events == [
            ("call.initiated", a),
            ("call.initiated", b),
            ("call.answered", b),
            ("call.bridged", b),
            ("call.bridged", a),
            ("call.hangup", b),
            ("call.hangup", a),
        ]


def test_isolation_between_api_keys(emulator: EmulatorServer, receiver: Receiver) -> None:
    a = inbound(emulator, receiver, key="team-a")
    receiver.wait_events(1)
    headers_b = {"Authorization": "Bearer team-b"}
    r = httpx.post(
        f"{emulator.base_url}/calls/{a}/actions/transfer",
        json={"to": "+13125550100"},
        headers=headers_b,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "90015"
    for path in ("calls", "webhooks"):
        assert httpx.get(f"{emulator.url}/_emulator/{path}", headers=headers_b).json()["data"] == []
    [rejected] = httpx.get(f"{emulator.url}/_emulator/commands", headers=headers_b).json()["data"]
    assert rejected["result"] == "rejected"
    assert len(httpx.get(f"{emulator.url}/_emulator/calls", headers=headers_b).json()["data"]) == 0
    assert httpx.post(f"{emulator.url}/_emulator/reset", headers=headers_b).status_code == 200
    headers_a = {"Authorization": "Bearer team-a"}
    assert len(httpx.get(f"{emulator.url}/_emulator/calls", headers=headers_a).json()["data"]) == 1
    hooks = httpx.get(f"{emulator.url}/_emulator/webhooks", headers=headers_a).json()["data"]
    assert [h["event_type"] for h in hooks] == ["call.initiated"]


def test_inspection_filters(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    a = inbound(emulator, receiver)
    client.calls.actions.transfer(a, to="+13125550101")
    receiver.wait_events(3)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    by_call = httpx.get(
        f"{emulator.url}/_emulator/webhooks", params={"call_control_id": a}, headers=headers
    ).json()["data"]
    assert [h["event_type"] for h in by_call] == ["call.initiated"]
    hangups = httpx.get(
        f"{emulator.url}/_emulator/webhooks", params={"event_type": "call.hangup"}, headers=headers
    ).json()["data"]
    assert len(hangups) == 1 and hangups[0]["status"] == "delivered"
    assert hangups[0]["body"]["data"]["payload"]["hangup_cause"] == "user_busy"
    assert hangups[0]["attempts"][0]["status"] == 200
