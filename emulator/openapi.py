"""The OpenAPI 3.1 description of the emulator, served at ``GET /openapi.json``.

Built, not written: the paths come from the route table (:mod:`emulator.routes`), each Call
Control operation from its command declaration (:mod:`emulator.commands`: summary, request
schema, webhooks, whether it is emulated), the request bodies and webhooks are the JSON Schema
files in ``schemas/`` embedded verbatim, and the error responses use Telnyx's
``{"errors": [...]}`` envelope. So the document cannot drift from what the server does: a new
route appears as soon as it is registered (with a generic entry until it gets a line in
:data:`OPERATIONS`), and a command route ``/calls/{id}/actions/<name>`` picks up
``schemas/<name>_request.schema.json`` by itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from ._version import __version__
from .api import _ROUTES, Route
from .commands.registry import Command
from .resources import schemas_dir

OPENAPI_VERSION = "3.1.0"
TELNYX_PREFIX = "/v2"


@dataclass(frozen=True, slots=True)
class Operation:
    """What the route table cannot say about a route."""

    summary: str
    description: str = ""
    request: str | None = None  # schemas/<request>.schema.json is the JSON request body
    response: str = "object"  # a key of _RESPONSES: the shape of ``data`` in the 2xx body
    status: int = 200
    query: tuple[tuple[str, str], ...] = ()  # (name, description) of optional query parameters
    events: tuple[str, ...] = ()  # webhooks the operation can lead to
    new_leg: bool = False  # places a call: X-Emulator-Scenario applies, 429 at the live-call cap
    body: bool = True  # POST/PUT/PATCH: takes a JSON body (generic when ``request`` is None)
    errors: tuple[str, ...] = ()  # more error statuses it can answer (e.g. 404 for an unknown id)


# Path parameters with a form of their own: a recording file is "{recording_id}.wav|.mp3".
PATH_PATTERNS = {"file": r"^[^/]+\.(wav|mp3)$"}

_PAGE = (
    ("page[number]", "page number, from 1"),
    ("page[size]", "results per page (1-250, default 20)"),
)

# (method, OpenAPI path) -> Operation, for the routes that are not Call Control commands (those
# are described by their declarations in emulator/commands/). A route missing from both still
# appears, described generically.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/_emulator/health"): Operation(
        "Health check",
        "Answers 200 as soon as the server is up, and 503 if its webhook pump has died.",
        response="health",
    ),
    ("GET", "/_emulator/public-key"): Operation(
        "The webhook signing public key",
        "Base64 Ed25519 public key to verify `telnyx-signature-ed25519` with (the app's "
        "TELNYX_PUBLIC_KEY).",
        response="public_key",
    ),
    ("POST", "/_emulator/calls"): Operation(
        "Simulate an incoming call",
        "A call arrives at the app as it would from the PSTN: the emulator sends "
        "`call.initiated` (direction incoming, state parked) to `webhook_url`.",
        request="inbound_call",
        response="call_summary",
        status=201,
        events=("call.initiated",),
    ),
    ("GET", "/_emulator/calls"): Operation("List this API key's calls", response="call_summaries"),
    ("GET", "/_emulator/commands"): Operation(
        "The command journal",
        "Every call command this API key sent, accepted, duplicate or rejected, oldest first. "
        "Secret fields such as `sip_auth_password` are redacted.",
        response="commands",
        query=(("call_control_id", "only the commands sent to this call"),),
    ),
    ("GET", "/_emulator/webhooks"): Operation(
        "The webhooks sent, with every delivery attempt",
        response="webhooks",
        query=(
            ("call_control_id", "only this call's webhooks"),
            ("event_type", "only this event type, e.g. call.answered"),
        ),
    ),
    ("POST", "/_emulator/calls/{call_control_id}/hangup"): Operation(
        "Hang up as the person on the line",
        "The far end hangs up: `call.hangup` (`normal_clearing`) for the call and its bridged "
        "peer, `hangup_source` `caller` on an incoming call and `callee` on an outgoing one. "
        "404 for a call this API key does not have, 422 (90018) for one that has ended. "
        "Journaled as the command `far_end_hangup`.",
        response="result",
        events=("call.hangup",),
    ),
    ("POST", "/_emulator/calls/{call_control_id}/dtmf"): Operation(
        "Press digits as the person on the line",
        "Each digit of `digits` is a `call.dtmf.received` webhook and reaches what runs on the "
        "call (a media stream's `dtmf` message). 404 for an unknown call, 422 (90018) for one "
        "that has ended, (90034) for one not answered. Journaled as `far_end_dtmf`.",
        request="far_end_dtmf",
        response="result",
        events=("call.dtmf.received",),
    ),
    ("POST", "/_emulator/calls/{call_control_id}/speech"): Operation(
        "Speak as the person on the line",
        "`text` reaches what runs on the call: a media stream carries it as synthesised audio, "
        "an AI assistant or AI gather hears the words (docs/streaming.md). Journaled as "
        "`far_end_speech`.",
        request="far_end_speech",
        response="result",
    ),
    ("GET", "/_emulator/calls/{call_control_id}/streams"): Operation(
        "The call's media streams",
        "Open and recent streams: state, failure reason, message counts, and the audio the "
        "app played (docs/streaming.md).",
        response="streams",
    ),
    ("GET", "/_emulator/tenants"): Operation(
        "List tenants",
        "Every tenant (id, masked label, counts) for the admin view: the admin token, or a "
        "server without `--admin-token` and `--api-key`; otherwise the caller's own tenant. "
        "An admin acts on a tenant with `X-Emulator-Tenant: <id>` instead of its API key.",
        response="tenants",
    ),
    ("POST", "/_emulator/reset"): Operation(
        "Forget this API key's calls, commands and webhooks", response="result", body=False
    ),
    ("POST", "/v2/call_control_applications"): Operation(
        "Create a Call Control Application",
        "A connection: its `webhook_event_url`, `webhook_event_failover_url` and "
        "`webhook_timeout_secs` receive the webhooks of every call on it that has no "
        "`webhook_url` of its own. `webhook_api_version` `1` is refused (v2 webhooks only).",
        request="call_control_application_request",
        response="application",
        status=201,
    ),
    ("GET", "/v2/call_control_applications"): Operation(
        "List Call Control Applications",
        "Newest first unless `sort` says otherwise.",
        response="applications",
        query=(
            *_PAGE,
            ("filter[application_name][contains]", "name contains (3+ characters, any case)"),
            ("filter[outbound.outbound_voice_profile_id]", "outbound voice profile id"),
            ("sort", "created_at, connection_name or active; '-' prefix for descending"),
        ),
        errors=("422",),
    ),
    ("GET", "/v2/call_control_applications/{id}"): Operation(
        "Retrieve a Call Control Application", response="application", errors=("404",)
    ),
    ("PATCH", "/v2/call_control_applications/{id}"): Operation(
        "Update a Call Control Application",
        "Later webhooks of the calls on it follow the new URLs and timeout.",
        request="call_control_application_update_request",
        response="application",
        errors=("404",),
    ),
    ("DELETE", "/v2/call_control_applications/{id}"): Operation(
        "Delete a Call Control Application",
        "Its numbers become unassigned.",
        response="application",
        errors=("404",),
    ),
    ("GET", "/v2/queues"): Operation(
        "List queues", "In creation order.", response="queues", query=_PAGE, errors=("422",)
    ),
    ("POST", "/v2/queues"): Operation(
        "Create a queue",
        "`queue_name` (1-255 characters) and `max_size` (default 300). Enqueue creates one too.",
        response="queue",
        errors=("422",),
    ),
    ("GET", "/v2/queues/{name}"): Operation("Retrieve a queue", response="queue", errors=("404",)),
    ("POST", "/v2/queues/{name}"): Operation(
        "Update a queue's max_size", response="queue", errors=("404", "422")
    ),
    ("DELETE", "/v2/queues/{name}"): Operation(
        "Delete a queue",
        "Refused (422) while live calls wait in it.",
        response="none",
        status=204,
        errors=("404", "422"),
    ),
    ("GET", "/v2/queues/{name}/calls"): Operation(
        "List the calls in a queue",
        "In queue order (position 1 first).",
        response="queue_calls",
        query=_PAGE,
        errors=("404", "422"),
    ),
    ("GET", "/v2/queues/{name}/calls/{call_control_id}"): Operation(
        "Retrieve a call in a queue", response="queue_call", errors=("404",)
    ),
    ("PATCH", "/v2/queues/{name}/calls/{call_control_id}"): Operation(
        "Update a queued call's keep_after_hangup",
        response="none",
        status=204,
        errors=("404", "422"),
    ),
    ("DELETE", "/v2/queues/{name}/calls/{call_control_id}"): Operation(
        "Remove an ended call kept in a queue",
        "Only a call kept by `keep_after_hangup`; a live one is refused (422): use leave_queue.",
        response="none",
        status=204,
        errors=("404", "422"),
    ),
    ("GET", "/v2/recordings"): Operation(
        "List recordings",
        "Saved recordings, newest first.",
        response="recordings",
        query=(
            *_PAGE,
            ("filter[call_control_id]", "the call's call_control_id"),
            ("filter[call_leg_id]", "the call's call_leg_id"),
            ("filter[call_session_id]", "the call's call_session_id"),
            ("filter[connection_id]", "the call's connection"),
            ("filter[from]", "the call's from"),
            ("filter[to]", "the call's to"),
            ("filter[created_at][gte]", "created at or after (ISO 8601)"),
            ("filter[created_at][lte]", "created at or before (ISO 8601)"),
        ),
        errors=("422",),
    ),
    ("GET", "/v2/recordings/{id}"): Operation(
        "Retrieve a recording", response="recording", errors=("404",)
    ),
    ("DELETE", "/v2/recordings/{id}"): Operation(
        "Delete a recording",
        "Answers the deleted recording; its files are gone.",
        response="recording",
        errors=("404",),
    ),
    ("POST", "/v2/recordings/actions/delete"): Operation(
        "Delete recordings",
        '`ids`: all or nothing (an unknown one: 404, none deleted). Answers `{"status": "ok"}`.',
        response="document",
        errors=("404", "422"),
    ),
    ("GET", "/v2/recording_transcriptions"): Operation(
        "List recording transcriptions",
        "Transcripts of recordings started with `transcription: true`, newest first.",
        response="recording_transcriptions",
        query=(
            *_PAGE,
            ("filter[recording_id]", "the transcribed recording"),
            ("filter[created_at][gte]", "created at or after (ISO 8601)"),
            ("filter[created_at][lte]", "created at or before (ISO 8601)"),
        ),
        errors=("422",),
    ),
    ("GET", "/v2/recording_transcriptions/{id}"): Operation(
        "Retrieve a recording transcription", response="recording_transcription", errors=("404",)
    ),
    ("DELETE", "/v2/recording_transcriptions/{id}"): Operation(
        "Delete a recording transcription",
        "Answers the deleted transcription; its recording stays.",
        response="recording_transcription",
        errors=("404",),
    ),
    ("GET", "/_emulator/recordings/{file}"): Operation(
        "Download a recording's audio",
        "`{recording_id}.wav` or `.mp3` (the links of call.recording.saved): a real file of the "
        "recorded duration (a quiet 440 Hz tone). No API key or admin token, like Telnyx's "
        "pre-signed links.",
        response="audio",
        errors=("404",),
    ),
    ("GET", "/v2/connections/{id}/active_calls"): Operation(
        "List a connection's active calls",
        "Cursor paginated (`page[after]`, `page[before]`, `page[limit]`); `page[number]` and "
        "`page[size]` work too.",
        response="active_calls",
        query=(
            *_PAGE,
            ("page[after]", "cursor: the page after this one"),
            ("page[before]", "cursor: the page before this one"),
            ("page[limit]", "calls per page (1-250, default 20)"),
        ),
    ),
    ("GET", "/v2/call_events"): Operation(
        "List call events",
        "Telnyx's Debugging list: the commands and webhooks of each call leg, oldest first, "
        "from the emulator's journals. Without `filter[leg_id]` or "
        "`filter[application_session_id]`, only the last 24 hours.",
        response="call_events",
        query=_PAGE
        + tuple(
            (f"filter[{name.replace('.', '][')}]", "filter")
            for name in (
                "type",
                "leg_id",
                "application_session_id",
                "connection_id",
                "product",
                "failed",
                "from",
                "to",
                "occurred_at.gte",
            )
        ),
        errors=("422",),
    ),
    ("GET", "/_emulator/numbers"): Operation(
        "Numbers assigned to connections",
        "An inbound call (POST /_emulator/calls) to one of these reports to its connection.",
        response="numbers",
    ),
    ("PUT", "/_emulator/numbers/{id}"): Operation(
        "Assign a number to a connection",
        'Body: `{"connection_id": "..."}`. The path is the +E.164 number (or SIP URI).',
        response="number",
    ),
    ("DELETE", "/_emulator/numbers/{id}"): Operation(
        "Unassign a number", response="result", errors=("404",)
    ),
    ("GET", "/openapi.json"): Operation(
        "This document",
        "OpenAPI 3.1, built from the server's routes and the JSON Schemas in schemas/.",
        response="document",
    ),
}

_OBJ: dict[str, Any] = {"type": "object"}
_CALL_FIELDS: dict[str, Any] = {
    "record_type": {"type": "string", "enum": ["call"]},
    "call_control_id": {"type": "string"},
    "call_leg_id": {"type": "string"},
    "call_session_id": {"type": "string"},
    "is_alive": {"type": "boolean"},
    "call_duration": {"type": "integer"},
    "client_state": {"type": ["string", "null"]},
    "start_time": {"type": "string", "format": "date-time"},
    "end_time": {"type": "string", "format": "date-time"},
}
_CALL: dict[str, Any] = {"type": "object", "properties": _CALL_FIELDS}
_CALL_SUMMARY: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_CALL_FIELDS,
        "connection_id": {"type": "string"},
        "direction": {"type": "string", "enum": ["incoming", "outgoing"]},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "state": {"type": "string"},
        "webhook_url": {"type": ["string", "null"]},
        "bridged_to": {"type": ["string", "null"]},
        "parent_call_control_id": {"type": ["string", "null"]},
        "scenario": {"type": ["string", "null"]},
        "hangup_cause": {"type": ["string", "null"]},
        "hangup_source": {"type": ["string", "null"]},
        "sip_hangup_cause": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "what failed inside the emulator for this call (a timed step that "
            "raised); empty normally",
        },
    },
}
_COMMAND: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "method": {"type": "string"},
        "path": {"type": "string"},
        "command": {"type": "string"},
        "call_control_id": {"type": ["string", "null"]},
        "command_id": {"type": ["string", "null"]},
        "status": {"type": "integer"},
        "result": {"type": "string", "enum": ["accepted", "duplicate", "rejected", "not_emulated"]},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}},
        "body": {"description": "the request body, secrets redacted"},
        "fault": {
            "type": "string",
            "enum": ["command_429", "command_500", "timeout"],
            "description": "the injected command fault that hit it (absent when none)",
        },
    },
}
_WEBHOOK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event_type": {"type": "string"},
        "call_control_id": {"type": "string"},
        "call_session_id": {"type": "string"},
        "url": {"type": ["string", "null"]},
        "method": {"type": "string", "enum": ["POST", "GET"]},
        "status": {
            "type": "string",
            # delivery.Status: every value the outbox records
            "enum": ["pending", "delivered", "recorded", "failed", "not_sent", "blocked"],
        },
        "attempts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "attempt": {"type": "integer"},
                    "url": {"type": "string"},
                    "at": {"type": "number"},
                    "status": {"type": ["integer", "null"]},
                    "error": {"type": ["string", "null"]},
                    "latency_ms": {"type": ["number", "null"]},
                    "fault": {"type": ["string", "null"], "description": "injected fault"},
                },
            },
        },
        "faults": {"type": "array", "items": {"type": "string"}},
        "body": {"type": "object", "description": "the webhook body (data and meta)"},
    },
}


_ACTIVE_CALL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "record_type": {"type": "string", "enum": ["call"]},
        "call_control_id": {"type": "string"},
        "call_leg_id": {"type": "string"},
        "call_session_id": {"type": "string"},
        "call_duration": {"type": "integer"},
        "client_state": {"type": ["string", "null"]},
    },
}
_CALL_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "record_type": {"type": "string", "enum": ["call_event"]},
        "call_leg_id": {"type": "string"},
        "call_session_id": {"type": "string"},
        "event_timestamp": {"type": "string"},
        "name": {"type": "string"},
        "type": {"type": "string", "enum": ["command", "webhook"]},
        "metadata": {"type": "object"},
    },
}
_NUMBER: dict[str, Any] = {
    "type": "object",
    "properties": {"phone_number": {"type": "string"}, "connection_id": {"type": "string"}},
}


_QUEUE: dict[str, Any] = {
    "type": "object",
    "required": ["record_type", "id", "name", "current_size", "max_size"],
    "properties": {
        "record_type": {"type": "string", "enum": ["queue"]},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "current_size": {"type": "integer"},
        "max_size": {"type": "integer"},
        "average_wait_time_secs": {"type": "integer"},
    },
}
_QUEUE_CALL: dict[str, Any] = {
    "type": "object",
    "required": ["record_type", "call_control_id", "queue_position", "queue_id"],
    "properties": {
        "record_type": {"type": "string", "enum": ["queue_call"]},
        "call_control_id": {"type": "string"},
        "is_alive": {"type": "boolean"},
        "queue_position": {"type": "integer"},
        "queue_id": {"type": "string"},
        "wait_time_secs": {"type": "integer"},
    },
}
_RECORDING: dict[str, Any] = {
    "type": "object",
    "required": ["record_type", "id", "download_urls"],
    "properties": {
        "record_type": {"type": "string", "enum": ["recording"]},
        "id": {"type": "string"},
        "call_control_id": {"type": "string"},
        "channels": {"type": "string", "enum": ["single", "dual"]},
        "duration_millis": {"type": "integer"},
        "download_urls": {
            "type": "object",
            "properties": {"wav": {"type": "string"}, "mp3": {"type": "string"}},
        },
        "status": {"type": "string", "enum": ["completed"]},
    },
}


_RECORDING_TRANSCRIPTION: dict[str, Any] = {
    "type": "object",
    "required": ["record_type", "id", "recording_id", "status", "transcription_text"],
    "properties": {
        "record_type": {"type": "string", "enum": ["recording_transcription"]},
        "id": {"type": "string"},
        "recording_id": {"type": "string"},
        "status": {"type": "string", "enum": ["completed"]},
        "transcription_text": {"type": "string"},
        "duration_millis": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _result_ok(**extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"result": {"type": "string", "enum": ["ok"]}, **extra},
    }


# The shape of ``data`` in each kind of success body (None: the body is not wrapped in data).
_RESPONSES: dict[str, dict[str, Any] | None] = {
    "object": _OBJ,
    "command": _result_ok(),
    # The SDK's ActionAnswerResponse (and the emulator's bridge): record-from-answer's ID.
    "command_recording": _result_ok(recording_id={"type": "string"}),
    # CallControlCommandResultWithConversationID (ai_assistant_start/join, gather_using_ai).
    "command_conversation": _result_ok(conversation_id={"type": "string"}),
    # ActionStartConversationRelayResponse.
    "command_relay": _result_ok(conversation_relay_id={"type": "string"}),
    "result": _result_ok(),
    "call": _CALL,
    "call_summary": _CALL_SUMMARY,
    "call_summaries": _array(_CALL_SUMMARY),
    "commands": _array(_COMMAND),
    "webhooks": _array(_WEBHOOK),
    "health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "public_key": {"type": "object", "properties": {"public_key": {"type": "string"}}},
    "document": None,
    "application": {"type": "object", "properties": {"id": {"type": "string"}}},
    "applications": _array({"type": "object", "properties": {"id": {"type": "string"}}}),
    "active_calls": _array(_ACTIVE_CALL),
    "queue": _QUEUE,
    "queues": _array(_QUEUE),
    "queue_call": _QUEUE_CALL,
    "queue_calls": _array(_QUEUE_CALL),
    "recording": _RECORDING,
    "recordings": _array(_RECORDING),
    "recording_transcription": _RECORDING_TRANSCRIPTION,
    "recording_transcriptions": _array(_RECORDING_TRANSCRIPTION),
    "none": None,
    "audio": None,
    "call_events": _array(_CALL_EVENT),
    "streams": _array(
        {
            "type": "object",
            "properties": {
                "stream_id": {"type": "string"},
                "call_control_id": {"type": "string"},
                "stream_url": {"type": "string"},
                "state": {"type": "string", "enum": ["connecting", "open", "closed"]},
                "failure_reason": {"type": ["string", "null"]},
                "messages_sent": {"type": "integer"},
                "messages_received": {"type": "integer"},
                "played": {"type": "array", "items": {"type": "object"}},
            },
        }
    ),
    "numbers": _array(_NUMBER),
    "number": _NUMBER,
    "tenants": _array(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "label": {"type": "string"},
                "calls": {"type": "integer"},
                "live_calls": {"type": "integer"},
                "commands": {"type": "integer"},
                "webhooks": {"type": "integer"},
            },
        }
    ),
}

_ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "title", "detail"],
        "properties": {
            "code": {"type": "string", "examples": ["10004"]},
            "title": {"type": "string"},
            "detail": {"type": "string"},
            "source": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON Pointer into the body"},
                    "parameter": {"type": "string"},
                },
            },
            "meta": {"type": "object"},
        },
    },
    "Errors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}
        },
    },
}
_ERROR_TEXT = {
    "400": "The body is not valid JSON",
    "401": "Missing or unknown API key (Authorization: Bearer ...)",
    "413": "The body is larger than --max-body-bytes",
    "404": "No such resource (10005) or call (90015) for this API key",
    "415": "The body is not application/json",
    "422": "Validation failed, or the call cannot take this command in its state",
    "429": "Too many live calls for this API key",
    "503": "Not healthy: a background task (the webhook pump) has died; restart the emulator",
    "501": "The command is declared but not emulated yet (code 10501; see the README's command "
    "table)",
}

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def openapi_path(route: Route) -> tuple[str, list[str]]:
    """The route's OpenAPI path and its path parameter names.

    ``^/calls/(?P<id>[^/]+)/actions/transfer$`` becomes
    ``/v2/calls/{call_control_id}/actions/transfer``.
    """
    raw = route.pattern.pattern.removeprefix("^").removesuffix("$")
    names: list[str] = []

    def name(m: re.Match[str]) -> str:
        param = m[1]
        if param == "id" and raw[: m.start()].endswith("/calls/"):
            param = "call_control_id"
        names.append(param)
        return "{" + param + "}"

    path = _GROUP.sub(name, raw).replace("\\", "")
    if not (path.startswith("/_emulator") or path == "/openapi.json"):
        path = TELNYX_PREFIX + path
    return path, names


def _schema_file(name: str) -> dict[str, Any] | None:
    path = schemas_dir() / f"{name}.schema.json"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _declared(command: Command) -> Operation:
    description = command.description
    if not command.emulated:
        description = (
            f"{description}\n\n**Not emulated yet** (telnyx-emulator issue #{command.issue}): "
            "a valid request on a live call answers 501 with code 10501, after validation and "
            "the call-state checks."
        ).strip()
    return Operation(
        command.summary,
        description,
        request=command.request_schema,
        response=command.response,
        events=command.webhooks,
        new_leg=command.new_leg,
    )


def _generic(method: str, path: str, route: Route) -> Operation:
    words = route.name.replace("_", " ").strip()
    action = re.fullmatch(r"/v2/calls/\{call_control_id\}/actions/(\w+)", path)
    if action:
        return Operation(words.capitalize() or action[1], request=f"{action[1]}_request")
    return Operation(words.capitalize() or f"{method} {path}")


def _operation(
    route: Route, path: str, params: list[str], components: dict[str, Any], used_ids: set[str]
) -> dict[str, Any]:
    declared = route.declaration
    if declared is not None:
        op = _declared(declared)
    else:
        op = OPERATIONS.get((route.method, path)) or _generic(route.method, path, route)
    emulator_own = not path.startswith(TELNYX_PREFIX)
    op_id = route.name
    if op_id in used_ids:
        op_id = f"{op_id}_{route.method.lower()}"
    used_ids.add(op_id)
    out: dict[str, Any] = {
        "operationId": op_id,
        "summary": op.summary,
        "tags": ["Emulator" if emulator_own else "Call Control"],
    }
    description = op.description
    if op.events:
        listed = ", ".join(f"`{e}`" for e in op.events)
        description = f"{description}\n\nWebhooks it can lead to: {listed}.".strip()
    if description:
        out["description"] = description
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
    ]
    for parameter in parameters:
        pattern = PATH_PATTERNS.get(parameter["name"])
        if pattern is not None:
            parameter["schema"]["pattern"] = pattern
    parameters += [
        {
            "name": q,
            "in": "query",
            "required": False,
            "description": d,
            "schema": {"type": "string"},
        }
        for q, d in op.query
    ]
    if op.new_leg:
        parameters.append(
            {
                "name": "X-Emulator-Scenario",
                "in": "header",
                "required": False,
                "description": "Force the named scenario for the new leg (emulator only).",
                "schema": {"type": "string"},
            }
        )
    if parameters:
        out["parameters"] = parameters
    if not route.auth:
        out["security"] = []
    errors: list[str] = []
    if route.auth:
        errors.append("401")
    if route.method in ("POST", "PUT", "PATCH") and op.body:
        schema = _schema_file(op.request) if op.request else None
        body_schema: dict[str, Any] = {"type": "object"}
        if op.request and schema is not None:
            components[op.request] = schema
            body_schema = _ref(op.request)
        out["requestBody"] = {
            # A body is needed when the schema requires a field, or one of several (anyOf).
            "required": schema is not None and bool(schema.get("required") or schema.get("anyOf")),
            "content": {"application/json": {"schema": body_schema}},
        }
        errors += ["400", "413", "415", "422"]
    if params:
        errors.append("422")  # unknown call_control_id, or the call's state refuses the command
        if emulator_own:
            errors.append("404")  # the emulator's own routes answer an unknown call with 404
    if op.new_leg or op.status == 201:
        errors.append("429")
    errors.extend(op.errors)
    if op.response == "health":
        errors.append("503")
    if declared is not None and (not declared.emulated or declared.not_emulated_options):
        errors.append("501")
    data = _RESPONSES.get(op.response, _OBJ)
    success_schema: dict[str, Any] = (
        {"type": "object"}
        if data is None
        else {"type": "object", "required": ["data"], "properties": {"data": data}}
    )
    success: dict[str, Any] = {
        "description": op.summary,
        "content": {"application/json": {"schema": success_schema}},
    }
    if op.response == "none":  # 204
        del success["content"]
    elif op.response == "audio":
        binary = {"schema": {"type": "string", "format": "binary"}}
        success["content"] = {"audio/wav": binary, "audio/mpeg": binary}
    responses: dict[str, Any] = {str(op.status): success}
    for code in sorted(set(errors)):
        responses[code] = {"$ref": f"#/components/responses/{code}"}
    out["responses"] = responses
    return out


def _webhooks(components: dict[str, Any]) -> dict[str, Any]:
    directory = schemas_dir() / "webhooks"
    hooks: dict[str, Any] = {}
    for path in sorted(directory.glob("*.schema.json")):
        event = path.name.removesuffix(".schema.json")
        with path.open(encoding="utf-8") as fh:
            components[event] = json.load(fh)
        hooks[event] = {
            "post": {
                "operationId": f"webhook_{event.replace('.', '_')}",
                "summary": components[event].get("title", event),
                "description": "Sent to the call's webhook URL (`webhook_url`, or `webhook_urls` "
                "per event). With `webhook_url_method: GET` the same body is sent as query "
                "parameters. Retried per `webhook_retries_policies` while the app answers non-2xx.",
                "tags": ["Webhooks"],
                "parameters": [
                    {
                        "name": "telnyx-signature-ed25519",
                        "in": "header",
                        "required": True,
                        "description": "Base64 Ed25519 signature of `{telnyx-timestamp}|{body}`, "
                        "verifiable with GET /_emulator/public-key.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "telnyx-timestamp",
                        "in": "header",
                        "required": True,
                        "description": "Unix seconds (wall clock) when the request was signed.",
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(event)}},
                },
                "responses": {"200": {"description": "Any 2xx ends the retries."}},
            }
        }
    return hooks


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document. Built once per process; callers must not mutate it."""
    components: dict[str, Any] = dict(_ERROR_SCHEMAS)
    paths: dict[str, Any] = {}
    used_ids: set[str] = set()
    for route in _ROUTES:
        path, params = openapi_path(route)
        operation = _operation(route, path, params, components, used_ids)
        paths.setdefault(path, {})[route.method.lower()] = operation
    webhooks = _webhooks(components)
    error_responses = {
        code: {
            "description": text,
            "content": {"application/json": {"schema": _ref("Errors")}},
        }
        for code, text in _ERROR_TEXT.items()
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "telnyx-emulator",
            "version": __version__,
            "summary": "A local emulator of the Telnyx Call Control API",
            "description": "Telnyx routes are served under /v2 (set "
            "TELNYX_BASE_URL=http://HOST:PORT/v2); the emulator's own inspection and control "
            "routes under /_emulator. Every Telnyx route needs `Authorization: Bearer <API key>`; "
            "each API key is its own tenant.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "Call Control", "description": "The emulated Telnyx API"},
            {"name": "Emulator", "description": "Inspection and control (not part of Telnyx)"},
            {"name": "Webhooks", "description": "What the emulator sends to your app"},
        ],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key"}
            },
            "schemas": components,
            "responses": error_responses,
        },
    }
