"""The server's webhook sender (emulator/sender.py, aiohttp), on a real server on 127.0.0.1.

What receivers see must not depend on the HTTP client: the URL byte for byte (a GET webhook's
signature covers its query string), the headers, redirects (3 followed, as httpx did), no cookies
carried between webhooks, and no detour through a proxy named in the environment.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from nacl.signing import VerifyKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.sender import _sendable

from .conftest import API_KEY
from .servers import EmulatorServer, ServerThread

AUTH = {"Authorization": f"Bearer {API_KEY}"}


class RawReceiver(ServerThread):
    """Records each request as it arrived (raw query string, headers); ``/r/N/...`` redirects
    N times (307, so a POST stays a POST) before answering; ``/cookie`` sets a cookie."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])])
        super().__init__(app)

    async def _endpoint(self, request: Request) -> Response:
        seen = {
            "method": request.method,
            "path": request.scope["path"],
            "query": request.scope["query_string"].decode("ascii"),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": await request.body(),
        }
        with self._cond:
            self.requests.append(seen)
            self._cond.notify_all()
        parts = request.scope["path"].split("/")
        if len(parts) > 3 and parts[1] == "r" and int(parts[2]) > 0:
            rest = "/".join(parts[3:])
            return Response(status_code=307, headers={"location": f"/r/{int(parts[2]) - 1}/{rest}"})
        if parts[1] == "cookie":
            return Response(headers={"set-cookie": "session=abc; Path=/"})
        return Response()

    def wait(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; received {self.requests}")
                self._cond.wait(left)


@pytest.fixture
def raw_receiver() -> Iterator[RawReceiver]:
    r = RawReceiver().start()
    yield r
    r.stop()


def api(server: EmulatorServer) -> httpx.Client:
    # trust_env=False: the proxy test's HTTP_PROXY is for the emulator's sender, not for us.
    return httpx.Client(base_url=server.url, headers=AUTH, trust_env=False)


def inbound(server: EmulatorServer, url: str, **extra: Any) -> str:
    body = {"from": "+12125550199", "to": "+13125550100", "webhook_url": url, **extra}
    with api(server) as c:
        r = c.post("/_emulator/calls", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["call_control_id"])


def webhooks(server: EmulatorServer, ccid: str) -> list[dict[str, Any]]:
    with api(server) as c:
        r = c.get("/_emulator/webhooks", params={"call_control_id": ccid})
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def wait_settled(server: EmulatorServer, ccid: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        hooks = webhooks(server, ccid)
        if hooks and all(h["status"] != "pending" for h in hooks):
            return hooks
        assert time.monotonic() < deadline, hooks
        time.sleep(0.02)


def test_get_webhook_query_arrives_byte_for_byte_and_its_signature_verifies(
    start_emulator: Callable[..., EmulatorServer], raw_receiver: RawReceiver
) -> None:
    server = start_emulator()
    inbound(server, raw_receiver.url + "/get?x=1", webhook_url_method="GET")
    raw_receiver.wait(lambda rs: len(rs) >= 1)
    [got] = raw_receiver.requests
    assert got["method"] == "GET" and got["body"] == b""
    assert "content-type" not in got["headers"]
    query = got["query"]
    assert query.startswith("x=1&") and "%3A" in query and "%2B" in query  # v3:..., +1212...
    signed = f"{got['headers']['telnyx-timestamp']}|{query[len('x=1&') :]}".encode()
    signature = base64.b64decode(got["headers"]["telnyx-signature-ed25519"])
    VerifyKey(base64.b64decode(server.public_key)).verify(signed, signature)


def test_post_webhook_headers(
    start_emulator: Callable[..., EmulatorServer], raw_receiver: RawReceiver
) -> None:
    server = start_emulator()
    inbound(server, raw_receiver.url + "/post")
    raw_receiver.wait(lambda rs: len(rs) >= 1)
    got = raw_receiver.requests[0]
    headers = got["headers"]
    assert got["method"] == "POST" and got["query"] == ""
    assert headers["user-agent"] == "telnyx-webhooks"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(got["body"]))
    assert headers["accept"] == "*/*"
    assert {"telnyx-timestamp", "telnyx-signature-ed25519"} <= set(headers)
    signed = f"{headers['telnyx-timestamp']}|".encode() + got["body"]
    signature = base64.b64decode(headers["telnyx-signature-ed25519"])
    VerifyKey(base64.b64decode(server.public_key)).verify(signed, signature)


@pytest.mark.parametrize(("redirects", "delivered"), [(3, True), (4, False)])
def test_redirects_are_followed_three_times(
    start_emulator: Callable[..., EmulatorServer],
    raw_receiver: RawReceiver,
    redirects: int,
    delivered: bool,
) -> None:
    server = start_emulator(webhook_retry_delays=())
    ccid = inbound(server, f"{raw_receiver.url}/r/{redirects}/hook")
    [hook, *_] = wait_settled(server, ccid)
    [attempt] = hook["attempts"]
    if delivered:
        assert hook["status"] == "delivered" and attempt["status"] == 200
        first, *_, last = raw_receiver.requests[: redirects + 1]
        assert last["path"] == "/r/0/hook" and last["method"] == "POST"
        assert last["body"] == first["body"] and last["headers"]["telnyx-signature-ed25519"]
    else:
        assert hook["status"] == "failed"
        assert attempt["error"].startswith("TooManyRedirects"), attempt
        assert len(raw_receiver.requests) == 4  # the fourth redirect is not followed


def test_cookies_set_by_a_receiver_are_not_sent_back(
    start_emulator: Callable[..., EmulatorServer], raw_receiver: RawReceiver
) -> None:
    server = start_emulator()
    url = f"http://localhost:{raw_receiver.port}/cookie"  # a host name: jars refuse IPs' cookies
    inbound(server, url)
    raw_receiver.wait(lambda rs: len(rs) >= 1)
    inbound(server, url)
    raw_receiver.wait(lambda rs: len(rs) >= 2)
    assert all("cookie" not in r["headers"] for r in raw_receiver.requests)


def test_proxy_environment_variables_are_ignored(
    start_emulator: Callable[..., EmulatorServer],
    raw_receiver: RawReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = start_emulator()
    ccid = inbound(server, raw_receiver.url + "/direct")
    raw_receiver.wait(lambda rs: len(rs) >= 1)
    assert wait_settled(server, ccid)[0]["status"] == "delivered"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://u:p%40ss@127.0.0.1:8000/a%2Fb/~x?k=1&a=x%2Fy%3Az%40w%3F%26&b=%7E+%C3%A9#frag",
        "https://example.com/h?e=%5Bx%5D&f=a%3Bb%2Cc%21%24%27%28%29%2A",
    ],
)
def test_sendable_urls_are_sent_as_written(url: str) -> None:
    sent = _sendable(url)
    assert str(sent) == url
    assert sent.raw_path_qs == url.split("#")[0].split("8000", 1)[-1].split(".com", 1)[-1]


def test_other_urls_are_normalised_as_httpx_did() -> None:
    for url in ("http://127.0.0.1/ho ok/é?x=a b&y=%zz", "http://bücher.example/a"):
        assert str(_sendable(url)) == str(httpx.URL(url))
