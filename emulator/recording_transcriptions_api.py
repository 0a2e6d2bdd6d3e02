"""The Recording Transcriptions API (``/v2/recording_transcriptions``): the transcripts of
recordings started with ``transcription: true`` (emulator/recording_transcriptions.py).

Lists, shows and deletes a tenant's transcriptions as Telnyx's does (spec
``/recording_transcriptions``; SDK ``client.recording_transcriptions``).
"""

from __future__ import annotations

import re
from datetime import datetime

from . import pagination
from .api import Api, ApiRequest, ApiResponse, route
from .engine import Engine
from .errors import ApiError, ApiFailure
from .recording_transcriptions import RecordingTranscription

_ID = r"(?P<id>[^/]+)"
_FILTERS = ("recording_id", "created_at.gte", "created_at.lte")


def _when(name: str, raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise pagination.bad_parameter(
            f"filter[{name.replace('.', '][')}]", f"'{raw}' is not an ISO 8601 date-time."
        ) from None


def _matches(record: dict[str, object], wanted: dict[str, str]) -> bool:
    for name, value in wanted.items():
        if name == "recording_id":
            if record["recording_id"] != value:
                return False
            continue
        at, bound = _when(name, str(record["created_at"])), _when(name, value)
        if (name.endswith(".gte") and at < bound) or (name.endswith(".lte") and at > bound):
            return False
    return True


@route("GET", "/recording_transcriptions")
def list_transcriptions(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """Newest first (chosen, as the Recordings API)."""
    wanted = pagination.filters(request.query, _FILTERS, "GET /v2/recording_transcriptions")
    records = [t.to_json() for t in engine.recording_transcriptions]
    records.reverse()
    page, meta = pagination.numbered([r for r in records if _matches(r, wanted)], request.query)
    return ApiResponse(200, {"data": page, "meta": meta})


def _get(engine: Engine, transcription_id: str) -> RecordingTranscription:
    transcription = engine.recording_transcriptions.get(transcription_id)
    if transcription is None:
        raise ApiFailure(
            404,
            [
                ApiError(
                    "10005",
                    "Resource not found",
                    f"There is no recording transcription '{transcription_id}' for this API key.",
                    parameter="recording_transcription_id",
                )
            ],
        )
    return transcription


@route("GET", f"/recording_transcriptions/{_ID}")
def retrieve_transcription(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    return ApiResponse(200, {"data": _get(engine, m["id"]).to_json()})


@route("DELETE", f"/recording_transcriptions/{_ID}")
def delete_transcription(
    api: Api, request: ApiRequest, engine: Engine, m: re.Match[str]
) -> ApiResponse:
    """Answers the deleted transcription (spec); its recording stays."""
    data = _get(engine, m["id"]).to_json()
    engine.recording_transcriptions.delete(m["id"])
    return ApiResponse(200, {"data": data})
