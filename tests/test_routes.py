"""The route table (emulator/routes.py): dispatch by path shape, both URL forms, HEAD for GET,
405 with Allow, and the route() decorator other modules register with."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from emulator import routes
from emulator.api import ApiRequest, ApiResponse, route
from emulator.commands.registry import commands
from emulator.routes import ROUTES, RouteTable

from .harness import Harness


def _ok(api: object, request: ApiRequest, engine: object, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200, {"data": m.groupdict()})


def test_every_declared_command_has_its_route() -> None:
    for command in commands():
        found = ROUTES.find(command.method, command.route_path.replace("(?P<id>[^/]+)", "v3:x"))
        assert not isinstance(found, list), command.name
        r, m = found
        assert r.declaration is command and r.name == command.name
        if command.scope != "account":
            assert m["id"] == "v3:x"


def test_literal_segments_win_over_parameters() -> None:
    table = RouteTable()
    table.add("GET", r"/calls/(?P<id>[^/]+)", _ok)
    table.add("GET", "/calls/{id}/actions/{name}", _ok)
    table.add("GET", "/calls/active", _ok)
    found = table.find("GET", "/calls/active")
    assert not isinstance(found, list) and found[1].groupdict() == {}
    found = table.find("GET", "/calls/v3:abc/actions/x")
    assert not isinstance(found, list) and found[1].groupdict() == {"id": "v3:abc", "name": "x"}
    assert table.find("POST", "/calls/v3:abc") == ["GET"]  # 405 with Allow: GET
    assert table.find("GET", "/calls//actions/x") == []  # an empty parameter matches nothing
    assert table.find("GET", "/nothing/here") == []
    head = table.find("HEAD", "/calls/active")
    assert not isinstance(head, list) and head[0].method == "GET"


def test_a_path_must_be_literal_segments_and_parameters() -> None:
    with pytest.raises(ValueError, match="neither literal nor a parameter"):
        RouteTable().add("GET", "/calls/[0-9]+", _ok)
    table = RouteTable()
    table.add("GET", "/x", _ok)
    with pytest.raises(ValueError, match="two routes"):
        table.add("GET", "/x", _ok)


@pytest.fixture
def extra_route() -> Iterator[None]:
    before = (list(ROUTES.routes), dict(ROUTES._by_shape), dict(ROUTES._layouts))

    @route("GET", f"/_emulator/widgets/{routes._ID}")
    def widget(api: object, request: ApiRequest, engine: object, m: re.Match[str]) -> ApiResponse:
        return ApiResponse(200, {"data": {"id": m["id"]}})

    yield
    ROUTES.routes[:] = before[0]
    ROUTES._by_shape.clear()
    ROUTES._by_shape.update(before[1])
    ROUTES._layouts.clear()
    ROUTES._layouts.update(before[2])


def test_the_route_decorator_registers_a_handler(extra_route: None) -> None:
    h = Harness()
    for prefix in ("", "/v2"):
        r = h.request("GET", f"{prefix}/_emulator/widgets/w1")
        assert r.status == 200 and r.payload == {"data": {"id": "w1"}}
    r = h.request("POST", "/_emulator/widgets/w1", {})
    assert r.status == 405 and r.headers["allow"] == "GET"


def test_both_url_forms_and_head_reach_a_command() -> None:
    h = Harness()
    ccid = h.inbound()
    for path in (f"/v2/calls/{ccid}", f"/calls/{ccid}"):
        assert h.request("GET", path).payload["data"]["call_control_id"] == ccid
        assert h.request("HEAD", path).status == 200
    r = h.request("DELETE", f"/v2/calls/{ccid}/actions/hangup")
    assert r.status == 405 and r.headers["allow"] == "POST"
    assert h.request("POST", "/v2/calls/x/actions/no_such_command", {}).status == 404
