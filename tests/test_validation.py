"""Request validation: schemas/transfer_request.schema.json + emulator/validation.py."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from emulator.errors import ApiError
from emulator.resources import load_schema
from emulator.validation import MAX_TOTAL_KEYWORD, RequestValidator, Validators

SCHEMA = load_schema("transfer_request")
LENIENT = RequestValidator(SCHEMA)
STRICT = RequestValidator(SCHEMA, strict=True)

TO = "+18005550100"

# Every top-level field (41) with a valid value; nested objects carry every key.
FULL_BODY: dict[str, Any] = {
    "to": "+18004247767,200",
    "answering_machine_detection": "premium_ios_call_screening_detection",
    "answering_machine_detection_config": {
        "after_greeting_silence_millis": 800,
        "between_words_silence_millis": 50,
        "greeting_duration_millis": 3500,
        "greeting_silence_duration_millis": 1500,
        "greeting_total_analysis_time_millis": 5000,
        "initial_silence_millis": 3500,
        "maximum_number_of_words": 5,
        "maximum_word_length_millis": 3500,
        "silence_threshold": 256,
        "total_analysis_time_millis": 3500,
        "beep_detection_profile": "freq_only",
        "beep_max_frequency_hz": 2000,
        "beep_min_frequency_hz": 500,
        "beep_min_tone_duration_millis": 100,
        "beep_spectral_confirmation": True,
        "beep_spectral_min_purity": 0.8,
        "beep_spectral_reject_fax_cng": True,
        "beep_spectral_window_millis": 60,
        "prompt_end_timeout_millis": 30000,
    },
    "audio_url": "https://example.com/hold.mp3",
    "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
    "command_id": "891510ac-f3e4-11e8-af5b-de00688a4901",
    "custom_headers": [{"name": "X-Ticket", "value": "42"}],
    "diversion": "+18005550123",
    "early_media": False,
    "from": "+18005550199",
    "from_display_name": "Support Desk - Tier_2 ~!.+",
    "media_encryption": "SRTP",
    "media_name": "hold_music",
    "mute_dtmf": "opposite",
    "park_after_unbridge": "self",
    "preferred_codecs": "G722,PCMU,PCMA,G729,OPUS,VP8,H264",
    "privacy": "id",
    "record": "record-from-answer",
    "record_channels": "single",
    "record_custom_file_name": "transfer-1",
    "record_format": "wav",
    "record_max_length": 43200,
    "record_timeout_secs": 0,
    "record_track": "outbound",
    "record_trim": "trim-silence",
    "route_to_mobile": True,
    "send_digits_on_answer": "1w2W3*#ABCD",
    "sip_auth_password": "secret",
    "sip_auth_username": "alice",
    "sip_headers": [{"name": "User-to-User", "value": "12345"}],
    "sip_region": "Middle East",
    "sip_transport_protocol": "TLS",
    "sound_modifications": {"octaves": -1, "pitch": 0.01, "semitone": 14, "track": "both"},
    "target_leg_client_state": "bGVnLWI=",
    "time_limit_secs": 30,
    "timeout_secs": 600,
    "webhook_retries_policies": {
        "call.answered": {"retries_ms": [10000, 10000, 10000, 10000, 20000]},
    },
    "webhook_url": "https://example.com/webhooks?leg=b#x",
    "webhook_url_method": "GET",
    "webhook_urls": {
        "call.answered": ["https://example.com/a", "http://localhost:8080/b"],
        "call.hangup": [],
    },
    "webhook_urls_method": "POST",
}


def without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}


def amd(**config: Any) -> dict[str, Any]:
    return {"to": TO, "answering_machine_detection_config": config}


def sound(**mods: Any) -> dict[str, Any]:
    return {"to": TO, "sound_modifications": mods}


def retries(*delays: Any) -> dict[str, Any]:
    return {"to": TO, "webhook_retries_policies": {"call.answered": {"retries_ms": list(delays)}}}


MISSING, INVALID, NOT_E164, TYPE, ENUM, RANGE = "10004", "10015", "10016", "10020", "10032", "10033"

# (id, body, expected code, expected pointer); each body has exactly one violation.
INVALID_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    # required / blank
    ("to-missing", {}, MISSING, "/to"),
    ("to-blank", {"to": ""}, MISSING, "/to"),
    ("to-missing-with-others", {"from": "+18005550199"}, MISSING, "/to"),
    # `to`: +E.164 (optional ,DTMF) or SIP URI
    ("to-digits-only", {"to": "12345"}, NOT_E164, "/to"),
    ("to-no-plus", {"to": "18005550100"}, NOT_E164, "/to"),
    ("to-leading-zero", {"to": "+08005550100"}, NOT_E164, "/to"),
    ("to-16-digits", {"to": "+1234567890123456"}, NOT_E164, "/to"),
    ("to-national-format", {"to": "+1 (800) 555-0100"}, NOT_E164, "/to"),
    ("to-bad-dtmf-suffix", {"to": "+18004247767,20x"}, NOT_E164, "/to"),
    ("to-empty-dtmf-suffix", {"to": "+18004247767,"}, NOT_E164, "/to"),
    ("to-sip-no-user", {"to": "sip:sip.telnyx.com"}, NOT_E164, "/to"),
    ("to-http-uri", {"to": "http://alice@example.com"}, NOT_E164, "/to"),
    ("to-sip-space", {"to": "sip:alice smith@example.com"}, NOT_E164, "/to"),
    ("to-trailing-newline", {"to": "+18005550100\n"}, NOT_E164, "/to"),
    ("to-integer", {"to": 18005550100}, TYPE, "/to"),
    ("to-null", {"to": None}, TYPE, "/to"),
    # from / diversion: +E.164 only
    ("from-no-plus", {"to": TO, "from": "8005550199"}, NOT_E164, "/from"),
    ("from-sip-uri", {"to": TO, "from": "sip:a@example.com"}, NOT_E164, "/from"),
    ("from-dtmf-suffix", {"to": TO, "from": "+18005550199,1"}, NOT_E164, "/from"),
    ("diversion-too-short", {"to": TO, "diversion": "+1"}, NOT_E164, "/diversion"),
    # from_display_name
    ("display-name-charset", {"to": TO, "from_display_name": "Bob <b>"}, INVALID,
     "/from_display_name"),
    ("display-name-too-long", {"to": TO, "from_display_name": "a" * 129}, INVALID,
     "/from_display_name"),
    # ranges
    ("timeout-low", {"to": TO, "timeout_secs": 4}, RANGE, "/timeout_secs"),
    ("timeout-high", {"to": TO, "timeout_secs": 601}, RANGE, "/timeout_secs"),
    ("timeout-float", {"to": TO, "timeout_secs": 30.5}, TYPE, "/timeout_secs"),
    ("timeout-string", {"to": TO, "timeout_secs": "30"}, TYPE, "/timeout_secs"),
    ("timeout-bool", {"to": TO, "timeout_secs": True}, TYPE, "/timeout_secs"),
    ("time-limit-low", {"to": TO, "time_limit_secs": 29}, RANGE, "/time_limit_secs"),
    ("time-limit-high", {"to": TO, "time_limit_secs": 14401}, RANGE, "/time_limit_secs"),
    ("record-max-negative", {"to": TO, "record_max_length": -1}, RANGE, "/record_max_length"),
    ("record-max-high", {"to": TO, "record_max_length": 43201}, RANGE, "/record_max_length"),
    ("record-timeout-negative", {"to": TO, "record_timeout_secs": -1}, RANGE,
     "/record_timeout_secs"),
    # AMD config
    ("amd-negative", amd(total_analysis_time_millis=-1), RANGE,
     "/answering_machine_detection_config/total_analysis_time_millis"),
    ("amd-words-negative", amd(maximum_number_of_words=-5), RANGE,
     "/answering_machine_detection_config/maximum_number_of_words"),
    ("amd-beep-hz-negative", amd(beep_min_frequency_hz=-1), RANGE,
     "/answering_machine_detection_config/beep_min_frequency_hz"),
    ("amd-purity-high", amd(beep_spectral_min_purity=1.01), RANGE,
     "/answering_machine_detection_config/beep_spectral_min_purity"),
    ("amd-purity-negative", amd(beep_spectral_min_purity=-0.1), RANGE,
     "/answering_machine_detection_config/beep_spectral_min_purity"),
    ("amd-prompt-low", amd(prompt_end_timeout_millis=999), RANGE,
     "/answering_machine_detection_config/prompt_end_timeout_millis"),
    ("amd-prompt-high", amd(prompt_end_timeout_millis=120001), RANGE,
     "/answering_machine_detection_config/prompt_end_timeout_millis"),
    ("amd-profile-enum", amd(beep_detection_profile="loud"), ENUM,
     "/answering_machine_detection_config/beep_detection_profile"),
    ("amd-int-type", amd(silence_threshold="256"), TYPE,
     "/answering_machine_detection_config/silence_threshold"),
    ("amd-config-type", {"to": TO, "answering_machine_detection_config": []}, TYPE,
     "/answering_machine_detection_config"),
    ("amd-mode-enum", {"to": TO, "answering_machine_detection": "maybe"}, ENUM,
     "/answering_machine_detection"),
    # sound_modifications
    ("octaves-high", sound(octaves=1.5), RANGE, "/sound_modifications/octaves"),
    ("octaves-low", sound(octaves=-1.01), RANGE, "/sound_modifications/octaves"),
    ("pitch-zero", sound(pitch=0), RANGE, "/sound_modifications/pitch"),
    ("pitch-negative", sound(pitch=-1), RANGE, "/sound_modifications/pitch"),
    ("semitone-low", sound(semitone=-15), RANGE, "/sound_modifications/semitone"),
    ("semitone-high", sound(semitone=14.5), RANGE, "/sound_modifications/semitone"),
    ("track-enum", sound(track="left"), ENUM, "/sound_modifications/track"),
    ("sound-type", {"to": TO, "sound_modifications": "high"}, TYPE, "/sound_modifications"),
    # Base64
    ("client-state-bad-length", {"to": TO, "client_state": "abc"}, INVALID, "/client_state"),
    ("client-state-bad-char", {"to": TO, "client_state": "aGVsbG8!"}, INVALID, "/client_state"),
    ("client-state-urlsafe", {"to": TO, "client_state": "a-b_"}, INVALID, "/client_state"),
    ("client-state-bad-padding", {"to": TO, "client_state": "a==="}, INVALID, "/client_state"),
    ("client-state-null", {"to": TO, "client_state": None}, TYPE, "/client_state"),
    ("target-state-bad", {"to": TO, "target_leg_client_state": "bGVnLWI"}, INVALID,
     "/target_leg_client_state"),
    # audio_url / media_name
    ("audio-and-media", {"to": TO, "audio_url": "https://x/a.wav", "media_name": "m"}, INVALID,
     "/media_name"),
    # webhook_retries_policies
    ("retries-total", retries(30000, 30001), INVALID,
     "/webhook_retries_policies/call.answered/retries_ms"),
    ("retries-six", retries(1, 2, 3, 4, 5, 6), INVALID,
     "/webhook_retries_policies/call.answered/retries_ms"),
    ("retries-negative", retries(-1), RANGE,
     "/webhook_retries_policies/call.answered/retries_ms/0"),
    ("retries-float", retries(1.5), TYPE, "/webhook_retries_policies/call.answered/retries_ms/0"),
    ("retries-policy-type", {"to": TO, "webhook_retries_policies": {"call.answered": [1000]}},
     TYPE, "/webhook_retries_policies/call.answered"),
    # webhook_url / webhook_urls
    ("webhook-url-ftp", {"to": TO, "webhook_url": "ftp://example.com/x"}, INVALID, "/webhook_url"),
    ("webhook-url-space", {"to": TO, "webhook_url": "https://exa mple.com"}, INVALID,
     "/webhook_url"),
    ("webhook-url-no-host", {"to": TO, "webhook_url": "https:///path"}, INVALID, "/webhook_url"),
    ("webhook-urls-string", {"to": TO, "webhook_urls": {"call.hangup": "https://x.com"}}, TYPE,
     "/webhook_urls/call.hangup"),
    ("webhook-urls-bad-url", {"to": TO, "webhook_urls": {"call.hangup": ["x.com"]}}, INVALID,
     "/webhook_urls/call.hangup/0"),
    ("webhook-urls-pointer-escape", {"to": TO, "webhook_urls": {"a/b~c": ["nope"]}}, INVALID,
     "/webhook_urls/a~1b~0c/0"),
    ("webhook-method-enum", {"to": TO, "webhook_url_method": "PUT"}, ENUM, "/webhook_url_method"),
    # send_digits_on_answer
    ("digits-charset", {"to": TO, "send_digits_on_answer": "12x"}, INVALID,
     "/send_digits_on_answer"),
    ("digits-lowercase-a", {"to": TO, "send_digits_on_answer": "a"}, INVALID,
     "/send_digits_on_answer"),
    ("digits-too-long", {"to": TO, "send_digits_on_answer": "1" * 65}, INVALID,
     "/send_digits_on_answer"),
    ("digits-empty", {"to": TO, "send_digits_on_answer": ""}, INVALID, "/send_digits_on_answer"),
    # custom_headers / sip_headers
    ("custom-header-no-value", {"to": TO, "custom_headers": [{"name": "X"}]}, MISSING,
     "/custom_headers/0/value"),
    ("custom-header-name-type", {"to": TO, "custom_headers": [{"name": 1, "value": "v"}]}, TYPE,
     "/custom_headers/0/name"),
    ("custom-headers-type", {"to": TO, "custom_headers": {"name": "X", "value": "v"}}, TYPE,
     "/custom_headers"),
    ("sip-header-name-enum", {"to": TO, "sip_headers": [{"name": "Diversion", "value": "1"}]},
     ENUM, "/sip_headers/0/name"),
    ("sip-header-no-name",
     {"to": TO, "sip_headers": [{"value": "1"}, {"name": "User-to-User", "value": "2"}]},
     MISSING, "/sip_headers/0/name"),
    # other enums, lengths and types
    ("record-format-enum", {"to": TO, "record_format": "ogg"}, ENUM, "/record_format"),
    ("record-channels-null", {"to": TO, "record_channels": None}, TYPE, "/record_channels"),
    ("media-encryption-case", {"to": TO, "media_encryption": "srtp"}, ENUM, "/media_encryption"),
    ("sip-region-enum", {"to": TO, "sip_region": "Asia"}, ENUM, "/sip_region"),
    ("privacy-enum", {"to": TO, "privacy": "full"}, ENUM, "/privacy"),
    ("file-name-empty", {"to": TO, "record_custom_file_name": ""}, INVALID,
     "/record_custom_file_name"),
    ("file-name-long", {"to": TO, "record_custom_file_name": "f" * 41}, INVALID,
     "/record_custom_file_name"),
    ("early-media-type", {"to": TO, "early_media": "yes"}, TYPE, "/early_media"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [pytest.param(b, c, p, id=i) for i, b, c, p in INVALID_ROWS],
)
def test_invalid_body(body: dict[str, Any], code: str, pointer: str) -> None:
    found = LENIENT.validate(body)
    assert [(e.code, e.pointer) for e in found] == [(code, pointer)], found
    assert found[0].detail
    assert STRICT.validate(body) == found  # no unknown field in any row


def test_table_covers_every_code() -> None:
    assert len(INVALID_ROWS) >= 35
    assert {row[2] for row in INVALID_ROWS} == {MISSING, INVALID, NOT_E164, TYPE, ENUM, RANGE}


@pytest.mark.parametrize(
    "to",
    [
        "+18005550100",
        "+442071838750",
        "+18004247767,200",
        "+18004247767,1w2W*#ABCD",
        "sip:username@sip.telnyx.com",
        "sip:username@sip.telnyx.com;secure=srtp",
        "sips:+18005550100@203.0.113.7:5061;transport=tls;secure=dtls",
        "sip:alice.smith@[2001:db8::1]",
    ],
)
def test_valid_destinations(to: str) -> None:
    assert LENIENT.validate({"to": to}) == []
    assert STRICT.validate({"to": to}) == []


def test_minimal_body() -> None:
    assert LENIENT.validate({"to": "+18005550100"}) == []


def test_full_body_has_every_field() -> None:
    assert set(FULL_BODY) == set(SCHEMA["properties"])
    assert len(FULL_BODY) == 41
    amd_props = SCHEMA["properties"]["answering_machine_detection_config"]["properties"]
    assert set(FULL_BODY["answering_machine_detection_config"]) == set(amd_props)
    sound_props = SCHEMA["properties"]["sound_modifications"]["properties"]
    assert set(FULL_BODY["sound_modifications"]) == set(sound_props)


@pytest.mark.parametrize("validator", [LENIENT, STRICT], ids=["lenient", "strict"])
def test_full_body(validator: RequestValidator) -> None:
    # All 41 fields at once can't be valid: audio_url and media_name exclude each other.
    # Without either one, every other field (and every nested key) validates.
    assert validator.validate(without(FULL_BODY, "media_name")) == []
    assert validator.validate(without(FULL_BODY, "audio_url")) == []
    found = validator.validate(FULL_BODY)
    assert [(e.code, e.pointer) for e in found] == [(INVALID, "/media_name")]
    assert "audio_url" in found[0].detail and "media_name" in found[0].detail


def test_schema_matches_sdk_fields() -> None:
    from telnyx.types.calls import action_transfer_params as sdk

    top = {"from" if k == "from_" else k for k in sdk.ActionTransferParams.__annotations__}
    assert top == set(SCHEMA["properties"])
    amd_props = SCHEMA["properties"]["answering_machine_detection_config"]["properties"]
    assert set(sdk.AnsweringMachineDetectionConfig.__annotations__) == set(amd_props)


def test_all_violations_at_once() -> None:
    body = {
        "timeout_secs": 1,
        "record_format": "ogg",
        "client_state": "###",
        "sound_modifications": {"pitch": 0},
    }
    found = LENIENT.validate(body)
    assert [(e.code, e.pointer) for e in found] == [
        (INVALID, "/client_state"),
        (ENUM, "/record_format"),
        (RANGE, "/sound_modifications/pitch"),
        (RANGE, "/timeout_secs"),
        (MISSING, "/to"),
    ]
    body["to"] = "+18005550100"
    assert len(LENIENT.validate(body)) == 4


def test_errors_are_sorted_by_pointer_and_stable() -> None:
    body = {
        "to": "nope",
        "webhook_urls": {"b": ["x"], "a": ["y"]},
        "custom_headers": [{"name": "a"}] * 11,
        "timeout_secs": 0,
    }
    first = LENIENT.validate(body)
    assert first == LENIENT.validate(copy.deepcopy(body))
    pointers = [e.pointer for e in first]
    assert pointers[:2] == ["/custom_headers/0/value", "/custom_headers/1/value"]
    assert pointers.index("/custom_headers/2/value") < pointers.index("/custom_headers/10/value")
    assert pointers[-4:] == ["/timeout_secs", "/to", "/webhook_urls/a/0", "/webhook_urls/b/0"]


def test_detail_texts() -> None:
    def detail(body: dict[str, Any]) -> str:
        (error,) = LENIENT.validate(body)
        return error.detail

    assert detail({}) == "The 'to' parameter is required and cannot be blank."
    assert detail({"to": "x"}) == "The 'to' parameter must be in E164 format."
    assert detail({"to": TO, "record_channels": "x"}) == "The value must be one of: single, dual."
    assert "5 to 600" in detail({"to": TO, "timeout_secs": 1})
    assert detail(sound(pitch=0)) == "The value must be greater than 0 and at most 1000000000."
    assert "60000" in detail(retries(60000, 1)) and "60001" in detail(retries(60000, 1))
    assert "Base64" in detail({"to": TO, "client_state": "abc"})
    assert "'from_display_name'" in detail({"to": TO, "from_display_name": "<>"})
    assert "128" in detail({"to": TO, "from_display_name": "a" * 200})
    assert "at most 5" in detail(retries(1, 1, 1, 1, 1, 1))
    assert "'custom_headers[0].value'" in detail({"to": TO, "custom_headers": [{"name": "x"}]})


def test_retries_total_boundary() -> None:
    assert LENIENT.validate(retries(60000)) == []
    assert LENIENT.validate(retries(20000, 20000, 20000)) == []
    assert len(LENIENT.validate(retries(20000, 20000, 20001))) == 1
    marker = SCHEMA["properties"]["webhook_retries_policies"]["additionalProperties"]
    assert marker["properties"]["retries_ms"][MAX_TOTAL_KEYWORD] == 60000


def test_sound_track_accepts_both() -> None:
    assert LENIENT.validate(sound(track="both")) == []
    assert LENIENT.validate(sound(track="inbound")) == []


def test_null_for_optional_field_is_a_type_error() -> None:
    found = LENIENT.validate({"to": TO, "record_format": None, "timeout_secs": None})
    expected = [(TYPE, "/record_format"), (TYPE, "/timeout_secs")]
    assert [(e.code, e.pointer) for e in found] == expected


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"to": TO, "foo": 1}, "/foo"),
        ({"to": TO, "answering_machine_detection_config": {"speed": 1}},
         "/answering_machine_detection_config/speed"),
        ({"to": TO, "sound_modifications": {"reverb": 1}}, "/sound_modifications/reverb"),
        ({"to": TO, "custom_headers": [{"name": "a", "value": "b", "x": 1}]},
         "/custom_headers/0/x"),
        ({"to": TO, "sip_headers": [{"name": "User-to-User", "value": "b", "x": 1}]},
         "/sip_headers/0/x"),
        (retries(1) | {"webhook_retries_policies": {"call.hangup": {"retries": [1]}}},
         "/webhook_retries_policies/call.hangup/retries"),
    ],
)  # fmt: skip
def test_strict_unknown_fields(body: dict[str, Any], pointer: str) -> None:
    assert LENIENT.validate(body) == []
    found = STRICT.validate(body)
    assert [(e.code, e.pointer) for e in found] == [(INVALID, pointer)]
    assert found[0].title == "Unknown parameter"
    assert "--strict" in found[0].detail


def test_strict_reports_each_unknown_field_with_other_errors() -> None:
    found = STRICT.validate({"to": TO, "foo": 1, "bar": 2, "timeout_secs": 1})
    assert [(e.title, e.pointer) for e in found] == [
        ("Unknown parameter", "/bar"),
        ("Unknown parameter", "/foo"),
        ("Value outside of range", "/timeout_secs"),
    ]


def test_strict_keeps_map_keys_open() -> None:
    # Event-type keys of webhook_urls / webhook_retries_policies are data, not field names.
    body = {"to": TO, "webhook_urls": {"any.event": ["https://x.com"]}} | retries(1000)
    assert STRICT.validate(body) == []


def test_strict_does_not_touch_shared_schema() -> None:
    RequestValidator(SCHEMA, strict=True)
    assert "additionalProperties" not in SCHEMA
    assert "additionalProperties" not in load_schema("transfer_request")
    assert LENIENT.validate({"to": TO, "foo": 1}) == []


def test_validate_does_not_mutate_body() -> None:
    body = without(FULL_BODY, "media_name")
    snapshot = copy.deepcopy(body)
    LENIENT.validate(body)
    STRICT.validate(body)
    assert body == snapshot


def test_to_json_code_is_string() -> None:
    for _, body, _, _ in INVALID_ROWS:
        for error in STRICT.validate(body | {"unknown": 1}):
            assert isinstance(error, ApiError)
            out = error.to_json()
            assert isinstance(out["code"], str) and out["code"].isdigit()
            assert out["title"] and out["detail"]
            assert out["source"]["pointer"].startswith("/")


def test_validators_cache_and_strict() -> None:
    lenient, strict = Validators(), Validators(strict=True)
    assert lenient.get("transfer_request") is lenient.get("transfer_request")
    assert lenient.get("transfer_request").validate({"to": TO, "x": 1}) == []
    assert len(strict.get("transfer_request").validate({"to": TO, "x": 1})) == 1
    with pytest.raises(FileNotFoundError):
        lenient.get("no_such_schema")


# --- the schema file itself ------------------------------------------------------------------


def _walk(node: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def test_schema_is_valid_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert jsonschema_rs.meta.is_valid(SCHEMA)
    assert SCHEMA.get("additionalProperties", True) is not False
    assert SCHEMA["required"] == ["to"]


def test_schema_patterns_are_portable() -> None:
    patterns = [n["pattern"] for _, n in _walk(SCHEMA) if isinstance(n.get("pattern"), str)]
    assert len(patterns) >= 8
    for pattern in patterns:
        re.compile(pattern)  # Python dialect
        jsonschema_rs.validator_for({"pattern": pattern})  # Rust dialect
        assert "(?=" not in pattern and "(?!" not in pattern and "(?<" not in pattern
        assert "\\d" not in pattern and "\\w" not in pattern


def test_phone_fields_carry_the_10016_marker() -> None:
    marked = {p[-1] for p, n in _walk(SCHEMA) if n.get("x-telnyx-error") == "10016"}
    assert marked == {"to", "from", "diversion"}


def test_trailing_newline_dialect_difference() -> None:
    # Python's `$` matches before a final newline; Rust's (like ECMA-262) does not. The emulator
    # uses jsonschema-rs, so it rejects; python-jsonschema would accept. Documented, on purpose.
    body = {"to": "+18005550100\n"}
    assert not jsonschema_rs.validator_for(SCHEMA).is_valid(body)
    assert jsonschema.Draft202012Validator(SCHEMA).is_valid(body)


def _python_findings(body: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(body):
        found.add(("/".join(str(p) for p in error.absolute_path), str(error.validator)))
    return found


def _rust_findings(body: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    validator = jsonschema_rs.validator_for(SCHEMA)
    for error in validator.iter_errors(body):
        if error.kind.name != MAX_TOTAL_KEYWORD:  # Python enforces that one through rs only
            found.add(("/".join(str(p) for p in error.instance_path), error.kind.name))
    return found


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b, id=i)
        for i, b, _, _ in INVALID_ROWS
        if i not in {"to-trailing-newline", "retries-total"}
    ],
)
def test_python_and_rust_engines_agree(body: dict[str, Any]) -> None:
    assert _python_findings(body) == _rust_findings(body)
