"""AI assistants, gather_using_ai and Conversation Relay in-process, through the official SDK:
what the "assistant" extracts comes from what the far end says."""

from __future__ import annotations

import telnyx

from emulator.inprocess import TelnyxEmulator

from .harness import assert_valid_webhook

PARAMETERS = {
    "type": "object",
    "properties": {"age": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["age", "city"],
}


def answered_call(emu: TelnyxEmulator) -> tuple[telnyx.Telnyx, str]:
    client = emu.client(max_retries=0)
    call = emu.create_call()
    client.calls.actions.answer(call.call_control_id)
    emu.run_until_idle()
    return client, call.call_control_id


def assert_all_valid(emu: TelnyxEmulator) -> None:
    for webhook in emu.webhooks:
        assert_valid_webhook(webhook.body)


def test_gather_using_ai_takes_the_callers_words(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    response = client.calls.actions.gather_using_ai(
        ccid,
        parameters=PARAMETERS,
        greeting="How old are you, and where do you live?",
        gather_ended_speech="Thanks!",
        send_partial_results=True,
        send_message_history_updates=True,
    )
    assert response.data is not None and response.data.conversation_id
    telnyx_emulator.say(ccid, "29")
    telnyx_emulator.say(ccid, '{"city": "Paris"}')
    telnyx_emulator.run_until_idle()
    [ended] = telnyx_emulator.webhooks_for(ccid, "call.ai_gather.ended")
    assert ended.payload["status"] == "valid"
    assert ended.payload["result"] == {"age": 29, "city": "Paris"}
    assert ended.payload["message_history"] == [
        {"role": "assistant", "content": "How old are you, and where do you live?"},
        {"role": "user", "content": "29"},
        {"role": "user", "content": '{"city": "Paris"}'},
        {"role": "assistant", "content": "Thanks!"},
    ]
    partials = telnyx_emulator.webhooks_for(ccid, "call.ai_gather.partial_results")
    assert [w.payload["partial_results"] for w in partials] == [
        {"age": 29},
        {"age": 29, "city": "Paris"},
    ]
    assert len(telnyx_emulator.webhooks_for(ccid, "call.ai_gather.message_history_updated")) == 2
    assert_all_valid(telnyx_emulator)


def test_gather_using_ai_is_invalid_when_the_caller_goes_quiet(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    client, ccid = answered_call(telnyx_emulator)
    client.calls.actions.gather_using_ai(ccid, parameters=PARAMETERS, user_response_timeout_ms=3000)
    telnyx_emulator.advance(2.0)
    telnyx_emulator.say(ccid, "forty")  # not an integer: kept as said, so invalid
    telnyx_emulator.advance(2.9)
    assert telnyx_emulator.webhooks_for(ccid, "call.ai_gather.ended") == []  # timer restarted
    telnyx_emulator.advance(0.2)
    [ended] = telnyx_emulator.webhooks_for(ccid, "call.ai_gather.ended")
    assert ended.payload["status"] == "invalid"
    assert ended.payload["result"] == {"age": "forty"}
    assert_all_valid(telnyx_emulator)


def test_gather_using_ai_refuses_a_broken_schema(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    try:
        client.calls.actions.gather_using_ai(ccid, parameters={"type": "nonsense"})
    except telnyx.UnprocessableEntityError as exc:
        assert exc.body["errors"][0]["source"]["pointer"] == "/parameters"  # type: ignore[index]
    else:
        raise AssertionError("a broken parameters schema was accepted")


def test_an_ai_assistant_conversation(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    started = client.calls.actions.start_ai_assistant(
        ccid, assistant={"id": "assistant-123"}, greeting="Hello!"
    )
    assert started.data is not None
    conversation_id = started.data.conversation_id
    try:
        client.calls.actions.start_ai_assistant(ccid)
    except telnyx.UnprocessableEntityError as exc:
        assert exc.body["errors"][0]["code"] == "90061"  # type: ignore[index]
    else:
        raise AssertionError("a second assistant was started")
    client.calls.actions.add_ai_assistant_messages(
        ccid, messages=[{"role": "system", "content": "Be brief."}]
    )
    other = telnyx_emulator.create_call(from_="+13125550777")
    client.calls.actions.answer(other.call_control_id)
    joined = client.calls.actions.join_ai_assistant(
        other.call_control_id,
        conversation_id=conversation_id,
        participant={"id": other.call_control_id, "role": "user"},
    )
    assert joined.data is not None and joined.data.conversation_id == conversation_id
    telnyx_emulator.advance(30)
    client.calls.actions.stop_ai_assistant(ccid)
    telnyx_emulator.run_until_idle()
    [ended] = telnyx_emulator.webhooks_for(ccid, "call.conversation.ended")
    assert ended.payload["conversation_id"] == conversation_id
    assert ended.payload["assistant_id"] == "assistant-123"
    assert ended.payload["reason"] == "stopped"
    assert ended.payload["duration_sec"] == 30
    assert telnyx_emulator.events(ccid)[-2:] == [
        "call.conversation.ended",
        "call.conversation_insights.generated",
    ]
    [created] = telnyx_emulator.webhooks_for(ccid, "call.conversation.created")
    assert created.payload["conversation_id"] == conversation_id
    assert telnyx_emulator.events(ccid).index("call.conversation.created") < telnyx_emulator.events(
        ccid
    ).index("call.conversation.ended")
    assert_all_valid(telnyx_emulator)


def test_an_assistant_that_cannot_start(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    for assistant_id, reason in (
        ("fail", "invalid_request"),
        ("fail-service_error", "service_error"),
    ):
        client.calls.actions.start_ai_assistant(ccid, assistant={"id": assistant_id})
        telnyx_emulator.run_until_idle()
        failed = telnyx_emulator.webhooks_for(ccid, "call.conversation.start_failed")[-1]
        assert failed.payload["assistant_id"] == assistant_id
        assert failed.payload["reason"] == reason
    # No conversation started: nothing was created, and a real assistant can start now.
    assert telnyx_emulator.webhooks_for(ccid, "call.conversation.created") == []
    client.calls.actions.start_ai_assistant(ccid, assistant={"id": "assistant-1"})
    telnyx_emulator.run_until_idle()
    assert len(telnyx_emulator.webhooks_for(ccid, "call.conversation.created")) == 1
    for webhook in telnyx_emulator.webhooks:
        if webhook.event_type.startswith("call.conversation"):
            body = webhook.body
            model = (
                telnyx.types.CallConversationStartFailedWebhookEvent
                if webhook.event_type.endswith("start_failed")
                else telnyx.types.CallConversationCreatedWebhookEvent
            )
            assert model.model_validate(body).data is not None
    assert_all_valid(telnyx_emulator)


def test_conversation_relay_life_cycle(telnyx_emulator: TelnyxEmulator) -> None:
    client, ccid = answered_call(telnyx_emulator)
    started = client.calls.actions.start_conversation_relay(ccid, url="wss://relay.test/ws")
    assert started.data is not None and started.data.conversation_relay_id
    client.calls.actions.hangup(ccid)
    telnyx_emulator.run_until_idle()
    [ended] = telnyx_emulator.webhooks_for(ccid, "call.conversation.ended")
    assert ended.payload["reason"] == "call_ended"
    assert telnyx_emulator.events(ccid)[-2:] == ["call.conversation.ended", "call.hangup"]
    assert_all_valid(telnyx_emulator)


def test_gather_using_ai_gets_its_value_from_the_scenario_script(
    telnyx_emulator: TelnyxEmulator,
) -> None:
    """The caller_says_sales scenario says "sales" a second after a prompt starts: the AI
    gather's greeting is that prompt, and a stream on the call carries the words as audio."""
    client = telnyx_emulator.client(max_retries=0)
    call = telnyx_emulator.create_call(scenario="caller_says_sales")
    ccid = call.call_control_id
    client.calls.actions.answer(ccid, stream_url="wss://agent.test/stream")
    telnyx_emulator.advance(0.5)
    client.calls.actions.gather_using_ai(
        ccid,
        parameters={"type": "object", "properties": {"department": {"type": "string"}}},
        greeting="Which department?",
    )
    telnyx_emulator.advance(3)
    [ended] = telnyx_emulator.webhooks_for(ccid, "call.ai_gather.ended")
    assert ended.payload["result"] == {"department": "sales"}
    assert ended.payload["status"] == "valid"
    [stream] = telnyx_emulator.streams_for(ccid)
    speech = [m for m in stream.media() if m["payload"] != stream.media()[0]["payload"]]
    assert len(speech) == 15  # "sales": 5 characters x 60 ms
    assert_all_valid(telnyx_emulator)
