"""Hand-reviewed rules that Telnyx's spec states only in prose, applied on top of the generated
request schemas by ``scripts/generate_schemas.py``.

Each entry is ``command -> {JSON path inside the schema: keywords to merge}``. A path is a
``/``-separated list of property names from the top of the request body (``loop``,
``noise_suppression_engine_config/attenuation_limit``); ``""`` is the body itself. Keywords are
merged over the generated ones (``None`` deletes one). Every line quotes or names the prose it
encodes, so a reviewer can check it against the spec's ``description`` of the field.

Rules every schema gets, without an entry here (see the generator's ``_harden``):

- ``client_state``: valid Base64 (the spec: "It must be a valid Base-64 encoded string").
- every integer has a range: the documented ``minimum``/``maximum`` when there is one; else
  ``*_secs``, ``*_millis``, ``*_ms`` and ``*_count``/``max*``/``min*`` fields are >= 0, other
  integers >= -2147483648; every integer is <= 2147483647 (int32, the spec's format).
- every number has a range (documented, else +-1e9): NaN and infinities are never accepted.
"""

from __future__ import annotations

from typing import Any

# The Base64 rule of the hand-maintained schemas (schemas/transfer_request.schema.json).
BASE64: dict[str, Any] = {
    "contentEncoding": "base64",
    "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    "x-telnyx-rule": (
        "must be valid Base64 (standard alphabet A-Z a-z 0-9 + /, padded with = to a multiple "
        "of 4 characters)"
    ),
}

# "There is a 3,000 character limit."
TEXT_3000: dict[str, Any] = {"maxLength": 3000}
# "The value must be an integer between 1 and 100, or the special string `infinity`."
LOOP: dict[str, Any] = {
    "oneOf": None,
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 100},
        {"type": "string", "enum": ["infinity"]},
    ],
}
# "If supplied, the value must be either `self`, `opposite` or `both`."
TARGET_LEGS: dict[str, Any] = {"enum": ["self", "opposite", "both"]}
# DTMF digits: "0-9, A-D, *, and #"
DIGITS = "^[0-9A-D*#]+$"
DIGIT_RULES: dict[str, dict[str, Any]] = {
    # "This parameter has a minimum value of 1" / "a maximum value of 128".
    "minimum_digits": {"minimum": 1, "maximum": 128},
    "maximum_digits": {"minimum": 1, "maximum": 128},
    "terminating_digit": {
        "pattern": "^[0-9A-D*#]$",
        "x-telnyx-rule": "must be one DTMF digit (0-9, A-D, * or #)",
    },
    "valid_digits": {
        "pattern": DIGITS,
        "x-telnyx-rule": "must be DTMF digits (0-9, A-D, * and #)",
    },
}


# speak / gather_using_speak ``voice``: every form the spec's prose documents. "Define voices
# using the format `<Provider>.<Model>.<VoiceId>`. Specifying only the provider will give
# default values"; per provider: `AWS.Polly.<VoiceId>` (-Neural suffix), `Azure.<VoiceId>`
# (e.g. `Azure.en-US-Ava:DragonHDLatestNeural`), `ElevenLabs.<ModelId>.<VoiceId>` ("The ModelId
# part is optional"), `Telnyx.<model_id>.<voice_id>`, `Minimax.<ModelId>.<VoiceId>` (models
# speech-02-turbo, speech-02-hd, speech-2.6-turbo, speech-2.8-turbo), `Rime.<model_id>.<voice_id>`
# (Arcana, Mist, ArcanaV3, Coda), `Resemble.Turbo.<voice_id>`, `Inworld.<ModelId>.<VoiceId>`
# (Mini, Max, TTS2), `FishAudio.<ModelId>.<VoiceId>` (s2.1-pro, s2-pro, s1), `xAI.<VoiceId>`
# (eve, ara, rex, sal, leo); "For service_level basic, you may define the gender of the speaker
# (male or female)"; and `Polly.<VoiceId>`, the older form the `language` field still names
# ("ignored when a `Polly.*` voice is specified").
_ID = r"[A-Za-z0-9_-]+"


def _provider(name: str, models: str) -> str:
    """``Name``, ``Name.<Model>`` or ``Name.<Model>.<VoiceId>``, for a documented model list."""
    return f"{name}(\\.({models})(\\.{_ID})?)?"


VOICE_FORMS = "|".join(
    [
        "male",
        "female",
        f"Polly\\.{_ID}",
        f"AWS(\\.Polly(\\.{_ID})?)?",
        r"Azure(\.[A-Za-z0-9:_-]+)?",
        f"ElevenLabs(\\.{_ID}){{0,2}}",
        f"Telnyx(\\.{_ID}(\\.{_ID})?)?",
        _provider("Minimax", r"speech-02-turbo|speech-02-hd|speech-2\.6-turbo|speech-2\.8-turbo"),
        _provider("Rime", "Arcana|Mist|ArcanaV3|Coda"),
        _provider("Resemble", "Turbo"),
        _provider("Inworld", "Mini|Max|TTS2"),
        _provider("FishAudio", r"s2\.1-pro|s2-pro|s1"),
        "xAI(\\.(eve|ara|rex|sal|leo))?",
    ]
)
VOICE: dict[str, Any] = {
    "pattern": f"^({VOICE_FORMS})$",
    "x-telnyx-rule": (
        "must be male or female (basic service level), or <Provider>.<Model>.<VoiceId> of a "
        "documented provider: AWS.Polly.<VoiceId>, Azure.<VoiceId>, "
        "ElevenLabs[.<ModelId>].<VoiceId>, Telnyx.<Model>.<VoiceId>, Minimax, Rime, Resemble, "
        "Inworld, FishAudio (<Model>.<VoiceId>), xAI.<VoiceId>, or Polly.<VoiceId>"
    ),
}
# "When using `basic`, only the `en-US` language and payload type `text` are allowed." And
# ElevenLabs: "you must provide your ElevenLabs API key ... in voice_settings".
SPEECH_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": {
                "required": ["service_level"],
                "properties": {"service_level": {"const": "basic"}},
            },
            "then": {
                "properties": {"language": {"enum": ["en-US"]}, "payload_type": {"enum": ["text"]}}
            },
        },
        {
            "if": {"required": ["voice"], "properties": {"voice": {"pattern": "^ElevenLabs"}}},
            "then": {"required": ["voice_settings"]},
        },
    ]
}


def exclusive(*names: str) -> dict[str, Any]:
    """``{"not": {"required": [a, b]}}``: the validator reports these as "cannot be used
    together" (10015), like transfer's ``audio_url``/``media_name``."""
    return {"not": {"required": list(names)}}


# The SDK (telnyx 4.189.0) is newer than the spec: what it adds, so an SDK request validates.
# tests/test_sdk_surface.py compares every schema with the SDK's params types.
TRANSCRIPTION_ENGINES = [
    "Google",
    "Telnyx",
    "Deepgram",
    "Azure",
    "xAI",
    "AssemblyAI",
    "Speechmatics",
    "Soniox",
    "Parakeet",
    "Humain",  # SDK only
    "Reson8",  # SDK only
    "Cohere",  # SDK only
    "A",
    "B",
]

# transcription.model of gather_using_ai and ai_assistant_start: the spec's list plus the SDK's
# newer models.
AI_STT_MODELS = [
    "deepgram/flux",
    "flux",
    "deepgram/nova-3",
    "deepgram/nova-2",
    "speechmatics/standard",
    "speechmatics/enhanced",
    "speechmatics/linden-1",  # SDK only
    "assemblyai/universal-3-5-pro",  # SDK only
    "assemblyai/universal-streaming",
    "xai/grok-stt",
    "soniox/stt-rt-v4",
    "nvidia/parakeet-v3",
    "omi-health/omi-med-stt-v1",  # SDK only
    "humain/realtime",  # SDK only
    "reson8/turns",  # SDK only
    "cohere/ar-stt",  # SDK only
    "azure/fast",
    "azure/realtime",
    "google/latest_long",
    "distil-whisper/distil-large-v2",
    "openai/whisper-large-v3-turbo",
]
# CallAssistantRequestParam's SDK-only members (objects of their own SDK types; accepted as
# objects, their inside not validated).
SDK_ONLY_OBJECT: dict[str, Any] = {
    "type": "object",
    "description": "SDK only (telnyx 4.189.0): replaces the assistant's own setting for this call.",
}

OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "transcription_start": {"transcription_engine": {"enum": TRANSCRIPTION_ENGINES}},
    "gather_using_ai": {
        "greeting": TEXT_3000,
        "gather_ended_speech": TEXT_3000,
        "transcription/model": {"enum": AI_STT_MODELS},
    },
    "ai_assistant_add_messages": {
        # SDK only (action_add_ai_assistant_messages_params.py).
        "trigger_response": {
            "type": "boolean",
            "description": "When true, the injected messages immediately trigger an assistant "
            "response instead of waiting for the next natural turn.",
        },
    },
    "playback_start": {
        # "media_name and audio_url cannot be used together in one request."; something to
        # play is needed (Telnyx answers 422 without one).
        "": {
            **exclusive("audio_url", "media_name"),
            "anyOf": [
                {"required": ["audio_url"]},
                {"required": ["media_name"]},
                {"required": ["playback_content"]},
            ],
        },
        "loop": LOOP,
        "target_legs": TARGET_LEGS,
        # "Allows a user to provide base64 encoded mp3 or wav."
        "playback_content": {k: v for k, v in BASE64.items() if k != "contentEncoding"},
    },
    "speak": {"": SPEECH_RULES, "payload": TEXT_3000, "loop": LOOP, "voice": VOICE},
    "gather": DIGIT_RULES,
    "gather_using_audio": {
        "": {
            # "media_name and audio_url cannot be used together" and the same for invalid_*.
            "allOf": [
                exclusive("audio_url", "media_name"),
                exclusive("invalid_audio_url", "invalid_media_name"),
            ],
            # The prompt played "at the beginning of each prompt": one of them is needed.
            "anyOf": [{"required": ["audio_url"]}, {"required": ["media_name"]}],
        },
        **DIGIT_RULES,
    },
    "gather_using_speak": {
        "": SPEECH_RULES,
        "voice": VOICE,
        "payload": TEXT_3000,
        "invalid_payload": TEXT_3000,
        **DIGIT_RULES,
    },
    "ai_assistant_start": {
        "greeting": TEXT_3000,
        "assistant/transcription": SDK_ONLY_OBJECT,
        "assistant/voice_settings": SDK_ONLY_OBJECT,
        "transcription/model": {"enum": AI_STT_MODELS},
    },
    "record_start": {
        # "The minimum value is 0. The maximum value is 14400."
        "max_length": {"minimum": 0, "maximum": 14400},
        # "The minimum value is 0."
        "timeout_secs": {"minimum": 0},
    },
    "send_dtmf": {
        # "Ranges from 100 to 500ms"
        "duration_millis": {"minimum": 100, "maximum": 500},
        # "Valid digits are 0-9, A-D, *, and #. Pauses can be added using w (0.5s) and W (1s)."
        "digits": {
            "minLength": 1,
            "pattern": "^[0-9A-DwW*#]+$",
            "x-telnyx-rule": "must be DTMF digits (0-9, A-D, *, #) and pauses (w, W)",
        },
    },
    "siprec_start": {
        # "Minimum value is 90, set to 0 to disable." (0 or 90 and more)
        "session_timeout_secs": {
            "type": None,
            "anyOf": [
                {"type": "integer", "enum": [0]},
                {"type": "integer", "minimum": 90, "maximum": 2147483647},
            ],
        },
    },
    "streaming_start": {
        # "Maximum length is 4000 characters."
        "stream_auth_token": {"maxLength": 4000},
    },
    "conversation_relay_start": {
        # provider: "Must be supplied together with `structured_provider`"; structured_provider:
        # "Must be supplied together with `provider`".
        "": {
            "dependentRequired": {
                "provider": ["structured_provider"],
                "structured_provider": ["provider"],
            }
        },
        # "Must start with `ws://` or `wss://`."
        "conversation_relay_url": {
            "pattern": "^wss?://",
            "x-telnyx-rule": "must start with ws:// or wss://",
        },
        "url": {"pattern": "^wss?://", "x-telnyx-rule": "must start with ws:// or wss://"},
    },
    "send_sip_info": {
        # content_type: "Must be MIME type compliant. There is a 1,400 bytes limit" (the
        # limit read as the INFO's size; characters are the closest JSON Schema rule).
        "content_type": {
            "pattern": "^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:;.*)?$",
            "x-telnyx-rule": "must be a MIME type such as application/json",
        },
        "body": {"maxLength": 1400},
    },
}
