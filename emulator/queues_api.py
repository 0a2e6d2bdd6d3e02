"""The Queues API (``/v2/queues``, SDK ``client.queues``): a tenant's call queues and the calls
waiting in them, with Telnyx's shapes (spec ``Queue``, ``QueueCall``) and numbered pages."""

from __future__ import annotations

import re

from . import pagination
from .api import Api, ApiRequest, ApiResponse, route
from .engine import Engine
from .errors import ApiFailure, invalid_value
from .queues import API_MAX_SIZE, Queue, QueuedCall, call_not_in_queue

_NAME = r"(?P<name>[^/]+)"
_CALL = r"(?P<id>[^/]+)"


def _max_size(value: object, required: bool) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiFailure(
            422, [invalid_value("'max_size' must be an integer of at least 1.", "/max_size")]
        )
    return value


@route("GET", "/queues")
def list_queues(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    now = api.clock.now()
    page, meta = pagination.numbered([q.to_json(now) for q in engine.queues], request.query)
    return ApiResponse(200, {"data": page, "meta": meta})


@route("POST", "/queues")
def create_queue(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    body = api.json_body(request)
    name = body.get("queue_name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ApiFailure(
            422, [invalid_value("'queue_name' must be 1 to 255 characters.", "/queue_name")]
        )
    size = _max_size(body.get("max_size"), required=False)
    now = api.clock.now()
    queue = engine.queues.create(
        name, API_MAX_SIZE if size is None else size, now, engine.ids.leg_uuid()
    )
    return ApiResponse(200, {"data": queue.to_json(now)})


@route("GET", f"/queues/{_NAME}")
def retrieve_queue(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200, {"data": engine.queues.get(m["name"]).to_json(api.clock.now())})


@route("POST", f"/queues/{_NAME}")
def update_queue(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """(chosen) A max_size below the calls waiting keeps them; new ones get 90036."""
    queue = engine.queues.get(m["name"])
    body = api.json_body(request)
    size = _max_size(body.get("max_size"), required=True)
    assert size is not None
    now = api.clock.now()
    queue.max_size, queue.updated_at = size, now
    return ApiResponse(200, {"data": queue.to_json(now)})


@route("DELETE", f"/queues/{_NAME}")
def delete_queue(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """(chosen) A queue with live calls waiting is refused: they would be left in no queue."""
    queue = engine.queues.get(m["name"])
    if any(c.leg.alive for c in queue.calls):
        raise ApiFailure(
            422,
            [
                invalid_value(
                    f"The '{queue.name}' queue has calls waiting; take them out first "
                    "(leave_queue).",
                    "/queue_name",
                )
            ],
        )
    engine.queues.delete(queue.name)
    return ApiResponse(204)


def _entry(engine: Engine, m: re.Match[str]) -> tuple[Queue, QueuedCall]:
    queue = engine.queues.get(m["name"])
    entry = queue.find(m["id"])
    if entry is None:
        raise call_not_in_queue(queue.name)
    return queue, entry


@route("GET", f"/queues/{_NAME}/calls")
def list_queue_calls(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """In queue order (position 1 first)."""
    queue = engine.queues.get(m["name"])
    now = api.clock.now()
    page, meta = pagination.numbered([queue.call_json(c, now) for c in queue.calls], request.query)
    return ApiResponse(200, {"data": page, "meta": meta})


@route("GET", f"/queues/{_NAME}/calls/{_CALL}")
def retrieve_queue_call(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    queue, entry = _entry(engine, m)
    return ApiResponse(200, {"data": queue.call_json(entry, api.clock.now())})


@route("PATCH", f"/queues/{_NAME}/calls/{_CALL}")
def update_queue_call(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    _, entry = _entry(engine, m)
    body = api.json_body(request)
    keep = body.get("keep_after_hangup")
    if keep is not None:
        if not isinstance(keep, bool):
            raise ApiFailure(
                422,
                [invalid_value("'keep_after_hangup' must be a boolean.", "/keep_after_hangup")],
            )
        entry.keep_after_hangup = keep
    return ApiResponse(204)


@route("DELETE", f"/queues/{_NAME}/calls/{_CALL}")
def remove_queue_call(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """Telnyx: "Removes an inactive call from a queue" (one kept by keep_after_hangup). A live
    call is refused (chosen): leave_queue takes it out with its call.dequeued."""
    queue, entry = _entry(engine, m)
    if entry.leg.alive:
        raise ApiFailure(
            422,
            [
                invalid_value(
                    "The call is still active; use the leave_queue command to take it out.",
                    "/call_control_id",
                )
            ],
        )
    queue.calls.remove(entry)
    return ApiResponse(204)
