"""Faults on demand (docs/faults.md), each one deterministic from a seed, at every level where it
can be set: globally (``Settings`` / CLI flags), per API key (``PUT /_emulator/faults``), per
scenario (a ``delivery:`` key) and per test (the pytest marker). Every injected fault must be
visible: on the webhook attempt or command it hit in the inspection API, and in the log lines.

Engine-level tests run in virtual time (tests/harness.py); the SDK tests run against a real server
on 127.0.0.1 and, for the pytest plugin, in-process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import telnyx
import yaml

from emulator.inprocess import TelnyxEmulator, mock

from .conftest import API_KEY
from .harness import T0, Harness
from .servers import EmulatorServer, Receiver

pytest_plugins = [] if "emulator.plugin" in sys.modules else ["emulator.plugin"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    emulator_mark = pytest.mark.telnyx_emulator

SHORT_CALL = "+13125550106"  # answers after 1 s, hangs up 10 s later: 7 webhooks per transfer
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROOT = Path(__file__).resolve().parent.parent


# -- helpers ------------------------------------------------------------------------------------


def transfer_flow(**settings: Any) -> Harness:
    """An inbound call transferred to SHORT_CALL, played to the end in virtual time."""
    h = Harness(**settings)
    a = h.inbound()
    h.transfer(a, to=SHORT_CALL)
    h.run()
    return h


def records(h: Harness) -> list[Any]:
    return list(h.api.tenants[h.key].webhooks)


def emitted(h: Harness) -> list[tuple[str, str]]:
    return [(r.event_type, r.call_control_id) for r in records(h)]


def delivered(h: Harness) -> list[tuple[str, str]]:
    return [(s.event_type, s.ccid) for s in h.sent]


def inbound(server: EmulatorServer, url: str, key: str = API_KEY, **extra: Any) -> str:
    body = {"from": "+12125550199", "to": "+13125550100", "webhook_url": url, **extra}
    r = httpx.post(
        server.url + "/_emulator/calls", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


def inspect(server: EmulatorServer, what: str, key: str = API_KEY) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/_emulator/{what}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def put_faults(server: EmulatorServer, body: dict[str, Any], key: str = API_KEY) -> dict[str, Any]:
    r = httpx.put(
        server.url + "/_emulator/faults", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def settled(server: EmulatorServer, n: int, key: str = API_KEY) -> Callable[[Any], bool]:
    """A Receiver.wait_for predicate: ``n`` webhooks recorded, none pending any more."""

    def check(_: Any) -> bool:
        hooks = inspect(server, "webhooks", key)
        return len(hooks) >= n and all(h["status"] != "pending" for h in hooks)

    return check


# -- delivery policies, in virtual time (global settings) ----------------------------------------


def test_in_order_is_the_default() -> None:
    h = transfer_flow(seed=1)
    assert delivered(h) == emitted(h) and len(emitted(h)) == 7
    assert all(r.policy.is_default and not r.to_json()["faults"] for r in records(h))


def test_shuffled_reorders_within_a_call_and_is_reproducible() -> None:
    orders = {seed: delivered(transfer_flow(seed=seed, delivery="shuffled")) for seed in range(12)}
    reordered = [
        seed for seed, order in orders.items() if order != emitted(transfer_flow(seed=seed))
    ]
    assert reordered, "no seed reordered anything"
    for seed in reordered[:3]:
        again = transfer_flow(seed=seed, delivery="shuffled")
        assert delivered(again) == orders[seed]  # the same seed, the same order
        assert sorted(delivered(again)) == sorted(emitted(again))  # nothing lost or repeated
    # Overtaking, not just jitter: some later event arrived before an earlier one of its call.
    h = transfer_flow(seed=reordered[0], delivery="shuffled")
    positions = [emitted(h).index(e) for e in delivered(h)]
    assert positions != sorted(positions)
    assert all(r.to_json()["faults"] == ["shuffled"] for r in records(h))


def test_duplicate_delivers_the_same_event_twice_with_attempt_2() -> None:
    h = transfer_flow(seed=2, delivery="duplicate=1")
    ids = Counter(s.attempt.record.id for s in h.sent)
    assert len(ids) == 7 and set(ids.values()) == {2}
    for record in records(h):
        first, copy = record.attempts
        assert (first.number, first.fault, copy.number, copy.fault) == (1, None, 2, "duplicate")
        assert record.status == "delivered" and record.to_json()["faults"] == ["duplicate"]
    copies = [s for s in h.sent if s.attempt.number == 2]
    assert all(s.attempt.body["meta"]["attempt"] == 2 for s in copies)
    assert all(json.loads(s.attempt.content)["data"]["id"] == s.attempt.record.id for s in copies)


def test_delay_holds_first_attempts_back_and_keeps_order() -> None:
    h = transfer_flow(seed=3, delivery="delay=5")
    first = h.sent[0]
    assert first.at == pytest.approx(5.0)  # call.initiated of leg A: 5 s late
    assert delivered(h) == emitted(h)  # in order: the delay holds up the call's later webhooks
    for s in h.sent:
        assert s.at >= s.attempt.record.created_at - T0 + 5.0 - 1e-9
        assert s.attempt.record.attempts[0].fault == "delay"


def test_drop_first_makes_the_app_see_attempt_2_only() -> None:
    h = transfer_flow(seed=4, delivery="drop_first=1")
    assert {s.attempt.number for s in h.sent} == {2}  # attempt 1 never reached the app
    assert delivered(h) == emitted(h)
    for record in records(h):
        dropped, retry = record.attempts
        assert (dropped.error, dropped.fault, dropped.status) == ("dropped", "drop_first", None)
        assert retry.status == 200 and retry.at - dropped.at == pytest.approx(1.0)  # 1st delay
        assert record.to_json()["faults"] == ["drop_first"]


def test_drop_first_with_a_probability_is_seeded() -> None:
    def dropped(seed: int) -> list[bool]:
        h = transfer_flow(seed=seed, delivery="drop_first=0.5")
        return [r.attempts[0].fault == "drop_first" for r in records(h)]

    assert dropped(5) == dropped(5)
    assert any(dropped(5)) or any(dropped(6))
    assert not all(dropped(5)) or not all(dropped(6))


def _signed_flow(**delivery: Any) -> tuple[list[Any], str, dict[str, str | None]]:
    """The transfer flow in-process (signatures there carry the wall-clock time, as the SDK's
    300 s tolerance needs), with a delivery policy as the global default: the webhooks, the
    public key, and the fault on each webhook's (only) attempt by event id."""
    with mock(seed=5, delivery=delivery or None, env=False) as emu:
        call = emu.create_call()
        emu.client(max_retries=0).calls.actions.transfer(call.call_control_id, to=SHORT_CALL)
        hooks = emu.run_until_idle()
        inspected = emu.request("GET", "/_emulator/webhooks").payload["data"]
        return hooks, emu.public_key, {h["id"]: h["attempts"][0]["fault"] for h in inspected}


@pytest.mark.parametrize("fault", ["bad", "stale", "missing"])
def test_signature_faults_are_rejected_by_the_sdk(fault: str) -> None:
    hooks, key, faults = _signed_flow(signature=fault)
    verifier = telnyx.Telnyx(api_key="k", base_url="http://127.0.0.1:1/v2")
    assert len(hooks) == 7
    expected = {"bad": "does not match", "stale": "too old", "missing": "Missing required header"}
    for hook in hooks:
        with pytest.raises(ValueError, match=expected[fault]):
            verifier.webhooks.unwrap(hook.raw.decode(), headers=hook.headers, key=key)
        assert faults[hook.id] == f"signature_{fault}"
    good, good_key, _ = _signed_flow()
    for hook in good:
        verifier.webhooks.unwrap(hook.raw.decode(), headers=hook.headers, key=good_key)


def test_signature_rate_is_seeded() -> None:
    def faulty() -> list[bool]:
        hooks, _, faults = _signed_flow(signature="bad", signature_rate=0.5)
        return [faults[hook.id] == "signature_bad" for hook in hooks]

    first = faulty()
    assert first == faulty() and 0 < sum(first) < len(first)


def test_command_faults_from_settings_hit_the_next_n_commands() -> None:
    h = Harness(seed=6, command_faults="500:2")
    a = h.inbound()
    statuses = [
        h.request("POST", f"/v2/calls/{a}/actions/transfer", {"to": SHORT_CALL}).status
        for _ in range(3)
    ]
    assert statuses == [500, 500, 200]
    journal = list(h.api.tenants[h.key].commands)
    assert [c.get("fault") for c in journal] == ["command_500", "command_500", None]
    assert [c["result"] for c in journal] == ["rejected", "rejected", "accepted"]


def test_command_fault_probability_is_seeded() -> None:
    def hits(seed: int) -> list[int]:
        h = Harness(seed=seed, command_faults="429:p=0.5")
        a = h.inbound()
        return [
            h.request(
                "PUT", f"/v2/calls/{a}/actions/client_state_update", {"client_state": "YQ=="}
            ).status
            for _ in range(20)
        ]

    assert hits(7) == hits(7)
    assert 0 < hits(7).count(429) < 20


# -- each delivery fault at each level ----------------------------------------------------------

# fault -> (the admin API / scenario / marker form, the CLI form, the names marked on attempts)
DELIVERY_FAULTS: dict[str, tuple[dict[str, Any], str, set[str]]] = {
    "shuffled": ({"order": "shuffled"}, "shuffled", {"shuffled"}),
    "duplicate": ({"duplicate": 1}, "duplicate=1", {"duplicate"}),
    "delay": ({"delay": [2, 4]}, "delay=2-4", {"delay"}),
    "drop_first": ({"drop_first": 1}, "drop_first=1", {"drop_first"}),
    "signature": ({"signature": "bad"}, "signature=bad", {"signature_bad"}),
}


def _flow_at_level(level: str, fault: str, seed: int, tmp_path: Path) -> list[dict[str, Any]]:
    """The SHORT_CALL transfer with ``fault`` set at ``level``; leg B's inspection records."""
    mapping, cli_form, _ = DELIVERY_FAULTS[fault]
    if level == "marker":  # what @pytest.mark.telnyx_emulator(delivery=...) hands to mock()
        with mock(seed=seed, delivery=mapping, env=False) as emu:
            call = emu.create_call()
            emu.client(max_retries=0).calls.actions.transfer(call.call_control_id, to=SHORT_CALL)
            emu.run_until_idle()
            hooks = emu.request("GET", "/_emulator/webhooks").payload["data"]
            return [h for h in hooks if h["call_control_id"] != call.call_control_id]
    settings: dict[str, Any] = {"seed": seed}
    if level == "settings":
        settings["delivery"] = cli_form
    if level == "scenario":
        scenario = {
            "name": "short_call",  # replaces the bundled one
            "match": {"to": [r"\+1\d{3}5550106"]},
            "ring_secs": 1,
            "outcome": "answer",
            "after_answer": {"hangup_secs": 10},
            "delivery": mapping,
        }
        (tmp_path / "short_call.yaml").write_text(yaml.safe_dump(scenario))
        settings["scenario_dirs"] = (tmp_path,)
    h = Harness(**settings)
    if level == "api_key":
        assert h.request("PUT", "/_emulator/faults", {"delivery": mapping}).status == 200
    a = h.inbound()
    h.transfer(a, to=SHORT_CALL)
    h.run()
    return [r.to_json() for r in records(h) if r.call_control_id != a]


@pytest.mark.parametrize("level", ["settings", "api_key", "scenario", "marker"])
@pytest.mark.parametrize("fault", sorted(DELIVERY_FAULTS))
def test_every_delivery_fault_at_every_level(level: str, fault: str, tmp_path: Path) -> None:
    hooks = _flow_at_level(level, fault, 21, tmp_path)
    assert [h["event_type"] for h in hooks] == [
        "call.initiated",
        "call.answered",
        "call.bridged",
        "call.hangup",
    ]
    expected = DELIVERY_FAULTS[fault][2]
    for hook in hooks:
        assert set(hook["faults"]) == expected, (level, hook["event_type"], hook["faults"])
        assert hook["status"] in ("delivered", "recorded")
    # Deterministic: the same seed, the same attempts and faults.
    again = _flow_at_level(level, fault, 21, tmp_path)
    assert [(h["faults"], len(h["attempts"])) for h in again] == [
        (h["faults"], len(h["attempts"])) for h in hooks
    ]


# -- per scenario --------------------------------------------------------------------------------


def test_scenario_delivery_key_applies_to_its_legs_only(tmp_path: Path) -> None:
    (tmp_path / "flaky.yaml").write_text(
        "name: flaky_network\n"
        "match: {to: ['\\+1\\d{3}5550199']}\n"
        "ring_secs: 1\n"
        "outcome: answer\n"
        "after_answer: {hangup_secs: 5}\n"
        "delivery: {duplicate: 1, drop_first: 1}\n"
    )
    h = Harness(seed=8, scenario_dirs=(tmp_path,))
    a = h.inbound()
    h.transfer(a, to="+13125550199")
    h.run()
    by_leg = {r.call_control_id == a: r for r in records(h)}
    assert by_leg
    for record in records(h):
        faults = record.to_json()["faults"]
        if record.call_control_id == a:
            assert faults == [], record.event_type  # leg A follows the API key's policy
        else:
            assert faults == ["drop_first", "duplicate"], record.event_type


# -- per API key, on a real server ---------------------------------------------------------------


def test_faults_per_api_key_over_http(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(seed=9, webhook_retry_delays=(0.1,))
    shown = put_faults(server, {"delivery": {"duplicate": 1, "drop_first": 1}})
    assert shown["delivery"]["duplicate"] == 1.0 and shown["commands"] is None
    inbound(server, receiver.url + "/faulty")
    inbound(server, receiver.url + "/clean", key="other-key")  # another tenant: no faults
    receiver.wait_for(lambda rs: len(rs) >= 3)
    receiver.wait_for(settled(server, 1))
    faulty = [r for r in receiver.requests if r.path == "/faulty"]
    assert [r.json["meta"]["attempt"] for r in faulty] == [2, 3]  # 1 dropped, 3 the duplicate
    assert faulty[0].json["data"]["id"] == faulty[1].json["data"]["id"]
    [clean] = [r for r in receiver.requests if r.path == "/clean"]
    assert clean.json["meta"]["attempt"] == 1
    [hook] = inspect(server, "webhooks")
    assert [a["fault"] for a in hook["attempts"]] == ["drop_first", None, "duplicate"]
    assert hook["faults"] == ["drop_first", "duplicate"]
    assert inspect(server, "webhooks", "other-key")[0]["faults"] == []
    # null restores the default; GET shows what is in force.
    put_faults(server, {"delivery": None})
    r = httpx.get(server.url + "/_emulator/faults", headers=AUTH)
    assert r.json()["data"]["delivery"]["duplicate"] == 0.0
    bad = httpx.put(server.url + "/_emulator/faults", json={"delivery": {"nope": 1}}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["source"]["pointer"] == "/delivery"


def test_delayed_and_shuffled_over_http(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(seed=10, time_scale=0.01)
    put_faults(server, {"delivery": {"delay": 50}})  # 50 s x 0.01 = 0.5 s late
    started = time.monotonic()
    inbound(server, receiver.url + "/late")
    [late] = receiver.wait_events(1, "/late")
    assert late.at - started >= 0.45
    put_faults(server, {"delivery": {"order": "shuffled", "jitter": 20}})
    a = inbound(server, receiver.url + "/a")
    client = telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    client.calls.actions.transfer(a, to=SHORT_CALL, webhook_url=receiver.url + "/b")
    got = receiver.wait_for(lambda rs: len([r for r in rs if r.path in ("/a", "/b")]) >= 7)
    ids = [r.json["data"]["id"] for r in got if r.path in ("/a", "/b")]
    assert len(ids) == len(set(ids)) == 7  # shuffled: all arrive, once each


# -- command faults with the official SDK --------------------------------------------------------


def test_429_sdk_retries_then_succeeds_or_raises(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(seed=11)
    a = inbound(server, receiver.url + "/a")
    put_faults(server, {"commands": {"mode": "429", "count": 2}})
    retrying = telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=2)
    retrying.calls.actions.transfer(a, to=SHORT_CALL, command_id="t-429")
    journal = inspect(server, "commands")
    assert [(c["status"], c.get("fault")) for c in journal] == [
        (429, "command_429"),
        (429, "command_429"),
        (200, None),
    ]
    put_faults(server, {"commands": "429:1"})
    strict = telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(telnyx.RateLimitError) as raised:
        strict.calls.actions.transfer(a, to=SHORT_CALL)
    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.body["errors"][0]["code"] == "10011"  # type: ignore[index]


def test_500_sdk_retries_then_succeeds_or_raises(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(seed=12)
    a = inbound(server, receiver.url + "/a")
    put_faults(server, {"commands": "500:1"})
    with pytest.raises(telnyx.InternalServerError):
        telnyx.Telnyx(
            api_key=API_KEY, base_url=server.base_url, max_retries=0
        ).calls.actions.hangup(a)
    put_faults(server, {"commands": "500:1"})
    telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=1).calls.actions.hangup(a)
    assert [c.get("fault") for c in inspect(server, "commands")] == [
        "command_500",
        "command_500",
        None,
    ]


def _legs_b(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if c["direction"] == "outgoing"]


def test_timeout_fault_sdk_retry_and_command_id_give_one_transfer(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    server = start_emulator(seed=13, time_scale=0.001)
    a = inbound(server, receiver.url + "/a")
    put_faults(server, {"commands": {"mode": "timeout", "count": 1, "timeout_secs": 1.5}})
    client = telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, timeout=0.3, max_retries=2)
    client.calls.actions.transfer(a, to="+13125550100", command_id="once")
    journal = inspect(server, "commands")
    assert [(c["result"], c.get("fault")) for c in journal] == [
        ("accepted", "timeout"),
        ("duplicate", None),
    ]
    assert len(_legs_b(inspect(server, "calls"))) == 1
    # Without a command_id the SDK's retry is a second transfer: why command_id matters.
    put_faults(server, {"commands": {"mode": "timeout", "count": 1, "timeout_secs": 1.5}})
    client.calls.actions.transfer(a, to="+13125550100")
    assert len(_legs_b(inspect(server, "calls"))) == 3
    with pytest.raises(telnyx.APITimeoutError):  # and with retries off, the app sees the timeout
        put_faults(server, {"commands": {"mode": "timeout", "count": 1, "timeout_secs": 1.5}})
        client.with_options(max_retries=0).calls.actions.transfer(a, to="+13125550100")


# -- per test, through the pytest marker ----------------------------------------------------------


@emulator_mark(command_faults={"mode": "timeout", "count": 1}, seed=14)
def test_marker_timeout_fault_sdk_retry_gives_one_transfer(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    call = telnyx_emulator.create_call()
    client = telnyx_emulator.client(max_retries=2)
    client.calls.actions.transfer(call.call_control_id, to=SHORT_CALL, command_id="once")
    journal = telnyx_emulator.commands
    assert [(c["result"], c.get("fault")) for c in journal] == [
        ("accepted", "timeout"),
        ("duplicate", None),
    ]
    assert len(_legs_b(telnyx_emulator.calls)) == 1


@emulator_mark(command_faults="429:2", seed=15)
def test_marker_429_fault_sdk_retries(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call()
    started = time.monotonic()
    telnyx_emulator.client(max_retries=2).calls.actions.transfer(
        call.call_control_id, to=SHORT_CALL
    )
    assert time.monotonic() - started < 1.0  # retry-after-ms: 1 in-process, no real waiting
    assert [c["status"] for c in telnyx_emulator.commands] == [429, 429, 200]
    assert telnyx_emulator.request("PUT", "/_emulator/faults", {"commands": "429:1"}).status == 200
    with pytest.raises(telnyx.RateLimitError):
        telnyx_emulator.client(max_retries=0).calls.actions.hangup(call.call_control_id)


@emulator_mark(delivery={"duplicate": 1.0, "drop_first": 1.0}, seed=16)
def test_marker_delivery_faults(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(hangup_after_secs=5)
    telnyx_emulator.run_until_idle()
    seen = [(w.event_type, w.attempt) for w in telnyx_emulator.webhooks]
    assert seen == [
        ("call.initiated", 2),
        ("call.initiated", 3),
        ("call.hangup", 2),
        ("call.hangup", 3),
    ]
    [initiated, copy] = telnyx_emulator.webhooks_for(call.call_control_id, "call.initiated")
    assert initiated.id == copy.id and copy.body["meta"]["attempt"] == 3
    hooks = telnyx_emulator.request("GET", "/_emulator/webhooks").payload["data"]
    assert all(h["faults"] == ["drop_first", "duplicate"] for h in hooks)


@emulator_mark(delivery={"signature": "stale"}, seed=17)
def test_marker_signature_fault(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.create_call()
    [hook] = telnyx_emulator.run_until_idle()
    with pytest.raises(ValueError, match="too old"):
        telnyx_emulator.client().webhooks.unwrap(hook.raw.decode(), headers=hook.headers)


def test_marker_shuffled_is_reproducible() -> None:
    def order(seed: int) -> list[tuple[str, str]]:
        with mock(seed=seed, delivery={"order": "shuffled"}, env=False) as emu:
            call = emu.create_call()
            emu.client(max_retries=0).calls.actions.transfer(call.call_control_id, to=SHORT_CALL)
            emu.run_until_idle()
            return [(w.event_type, w.call_control_id) for w in emu.webhooks]

    runs = {seed: order(seed) for seed in range(6)}
    assert runs[3] == order(3)
    assert len({tuple(r) for r in runs.values()}) > 1  # the seed changes the order


# -- faults in the logs --------------------------------------------------------------------------


@pytest.fixture
def emulator_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog for the emulator's loggers, also when an in-process ``serve`` of another test in
    this worker has set them not to propagate (emulator/logs.py)."""
    logger = logging.getLogger("telnyx_emulator")
    saved = logger.level, logger.propagate
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # caplog's root handler would see every record twice
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.level, logger.propagate = saved


def test_faults_are_in_the_log_lines(
    start_emulator: Callable[..., EmulatorServer],
    receiver: Receiver,
    emulator_logs: pytest.LogCaptureFixture,
) -> None:
    caplog = emulator_logs
    server = start_emulator(seed=18, webhook_retry_delays=(0.1,))
    put_faults(server, {"delivery": {"drop_first": 1, "duplicate": 1, "signature": "bad"}})
    a = inbound(server, receiver.url + "/a")
    receiver.wait_for(settled(server, 1))
    put_faults(server, {"commands": "429:1"})
    r = httpx.post(f"{server.base_url}/calls/{a}/actions/hangup", json={}, headers=AUTH)
    assert r.status_code == 429
    hooks = [rec for rec in caplog.records if getattr(rec, "event", None) == "webhook"]
    assert [getattr(rec, "fault", None) for rec in hooks] == [
        "drop_first+signature_bad",
        "duplicate+signature_bad",
    ]
    assert "fault=drop_first+signature_bad" in hooks[0].getMessage()
    [command] = [rec for rec in caplog.records if getattr(rec, "command", None) == "hangup"]
    assert getattr(command, "fault", None) == "command_429"
    assert "fault=command_429" in command.getMessage()


@pytest.fixture
def cli_server() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line + (proc.stderr.read() if proc.stderr else "")
        return proc, line.split("listening on", 1)[1].strip()

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def test_cli_flags_set_faults_for_every_key(
    cli_server: Callable[..., tuple[subprocess.Popen[str], str]], receiver: Receiver
) -> None:
    proc, url = cli_server(
        "--seed",
        "19",
        "--time-scale",
        "0.01",
        "--delivery",
        "duplicate=1",
        "--command-faults",
        "500:1",
        "--log-format",
        "json",
    )
    headers = {"Authorization": "Bearer cli-key"}
    r = httpx.post(
        url + "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100", "webhook_url": receiver.url + "/a"},
        headers=headers,
    )
    a = r.json()["data"]["call_control_id"]
    first = httpx.post(f"{url}/v2/calls/{a}/actions/hangup", json={}, headers=headers)
    second = httpx.post(f"{url}/v2/calls/{a}/actions/hangup", json={}, headers=headers)
    assert (first.status_code, second.status_code) == (500, 200)
    got = receiver.wait_events(4)  # initiated twice, hangup twice
    assert [r.json["meta"]["attempt"] for r in got] == [1, 2, 1, 2]
    proc.terminate()
    _, err = proc.communicate(timeout=15)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [x.get("fault") for x in lines if x.get("event") == "webhook"] == [
        None,
        "duplicate",
        None,
        "duplicate",
    ]
    assert [x.get("fault") for x in lines if x.get("event") == "command"] == ["command_500", None]
