"""The in-process emulator and its pytest fixture, used the way an app's test suite uses them."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
import telnyx
from flask import Flask
from flask import request as flask_request
from respx.models import AllMockedAssertionError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.inprocess import EmulatorError, TelnyxEmulator, Webhook, mock

# Installed, the package's pytest11 entry point loads the plugin before this module is imported.
# A bare checkout has no entry point: load it here, and take the marker before the plugin has
# registered it (decorators run at import, before pytest_plugins is processed).
pytest_plugins = [] if "emulator.plugin" in sys.modules else ["emulator.plugin"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    emulator_mark = pytest.mark.telnyx_emulator

APP_NUMBER = "+13125550000"
BUSY = "+13125550101"
ANSWERED = "+13125550100"
SHORT_CALL = "+13125550106"
VOICEMAIL = "+13125550105"
HOOK = "http://app.test/webhooks/telnyx"

A_THEN_B = [
    "call.initiated",  # A
    "call.initiated",  # B
    "call.answered",  # B
    "call.bridged",  # B
    "call.bridged",  # A
    "call.machine.detection.ended",  # B
    "call.hangup",  # B
    "call.hangup",  # A
]


def b64(value: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def lazy_client() -> Any:
    """One SDK client per app, made on first use: key, base URL and public key come from the
    environment the fixture sets (and a client costs ~15 ms to build, so it is reused)."""
    clients: list[telnyx.Telnyx] = []

    def get() -> telnyx.Telnyx:
        if not clients:
            clients.append(telnyx.Telnyx())
        return clients[0]

    return get


def router_app(target: str = SHORT_CALL, *, in_thread: bool = False) -> Starlette:
    """An app that verifies each webhook and transfers incoming calls to ``target``."""
    sdk = lazy_client()

    async def hook(request: Request) -> Response:
        raw = await request.body()
        client = sdk()
        try:
            client.webhooks.unwrap(raw.decode(), headers=dict(request.headers))
        except Exception:
            return JSONResponse({"error": "bad signature"}, status_code=400)
        data = json.loads(raw)["data"]
        payload = data["payload"]
        if data["event_type"] == "call.initiated" and payload["direction"] == "incoming":

            def transfer() -> None:
                client.calls.actions.transfer(
                    payload["call_control_id"],
                    to=target,
                    answering_machine_detection="detect",
                    client_state=b64({"step": 1}),
                )

            if in_thread:
                await anyio.to_thread.run_sync(transfer)
            else:
                transfer()
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/webhooks/telnyx", hook, methods=["POST"])])


def flask_router(target: str = SHORT_CALL) -> Flask:
    app = Flask(__name__)
    app.testing = True  # let exceptions propagate to the emulator (and the test)
    sdk = lazy_client()

    @app.post("/webhooks/telnyx")
    def hook() -> tuple[dict[str, Any], int]:
        client = sdk()
        raw = flask_request.get_data()
        client.webhooks.unwrap(raw.decode(), headers=dict(flask_request.headers))
        data = json.loads(raw)["data"]
        if data["event_type"] == "call.initiated" and data["payload"]["direction"] == "incoming":
            client.calls.actions.transfer(data["payload"]["call_control_id"], to=target)
        return {"ok": True}, 200

    return app


# -- requests: SDK clients in, Telnyx responses out --------------------------------------------


def test_sync_sdk_transfer_and_status(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)
    client = telnyx.Telnyx(api_key=telnyx_emulator.api_key)

    client.calls.actions.transfer(
        call.call_control_id, to=SHORT_CALL, answering_machine_detection="detect"
    )
    telnyx_emulator.run_until_idle()

    assert telnyx_emulator.events() == A_THEN_B
    status = client.calls.retrieve_status(call.call_control_id)
    assert status.data is not None
    assert status.data.is_alive is False
    assert status.data.call_duration == 11
    [command] = telnyx_emulator.commands
    assert (command["command"], command["result"]) == ("transfer", "accepted")
    assert command["path"] == f"/v2/calls/{call.call_control_id}/actions/transfer"
    legs = {leg["direction"]: leg for leg in telnyx_emulator.calls}
    assert legs["outgoing"]["scenario"] == "short_call"
    assert legs["outgoing"]["hangup_source"] == "callee"


def test_async_sdk_client(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)

    async def main() -> bool | None:
        async with telnyx.AsyncTelnyx() as client:
            await client.calls.actions.transfer(call.call_control_id, to=ANSWERED)
            telnyx_emulator.run_until_idle()
            status = await client.calls.retrieve_status(call.call_control_id)
            assert status.data is not None
            return status.data.is_alive

    assert asyncio.run(main()) is True
    assert telnyx_emulator.events(call.call_control_id) == ["call.initiated", "call.bridged"]


def test_every_command_goes_to_the_engine_unchanged(telnyx_emulator: TelnyxEmulator) -> None:
    """The plugin knows no routes: commands added to the API work here without plugin changes."""
    client = telnyx_emulator.client()
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    client.calls.actions.answer(call.call_control_id)
    client.calls.actions.hangup(call.call_control_id)
    dialled = client.calls.dial(
        connection_id=call.connection_id, to=SHORT_CALL, from_=APP_NUMBER, webhook_url=HOOK
    )
    telnyx_emulator.run_until_idle()

    assert dialled.data is not None
    assert dialled.data.call_control_id
    assert telnyx_emulator.events(call.call_control_id) == [
        "call.initiated",
        "call.answered",
        "call.hangup",
    ]
    assert [c["command"] for c in telnyx_emulator.commands] == ["answer", "hangup", "dial"]


def test_errors_surface_as_sdk_exceptions(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call()
    client = telnyx_emulator.client(max_retries=0)

    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.transfer(call.call_control_id, to="not-a-number")
    assert info.value.status_code == 422
    body = info.value.body
    assert isinstance(body, dict)
    assert body["errors"][0]["source"]["pointer"] == "/to"

    with pytest.raises(telnyx.APIStatusError):
        client.calls.retrieve_status("v3:no-such-call")
    rejected = [c for c in telnyx_emulator.commands if c["result"] == "rejected"]
    assert len(rejected) == 1

    with pytest.raises(EmulatorError) as failed:
        telnyx_emulator.create_call(to="12345")
    assert failed.value.status == 422


def test_an_emulator_bug_is_a_500_the_sdk_does_not_retry(
    telnyx_emulator: TelnyxEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: Any) -> Any:
        raise ZeroDivisionError("engine bug")

    monkeypatch.setattr(telnyx_emulator.api, "handle", broken)
    with pytest.raises(telnyx.InternalServerError) as info:
        telnyx_emulator.client().calls.retrieve_status("v3:x")  # max_retries=2 by default
    assert info.value.response.headers["x-should-retry"] == "false"
    assert info.value.body["errors"][0]["code"] == "10007"  # type: ignore[index]
    assert [type(e) for e in telnyx_emulator.internal_errors] == [ZeroDivisionError]


def test_other_hosts_pass_through(telnyx_emulator: TelnyxEmulator) -> None:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"real server"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hello"
        assert httpx.get(url).text == "real server"

        async def get() -> str:
            async with httpx.AsyncClient() as client:
                return (await client.get(url)).text

        assert asyncio.run(get()) == "real server"
        # ... while the Telnyx API is still answered in-process, on the same clients.
        health = httpx.get("https://api.telnyx.com/_emulator/health")
        assert health.json() == {"data": {"status": "ok"}}
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
@pytest.mark.parametrize("emulator_first", [True, False])
def test_works_beside_another_respx_router(using: str, emulator_first: bool) -> None:
    """An app's other HTTP dependencies can still be mocked with respx, in either mode and
    whichever starts first; unmocked hosts still fail the way respx says they should."""
    other = respx.mock(using=using, assert_all_called=False)
    other.get("https://other.example/price").respond(json={"price": 3})
    emulator = mock()
    first, second = (emulator, other) if emulator_first else (other, emulator)
    with first, second:
        assert httpx.get("https://other.example/price").json() == {"price": 3}
        call = emulator.create_call()
        status = emulator.client().calls.retrieve_status(call.call_control_id)
        assert status.data is not None
        assert status.data.is_alive
        with pytest.raises(AllMockedAssertionError):
            httpx.get("https://unmocked.example/")


# -- virtual time --------------------------------------------------------------------------------


def test_advance_runs_only_what_is_due(telnyx_emulator: TelnyxEmulator) -> None:
    start = telnyx_emulator.now
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    telnyx_emulator.client().calls.actions.transfer(call.call_control_id, to=SHORT_CALL)

    first = telnyx_emulator.advance(0.5)
    assert [w.event_type for w in first] == ["call.initiated", "call.initiated"]
    assert telnyx_emulator.now == pytest.approx(start + 0.5)

    second = telnyx_emulator.advance(1)  # leg B answers 1 s after the transfer
    assert [w.event_type for w in second] == ["call.answered", "call.bridged", "call.bridged"]
    assert second[0].at == pytest.approx(start + 1)
    assert telnyx_emulator.now == pytest.approx(start + 1.5)

    assert telnyx_emulator.advance(5) == []
    rest = telnyx_emulator.run_until_idle()
    assert [w.event_type for w in rest] == ["call.hangup", "call.hangup"]
    assert telnyx_emulator.now == pytest.approx(start + 11)  # stops at the last event
    assert telnyx_emulator.pending() == 0


def test_run_until_idle_bound_leaves_bridged_calls_up(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    telnyx_emulator.client().calls.actions.transfer(call.call_control_id, to=ANSWERED)
    telnyx_emulator.run_until_idle()
    assert "call.hangup" not in telnyx_emulator.events()
    assert telnyx_emulator.call(call.call_control_id)["state"] == "bridged"

    telnyx_emulator.run_until_idle(max_seconds=5 * 3600)  # past the 4 h time_limit
    hangups = telnyx_emulator.webhooks_for(event_type="call.hangup")
    assert [w.payload["hangup_cause"] for w in hangups] == ["time_limit", "time_limit"]


@emulator_mark(time_scale=0)
def test_time_scale_zero_keeps_order_at_one_instant(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    telnyx_emulator.client().calls.actions.transfer(
        call.call_control_id, to=SHORT_CALL, answering_machine_detection="detect"
    )
    start = telnyx_emulator.now
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events() == A_THEN_B
    assert telnyx_emulator.now == start


# -- webhooks: signatures, delivery, retries -------------------------------------------------------


def test_webhooks_verify_with_the_sdk(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    client = telnyx.Telnyx()
    client.calls.actions.transfer(call.call_control_id, to=SHORT_CALL)
    telnyx_emulator.run_until_idle()

    assert telnyx_emulator.webhooks
    for webhook in telnyx_emulator.webhooks:
        event = client.webhooks.unwrap(
            webhook.raw.decode(), headers=webhook.headers, key=telnyx_emulator.public_key
        )
        assert event.data is not None
        assert event.data.event_type == webhook.event_type
        assert webhook.body["data"]["payload"]["call_control_id"] == webhook.call_control_id
        assert webhook.status is None  # recorded only: no app attached
        assert webhook.url == HOOK

    forged = telnyx_emulator.webhooks[0]
    tampered = forged.raw.replace(b"+12125550199", b"+12125550198")
    with pytest.raises(Exception, match=r"(?i)signature"):
        client.webhooks.unwrap(tampered.decode(), headers=forged.headers)


def test_recorded_webhooks_still_move_the_queue(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK, hangup_after_secs=3)
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events() == ["call.initiated", "call.hangup"]
    records = telnyx_emulator.request("GET", "/_emulator/webhooks").payload["data"]
    assert [r["status"] for r in records] == ["recorded", "recorded"]
    assert telnyx_emulator.call(call.call_control_id)["hangup_source"] == "caller"


def test_asgi_app_answers_webhooks_with_commands(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(router_app())
    telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)

    telnyx_emulator.run_until_idle()

    assert telnyx_emulator.events() == A_THEN_B
    assert all(w.status == 200 for w in telnyx_emulator.webhooks)
    assert telnyx_emulator.webhooks[0].response == b'{"ok":true}'
    [command] = telnyx_emulator.commands
    assert command["body"]["client_state"] == b64({"step": 1})


def test_asgi_app_calling_the_sdk_from_a_worker_thread(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(router_app(in_thread=True))
    telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events() == A_THEN_B


def test_wsgi_app_answers_webhooks_with_commands(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(flask_router())
    telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events() == [e for e in A_THEN_B if "machine" not in e]
    assert all(w.status == 200 for w in telnyx_emulator.webhooks)


@pytest.mark.anyio
async def test_async_test_drives_time_on_its_own_loop(telnyx_emulator: TelnyxEmulator) -> None:
    loops: set[int] = set()

    async def hook(request: Request) -> Response:
        loops.add(id(asyncio.get_running_loop()))
        data = json.loads(await request.body())["data"]
        if data["event_type"] == "call.initiated" and data["payload"]["direction"] == "incoming":
            async with telnyx_emulator.async_client() as client:
                await client.calls.actions.transfer(data["payload"]["call_control_id"], to=BUSY)
        return Response(status_code=204)

    telnyx_emulator.deliver_to(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    telnyx_emulator.create_call(webhook_url="https://example.com/hook")
    delivered = await telnyx_emulator.arun_until_idle()

    assert [w.event_type for w in delivered] == ["call.initiated"] * 2 + ["call.hangup"]
    assert delivered[-1].payload["hangup_cause"] == "user_busy"
    assert loops == {id(asyncio.get_running_loop())}


@pytest.mark.anyio
async def test_sync_driving_from_an_async_test(telnyx_emulator: TelnyxEmulator) -> None:
    telnyx_emulator.deliver_to(router_app())
    telnyx_emulator.create_call(to=APP_NUMBER, webhook_url=HOOK)
    telnyx_emulator.run_until_idle()  # the app runs on a helper thread's loop
    assert telnyx_emulator.events() == A_THEN_B


def test_failed_deliveries_are_retried_in_virtual_time(telnyx_emulator: TelnyxEmulator) -> None:
    answers = iter([500, 503, 200])

    async def flaky(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        status = next(answers, 200)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    telnyx_emulator.deliver_to(flaky)
    call = telnyx_emulator.create_call(webhook_url=HOOK, hangup_after_secs=60)
    start = telnyx_emulator.now

    telnyx_emulator.run_until_idle()

    attempts = [(w.event_type, w.attempt, w.status, w.at - start) for w in telnyx_emulator.webhooks]
    assert attempts == [
        ("call.initiated", 1, 500, 0.0),
        ("call.initiated", 2, 503, 1.0),
        ("call.initiated", 3, 200, 3.0),
        ("call.hangup", 1, 200, 60.0),
    ]
    bodies = [w.body["meta"]["attempt"] for w in telnyx_emulator.webhooks]
    assert bodies == [1, 2, 3, 1]
    assert telnyx_emulator.call(call.call_control_id)["state"] == "hangup"


def test_app_exceptions_fail_the_test_or_count_as_500(telnyx_emulator: TelnyxEmulator) -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise LookupError("bug in the app")

    telnyx_emulator.deliver_to(broken)
    telnyx_emulator.create_call(webhook_url=HOOK)
    with pytest.raises(LookupError, match="bug in the app"):
        telnyx_emulator.run_until_idle()
    assert telnyx_emulator.webhooks[-1].status == 500

    telnyx_emulator.deliver_to(broken, raise_app_exceptions=False)
    telnyx_emulator.run_until_idle()
    assert [w.attempt for w in telnyx_emulator.webhooks] == [1, 2, 3, 4]
    records = telnyx_emulator.request("GET", "/_emulator/webhooks").payload["data"]
    assert records[0]["status"] == "failed"
    assert "LookupError" in records[0]["attempts"][0]["error"]


def test_driving_time_from_inside_a_delivery_is_refused(telnyx_emulator: TelnyxEmulator) -> None:
    async def impatient(scope: dict[str, Any], receive: Any, send: Any) -> None:
        telnyx_emulator.advance(1)

    telnyx_emulator.deliver_to(impatient)
    telnyx_emulator.create_call(webhook_url=HOOK)
    with pytest.raises(RuntimeError, match="inside a webhook delivery"):
        telnyx_emulator.run_until_idle()


def test_deliver_to_routes_by_url_prefix_and_get_webhooks(telnyx_emulator: TelnyxEmulator) -> None:
    seen: dict[str, list[tuple[str, str, str]]] = {"a": [], "b": []}

    def wsgi_app(name: str) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            seen[name].append(
                (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"])
            )
            start_response("200 OK", [("content-type", "text/plain")])
            return [b"ok"]

        return app

    telnyx_emulator.deliver_to(wsgi_app("a"))
    telnyx_emulator.deliver_to(wsgi_app("b"), url="https://b.example/")
    telnyx_emulator.create_call(webhook_url="https://a.example/in?tenant=1")
    call = telnyx_emulator.create_call(
        webhook_url="https://b.example/events", webhook_url_method="GET"
    )
    telnyx_emulator.run_until_idle()

    assert seen["a"] == [("POST", "/in", "tenant=1")]
    [(method, path, query)] = seen["b"]
    assert (method, path) == ("GET", "/events")
    assert f"data.payload.call_control_id={call.call_control_id.replace(':', '%3A')}" in query
    get = telnyx_emulator.webhooks_for(call.call_control_id)[0]
    assert get.raw == b""
    assert get.body["data"]["event_type"] == "call.initiated"


# -- the marker ----------------------------------------------------------------------------------


@emulator_mark(scenario="busy")
def test_marker_forces_a_scenario(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    telnyx_emulator.client().calls.actions.transfer(call.call_control_id, to=ANSWERED)
    telnyx_emulator.run_until_idle()
    hangup = telnyx_emulator.webhooks_for(event_type="call.hangup")[0]
    assert hangup.payload["hangup_cause"] == "user_busy"
    assert hangup.payload["sip_hangup_cause"] == "486"


def test_unknown_forced_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="no scenario named 'nope'"):
        mock(scenario="nope")


@emulator_mark(strict=True)
def test_marker_strict_rejects_unknown_fields(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call()
    client = telnyx_emulator.client(max_retries=0)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.transfer(
            call.call_control_id, to=ANSWERED, extra_body={"not_a_field": 1}
        )


@emulator_mark(base_url="http://telnyx.internal:8080/proxy/v2", api_key="KEY_FROM_MARKER")
def test_marker_base_url_and_api_key(telnyx_emulator: TelnyxEmulator) -> None:
    assert os.environ["TELNYX_BASE_URL"] == "http://telnyx.internal:8080/proxy/v2"
    assert os.environ["TELNYX_API_KEY"] == "KEY_FROM_MARKER"
    call = telnyx_emulator.create_call()
    client = telnyx.Telnyx()  # from the environment the fixture set
    client.calls.actions.transfer(call.call_control_id, to=ANSWERED)
    [command] = telnyx_emulator.commands
    assert command["path"] == f"/v2/calls/{call.call_control_id}/actions/transfer"


# An app that built its client at import time, from its own settings, before any fixture ran.
APP_CLIENT = telnyx.Telnyx(
    api_key="KEY_FROM_APP_SETTINGS", base_url="https://api.telnyx.com/v2", max_retries=0
)


def test_a_test_is_one_world_whatever_key_the_app_uses(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url=HOOK)
    APP_CLIENT.calls.actions.answer(call.call_control_id)
    other = telnyx.Telnyx(api_key="KEY_SOMEONE_ELSE", max_retries=0)
    placed = other.calls.dial(
        connection_id="1234567890", from_=APP_NUMBER, to=ANSWERED, webhook_url=HOOK
    )
    telnyx_emulator.run_until_idle(60)
    # Everything any key did is in the fixture's views.
    assert [c["command"] for c in telnyx_emulator.commands] == ["answer", "dial"]
    legs = {leg["call_control_id"]: leg for leg in telnyx_emulator.calls}
    assert legs[call.call_control_id]["state"] == "answered"
    assert placed.data.call_control_id in legs
    assert "call.answered" in telnyx_emulator.events(call.call_control_id)
    assert "call.answered" in telnyx_emulator.events(placed.data.call_control_id)
    # And every key sees the same calls.
    status = APP_CLIENT.calls.retrieve_status(placed.data.call_control_id)
    assert status.data.call_control_id == placed.data.call_control_id


def test_one_world_in_mock_too() -> None:
    with mock() as emulator:
        call = emulator.create_call()
        APP_CLIENT.calls.actions.hangup(call.call_control_id)
        assert emulator.call(call.call_control_id)["state"] == "hangup"


@emulator_mark(tenancy="per_key", api_key="KEY_FROM_MARKER")
def test_per_key_tenants_on_request(
    telnyx_emulator: TelnyxEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    call = telnyx_emulator.create_call()
    # Another API key is another tenant: it doesn't see the call; the 422 and the log say why.
    other = telnyx.Telnyx(api_key="KEY_OTHER", max_retries=0)
    with (
        caplog.at_level("WARNING", logger="telnyx_emulator.mock"),
        pytest.raises(telnyx.UnprocessableEntityError) as raised,
    ):
        other.calls.actions.hangup(call.call_control_id)
    assert "belongs to API key 'KEY_FROM_MARKER', but the request used 'KEY_OTHER'" in caplog.text
    [error] = raised.value.body["errors"]  # type: ignore[index]
    assert error["code"] == "90015"
    assert "created with another API key" in error["detail"]
    assert "KEY_FROM_MARKER" not in error["detail"]
    # The other key's command is in its own journal, not the fixture's.
    assert telnyx_emulator.commands == []
    assert telnyx_emulator.call(call.call_control_id)["state"] == "parked"


def test_unknown_tenancy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="did you mean 'per_key'"):
        mock(tenancy="perkey")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"time_scale": -1}, "time_scale must be between 0 and 1000, got -1"),
        ({"time_scale": 1001}, "time_scale must be between 0 and 1000, got 1001"),
        ({"time_scale": float("nan")}, "time_scale must be between 0 and 1000, got nan"),
        ({"time_scale": "fast"}, "time_scale must be a number, got 'fast'"),
        ({"seed": 2**63}, "seed must be between -9223372036854775807 and 9223372036854775807"),
        ({"seed": 1.5}, "seed must be a whole number, got 1.5"),
        ({"start": -1.0}, "start must be between 0 and 253402300799, got -1.0"),
        ({"start": float("inf")}, "start must be between 0 and 253402300799, got inf"),
        ({"retry_delays": [1, 86_401]}, "retry_delays must be between 0 and 86400, got 86401"),
        ({"retry_delays": [1] * 21}, "retry_delays must be a list of at most 20 delays"),
    ],
)
def test_out_of_range_numbers_are_refused_with_the_cli_bounds(
    option: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        mock(**option)


def test_the_bounds_are_the_cli_ones() -> None:
    from emulator.cli import MAX_SECONDS, MAX_SEED, MAX_TIME_SCALE, _bounded_float, _seed

    with mock(time_scale=MAX_TIME_SCALE, seed=-MAX_SEED, retry_delays=[0, MAX_SECONDS]) as emu:
        assert emu.settings.time_scale == _bounded_float(MAX_TIME_SCALE)(str(MAX_TIME_SCALE))
        assert emu.settings.seed == _seed(str(-MAX_SEED))
        assert emu.settings.webhook_retry_delays == (0.0, MAX_SECONDS)


@emulator_mark(time_scale=5000)
def test_marker_out_of_range_setting_is_a_clear_error(request: pytest.FixtureRequest) -> None:
    with pytest.raises(ValueError, match="time_scale must be between 0 and 1000, got 5000"):
        request.getfixturevalue("telnyx_emulator")


def test_emulator_mock_stays_the_function_after_use(tmp_path: Any) -> None:
    """``emulator.mock`` once was shadowed by the ``emulator.mock`` submodule after first use."""
    code = (
        "import emulator\n"
        "for _ in range(2):\n"
        "    with emulator.mock() as telnyx:\n"
        "        telnyx.create_call()\n"
        "import emulator.inprocess\n"
        "from emulator import mock\n"
        "assert callable(emulator.mock) and emulator.mock is mock\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_route_not_emulated_is_journaled(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call()
    client = telnyx.Telnyx(max_retries=0)
    # A route the emulator does not know (every SDK command is declared: those answer 501).
    path = f"/calls/{call.call_control_id}/actions/whisper"
    with pytest.raises(telnyx.NotFoundError):
        client.post(path, cast_to=object, body={"payload": "Hello"})
    [entry] = telnyx_emulator.commands
    assert entry["result"] == "not_emulated"
    assert entry["status"] == 404
    assert entry["method"] == "POST"
    assert entry["path"] == f"/v2{path}"
    assert entry["command"] == "whisper"
    assert entry["call_control_id"] == call.call_control_id
    assert entry["body"]["payload"] == "Hello"
    # The emulator's own API is not journaled.
    assert telnyx_emulator.request("GET", "/_emulator/nothing").status == 404
    assert len(telnyx_emulator.commands) == 1


@emulator_mark(scenarios=["tests/does-not-exist"])
def test_marker_bad_scenario_dir_is_reported(request: pytest.FixtureRequest) -> None:
    from emulator.scenarios import ScenarioError

    with pytest.raises(ScenarioError, match="no such file or directory"):
        request.getfixturevalue("telnyx_emulator")


@emulator_mark(scenarios=["scenarios/busy.yaml"], scenario="busy", seed=3)
def test_marker_scenario_files(telnyx_emulator: TelnyxEmulator) -> None:
    assert telnyx_emulator.api.scenarios.get("busy") is not None
    assert telnyx_emulator.settings.seed == 3


def _seeded_flow(**options: Any) -> list[Webhook]:
    with mock(**options) as emu:
        emu.deliver_to(router_app(VOICEMAIL))
        emu.create_call(to=APP_NUMBER, webhook_url=HOOK, hangup_after_secs=20)
        emu.run_until_idle()
        return emu.webhooks


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("occurred_at", "start_time", "end_time")
        }
    return value


def test_seeded_runs_are_identical() -> None:
    first, second = _seeded_flow(seed=42), _seeded_flow(seed=42)
    assert len(first) == len(second) == 8
    assert [_without_times(w.body) for w in first] == [_without_times(w.body) for w in second]
    other = _seeded_flow(seed=43)
    assert first[0].call_control_id != other[0].call_control_id

    # With the virtual clock pinned too, the signed bytes are identical.
    pinned = [_seeded_flow(seed=42, start=1_700_000_000.0) for _ in range(2)]
    assert [w.raw for w in pinned[0]] == [w.raw for w in pinned[1]]
    assert pinned[0][0].body["data"]["occurred_at"] == "2023-11-14T22:13:20.000000Z"


# -- isolation and the context manager ------------------------------------------------------------


@pytest.fixture
def clean_env() -> Iterator[None]:
    saved = {k: os.environ.pop(k, None) for k in ("TELNYX_API_KEY", "TELNYX_BASE_URL")}
    yield
    for key, value in saved.items():
        if value is not None:
            os.environ[key] = value


def test_mock_outside_pytest_restores_everything(clean_env: None) -> None:
    with mock(api_key="KEY_ONE") as first:
        first.create_call()
        assert os.environ["TELNYX_API_KEY"] == "KEY_ONE"
        assert os.environ["TELNYX_PUBLIC_KEY"] == first.public_key
    assert "TELNYX_API_KEY" not in os.environ
    with mock(api_key="KEY_ONE") as second:
        assert second.calls == []  # fresh state
        assert second.public_key != first.public_key
    with pytest.raises(TypeError, match="unknown option"):
        mock(sead=1)
    # No longer intercepted: with the mock stopped, the request would go to the network.
    transport = httpx.MockTransport(lambda request: httpx.Response(418))
    with httpx.Client(transport=transport) as client:
        assert client.get("https://api.telnyx.com/v2/calls/x").status_code == 418


def test_each_test_gets_a_fresh_emulator_one(telnyx_emulator: TelnyxEmulator) -> None:
    assert telnyx_emulator.calls == []
    telnyx_emulator.create_call()


def test_each_test_gets_a_fresh_emulator_two(telnyx_emulator: TelnyxEmulator) -> None:
    assert telnyx_emulator.calls == []
    assert telnyx_emulator.webhooks == []
