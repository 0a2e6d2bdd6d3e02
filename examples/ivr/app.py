"""A Telnyx Call Control IVR: answer, speak a menu, route 1 and 2, re-prompt, say goodbye.

1. ``call.initiated`` of an incoming call: answer it (``client_state`` marks it as ours).
2. ``call.answered``: ``gather_using_speak`` the menu ("press 1 for sales, 2 for support"),
   one digit of ``12``; Telnyx itself re-prompts with ``invalid_payload`` on a wrong key and
   plays the menu again on silence, up to ``maximum_tries``.
3. ``call.gather.ended``: ``valid`` 1 or 2: transfer to sales or support; ``invalid`` or
   ``timeout`` (the tries are used up): speak a goodbye.
4. ``call.speak.ended`` of the goodbye: hang up.

Every webhook is verified with the official SDK (``client.webhooks.unwrap``); configuration
comes from the environment (``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY``, ``TELNYX_BASE_URL``),
which the ``telnyx_emulator`` fixture sets while a test runs.

Run it: ``uvicorn examples.ivr.app:app`` and point a Call Control App's webhook URL at
``/telnyx/webhook``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from typing import Any

import telnyx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("ivr")

SALES = os.environ.get("IVR_SALES", "+13125550100")
SUPPORT = os.environ.get("IVR_SUPPORT", "+13125550111")
MENU = "Thanks for calling. Press 1 for sales, or 2 for support."
INVALID = "Sorry, that is not an option."
GOODBYE = "We did not get your choice. Goodbye."
VOICE = {"voice": "female", "language": "en-US"}  # the basic form most example apps use


def encode_state(state: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_state(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        state = json.loads(base64.b64decode(value))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def client_from_env() -> telnyx.Telnyx:
    return telnyx.Telnyx(
        api_key=os.environ["TELNYX_API_KEY"],
        public_key=os.environ["TELNYX_PUBLIC_KEY"],
        base_url=os.environ.get("TELNYX_BASE_URL"),
    )


def create_app(client: telnyx.Telnyx | None = None) -> Starlette:
    """The app; without a ``client``, one is built from the environment on the first webhook."""
    clients: list[telnyx.Telnyx] = [client] if client is not None else []

    def sdk() -> telnyx.Telnyx:
        if not clients:
            clients.append(client_from_env())
        return clients[0]

    def handle(event_type: str, payload: dict[str, Any]) -> None:
        ccid = payload["call_control_id"]
        state = decode_state(payload.get("client_state"))
        actions = sdk().calls.actions
        if event_type == "call.initiated" and payload.get("direction") == "incoming":
            actions.answer(ccid, client_state=encode_state({"ivr": "menu"}))
        elif event_type == "call.answered" and state.get("ivr") == "menu":
            actions.gather_using_speak(
                ccid,
                payload=MENU,
                invalid_payload=INVALID,
                valid_digits="12",
                minimum_digits=1,
                maximum_digits=1,
                maximum_tries=3,
                timeout_millis=5000,
                **VOICE,
            )
        elif event_type == "call.gather.ended" and state.get("ivr") == "menu":
            digits, status = payload.get("digits"), payload.get("status")
            if status == "valid" and digits in ("1", "2"):
                to = SALES if digits == "1" else SUPPORT
                log.info("routing %s to %s", ccid, to)
                actions.transfer(ccid, to=to, client_state=encode_state({"ivr": "routed"}))
            elif status in ("invalid", "timeout"):
                bye = encode_state({"ivr": "goodbye"})
                actions.speak(ccid, payload=GOODBYE, client_state=bye, **VOICE)
        elif event_type == "call.speak.ended" and state.get("ivr") == "goodbye":
            actions.hangup(ccid)

    async def webhook(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8")
        try:
            sdk().webhooks.unwrap(body, headers=dict(request.headers))
        except ValueError as exc:
            log.warning("rejected webhook: %s", exc)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        data = json.loads(body)["data"]
        handle(data["event_type"], data["payload"])
        return JSONResponse({"received": True})

    return Starlette(routes=[Route("/telnyx/webhook", webhook, methods=["POST"])])


app = create_app()
