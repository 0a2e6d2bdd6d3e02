"""Connections and numbers: calls without a webhook_url report where Telnyx sends them.

End to end with the official SDK against a real server and a real receiver (config file, CRUD,
failover, per-connection timeout, active calls, call events), and in-process with the fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import telnyx

from emulator import config_file
from emulator.inprocess import mock

from .conftest import API_KEY
from .harness import Harness
from .servers import EmulatorServer, Receiver

CONNECTION_ID = "1234567890123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def write_config(tmp_path: Path, receiver: Receiver, extra: str = "") -> Path:
    path = tmp_path / "telnyx-emulator.yaml"
    path.write_text(
        "connections:\n"
        "  - application_name: my-app\n"
        f'    id: "{CONNECTION_ID}"\n'
        f"    webhook_event_url: {receiver.url}/hooks\n"
        f"    webhook_event_failover_url: {receiver.url}/failover\n"
        "    numbers: ['+13125550100']\n" + extra,
        encoding="utf-8",
    )
    return path


def server_with_config(
    start_emulator: Callable[..., EmulatorServer], path: Path, **settings: Any
) -> EmulatorServer:
    loaded = config_file.load(path)
    return start_emulator(connections=loaded.connections, **settings)


def sdk(server: EmulatorServer) -> telnyx.Telnyx:
    return telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=0)


def test_dial_with_only_connection_id_gets_every_webhook(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver, tmp_path: Path
) -> None:
    server = server_with_config(start_emulator, write_config(tmp_path, receiver))
    client = sdk(server)
    dialled = client.calls.dial(
        connection_id=CONNECTION_ID, from_="+12125550199", to="+13125550106"
    )
    ccid = dialled.data.call_control_id
    # short_call: answered, then the callee hangs up after 10 s (x0.01)
    got = receiver.wait_for(lambda rs: any(r.event_type == "call.hangup" for r in rs))
    assert [(r.path, r.event_type) for r in got] == [
        ("/hooks", "call.initiated"),
        ("/hooks", "call.answered"),
        ("/hooks", "call.hangup"),
    ]
    assert all(r.payload["connection_id"] == CONNECTION_ID for r in got)
    assert all(r.payload["call_control_id"] == ccid for r in got)
    # The SDK verifies them: signed like every other webhook.
    client.webhooks.unwrap(got[0].body.decode(), headers=got[0].headers, key=server.public_key)


def test_failover_and_per_connection_timeout(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver, tmp_path: Path
) -> None:
    # The server waits 5 s by default; this connection only 1 s, and its app takes 1.5 s.
    path = write_config(tmp_path, receiver, "    webhook_timeout_secs: 1\n")
    server = server_with_config(
        start_emulator, path, webhook_timeout_secs=5.0, webhook_retry_delays=(0.1,)
    )
    receiver.respond("/hooks", delay=1.5)
    client = sdk(server)
    client.calls.dial(connection_id=CONNECTION_ID, from_="+12125550199", to="+13125550101")
    got = receiver.wait_for(lambda rs: any(r.path == "/failover" for r in rs), timeout=15)
    first = next(r for r in got if r.path == "/failover")
    assert first.event_type == "call.initiated"
    assert first.json["meta"] == {"attempt": 3, "delivered_to": receiver.url + "/failover"}
    hooks = httpx.get(server.url + "/_emulator/webhooks", headers=AUTH).json()["data"]
    attempts = hooks[0]["attempts"]
    assert [a["error"] for a in attempts] == ["timeout", "timeout", None]
    assert all(900 <= a["latency_ms"] < 1400 for a in attempts[:2]), attempts


def test_inbound_call_to_an_assigned_number_reaches_its_connection(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver, tmp_path: Path
) -> None:
    server = server_with_config(start_emulator, write_config(tmp_path, receiver))
    r = httpx.post(
        server.url + "/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100"},
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["connection_id"] == CONNECTION_ID
    [got] = receiver.wait_events(1)
    assert (got.path, got.event_type) == ("/hooks", "call.initiated")
    assert got.payload["direction"] == "incoming"


def test_crud_through_the_sdk_and_routing_follows_the_record(
    emulator: EmulatorServer, receiver: Receiver
) -> None:
    client = sdk(emulator)
    created = client.call_control_applications.create(
        application_name="call-router", webhook_event_url=receiver.url + "/one"
    ).data
    assert created is not None and created.id is not None
    assert created.record_type == "call_control_application"
    assert created.webhook_api_version == "2" and created.active is True
    assert created.inbound is not None and created.inbound.sip_subdomain_receive_settings
    fetched = client.call_control_applications.retrieve(created.id).data
    assert fetched is not None and fetched.application_name == "call-router"

    updated = client.call_control_applications.update(
        created.id,
        application_name="call-router",
        webhook_event_url=receiver.url + "/two",
        webhook_timeout_secs=3,
        tags=["blue"],
    ).data
    assert updated is not None and updated.webhook_timeout_secs == 3 and updated.tags == ["blue"]
    client.calls.dial(connection_id=created.id, from_="+12125550199", to="+13125550101")
    receiver.wait_for(lambda rs: any(r.path == "/two" for r in rs))
    assert receiver.events("/one") == []

    for name in ("alpha", "beta"):
        client.call_control_applications.create(
            application_name=name, webhook_event_url=receiver.url + "/x"
        )
    page = client.call_control_applications.list(page_size=2)
    assert page.meta is not None and (page.meta.page_number, page.meta.total_pages) == (1, 2)
    names = [a.application_name for a in client.call_control_applications.list(page_size=2)]
    assert names == ["beta", "alpha", "call-router"]  # newest first, across both pages
    found = client.call_control_applications.list(filter={"application_name": {"contains": "ALP"}})
    assert [a.application_name for a in found.data] == ["alpha"]

    deleted = client.call_control_applications.delete(created.id).data
    assert deleted is not None and deleted.id == created.id
    with pytest.raises(telnyx.NotFoundError):
        client.call_control_applications.retrieve(created.id)
    with pytest.raises(telnyx.UnprocessableEntityError) as refused:
        client.call_control_applications.create(
            application_name="v1", webhook_event_url=receiver.url, webhook_api_version="1"
        )
    assert refused.value.body["errors"][0]["source"] == {"pointer": "/webhook_api_version"}  # type: ignore[index]


def test_active_calls_and_call_events_paginate_as_telnyx_does(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver, tmp_path: Path
) -> None:
    server = server_with_config(start_emulator, write_config(tmp_path, receiver))
    client = sdk(server)
    ids = [
        client.calls.dial(
            connection_id=CONNECTION_ID, from_="+12125550199", to="+13125550100"
        ).data.call_control_id
        for _ in range(3)
    ]
    receiver.wait_events(6)  # initiated + answered for each
    raw = httpx.get(
        server.base_url + f"/connections/{CONNECTION_ID}/active_calls",
        params={"page[limit]": "2"},
        headers=AUTH,
    ).json()
    assert [c["call_control_id"] for c in raw["data"]] == ids[:2]
    assert raw["meta"]["total_items"] == 3 and raw["meta"]["next"].startswith(
        f"/v2/connections/{CONNECTION_ID}/active_calls?page[after]="
    )
    after = raw["meta"]["cursors"]["after"]
    rest = httpx.get(
        server.base_url + f"/connections/{CONNECTION_ID}/active_calls",
        params={"page[after]": after},
        headers=AUTH,
    ).json()
    assert [c["call_control_id"] for c in rest["data"]] == ids[2:]
    # The SDK pages with page[number]; it sees all three, then stops.
    listed = client.connections.list_active_calls(CONNECTION_ID, page_size=2)
    assert [c.call_control_id for c in listed] == ids

    client.calls.actions.hangup(ids[0])
    receiver.wait_for(lambda rs: any(r.event_type == "call.hangup" for r in rs))
    assert [c.call_control_id for c in client.connections.list_active_calls(CONNECTION_ID)] == ids[
        1:
    ]

    leg = client.calls.retrieve_status(ids[0]).data
    assert leg is not None
    events = client.call_events.list(filter={"leg_id": leg.call_leg_id}, page_size=2)
    assert events.meta is not None and events.meta.total_pages == 3
    seen = [(e.type, e.name) for e in events]  # the iterator fetches pages 2 and 3
    assert seen == [
        ("command", "dial"),
        ("webhook", "call.initiated"),
        ("webhook", "call.answered"),
        ("command", "hangup"),
        ("webhook", "call.hangup"),
    ]
    commands = client.call_events.list(filter={"type": "command"})
    assert [e.name for e in commands.data] == ["dial", "dial", "dial", "hangup"]
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.call_events.list(filter={"name": "x"})  # a conference filter: refused, not ignored


def test_unknown_connection_id_accepted_by_default_refused_when_strict(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    lenient = start_emulator(
        connections=(config_file.shortcut(receiver.url + "/default", connection_id="42"),)
    )
    sdk(lenient).calls.dial(connection_id="999", from_="+12125550199", to="+13125550101")
    got = receiver.wait_events(1, "/default")
    assert got[0].payload["connection_id"] == "999"  # the app's id, echoed; the default's URL

    strict = start_emulator(strict=True)
    with pytest.raises(telnyx.UnprocessableEntityError) as refused:
        sdk(strict).calls.dial(connection_id="999", from_="+12125550199", to="+13125550101")
    assert refused.value.body["errors"][0]["code"] == "10015"  # type: ignore[index]


def test_inactive_connection_refuses_dials() -> None:
    h = Harness()
    r = h.request(
        "POST",
        "/v2/call_control_applications",
        {"application_name": "off", "webhook_event_url": "http://app/x", "active": False},
    )
    assert r.status == 201
    dial = {"connection_id": r.payload["data"]["id"], "from": "+12125550199", "to": "+13125550100"}
    r = h.request("POST", "/v2/calls", dial)
    assert r.status == 422 and r.payload["errors"][0]["code"] == "10015"


def test_numbers_api_and_per_tenant_connections(tmp_path: Path) -> None:
    spec = config_file.shortcut("http://app/default", connection_id="42")
    h = Harness(connections=(spec,))
    r = h.request(
        "POST",
        "/v2/call_control_applications",
        {"application_name": "sales", "webhook_event_url": "http://app/sales"},
    )
    sales = r.payload["data"]["id"]
    assert (
        h.request("PUT", "/_emulator/numbers/+13125550177", {"connection_id": sales}).status == 200
    )
    assert h.request("GET", "/_emulator/numbers").payload["data"] == [
        {"phone_number": "+13125550177", "connection_id": sales}
    ]
    calls = [
        h.request("POST", "/_emulator/calls", {"from": "+12125550199", "to": to})
        for to in ("+13125550177", "+13125550178")
    ]
    a, b = (r.payload["data"]["call_control_id"] for r in calls)
    sent = {s.ccid: s.attempt.url for s in h.run(1)}
    assert sent == {a: "http://app/sales", b: "http://app/default"}
    # Another API key starts from the configuration only: no "sales" there.
    other = Harness(key="OTHER", connections=(spec,))
    assert other.request("GET", f"/v2/call_control_applications/{sales}").status == 404
    assert h.request("DELETE", "/_emulator/numbers/+13125550177").status == 200
    assert h.request("DELETE", "/_emulator/numbers/+13125550177").status == 404


def test_fixture_connections_and_create_call_without_webhook_url() -> None:
    with mock(
        connections=[{"webhook_event_url": "http://app.test/hooks", "numbers": ["+13125550100"]}],
        env=False,
    ) as emulator:
        call = emulator.create_call(to="+13125550100")
        emulator.create_call(to="+13125550199")  # not assigned... but the only one is default
        client = emulator.client()
        client.calls.dial(connection_id="77", from_="+12125550199", to="+13125550101")
        emulator.run_until_idle()
        assert {w.url for w in emulator.webhooks} == {"http://app.test/hooks"}
        assert emulator.call(call.call_control_id)["connection_id"] != "77"


def test_config_file_problems_are_reported_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "telnyx-emulator.yaml"
    path.write_text(
        "connections:\n"
        "  - webhook_event_url: http://app/x\n"
        "    numbers: ['+13125550100']\n"
        "    default: true\n"
        "  - webhook_event_url: http://app/y\n"
        "    webhook_timeout_secs: 31\n"
        "    numbers: ['+13125550100']\n"
        "    default: true\n"
        "scenarios: [missing/]\n",
        encoding="utf-8",
    )
    problems = [str(p) for p in config_file.check(path)]
    assert problems == [
        f"{path}:5: only one connection can be the default (first at line 2)",
        f"{path}:6: connections[1].webhook_timeout_secs: must be at most 30, got 31",
        f"{path}:7: connections[1].numbers[0]: +13125550100 is already assigned (line 3)",
        f"{path}:9: scenarios[0]: no such file or directory: {tmp_path / 'missing'}",
    ]
    with pytest.raises(config_file.ConfigError):
        config_file.load(path)


def test_a_hostile_config_file_gets_a_line_not_a_traceback(tmp_path: Path) -> None:
    """The config file is read like a scenario file (scenarios.read_yaml): numbers YAML cannot
    turn into a value are a file:line problem, never an exception."""
    path = tmp_path / "telnyx-emulator.yaml"
    path.write_text("connections:\n  - id: 1\n    webhook_timeout_secs: " + "9" * 5000 + "\n")
    [problem] = config_file.check(path)
    assert problem.file == str(path) and problem.line == 1
    assert problem.reason.startswith("invalid YAML: ValueError")
