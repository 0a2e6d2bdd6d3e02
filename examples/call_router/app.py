"""A Telnyx Call Control app: route each incoming call to a first destination, and to a second
one if the first is busy.

1. ``call.initiated`` of an incoming call: transfer it, unanswered (Telnyx allows that), to the
   first destination. ``target_leg_client_state`` tells the new leg which call it serves.
2. ``call.hangup`` of that outbound leg with ``hangup_cause`` ``user_busy``: transfer the caller
   again, to the second destination.
3. A busy second destination ends the routing; the caller stays parked (a real app would play a
   message or hang up there).

Every webhook is verified with the official SDK (``client.webhooks.unwrap``) before it is acted
on; an unsigned or forged one gets 401. Configuration comes from the environment, as in
production: ``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY`` and optionally ``TELNYX_BASE_URL``
(the ``telnyx_emulator`` fixture sets all three while a test runs).

Run it: ``uvicorn examples.call_router.app:app`` and point a Call Control App's webhook URL at
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
from telnyx.types import CallHangupWebhookEvent, CallInitiatedWebhookEvent

log = logging.getLogger("call_router")

# In the emulator's bundled scenarios, +1NXX5550101 is busy and +1NXX5550100 answers.
FIRST_DESTINATION = os.environ.get("ROUTER_FIRST_DESTINATION", "+13125550101")
SECOND_DESTINATION = os.environ.get("ROUTER_SECOND_DESTINATION", "+13125550100")


def encode_state(state: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_state(value: str | None) -> dict[str, Any]:
    """client_state comes back from Telnyx as we sent it; anything else is not ours."""
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


def create_app(
    client: telnyx.Telnyx | None = None,
    *,
    first: str = FIRST_DESTINATION,
    second: str = SECOND_DESTINATION,
) -> Starlette:
    """The app; without a ``client``, one is built from the environment on the first webhook
    (so importing the module needs no configuration)."""
    clients: list[telnyx.Telnyx] = [client] if client is not None else []
    destinations = [first, second]

    def sdk() -> telnyx.Telnyx:
        if not clients:
            clients.append(client_from_env())
        return clients[0]

    def route(call_control_id: str, attempt: int) -> None:
        """Transfer the caller to destination number ``attempt`` (1-based)."""
        destination = destinations[attempt - 1]
        log.info("routing %s to %s (attempt %d)", call_control_id, destination, attempt)
        sdk().calls.actions.transfer(
            call_control_id,
            to=destination,
            client_state=encode_state({"attempt": attempt, "destination": destination}),
            target_leg_client_state=encode_state({"leg_a": call_control_id, "attempt": attempt}),
            timeout_secs=20,
        )

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
                route(payload.call_control_id, 1)
        elif isinstance(event, CallHangupWebhookEvent) and event.data and event.data.payload:
            payload = event.data.payload
            state = decode_state(payload.client_state)
            leg_a, attempt = state.get("leg_a"), state.get("attempt")
            if leg_a and payload.hangup_cause == "user_busy":
                if attempt == 1:
                    route(leg_a, 2)
                else:
                    log.info("both destinations busy for %s", leg_a)
        return JSONResponse({"received": True})

    return Starlette(routes=[Route("/telnyx/webhook", webhook, methods=["POST"])])


app = create_app()
