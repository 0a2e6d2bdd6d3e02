"""The routes around connections and calls: Call Control Applications, the numbers assigned to
them, a connection's active calls, and the call events (Telnyx's Debugging list).

Registered on :mod:`emulator.api`'s route table like the commands, so they answer the same way
in the server and in-process: Telnyx's bodies and errors, per API key.
"""

from __future__ import annotations

import re
from typing import Any

from . import call_events, pagination
from .api import Api, ApiRequest, ApiResponse, route
from .calls import iso
from .connections import Connection, invalid_connection_id
from .engine import Engine
from .errors import ApiFailure, invalid_value

_ID = r"(?P<id>[^/]+)"
_SORTS = {"created_at": "created_at", "connection_name": "application_name", "active": "active"}


def _data(connection: Connection) -> dict[str, Any]:
    return {"data": connection.to_json()}


@route("POST", "/call_control_applications")
def create_call_control_application(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    body = api.json_body(request)
    api.validate("call_control_application_request", body)
    now = iso(api.clock.now())
    connection = engine.connections.create(body, now, api.ids.connection_id)
    return ApiResponse(201, _data(connection))


@route("GET", "/call_control_applications")
def list_call_control_applications(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    wanted = pagination.filters(
        request.query,
        ("application_name.contains", "outbound.outbound_voice_profile_id"),
        "GET /v2/call_control_applications",
    )
    items = [c.record for c in engine.connections]
    contains = wanted.get("application_name.contains")
    if contains is not None:
        if len(contains) < 3:
            raise pagination.bad_parameter(
                "filter[application_name][contains]",
                "'filter[application_name][contains]' requires at least three characters.",
            )
        items = [r for r in items if contains.lower() in str(r["application_name"]).lower()]
    profile = wanted.get("outbound.outbound_voice_profile_id")
    if profile is not None:
        items = [
            r
            for r in items
            if (r.get("outbound") or {}).get("outbound_voice_profile_id") == profile
        ]
    sort = request.query.get("sort")
    if sort:
        key = _SORTS.get(sort.removeprefix("-"))
        if key is None:
            raise pagination.bad_parameter(
                "sort", f"'sort' must be one of {', '.join(_SORTS)}, with '-' for descending."
            )
        items.sort(key=lambda r: (r[key], r["created_at"]), reverse=sort.startswith("-"))
    else:  # spec: "If not given, results are sorted by created_at in descending order."
        items.reverse()  # the store keeps creation order
    page, meta = pagination.numbered(items, request.query)
    return ApiResponse(200, {"data": [dict(r) for r in page], "meta": meta})


@route("GET", f"/call_control_applications/{_ID}")
def retrieve_call_control_application(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    return ApiResponse(200, _data(engine.connections.get(m["id"])))


@route("PATCH", f"/call_control_applications/{_ID}")
def update_call_control_application(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    engine.connections.get(m["id"])  # 404 before validating the body
    body = api.json_body(request)
    api.validate("call_control_application_update_request", body)
    connection = engine.connections.update(m["id"], body, iso(api.clock.now()))
    return ApiResponse(200, _data(connection))


@route("DELETE", f"/call_control_applications/{_ID}")
def delete_call_control_application(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    return ApiResponse(200, _data(engine.connections.delete(m["id"])))


@route("GET", f"/connections/{_ID}/active_calls")
def list_connection_active_calls(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """The live legs on a connection, oldest first. A connection the store does not know is
    refused (10015) unless calls carry its id (a Dial accepted on an unknown id)."""
    engine.housekeeping()
    ident = m["id"]
    now = api.clock.now()
    legs = [leg for leg in engine.calls if leg.connection_id == ident]
    if ident not in engine.connections and not legs:
        raise invalid_connection_id(parameter=True)
    live = [leg for leg in legs if leg.alive]
    path = f"/v2/connections/{ident}/active_calls"
    page, meta = pagination.cursored(
        live, [leg.call_control_id for leg in live], request.query, path
    )
    data = [
        {
            "record_type": "call",
            "call_control_id": leg.call_control_id,
            "call_leg_id": leg.call_leg_id,
            "call_session_id": leg.call_session_id,
            "call_duration": leg.duration(now),
            "client_state": leg.client_state,
        }
        for leg in page
    ]
    return ApiResponse(200, {"data": data, "meta": meta})


@route("GET", "/call_events")
def list_call_events(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    engine.housekeeping()
    wanted = pagination.filters(request.query, call_events.FILTERS, "GET /v2/call_events")
    events = call_events.list_events(engine, wanted, api.clock.now())
    page, meta = pagination.numbered(events, request.query)
    return ApiResponse(200, {"data": page, "meta": meta})


# --- the emulator's own: numbers -------------------------------------------------------------


@route("GET", "/_emulator/numbers")
def list_numbers(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200, {"data": engine.connections.numbers()})


@route("PUT", f"/_emulator/numbers/{_ID}")
def assign_number(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """Assign a number to a connection (on Telnyx: the number's connection_id setting)."""
    number = m["id"]
    if not re.fullmatch(r"\+[1-9][0-9]{1,14}|sips?:[^@\s]+@[^\s]+", number):
        raise ApiFailure(
            422,
            [invalid_value(f"'{number}' is not a +E.164 number or SIP URI.", "/phone_number")],
        )
    body = api.json_body(request)
    ident = body.get("connection_id")
    if not isinstance(ident, str) or not ident:
        raise ApiFailure(
            422, [invalid_value("'connection_id' must name a connection.", "/connection_id")]
        )
    engine.connections.assign(number, ident)
    return ApiResponse(200, {"data": {"phone_number": number, "connection_id": ident}})


@route("DELETE", f"/_emulator/numbers/{_ID}")
def unassign_number(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    engine.connections.unassign(m["id"])
    return ApiResponse(200, {"data": {"result": "ok"}})
