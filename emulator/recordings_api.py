"""The Recordings API (``/v2/recordings``) and the audio files the recording links point at.

The API lists, shows and deletes a tenant's saved recordings as Telnyx's does (spec
``/recordings``; SDK ``client.recordings``). The files are served at
``/_emulator/recordings/{id}.wav`` and ``.mp3`` with no API key, as Telnyx's pre-signed
download URLs need none, and no admin token: the app under test downloads them. The audio is
encoded on download (emulator/audio.py), never when the recording is saved.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from . import audio, pagination
from .api import Api, ApiRequest, ApiResponse, route
from .engine import Engine
from .errors import ApiError, ApiFailure, invalid_value
from .recordings import Recording

_ID = r"(?P<id>[^/]+)"
# The SDK's RecordingListParams filters (dotted) -> the record's field, for equality filters.
_EQUAL = {
    "call_control_id": "call_control_id",
    "call_leg_id": "call_leg_id",
    "call_session_id": "call_session_id",
    "connection_id": "connection_id",
    "conference_id": "conference_id",
    "from": "from",
    "to": "to",
}
# Range filters -> the record's time field.
_RANGES = {"created_at": "created_at", "start_time": "recording_started_at",
           "end_time": "recording_ended_at"}  # fmt: skip
_FILTERS = (
    *_EQUAL,
    *(f"{name}.{op}" for name in _RANGES for op in ("gte", "lte")),
    "sip_call_id",
    "conference_region",
)


def recording_not_found(recording_id: str) -> ApiFailure:
    return ApiFailure(
        404,
        [
            ApiError(
                "10005",
                "Resource not found",
                f"There is no recording '{recording_id}' for this API key.",
                parameter="recording_id",
            )
        ],
    )


def _when(name: str, raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise pagination.bad_parameter(
            f"filter[{name.replace('.', '][')}]", f"'{raw}' is not an ISO 8601 date-time."
        ) from None


def _matches(record: dict[str, Any], wanted: dict[str, str]) -> bool:
    for name, value in wanted.items():
        if name in _EQUAL:
            if record.get(_EQUAL[name]) != value:
                return False
        elif name in ("sip_call_id", "conference_region"):
            return False  # (chosen) the emulator's recordings have neither: nothing matches
        else:
            field, op = name.split(".")
            at = _when(name, record[_RANGES[field]])
            bound = _when(name, value)
            if (op == "gte" and at < bound) or (op == "lte" and at > bound):
                return False
    return True


@route("GET", "/recordings")
def list_recordings(api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]) -> ApiResponse:
    """Newest first (chosen: Telnyx's lists of records default to created_at descending)."""
    wanted = pagination.filters(request.query, _FILTERS, "GET /v2/recordings")
    records = [r.to_json(engine.links) for r in engine.recordings]
    records.reverse()
    page, meta = pagination.numbered([r for r in records if _matches(r, wanted)], request.query)
    return ApiResponse(200, {"data": page, "meta": meta})


def _get(engine: Engine, recording_id: str) -> Recording:
    recording = engine.recordings.get(recording_id)
    if recording is None:
        raise recording_not_found(recording_id)
    return recording


@route("GET", f"/recordings/{_ID}")
def retrieve_recording(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    return ApiResponse(200, {"data": _get(engine, m["id"]).to_json(engine.links)})


@route("DELETE", f"/recordings/{_ID}")
def delete_recording(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """Answers the deleted recording (spec); its files are gone with it."""
    data = _get(engine, m["id"]).to_json(engine.links)
    engine.recordings.delete(m["id"])
    return ApiResponse(200, {"data": data})


@route("POST", "/recordings/actions/delete")
def delete_recordings(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """(chosen) All or nothing: an unknown ID refuses the request (404) and deletes none."""
    body = api.json_body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiFailure(422, [invalid_value("'ids' must be a list of recording IDs.", "/ids")])
    for recording_id in ids:
        _get(engine, recording_id)
    for recording_id in ids:
        engine.recordings.delete(recording_id)
    return ApiResponse(200, {"status": "ok"})


@route("GET", r"/_emulator/recordings/(?P<file>[^/]+)", auth=False, admin=False)
def download_recording(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """The recording's audio, ``{id}.wav`` or ``{id}.mp3``, of its recorded duration.

    Recording IDs are random UUIDs, unique across API keys, like Telnyx's pre-signed URLs: the
    link is the credential."""
    recording_id, dot, fmt = m["file"].rpartition(".")
    encoder = audio.ENCODERS.get(fmt) if dot else None
    recording = None
    if encoder is not None:
        for tenant in list(api.tenants.values()):
            recording = tenant.recordings.get(recording_id)
            if recording is not None:
                break
    if encoder is None or recording is None:
        raise ApiFailure(
            404,
            [
                ApiError(
                    "10005",
                    "Resource not found",
                    f"No recording file '{m['file']}' (deleted, never saved, or not .wav/.mp3).",
                )
            ],
        )
    encode, media_type = encoder
    data = encode(recording.recorded_secs(), recording.audio_channels)
    return ApiResponse(
        200,
        headers={
            "content-type": media_type,
            "content-disposition": f'attachment; filename="{recording_id}.{fmt}"',
        },
        raw=data,
    )
