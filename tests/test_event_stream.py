"""``GET /_emulator/events`` on a real server: order, filters, tenancy, reconnecting with
``Last-Event-ID``; ``?wait=`` on the webhook listing; the far end hanging up; the page's files."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import telnyx

from emulator.tenancy import tenant_id

from .conftest import API_KEY
from .servers import EmulatorServer, Receiver


class Stream:
    """A blocking SSE reader: each :meth:`next` returns one message (keep-alives skipped)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10.0))
        self._cm = self._client.stream("GET", url, headers=headers or {})
        self.response = self._cm.__enter__()
        self._lines = self.response.iter_lines()

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = {}
        data: list[str] = []
        for line in self._lines:
            if line == "":
                if data or message:
                    break
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                message[name] = value
        message["data"] = json.loads("\n".join(data))
        return message

    def take(self, n: int) -> list[dict[str, Any]]:
        return [self.next() for _ in range(n)]

    def until(
        self, stop: Callable[[dict[str, Any]], bool], limit: int = 200
    ) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        for _ in range(limit):
            got.append(self.next())
            if stop(got[-1]):
                return got
        raise AssertionError(f"no matching event in {limit}: {[m.get('event') for m in got]}")

    def close(self) -> None:
        self._cm.__exit__(None, None, None)
        self._client.close()


@pytest.fixture
def open_stream(emulator: EmulatorServer) -> Iterator[Callable[..., Stream]]:
    streams: list[Stream] = []

    def open_(query: str = "", key: str | None = API_KEY, **headers: str) -> Stream:
        h = {k.replace("_", "-"): v for k, v in headers.items()}
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        stream = Stream(f"{emulator.url}/_emulator/events{query}", h)
        streams.append(stream)
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        ready = stream.next()
        assert ready["event"] == "ready", ready  # subscribed: from here on nothing is missed
        return stream

    yield open_
    for stream in streams:
        stream.close()


def inbound(emulator: EmulatorServer, key: str = API_KEY, url: str | None = None) -> str:
    body: dict[str, Any] = {"from": "+12125550199", "to": "+13125550100"}
    if url:
        body["webhook_url"] = url
    r = httpx.post(
        f"{emulator.url}/_emulator/calls", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


def is_webhook(event_type: str, ccid: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m.get("event") == "webhook"
        and m["data"]["data"]["event_type"] == event_type
        and (ccid is None or m["data"]["call_control_id"] == ccid)
    )


def test_a_transfer_streams_in_order(
    emulator: EmulatorServer, open_stream: Callable[..., Stream], receiver: Receiver
) -> None:
    stream = open_stream()
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    a = inbound(emulator, url=receiver.url + "/hook")
    client.calls.actions.transfer(a, to="+13125550100")
    got = stream.until(is_webhook("call.bridged", a))
    ids = [int(m["id"]) for m in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(int(m["id"]) == m["data"]["id"] and m["event"] == m["data"]["type"] for m in got)
    kinds = [m["event"] for m in got]
    assert kinds[:2] == ["call", "webhook"] and "command" in kinds and "attempt" in kinds
    command = next(m["data"]["data"] for m in got if m["event"] == "command")
    assert (command["command"], command["status"], command["result"]) == (
        "transfer",
        200,
        "accepted",
    )
    delivered = [m["data"]["data"] for m in got if m["event"] == "attempt"]
    assert delivered[0]["event_type"] == "call.initiated"
    assert delivered[0]["attempt"]["status"] == 200
    assert delivered[0]["webhook_status"] == "delivered"
    assert "telnyx-signature-ed25519" in delivered[0]["headers"]
    states = [m["data"]["data"]["state"] for m in got if m["event"] == "call"]
    assert states[0] == "parked" and "bridged" in states


def test_a_refused_command_streams_its_errors(
    emulator: EmulatorServer, open_stream: Callable[..., Stream]
) -> None:
    stream = open_stream("?types=command")
    a = inbound(emulator)
    r = httpx.post(
        f"{emulator.url}/v2/calls/{a}/actions/transfer",
        json={"timeout_secs": 1},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 422
    message = stream.next()
    entry = message["data"]["data"]
    assert message["event"] == "command" and entry["result"] == "rejected"
    assert {e["code"] for e in entry["errors"]} == {e["code"] for e in r.json()["errors"]}


def test_filters_by_call_and_type(
    emulator: EmulatorServer, open_stream: Callable[..., Stream]
) -> None:
    one = inbound(emulator)
    only_one = open_stream(f"?call_control_id={one}&types=webhook")
    everything = open_stream()
    two = inbound(emulator)
    httpx.post(
        f"{emulator.url}/_emulator/calls/{one}/hangup",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    seen = everything.until(is_webhook("call.hangup", one))
    assert any(m["data"]["call_control_id"] == two for m in seen)
    message = only_one.next()
    assert message["event"] == "webhook"
    assert message["data"]["call_control_id"] == one
    assert message["data"]["data"]["event_type"] == "call.hangup"
    bad = httpx.get(
        f"{emulator.url}/_emulator/events?types=nope", headers={"Authorization": "Bearer k"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["source"]["parameter"] == "types"


def test_a_key_sees_only_its_tenant_and_the_admin_sees_all(
    emulator: EmulatorServer, open_stream: Callable[..., Stream]
) -> None:
    mine = open_stream(key="KEY_A")
    admin = open_stream(key=None)  # a local server without --admin-token/--api-key: admin view
    only_b = open_stream(f"?tenant={tenant_id('KEY_B')}", key=None)
    inbound(emulator, "KEY_B")
    inbound(emulator, "KEY_A")
    got_a = mine.take(2)
    assert {m["data"]["tenant"] for m in got_a} == {tenant_id("KEY_A")}
    got_all = admin.take(4)
    assert [m["data"]["tenant"] for m in got_all] == [tenant_id("KEY_B")] * 2 + [
        tenant_id("KEY_A")
    ] * 2
    assert {m["data"]["tenant"] for m in only_b.take(2)} == {tenant_id("KEY_B")}


def test_admin_token_and_api_keys_guard_the_stream(
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    guarded = start_emulator(admin_token="s3cret")
    r = httpx.get(f"{guarded.url}/_emulator/events")
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "10009"
    with httpx.stream(
        "GET", f"{guarded.url}/_emulator/events", headers={"X-Emulator-Admin-Token": "s3cret"}
    ) as ok:
        assert ok.status_code == 200
        assert next(ok.iter_lines()) == "event: ready"
    keyed = start_emulator(api_keys=("KEY_A",))
    r = httpx.get(f"{keyed.url}/_emulator/events")  # no admin view: a key is needed
    assert r.status_code == 401 and r.json()["errors"]
    r = httpx.get(f"{keyed.url}/_emulator/tenants", headers={"Authorization": "Bearer KEY_A"})
    assert r.json()["admin"] is False and [t["label"] for t in r.json()["data"]] == ["KEY_A"]
    gone = start_emulator(no_admin=True)
    assert httpx.get(f"{gone.url}/_emulator/events").status_code == 404
    assert httpx.get(f"{gone.url}/_emulator/ui").status_code == 404


def test_reconnecting_with_last_event_id_misses_nothing(
    emulator: EmulatorServer, open_stream: Callable[..., Stream]
) -> None:
    first = open_stream()
    a = inbound(emulator)
    seen = first.take(2)
    last = seen[-1]["id"]
    first.close()
    b = inbound(emulator)  # while disconnected (the log lingers for a reconnect)
    httpx.post(
        f"{emulator.url}/_emulator/calls/{a}/hangup", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    again = open_stream(key=API_KEY, last_event_id=last)
    missed = again.take(5)  # b: call, webhook; a: call, webhook, command
    assert [int(m["id"]) for m in missed] == list(range(int(last) + 1, int(last) + 6))
    assert [m["data"]["call_control_id"] for m in missed[:2]] == [b, b]
    assert [m["event"] for m in missed[2:]] == ["call", "webhook", "command"]
    future = open_stream(last_event_id="999999")
    assert future.next()["event"] == "resync"
    bad = httpx.get(
        f"{emulator.url}/_emulator/events",
        headers={"Authorization": f"Bearer {API_KEY}", "Last-Event-ID": "abc"},
    )
    assert bad.status_code == 422


def test_webhooks_wait_blocks_until_one_matches(emulator: EmulatorServer) -> None:
    a = inbound(emulator)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{emulator.url}/_emulator/webhooks?call_control_id={a}&event_type=call.hangup&wait=10"
    answer: dict[str, Any] = {}
    waiter = threading.Thread(
        target=lambda: answer.update(r=httpx.get(url, headers=auth, timeout=15))
    )
    waiter.start()
    assert httpx.get(url.replace("wait=10", "wait=0"), headers=auth).json()["data"] == []
    httpx.post(f"{emulator.url}/_emulator/calls/{a}/hangup", headers=auth)
    waiter.join(15)
    data = answer["r"].json()["data"]
    assert [w["event_type"] for w in data] == ["call.hangup"]
    r = httpx.get(f"{emulator.url}/_emulator/webhooks?wait=soon", headers=auth)
    assert r.status_code == 422


def test_the_far_end_hangs_up(emulator: EmulatorServer, receiver: Receiver) -> None:
    client = telnyx.Telnyx(api_key=API_KEY, base_url=emulator.base_url, max_retries=0)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    a = inbound(emulator, url=receiver.url + "/hook")
    client.calls.actions.transfer(a, to="+13125550100")
    receiver.wait_for(lambda rs: [r.event_type for r in rs].count("call.bridged") == 2)
    b = next(
        r.payload["call_control_id"] for r in receiver.requests if r.payload["call_control_id"] != a
    )
    r = httpx.post(f"{emulator.url}/_emulator/calls/{b}/hangup", headers=auth)
    assert r.status_code == 200 and r.json() == {"data": {"result": "ok"}}
    hangups = receiver.wait_for(lambda rs: [x.event_type for x in rs].count("call.hangup") == 2)
    by_leg = {
        h.payload["call_control_id"]: h.payload for h in hangups if h.event_type == "call.hangup"
    }
    assert by_leg[b]["hangup_source"] == "callee"  # the far end of an outgoing leg is the callee
    assert by_leg[b]["hangup_cause"] == "normal_clearing"
    assert a in by_leg  # the bridged peer goes too, as when the app hangs up
    again = httpx.post(f"{emulator.url}/_emulator/calls/{b}/hangup", headers=auth)
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "90018"
    unknown = httpx.post(f"{emulator.url}/_emulator/calls/v3:nope/hangup", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "90015"
    journal = httpx.get(f"{emulator.url}/_emulator/commands?call_control_id={b}", headers=auth)
    assert [(c["command"], c["status"]) for c in journal.json()["data"]] == [
        ("far_end_hangup", 200),
        ("far_end_hangup", 422),
    ]
    c = inbound(emulator)
    httpx.post(f"{emulator.url}/_emulator/calls/{c}/hangup", headers=auth)
    status = httpx.get(f"{emulator.url}/_emulator/calls", headers=auth).json()["data"]
    assert next(x for x in status if x["call_control_id"] == c)["hangup_source"] == "caller"


def test_an_admin_acts_on_a_tenant_by_its_id(start_emulator: Callable[..., EmulatorServer]) -> None:
    server = start_emulator(admin_token="s3cret")
    admin = {"X-Emulator-Admin-Token": "s3cret"}
    r = httpx.post(
        f"{server.url}/_emulator/calls",
        json={"from": "+12125550199", "to": "+13125550100"},
        headers={**admin, "Authorization": "Bearer KEY_A"},
    )
    assert r.status_code == 201
    tenants = httpx.get(f"{server.url}/_emulator/tenants", headers=admin).json()
    assert tenants["admin"] is True
    assert [(t["id"], t["label"], t["calls"]) for t in tenants["data"]] == [
        (tenant_id("KEY_A"), "KEY_A", 1)
    ]
    calls = httpx.get(
        f"{server.url}/_emulator/calls", headers={**admin, "X-Emulator-Tenant": tenant_id("KEY_A")}
    )
    assert len(calls.json()["data"]) == 1
    nobody = httpx.get(
        f"{server.url}/_emulator/calls", headers={**admin, "X-Emulator-Tenant": "t-000000000000"}
    )
    assert nobody.status_code == 404 and nobody.json()["errors"][0]["source"]["parameter"]


def test_the_page_is_served_from_the_package(start_emulator: Callable[..., EmulatorServer]) -> None:
    server = start_emulator(admin_token="s3cret")  # the page loads without it, then asks for it
    page = httpx.get(f"{server.url}/_emulator/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<script src="/_emulator/ui/app.js"' in page.text
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN
    js = httpx.get(f"{server.url}/_emulator/ui/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert httpx.get(f"{server.url}/_emulator/ui/app.css").status_code == 200
    post = httpx.post(f"{server.url}/_emulator/ui")
    assert post.status_code == 405 and post.json()["errors"][0]["code"] == "10005"
