"""A voice agent on Telnyx Call Control: it answers, streams the call to its own WebSocket
endpoint (bidirectional), and talks back to the caller through the stream.

1. ``call.initiated`` of an incoming call: answer it with ``stream_url`` pointing at this app's
   ``/stream`` WebSocket, ``stream_bidirectional_mode: rtp`` (PCMU), so the app can play audio.
2. On the stream (:class:`Agent`, sans-I/O so it runs the same behind a real WebSocket and in a
   test): ``start`` -> play a greeting; each caller turn (a DTMF digit, or speech: a run of loud
   frames followed by 200 ms of silence) -> play a reply, with a ``mark`` after it; ``#`` ->
   play a goodbye, and hang up when its mark comes back (the goodbye has been heard).

The "audio" is a tone standing in for synthesised speech: a real agent would send TTS output.
Configuration, as in production: ``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY``, optionally
``TELNYX_BASE_URL``, and ``AGENT_STREAM_URL`` (the public ``wss://`` URL of ``/stream``; by
default, ``/stream`` at the host the webhooks come to).
Run it: ``uvicorn examples.voice_agent.app:app``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
from array import array
from collections.abc import Callable
from typing import Any

import telnyx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from telnyx.types import CallInitiatedWebhookEvent

log = logging.getLogger("voice_agent")

SAMPLE_RATE = 8000  # PCMU
FRAME_BYTES = 160  # 20 ms of PCMU
SILENCE_FRAMES_TO_END_TURN = 10  # 200 ms of silence after speech: the caller has finished
LOUD = 0x70  # PCMU bytes below this (with the sign bit off) are loud samples


def tone(ms: int, hz: int = 500) -> str:
    """``ms`` of a PCMU sine, base64: what the agent "says" (a stand-in for TTS audio)."""
    n = SAMPLE_RATE * ms // 1000
    pcm = array("h", (int(8000 * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)) for i in range(n)))
    return base64.b64encode(bytes(_ulaw(s) for s in pcm)).decode()


def _ulaw(sample: int) -> int:
    """G.711 mu-law of one 16-bit sample (the standard segment encoding)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def is_loud(payload: str) -> bool:
    """Whether a PCMU frame holds sound (most of its samples well above silence)."""
    data = base64.b64decode(payload)
    loud = sum(1 for b in data if (b & 0x7F) < LOUD)
    return loud > len(data) // 4


class Agent:
    """One stream's conversation. ``on_message`` takes a message from Telnyx and returns the
    messages to send back; ``hang_up(call_control_id)`` is called when the call should end."""

    def __init__(self, hang_up: Callable[[str], None]) -> None:
        self.hang_up = hang_up
        self.call_control_id: str | None = None
        self.turns: list[str] = []  # what the caller did, in order: "dtmf:5", "speech"
        self._loud_run = 0
        self._quiet_run = 0

    def on_message(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        event = message.get("event")
        if event == "start":
            self.call_control_id = message["start"]["call_control_id"]
            return self._say(600, "greeting")
        if event == "dtmf":
            digit = message["dtmf"]["digit"]
            self.turns.append(f"dtmf:{digit}")
            if digit == "#":
                return self._say(400, "goodbye")
            return self._say(300, f"reply-{digit}")
        if event == "media" and message["media"]["track"] == "inbound":
            return self._listen(message["media"]["payload"])
        if event == "mark" and message["mark"]["name"] == "goodbye" and self.call_control_id:
            self.hang_up(self.call_control_id)
        return []

    def _listen(self, payload: str) -> list[dict[str, Any]]:
        if is_loud(payload):
            self._loud_run += 1
            self._quiet_run = 0
            return []
        self._quiet_run += 1
        if self._loud_run and self._quiet_run >= SILENCE_FRAMES_TO_END_TURN:
            self._loud_run = 0
            self.turns.append("speech")
            return self._say(500, "reply-speech")
        return []

    @staticmethod
    def _say(ms: int, mark: str) -> list[dict[str, Any]]:
        return [
            {"event": "media", "media": {"payload": tone(ms)}},
            {"event": "mark", "mark": {"name": mark}},
        ]


def _own_stream(request: Request) -> str:
    """This app's /stream endpoint, at the host the webhook came to."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}/stream"


def client_from_env() -> telnyx.Telnyx:
    return telnyx.Telnyx(
        api_key=os.environ["TELNYX_API_KEY"],
        public_key=os.environ["TELNYX_PUBLIC_KEY"],
        base_url=os.environ.get("TELNYX_BASE_URL"),
    )


def create_app(client: telnyx.Telnyx | None = None, *, stream_url: str | None = None) -> Starlette:
    clients: list[telnyx.Telnyx] = [client] if client is not None else []

    def sdk() -> telnyx.Telnyx:
        if not clients:
            clients.append(client_from_env())
        return clients[0]

    def hang_up(call_control_id: str) -> None:
        sdk().calls.actions.hangup(call_control_id)

    async def webhook(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8")
        try:
            event = sdk().webhooks.unwrap(body, headers=dict(request.headers))
        except ValueError as exc:
            log.warning("rejected webhook: %s", exc)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        if isinstance(event, CallInitiatedWebhookEvent) and event.data and event.data.payload:
            payload = event.data.payload
            if payload.direction == "incoming" and payload.call_control_id:
                url = stream_url or os.environ.get("AGENT_STREAM_URL") or _own_stream(request)
                sdk().calls.actions.answer(
                    payload.call_control_id,
                    stream_url=url,
                    stream_track="inbound_track",
                    stream_bidirectional_mode="rtp",
                    stream_bidirectional_codec="PCMU",
                )
        return JSONResponse({"received": True})

    async def stream(ws: WebSocket) -> None:
        await ws.accept()

        async def hang_up_later(call_control_id: str) -> None:
            await asyncio.to_thread(hang_up, call_control_id)

        pending: list[asyncio.Task[None]] = []
        agent = Agent(lambda ccid: pending.append(asyncio.create_task(hang_up_later(ccid))))
        try:
            while True:
                for reply in agent.on_message(json.loads(await ws.receive_text())):
                    await ws.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            pass
        for task in pending:
            await task

    return Starlette(
        routes=[
            Route("/telnyx/webhook", webhook, methods=["POST"]),
            WebSocketRoute("/stream", stream),
        ]
    )


app = create_app()
