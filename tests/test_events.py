"""The event log in-process (sans-I/O): what it records, in what order, and when nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.api import Api, ApiRequest
from emulator.clock import VirtualClock
from emulator.config import Settings
from emulator.events import EventLog, Filter, Resync
from emulator.tenancy import tenant_id, tenant_label


def make_api(**settings: Any) -> tuple[Api, VirtualClock]:
    clock = VirtualClock(1_700_000_000.0)
    return Api(Settings(**settings), clock=clock, wall_clock=clock.now), clock


def call(api: Api, method: str, path: str, body: Any = None, key: str = "KEY_A") -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    response = api.handle(ApiRequest(method, path, headers, raw))
    assert response.status < 300, response.payload
    return response.payload


def inbound(api: Api, key: str = "KEY_A", url: str | None = "http://127.0.0.1:9/hook") -> str:
    body: dict[str, Any] = {"from": "+12125550199", "to": "+13125550100"}
    if url:
        body["webhook_url"] = url
    return str(call(api, "POST", "/_emulator/calls", body, key)["data"]["call_control_id"])


def decoded(log: EventLog, where: Filter | None = None, after: int = 0) -> list[dict[str, Any]]:
    return [json.loads(e.json) for e in log.after(after, where or Filter(), resuming=False)]


def test_nothing_is_recorded_while_nobody_watches() -> None:
    api, _ = make_api()
    ccid = inbound(api)
    call(api, "POST", f"/v2/calls/{ccid}/actions/transfer", {"to": "+13125550100"})
    assert api.events.on is False
    assert api.events.last_id == 0
    assert decoded(api.events) == []


def test_a_transfer_is_recorded_in_order_with_every_kind() -> None:
    api, clock = make_api(time_scale=1.0)
    api.events.subscribe(lambda: None)
    ccid = inbound(api)
    call(api, "POST", f"/v2/calls/{ccid}/actions/transfer", {"to": "+13125550100"})
    clock.advance(5)
    for attempt in api.ready(clock.now()):  # a receiver that answers 500, then nothing more
        api.outbox.settle(attempt, clock.now(), status=500, latency_ms=3.5)
    events = decoded(api.events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == 1
    kinds = [(e["type"], e["data"].get("event_type") or e["data"].get("command")) for e in events]
    # Leg A arrives (state, then its webhook); the transfer dials leg B before it is journaled.
    assert kinds[:5] == [
        ("call", None),
        ("webhook", "call.initiated"),
        ("call", None),
        ("webhook", "call.initiated"),
        ("command", "transfer"),
    ]
    assert [e["data"]["state"] for e in events if e["type"] == "call"][:2] == ["parked", "ringing"]
    tenant = tenant_id("KEY_A")
    assert {e["tenant"] for e in events} == {tenant}
    assert "KEY_A" not in json.dumps(events)  # the key itself never appears
    attempts = [e for e in events if e["type"] == "attempt"]
    assert attempts, "the settled attempt is recorded"
    first = attempts[0]["data"]
    assert first["attempt"]["status"] == 500 and first["attempt"]["latency_ms"] == 3.5
    assert first["webhook_status"] == "pending"  # it will be retried
    assert set(first["headers"]) >= {"telnyx-signature-ed25519", "telnyx-timestamp"}


def test_filters_by_call_session_and_kind() -> None:
    api, _ = make_api()
    api.events.subscribe(lambda: None)
    one, two = inbound(api), inbound(api)
    call(api, "POST", f"/v2/calls/{one}/actions/hangup", {})
    only_one = decoded(api.events, Filter(call_control_id=one))
    assert only_one and {e["call_control_id"] for e in only_one} == {one}
    assert two not in json.dumps(only_one)
    session = only_one[0]["call_session_id"]
    assert decoded(api.events, Filter(call_session_id=session)) == only_one
    commands = decoded(api.events, Filter(kinds=frozenset({"command"})))
    assert [(e["data"]["command"], e["data"]["result"]) for e in commands] == [
        ("hangup", "accepted")
    ]


def test_tenants_are_kept_apart_and_one_admin_sequence() -> None:
    api, _ = make_api()
    api.events.subscribe(lambda: None)
    inbound(api, "KEY_A")
    inbound(api, "KEY_B")
    inbound(api, "KEY_A")
    a, b = tenant_id("KEY_A"), tenant_id("KEY_B")
    mine = decoded(api.events, Filter(tenants=frozenset({a})))
    assert {e["tenant"] for e in mine} == {a} and len(mine) == 4
    every = decoded(api.events)
    assert [e["tenant"] for e in every] == [a, a, b, b, a, a]
    assert [e["id"] for e in every] == list(range(1, 7))


def test_a_reader_resuming_after_a_lost_stretch_is_told_to_resync() -> None:
    api, clock = make_api()
    log = api.events
    subscription = log.subscribe(lambda: None)
    inbound(api)
    seen = log.last_id
    subscription.close()
    clock.advance(log.linger_secs / 2)
    inbound(api)  # still recorded: a page may be reconnecting
    assert log.last_id > seen
    assert [e["type"] for e in decoded(log, after=seen)] == ["call", "webhook"]
    clock.advance(log.linger_secs + 1)
    inbound(api)  # nobody came back: the log stops
    assert log.on is False
    stopped = log.last_id
    inbound(api)
    assert log.last_id == stopped  # nothing built, nothing numbered
    log.subscribe(lambda: None)
    with pytest.raises(Resync):
        log.after(stopped, Filter())  # what happened while it was off is unknown
    with pytest.raises(Resync):
        log.after(stopped + 50, Filter())  # an id from another run
    assert log.after(log.last_id, Filter(), resuming=False) == []


def test_each_tenant_keeps_a_bounded_ring() -> None:
    clock = VirtualClock(0.0)
    log = EventLog(clock, ring_size=3)
    log.subscribe(lambda: None)
    for _ in range(5):
        log.record("reset", "t-busy", {})
    log.record("reset", "t-quiet", {})
    assert [e.id for e in log.after(0, Filter(tenants=frozenset({"t-quiet"})), resuming=False)] == [
        6
    ]
    with pytest.raises(Resync):  # the busy tenant's events 1 and 2 are gone
        log.after(0, Filter(tenants=frozenset({"t-busy"})), resuming=False)
    assert [e.id for e in log.after(2, Filter(), resuming=False)] == [3, 4, 5, 6]


def test_subscribers_are_told_of_each_event() -> None:
    log = EventLog(VirtualClock(0.0))
    told: list[int] = []
    subscription = log.subscribe(lambda: told.append(log.last_id))
    log.record("reset", "t-1", {})
    log.record("reset", "t-1", {})
    subscription.close()
    assert told == [1, 2]
    assert log.subscribers == 0


def test_reset_is_an_event_of_its_own() -> None:
    api, _ = make_api()
    api.events.subscribe(lambda: None)
    inbound(api)
    call(api, "POST", "/_emulator/reset")
    assert decoded(api.events)[-1]["type"] == "reset"


def test_tenant_names_hide_long_keys() -> None:
    assert tenant_label("KEY123") == "KEY123"
    assert tenant_label("KEY0123456789abcdef") == "KEY0…ef"
    assert tenant_id("KEY123") == tenant_id("KEY123") != tenant_id("KEY124")
    assert tenant_id("KEY123").startswith("t-") and len(tenant_id("KEY123")) == 14
