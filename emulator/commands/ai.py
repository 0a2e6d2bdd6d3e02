"""The AI family: AI assistants, AI gathers and Conversation Relay.

Declared, not emulated yet: each answers the "not emulated" error after validation and the
call and state checks, until issue #17 gives it an effect built on the engine's primitives
and the activity model (:mod:`emulator.activities`).
"""

from __future__ import annotations

from .registry import Command, declare

FAMILY = "ai"
ISSUE = 17

declare(
    Command(
        "ai_assistant_start",
        "/calls/{call_control_id}/actions/ai_assistant_start",
        "client.calls.actions.start_ai_assistant",
        "Start an AI assistant",
        FAMILY,
        webhooks=("call.conversation.ended", "call.conversation_insights.generated"),
        issue=ISSUE,
        response="command_conversation",
    )
)

declare(
    Command(
        "ai_assistant_stop",
        "/calls/{call_control_id}/actions/ai_assistant_stop",
        "client.calls.actions.stop_ai_assistant",
        "Stop the AI assistant",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
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
        issue=ISSUE,
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
        issue=ISSUE,
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
            "call.conversation.ended",
        ),
        issue=ISSUE,
        response="command_conversation",
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
        issue=ISSUE,
        response="command_relay",
    )
)

declare(
    Command(
        "conversation_relay_stop",
        "/calls/{call_control_id}/actions/conversation_relay_stop",
        "client.calls.actions.stop_conversation_relay",
        "Stop Conversation Relay",
        FAMILY,
        webhooks=(),
        issue=ISSUE,
    )
)
