"""The streaming family: media streams over WebSocket and media forks.

A stream is an activity (:mod:`emulator.activities`, kind ``streaming``) holding a
:class:`~emulator.media_stream.MediaStream`, the protocol's state. This module decides what the
app is told by webhook: ``streaming.started`` when the adapter has opened the WebSocket,
``streaming.stopped`` when a command, the leg's end or a later ``streaming_start`` elsewhere stops
an open stream, ``streaming.failed`` when the connection is refused or drops before ``stop``. The
I/O (connecting, pacing, sending) belongs to the adapters (:mod:`emulator.stream_client`, the
in-process fixture). ``stream_url`` on answer and Dial starts the same stream (see
:func:`stream_params` and :func:`start_stream`); Telnyx's transfer has no ``stream_url``.

A fork (``fork_start``) is an activity too: ``call.fork.started`` / ``call.fork.stopped``; the
emulator sends no RTP to the ``rx``/``tx`` targets (docs/streaming.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from .. import errors, webhooks
from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..errors import ApiFailure
from ..media_stream import Cancel, MediaStream, StreamParams
from ..person import FarEndInput
from ..stream_audio import format_for
from .registry import Command, Context, declare

FAMILY = "streaming"

STREAM_STOPPED_ON = (EndReason.STOPPED, EndReason.CALL_ENDED, EndReason.REPLACED)
FAILURE_REFUSED = "connection_failed"  # Telnyx's own example of failure_reason
FAILURE_DROPPED = "connection_closed"  # (chosen) the app closed or lost the WebSocket mid-stream
# fork_start's rx/tx: "udp:<host>:<port>" (Telnyx's examples: udp:192.0.2.1:9000).
_FORK_TARGET = re.compile(r"^udp:[^:\s]+:(\d{1,5})$")


def _invalid(detail: str, pointer: str) -> ApiFailure:
    return ApiFailure(422, [errors.invalid_value(detail, pointer)])


def stream_params(p: dict[str, Any], *, required: bool) -> StreamParams | None:
    """The stream a command's body asks for (None if it names no ``stream_url`` and need not),
    checked before the command changes anything."""
    url = p.get("stream_url")
    if p.get("enable_dialogflow"):
        raise errors.option_not_emulated(
            "enable_dialogflow", "/enable_dialogflow", "the emulator streams to WebSockets only."
        )
    if p.get("stream_establish_before_call_originate"):
        raise errors.option_not_emulated(
            "stream_establish_before_call_originate",
            "/stream_establish_before_call_originate",
            "the stream starts when the call is answered.",
        )
    if url is None:
        if required:  # (chosen) the spec marks it optional; 10015 as for a value rule
            raise _invalid(
                "streaming_start needs a stream_url: nowhere to stream to.", "/stream_url"
            )
        return None
    if not re.match(r"^wss?://[^/\s]+", url):
        raise _invalid("stream_url must be a ws:// or wss:// URL.", "/stream_url")
    custom = {
        str(c["name"]): str(c.get("value", ""))
        for c in p.get("custom_parameters") or []
        if isinstance(c, dict) and "name" in c
    }
    return StreamParams(
        url=url,
        track=p.get("stream_track", "inbound_track"),
        media_format=format_for(p.get("stream_codec")),
        auth_token=p.get("stream_auth_token"),
        custom_parameters=custom,
        bidirectional_mode=p.get("stream_bidirectional_mode", "mp3"),
        bidirectional_codec=p.get("stream_bidirectional_codec", "PCMU"),
        bidirectional_rate=int(p.get("stream_bidirectional_sampling_rate", 8000)),
    )


class _Hooks:
    """The engine side of one stream (:class:`~emulator.media_stream.StreamHooks`)."""

    def __init__(self, engine: Engine, leg: Leg) -> None:
        self.engine, self.leg = engine, leg

    def opened(self, stream: MediaStream) -> None:
        if self.leg.alive:
            payload = webhooks.media_payload(self.leg)
            payload["stream_url"] = stream.params.url
            self.engine.emit(self.leg, "streaming.started", payload)

    def failed(self, stream: MediaStream, reason: str) -> None:
        engine, leg = self.engine, self.leg
        if not leg.alive:
            return
        payload = webhooks.media_payload(leg)
        payload.update(
            failure_reason=reason,
            stream_id=stream.stream_id,
            stream_params={"stream_url": stream.params.url, "track": stream.params.track},
            stream_type="websocket",
        )
        engine.emit(leg, "streaming.failed", payload)
        running = leg.activities.running(ActivityKind.STREAMING) if leg.activities else None
        if running is not None and running.data.get("stream") is stream:
            engine.stop_activity(leg, ActivityKind.STREAMING)  # closed already: no stopped

    def after(self, stream: MediaStream, clock_secs: float, step: Callable[[], None]) -> Cancel:
        scale = self.engine.config.time_scale
        return self.engine.after(self.leg, clock_secs / scale if scale else 0.0, step)


def start_stream(engine: Engine, leg: Leg, params: StreamParams) -> MediaStream:
    """Start a stream on a live leg: the adapter connects it; ``streaming.started`` follows."""
    stream = MediaStream(
        stream_id=engine.ids.event_id(),
        call_control_id=leg.call_control_id,
        call_session_id=leg.call_session_id,
        tenant=engine.tenant,
        start_fields={
            "user_id": _user_id(engine),
            "call_control_id": leg.call_control_id,
            "call_session_id": leg.call_session_id,
            "from": leg.from_,
            "to": leg.to,
            "client_state": leg.client_state,
        },
        params=params,
        time_scale=engine.config.time_scale,
        hooks=_Hooks(engine, leg),
    )

    def on_end(activity: Activity, reason: EndReason) -> None:
        was_open = stream.state.value == "open"
        stream.close(
            engine.clock.now(),
            {"user_id": _user_id(engine), "call_control_id": leg.call_control_id},
        )
        if was_open and reason in STREAM_STOPPED_ON:
            payload = webhooks.media_payload(leg)
            payload["stream_url"] = params.url
            engine.emit(leg, "streaming.stopped", payload)

    def hear(heard: FarEndInput) -> None:
        if heard.kind == "dtmf":
            stream.hear_dtmf(heard.value, heard.at)
        else:
            stream.hear_speech(heard.value, heard.at)

    engine.start_activity(leg, ActivityKind.STREAMING, on_end, data={"stream": stream}, hear=hear)
    engine.streams.add(stream)
    return stream


def _user_id(engine: Engine) -> str:
    """The stream's ``user_id``: a stable UUID per API key (Telnyx's is the account's)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"telnyx-emulator:user:{engine.tenant_id}"))


# -- streaming_start / streaming_stop ---------------------------------------------------------


def streaming_start(ctx: Context, p: dict[str, Any]) -> None:
    params = stream_params(p, required=True)
    assert params is not None
    start_stream(ctx.engine, ctx.leg, params)


def streaming_stop(ctx: Context, p: dict[str, Any]) -> None:
    """Stop the call's stream (the one ``stream_id`` names, if given)."""
    leg = ctx.leg
    running = leg.activities.running(ActivityKind.STREAMING) if leg.activities else None
    if running is None:
        raise errors.invalid_command_for_state("No media stream is running on this call.")
    stream: MediaStream = running.data["stream"]
    if "stream_id" in p and p["stream_id"] != stream.stream_id:
        raise _invalid(f"This call has no running stream {p['stream_id']!r}.", "/stream_id")
    ctx.engine.stop_activity(leg, ActivityKind.STREAMING)


# -- forking ----------------------------------------------------------------------------------


def fork_start(ctx: Context, p: dict[str, Any]) -> None:
    """``call.fork.started`` now; ``call.fork.stopped`` when stopped or when the call ends.
    No RTP is sent to the targets."""
    engine, leg = ctx.engine, ctx.leg
    for side in ("rx", "tx"):
        target = p.get(side)
        if target is not None:
            m = _FORK_TARGET.match(target)
            if m is None or not 0 < int(m[1]) < 65536:
                raise _invalid(f"{side} must be udp:<host>:<port>.", f"/{side}")
    stream_type = p.get("stream_type", "decrypted")

    def payload() -> dict[str, Any]:
        out = webhooks.media_payload(leg)
        out["stream_type"] = stream_type
        for key in ("from", "to"):
            out.pop(key, None)
        return out

    def on_end(activity: Activity, reason: EndReason) -> None:
        engine.emit(leg, "call.fork.stopped", payload())

    engine.start_activity(leg, ActivityKind.FORK, on_end, data=dict(p))
    engine.emit(leg, "call.fork.started", payload())


def fork_stop(ctx: Context, p: dict[str, Any]) -> None:
    if ctx.engine.stop_activity(ctx.leg, ActivityKind.FORK) is None:
        raise errors.invalid_command_for_state("No media fork is running on this call.")


declare(
    Command(
        "streaming_start",
        "/calls/{call_control_id}/actions/streaming_start",
        "client.calls.actions.start_streaming",
        "Start a media stream",
        FAMILY,
        webhooks=("streaming.started", "streaming.stopped", "streaming.failed"),
        effect=streaming_start,
        description="Connects to `stream_url` over a real WebSocket (the server) or to the "
        "test's stream handler (in-process) and speaks Telnyx's media streaming protocol; see "
        "docs/streaming.md.",
    )
)

declare(
    Command(
        "streaming_stop",
        "/calls/{call_control_id}/actions/streaming_stop",
        "client.calls.actions.stop_streaming",
        "Stop the media stream",
        FAMILY,
        webhooks=("streaming.stopped",),
        effect=streaming_stop,
    )
)

declare(
    Command(
        "fork_start",
        "/calls/{call_control_id}/actions/fork_start",
        "client.calls.actions.start_forking",
        "Start forking media",
        FAMILY,
        webhooks=("call.fork.started", "call.fork.stopped"),
        effect=fork_start,
        description="Sends `call.fork.started`; no RTP is sent to `rx`/`tx` (docs/streaming.md).",
    )
)

declare(
    Command(
        "fork_stop",
        "/calls/{call_control_id}/actions/fork_stop",
        "client.calls.actions.stop_forking",
        "Stop forking media",
        FAMILY,
        webhooks=("call.fork.stopped",),
        effect=fork_stop,
    )
)
