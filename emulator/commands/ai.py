"""The AI family: AI assistants, AI gathers and Conversation Relay.

There is no language model in the emulator. What an "assistant" hears is what the far end says
(:meth:`emulator.engine.Engine.far_end_say`: a scenario's ``far_end`` script, the live
``/speech`` route, the fixture's ``say``), and what it extracts is taken from those words
deterministically, so an app's handling of each outcome can be tested:

- ``gather_using_ai`` (activity ``ai_gather``): each utterance that is a JSON object gives the
  values of its members; any other utterance is the value of the first ``parameters`` property
  still missing (converted to its ``type``: integer, number, boolean). The gather ends when
  every required property (every property, if none is required) has a value, or when the
  caller says nothing for ``user_response_timeout_ms`` (chosen default 10 s): then
  ``call.ai_gather.ended`` with ``result``, ``message_history`` and ``status`` ``valid`` if the
  result validates against ``parameters`` (JSON Schema), else ``invalid``.
  ``send_partial_results`` / ``send_message_history_updates`` add
  ``call.ai_gather.partial_results`` / ``call.ai_gather.message_history_updated`` after each
  utterance.
- ``ai_assistant_start`` (activity ``ai_assistant``, 90061 for a second one):
  ``call.conversation.created``, then a conversation that records the greeting, added messages
  and the caller's utterances; the assistant says nothing else. It ends on
  ``ai_assistant_stop`` or the call's end with ``call.conversation.ended`` and then
  ``call.conversation_insights.generated`` (no insight groups are emulated: ``results`` is
  empty). ``ai_assistant_join`` adds this call to a running conversation. An assistant ``id``
  starting with ``fail`` sends ``call.conversation.start_failed`` instead (:func:`_start_failure`).
- ``conversation_relay_start`` (activity ``conversation_relay``): the session's life cycle and
  ``call.conversation.ended``; the emulator does not connect to the relay's WebSocket URL
  (docs/streaming.md).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema

from .. import errors, webhooks
from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..errors import ApiFailure
from ..person import FarEndInput, Hear
from .registry import Command, Context, declare

FAMILY = "ai"

USER_RESPONSE_TIMEOUT_MS = 10_000  # (chosen) gather_using_ai's default silence before it ends
END_REASONS = {  # call.conversation.ended's reason, by why the activity ended (chosen names)
    EndReason.STOPPED: "stopped",
    EndReason.CALL_ENDED: "call_ended",
    EndReason.REPLACED: "stopped",
    EndReason.COMPLETED: "completed",
}
_CONVERSATION_FIELDS = {  # the assistant's settings call.conversation.ended reports
    "id": "assistant_id",
    "model": "llm_model",
}


def _invalid(detail: str, pointer: str) -> ApiFailure:
    return ApiFailure(422, [errors.invalid_value(detail, pointer)])


def _conversation_id(engine: Engine) -> str:
    return engine.ids.event_id()


def _party(leg: Leg) -> str:
    return "sip" if leg.from_.startswith(("sip:", "sips:")) else "pstn"


# -- AI assistant -------------------------------------------------------------------------------


def _conversation_ended(engine: Engine, leg: Leg, conv: dict[str, Any], reason: str) -> None:
    payload = webhooks.media_payload(leg)
    payload.update(
        conversation_id=conv["conversation_id"],
        calling_party_type=_party(leg),
        duration_sec=int(engine.clock.now() - conv["started_at"]),
        reason=reason,
    )
    assistant = conv.get("assistant") or {}
    for key, field in _CONVERSATION_FIELDS.items():
        if isinstance(assistant.get(key), str):
            payload[field] = assistant[key]
    engine.emit(leg, "call.conversation.ended", payload)


def _listen(conv: dict[str, Any]) -> Hear:
    def hears(heard: FarEndInput) -> None:
        if heard.kind == "speech":
            conv["messages"].append({"role": "user", "content": heard.value})

    return hears


def _start_failure(assistant: dict[str, Any]) -> str | None:
    """(chosen) The reason of ``call.conversation.start_failed`` an assistant ``id`` asks for:
    ``fail`` (``invalid_request``, as for an assistant that does not exist) or
    ``fail-service_error``; any other assistant starts. The emulator keeps no assistants, so
    this is how an app's handling of a failed start is tested (as SIPREC's ``fail`` connectors).
    """
    assistant_id = assistant.get("id")
    if not isinstance(assistant_id, str) or not assistant_id.startswith("fail"):
        return None
    return "service_error" if assistant_id == "fail-service_error" else "invalid_request"


def ai_assistant_start(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    engine, leg = ctx.engine, ctx.leg
    assistant = p.get("assistant") or {}
    failure = _start_failure(assistant)
    if failure is not None:
        failed = webhooks.media_payload(leg)
        failed.update(calling_party_type=_party(leg), assistant_id=assistant["id"], reason=failure)
        engine.emit(leg, "call.conversation.start_failed", failed)
        return {"conversation_id": _conversation_id(engine)}
    conv: dict[str, Any] = {
        "conversation_id": _conversation_id(engine),
        "started_at": engine.clock.now(),
        "assistant": p.get("assistant") or {},
        "messages": [dict(m) for m in p.get("message_history") or []],
        "participants": [],
        "owner": leg.call_control_id,
    }
    if p.get("greeting"):
        conv["messages"].append({"role": "assistant", "content": p["greeting"]})
        engine.cue(leg, "prompt_started")  # a scripted caller answers the greeting

    def on_end(activity: Activity, reason: EndReason) -> None:
        _conversation_ended(engine, leg, conv, END_REASONS[reason])
        insights = webhooks.media_payload(leg)
        insights.update(
            calling_party_type=_party(leg),
            insight_group_id=str(uuid.uuid5(uuid.NAMESPACE_URL, conv["conversation_id"])),
            results=[],
        )
        insights.pop("from", None)
        insights.pop("to", None)
        engine.emit(leg, "call.conversation_insights.generated", insights)

    activity = engine.start_activity(leg, ActivityKind.AI_ASSISTANT, on_end, data=conv)
    activity.hear = _listen(conv)
    created = webhooks.media_payload(leg)
    created.update(conversation_id=conv["conversation_id"], calling_party_type=_party(leg))
    engine.emit(leg, "call.conversation.created", created)
    return {"conversation_id": conv["conversation_id"]}


def _running(leg: Leg, kind: ActivityKind, what: str) -> Activity:
    running = leg.activities.running(kind) if leg.activities is not None else None
    if running is None:
        raise errors.invalid_command_for_state(f"No {what} is running on this call.")
    return running


def ai_assistant_stop(ctx: Context, p: dict[str, Any]) -> None:
    _running(ctx.leg, ActivityKind.AI_ASSISTANT, "AI assistant")
    ctx.engine.stop_activity(ctx.leg, ActivityKind.AI_ASSISTANT)


def ai_assistant_join(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """Join this call to a running conversation (of this API key): what its far end says goes
    into the conversation too. Its ending sends nothing; the conversation's owner call does."""
    engine, leg = ctx.engine, ctx.leg
    wanted = p["conversation_id"]
    conv = None
    for other in engine.calls:
        acts = other.activities if other.alive else None
        running = acts.running(ActivityKind.AI_ASSISTANT) if acts is not None else None
        if running is not None and running.data.get("conversation_id") == wanted:
            conv = running.data
            break
    if conv is None:
        raise _invalid(f"No running AI assistant conversation {wanted!r}.", "/conversation_id")
    if conv["owner"] == leg.call_control_id:
        raise _invalid("This call already takes part in the conversation.", "/conversation_id")
    conv["participants"].append(dict(p["participant"]))
    activity = engine.start_activity(
        leg, ActivityKind.AI_ASSISTANT, lambda a, r: None, data={"conversation_id": wanted}
    )
    activity.hear = _listen(conv)
    return {"conversation_id": wanted}


def ai_assistant_add_messages(ctx: Context, p: dict[str, Any]) -> None:
    running = _running(ctx.leg, ActivityKind.AI_ASSISTANT, "AI assistant")
    if "messages" not in running.data:
        raise errors.invalid_command_for_state(
            "This call joined a conversation it does not own; add messages on the owner call."
        )
    running.data["messages"].extend(dict(m) for m in p.get("messages") or [])


# -- gather_using_ai ----------------------------------------------------------------------------


def _coerce(text: str, schema: dict[str, Any]) -> Any:
    """The caller's words as the property's type, when they read as one."""
    kind = schema.get("type")
    words = text.strip()
    try:
        if kind == "integer":
            return int(words)
        if kind == "number":
            return float(words)
    except ValueError:
        return words
    if kind == "boolean" and words.lower() in ("yes", "no", "true", "false"):
        return words.lower() in ("yes", "true")
    return words


def gather_using_ai(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    engine, leg = ctx.engine, ctx.leg
    parameters = p["parameters"]
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        detail = f"parameters is not a valid JSON Schema: {exc.message}"
        raise _invalid(detail, "/parameters") from None
    props: dict[str, Any] = parameters.get("properties") or {}
    needed = list(parameters.get("required") or props)
    timeout = p.get("user_response_timeout_ms", USER_RESPONSE_TIMEOUT_MS) / 1000.0
    conversation_id = _conversation_id(engine)
    history: list[dict[str, Any]] = [
        {"role": m.get("role"), "content": m.get("content")}
        for m in p.get("message_history") or []
        if isinstance(m, dict)
    ]
    if p.get("greeting"):
        history.append({"role": "assistant", "content": p["greeting"]})
    result: dict[str, Any] = {}

    def payload(**extra: Any) -> dict[str, Any]:
        out = webhooks.media_payload(leg)
        out["message_history"] = [dict(m) for m in history]
        out.update(extra)
        return out

    def on_end(activity: Activity, reason: EndReason) -> None:
        if reason is EndReason.CALL_ENDED:
            return  # (chosen) the call is gone: no result to report
        valid = jsonschema.Draft202012Validator(parameters).is_valid(result)
        if valid and p.get("gather_ended_speech"):
            history.append({"role": "assistant", "content": p["gather_ended_speech"]})
        status = "valid" if valid else "invalid"
        engine.emit(leg, "call.ai_gather.ended", payload(result=dict(result), status=status))

    activity = engine.start_activity(
        leg,
        ActivityKind.AI_GATHER,
        on_end,
        secs=timeout,
        data={"conversation_id": conversation_id},
    )

    def hears(heard: FarEndInput) -> None:
        if heard.kind != "speech" or not activity.running:
            return
        text = heard.value
        history.append({"role": "user", "content": text})
        values = _json_object(text)
        if values is not None:
            result.update(values)
        else:
            missing = [name for name in (needed or props) if name not in result]
            if missing:
                result[missing[0]] = _coerce(text, props.get(missing[0]) or {})
        if p.get("send_partial_results"):
            engine.emit(
                leg, "call.ai_gather.partial_results", payload(partial_results=dict(result))
            )
        if p.get("send_message_history_updates"):
            engine.emit(leg, "call.ai_gather.message_history_updated", payload())
        running = leg.activities
        if all(name in result for name in needed) and running is not None:
            running.finish(activity, engine.clock.now())
            return
        # The caller spoke: the silence timeout starts again.
        if activity.planned_end is not None:
            activity.planned_end.cancel()
        if running is not None:
            activity.planned_end = engine.after(
                leg, timeout, lambda: running.finish(activity, engine.clock.now())
            )

    activity.hear = hears
    if p.get("greeting"):
        engine.cue(leg, "prompt_started")  # a scripted caller answers the greeting
    return {"conversation_id": conversation_id}


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- Conversation Relay -------------------------------------------------------------------------


def conversation_relay_start(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    engine, leg = ctx.engine, ctx.leg
    url = p.get("url") or p.get("conversation_relay_url")
    conv: dict[str, Any] = {
        "conversation_id": _conversation_id(engine),
        "started_at": engine.clock.now(),
        "assistant": p.get("assistant") or {},
        "url": url,
    }

    def on_end(activity: Activity, reason: EndReason) -> None:
        _conversation_ended(engine, leg, conv, END_REASONS[reason])

    engine.start_activity(leg, ActivityKind.CONVERSATION_RELAY, on_end, data=conv)
    return {"conversation_relay_id": conv["conversation_id"]}


def conversation_relay_stop(ctx: Context, p: dict[str, Any]) -> None:
    _running(ctx.leg, ActivityKind.CONVERSATION_RELAY, "Conversation Relay session")
    ctx.engine.stop_activity(ctx.leg, ActivityKind.CONVERSATION_RELAY)


_ENDED = ("call.conversation.ended", "call.conversation_insights.generated")

declare(
    Command(
        "ai_assistant_start",
        "/calls/{call_control_id}/actions/ai_assistant_start",
        "client.calls.actions.start_ai_assistant",
        "Start an AI assistant",
        FAMILY,
        webhooks=("call.conversation.created", "call.conversation.start_failed", *_ENDED),
        effect=ai_assistant_start,
        response="command_conversation",
        description="A conversation that records what the far end says; no language model "
        "answers (docs/streaming.md).",
    )
)

declare(
    Command(
        "ai_assistant_stop",
        "/calls/{call_control_id}/actions/ai_assistant_stop",
        "client.calls.actions.stop_ai_assistant",
        "Stop the AI assistant",
        FAMILY,
        webhooks=_ENDED,
        effect=ai_assistant_stop,
    )
)

declare(
    Command(
        "ai_assistant_join",
        "/calls/{call_control_id}/actions/ai_assistant_join",
        "client.calls.actions.join_ai_assistant",
        "Join an AI assistant conversation",
        FAMILY,
        webhooks=(),
        effect=ai_assistant_join,
        response="command_conversation",
    )
)

declare(
    Command(
        "ai_assistant_add_messages",
        "/calls/{call_control_id}/actions/ai_assistant_add_messages",
        "client.calls.actions.add_ai_assistant_messages",
        "Add messages to the AI assistant",
        FAMILY,
        webhooks=(),
        effect=ai_assistant_add_messages,
    )
)

declare(
    Command(
        "gather_using_ai",
        "/calls/{call_control_id}/actions/gather_using_ai",
        "client.calls.actions.gather_using_ai",
        "Gather using AI",
        FAMILY,
        webhooks=(
            "call.ai_gather.ended",
            "call.ai_gather.partial_results",
            "call.ai_gather.message_history_updated",
        ),
        effect=gather_using_ai,
        response="command_conversation",
        description="The values come from what the far end says (a JSON object, or the words "
        "as the next missing parameter), validated against `parameters` (docs/streaming.md).",
    )
)

declare(
    Command(
        "conversation_relay_start",
        "/calls/{call_control_id}/actions/conversation_relay_start",
        "client.calls.actions.start_conversation_relay",
        "Start Conversation Relay",
        FAMILY,
        webhooks=("call.conversation.ended",),
        effect=conversation_relay_start,
        response="command_relay",
        description="The session's life cycle and `call.conversation.ended`; the relay "
        "WebSocket is not opened (docs/streaming.md).",
    )
)

declare(
    Command(
        "conversation_relay_stop",
        "/calls/{call_control_id}/actions/conversation_relay_stop",
        "client.calls.actions.stop_conversation_relay",
        "Stop Conversation Relay",
        FAMILY,
        webhooks=("call.conversation.ended",),
        effect=conversation_relay_stop,
    )
)
