"""Tenants cannot hurt each other (issue #12): one API key's faults, delays, backlog or calls
never delay or refuse another key's work, and the tenant table stays bounded."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from emulator.api import ApiRequest

from .harness import Harness
from .servers import EmulatorServer, Receiver
from .test_reliability import RawServer


def test_the_pending_webhook_cap_is_per_api_key() -> None:
    h = Harness(max_pending_webhooks=3)
    abusive = {"authorization": "Bearer ABUSIVE"}
    inbound = {"from": "+12125550199", "to": "+13125550100", "webhook_url": "http://app/a"}
    a = [h.request("POST", "/_emulator/calls", inbound, abusive) for _ in range(3)]
    assert [r.status for r in a] == [201] * 3  # 3 call.initiated waiting: at the cap
    ccid = a[0].payload["data"]["call_control_id"]
    r = h.request("POST", f"/v2/calls/{ccid}/actions/transfer", {"to": "+13125550100"}, abusive)
    assert r.status == 429 and r.payload["errors"][0]["code"] == "10011"
    assert "of this API key" in r.payload["errors"][0]["detail"]
    r = h.request("POST", "/_emulator/calls", inbound, abusive)
    assert r.status == 429  # new calls too: they would only add to the backlog
    b = h.inbound()  # another key: unaffected
    h.transfer(b, to="+13125550100")
    assert h.api.outbox.pending("ABUSIVE") == 3 and h.api.outbox.pending("KEY") == 2


def test_idle_api_keys_are_forgotten_so_many_keys_stay_bounded() -> None:
    """20,000 one-off keys over 1,000 s (the bound does not depend on the count: 100,000 keep
    the same table size at the same rate)."""
    h = Harness(retention_secs=60.0, dedup_window_secs=30.0)
    api = h.api
    keep = h.inbound()  # a live call: its key is never forgotten
    most = 0
    for n in range(20_000):
        h.clock.advance(0.05)  # 1,000 s in all; 60 s idle makes a key forgettable
        r = api.handle(ApiRequest("GET", "/_emulator/faults", {"authorization": f"Bearer K{n}"}))
        assert r.status == 200
        most = max(most, len(api.tenants))
    # At most the keys used within the last idle period (60 s = 1,200 requests) and the
    # sweep's one-second granularity (20 requests), plus the busy key.
    assert most <= 1_200 + 20 + 2, most
    assert "KEY" in api.tenants  # busy: it still has a live call
    assert h.request("GET", f"/v2/calls/{keep}").status == 200
    assert "K0" not in api.tenants and "K19999" in api.tenants


def test_a_key_with_retained_calls_or_pending_webhooks_is_kept() -> None:
    h = Harness(retention_secs=60.0, dedup_window_secs=30.0)
    a = h.inbound()
    h.request("POST", f"/v2/calls/{a}/actions/hangup", {})
    h.clock.advance(61)  # idle for longer than the idle period, and its call ended 61 s ago
    h.api.tenant("OTHER")  # any request sweeps
    assert "KEY" in h.api.tenants  # its webhooks are still pending (never run): kept
    h.run(1)  # delivered now
    h.clock.advance(61)
    h.api.tenant("OTHER2")
    assert "KEY" not in h.api.tenants  # nothing left: forgotten, journal and all


def _latencies(server: EmulatorServer, receiver: Receiver, key: str, n: int) -> list[float]:
    """Seconds from POST /_emulator/calls to its call.initiated at the receiver, n calls."""
    out = []
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as http:
        for i in range(n):
            path = f"/{key}/{i}/{time.monotonic_ns()}"
            started = time.monotonic()
            r = http.post(
                "/_emulator/calls",
                json={
                    "from": "+12125550199",
                    "to": "+13125550100",
                    "webhook_url": receiver.url + path,
                },
            )
            assert r.status_code == 201, r.text
            receiver.wait_for(lambda rs, p=path: any(x.path == p for x in rs), timeout=5)
            out.append(time.monotonic() - started)
    return out


def test_an_abusive_tenant_leaves_another_tenants_webhook_latency_unchanged(
    start_emulator: Callable[..., EmulatorServer], receiver: Receiver
) -> None:
    """Bound: with the abusive key at work, the polite key's median call.initiated latency stays
    within 50 ms of its median alone, and none of its 20 webhooks takes longer than 250 ms (or
    twice its slowest alone, on a loaded machine): far from the ~2 s (the webhook timeout) it
    waits when the abusive key holds every sender slot."""
    server = start_emulator(time_scale=1.0, webhook_timeout_secs=2.0)
    alone = _latencies(server, receiver, "POLITE", 20)

    # Receivers that read requests and never answer, on 8 ports: 8 origins x 8 slots each
    # would be every slot of the sender, were the abusive key not held to its share.
    black_holes = [RawServer("hang").start() for _ in range(8)]
    abusive = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer ABUSIVE"})
    # Maximum faults: every webhook delayed, duplicated, first attempt dropped, badly signed,
    # and every command applied and then held for a day.
    r = abusive.put(
        "/_emulator/faults",
        json={
            "delivery": {
                "delay": [0, 86_400],
                "duplicate": 1,
                "drop_first": 1,
                "signature": "bad",
            },
            "commands": {"mode": "timeout", "probability": 1, "timeout_secs": 86_400},
        },
    )
    assert r.status_code == 200, r.text
    calls = []
    for i in range(150):  # some with the day-long delays...
        r = abusive.post(
            "/_emulator/calls",
            json={
                "from": "+12125550199",
                "to": "+13125550100",
                "webhook_url": f"{black_holes[i % 8].url}/d{i}",
            },
        )
        calls.append(r.json()["data"]["call_control_id"])
    abusive.put("/_emulator/faults", json={"delivery": None})  # ...and thousands due now, to
    for i in range(2_000):  # a receiver that never answers: they hold every slot they can get
        abusive.post(
            "/_emulator/calls",
            json={
                "from": "+12125550199",
                "to": "+13125550100",
                "webhook_url": f"{black_holes[i % 8].url}/n{i}",
            },
        )
    assert server.api.outbox.pending("ABUSIVE") >= 2_000

    held: list[Any] = []

    def hold_commands() -> None:  # transfers answered a day late: requests that stay open
        async def run() -> None:
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": "Bearer ABUSIVE"}, timeout=60
            ) as c:
                tasks = [
                    asyncio.create_task(
                        c.post(f"/v2/calls/{ccid}/actions/transfer", json={"to": "+13125550100"})
                    )
                    for ccid in calls[:50]
                ]
                held.append(tasks)
                await asyncio.sleep(3)
                for t in tasks:
                    t.cancel()

        asyncio.run(run())

    thread = threading.Thread(target=hold_commands, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # let the held commands arrive and the sender fill A's slots
        busy = _latencies(server, receiver, "POLITE", 20)
    finally:
        thread.join(10)
        abusive.close()
        for black_hole in black_holes:
            black_hole.stop()
    assert statistics.median(busy) <= statistics.median(alone) + 0.05, (alone, busy)
    # All but the slowest within the bound, and even the slowest well under the 2 s a starved
    # key waits (a webhook timeout of the abusive key's black holes): one scheduling hiccup of
    # a loaded 2-core CI machine (seen once at 0.97 s) is not the abusive key's doing.
    assert sorted(busy)[-2] < max(0.25, 2 * max(alone)), (alone, busy)
    assert max(busy) < 1.5, (alone, busy)


def test_a_key_with_connections_made_through_the_api_is_kept() -> None:
    """Connections and numbers a key created are state the user made, not leftovers."""
    h = Harness(retention_secs=60.0, dedup_window_secs=30.0)
    r = h.request(
        "POST",
        "/v2/call_control_applications",
        {"application_name": "app", "webhook_event_url": "https://app.example/hooks"},
    )
    assert r.status in (200, 201), r.payload
    h.clock.advance(3_600)
    h.api.tenant("OTHER")  # sweeps
    assert "KEY" in h.api.tenants
    listed = h.request("GET", "/v2/call_control_applications").payload["data"]
    assert [c["application_name"] for c in listed] == ["app"]
