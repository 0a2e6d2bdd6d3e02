"""The pay command: collecting a card or bank account over DTMF, step by step.

In virtual time through the harness (every webhook validated against schemas/webhooks/), with
the fixture's ``press``, and end to end: the official SDK against a real server, a scripted far
end pressing keys, each webhook also validated against the SDK's own models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import telnyx
from telnyx.types import CallPaymentCompletedWebhookEvent, CallPaymentProgressWebhookEvent

from emulator.commands import payment_rules as rules
from emulator.inprocess import TelnyxEmulator
from emulator.media_timing import speech_secs

from .conftest import API_KEY
from .harness import Harness, assert_valid_webhook
from .servers import EmulatorServer, Receiver

CARD = "4242424242424242"
CARD_STEPS = ["payment-card-number", "expiration-date", "security-code", "postal-code"]


def sdk_valid(body: dict[str, Any]) -> None:
    """The body as the SDK's webhook model reads it: every field and enum value known."""
    model = {
        "call.payment.progress": CallPaymentProgressWebhookEvent,
        "call.payment.completed": CallPaymentCompletedWebhookEvent,
    }[body["data"]["event_type"]]
    parsed = model.model_validate(body)
    payload = body["data"]["payload"]
    known = set(type(parsed.data.payload).model_fields) | {"from"}  # type: ignore[union-attr]
    assert set(payload) <= known, set(payload) - known


def answered(h: Harness) -> str:
    ccid = h.inbound()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    h.run(0)
    return ccid


def pay(h: Harness, ccid: str, **body: Any) -> None:
    r = h.request("POST", f"/v2/calls/{ccid}/actions/pay", body)
    assert r.status == 200, r.payload


def press(h: Harness, ccid: str, digits: str, then: float = 0.1) -> None:
    r = h.request("POST", f"/_emulator/calls/{ccid}/dtmf", {"digits": digits})
    assert r.status == 200, r.payload
    h.run(then)


def payments(h: Harness, ccid: str) -> list[dict[str, Any]]:
    out = []
    for s in h.sent:
        if s.ccid == ccid and s.event_type.startswith("call.payment."):
            sdk_valid(s.attempt.body)
            out.append({"event": s.event_type, **s.payload})
    return out


def steps(hooks: list[dict[str, Any]]) -> list[tuple[str, str, int | None, str | None]]:
    return [
        (h["payment_step"], h["payment_status"], h.get("attempt"), h.get("error_type"))
        for h in hooks
        if h["event"] == "call.payment.progress"
    ]


# -- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3566002020360505", "jcb"),
        ("30569309025904", "diners-club"),
        ("6759649826438453", "maestro"),
        ("1234567812345678", None),
        ("42424242424242", None),  # visa's prefix, a length visa never has
    ],
)
def test_card_brand_from_prefix_and_length(number: str, brand: str | None) -> None:
    assert rules.card_type(number) == brand


def test_luhn_and_routing_checksums() -> None:
    assert rules.luhn("4242424242424242") and not rules.luhn("4242424242424241")
    assert rules.aba("021000021") and not rules.aba("021000022")


def test_steps_follow_method_postal_code_and_token() -> None:
    assert rules.steps("credit-card", {}) == tuple(CARD_STEPS)
    assert rules.steps("credit-card", {"postal_code": "false"}) == tuple(CARD_STEPS[:3])
    assert rules.steps("credit-card", {"postal_code": "90210"}) == tuple(CARD_STEPS[:3])
    assert rules.steps("credit-card", {"postal_code": "true"}) == tuple(CARD_STEPS)
    assert rules.steps("ach-debit", {}) == ("bank-account-number", "bank-routing-number")
    assert rules.steps("credit-card", {"payment_token": "tok_1"}) == ()


def test_prompts_pick_the_first_matching_qualified_text() -> None:
    p = {
        "prompts": {
            "payment-card-number": [
                {"text": "Again please", "error_type": "invalid-card-number"},
                {"text": "Second go", "attempt": "2 3"},
                {"text": "Card?"},
            ]
        }
    }
    assert rules.prompt_text(p, "payment-card-number", 1, None, None) == "Card?"
    assert rules.prompt_text(p, "payment-card-number", 2, "timeout", None) == "Second go"
    assert rules.prompt_text(p, "payment-card-number", 2, "invalid-card-number", None) == (
        "Again please"
    )
    assert rules.prompt_text({}, "security-code", 1, None, None) == rules.PROMPTS["security-code"]


# -- in virtual time ------------------------------------------------------------------------


def test_a_valid_card_step_by_step_masked_then_charged() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid, amount=12.5, connector_name="stripe", client_state="cGF5")
    press(h, ccid, CARD + "#")
    press(h, ccid, "1299")  # four digits end the date by themselves
    press(h, ccid, "123")
    press(h, ccid, "94105#")
    h.run(5)
    hooks = payments(h, ccid)
    assert steps(hooks) == [
        ("payment-card-number", "completed", 1, None),
        ("expiration-date", "completed", 1, None),
        ("security-code", "completed", 1, None),
        ("postal-code", "completed", 1, None),
        ("payment-processing", "processing", None, None),
    ]
    done = hooks[-1]
    assert done["event"] == "call.payment.completed" and done["result"] == "success"
    assert done["payment_card_number"] == "************4242"
    assert (done["payment_card_type"], done["expiration_date"]) == ("visa", "1299")
    assert (done["security_code"], done["payment_card_postal_code"]) == ("***", "94105")
    assert done["charge_id"].startswith("ch_") and "token_id" not in done
    assert (done["payment_connector"], done["client_state"]) == ("stripe", "cGF5")
    # No webhook and no journal entry shows the card number.
    assert not [s for s in h.sent if CARD in str(s.attempt.body)]
    assert "call.dtmf.received" not in h.events(ccid)
    journal = h.request("GET", "/_emulator/commands").payload["data"]
    pressed = [e["body"]["digits"] for e in journal if e["command"] == "far_end_dtmf"]
    assert pressed == ["[redacted]"] * 4


def test_a_wrong_number_re_prompts_and_a_wrong_brand_is_invalid_card_type() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid, valid_card_types=["visa"], postal_code=False)
    press(h, ccid, "4242424242424241#")  # fails Luhn
    press(h, ccid, "5555555555554444#")  # a mastercard
    press(h, ccid, CARD + "#", then=1)
    press(h, ccid, "1299")
    press(h, ccid, "12")  # too short: the inter-digit timeout ends it
    h.run(6)
    press(h, ccid, "999", then=5)
    hooks = payments(h, ccid)
    assert steps(hooks) == [
        ("payment-card-number", "failed", 1, "invalid-card-number"),
        ("payment-card-number", "failed", 2, "invalid-card-type"),
        ("payment-card-number", "completed", 3, None),
        ("expiration-date", "completed", 1, None),
        ("security-code", "failed", 1, "invalid-security-code"),
        ("security-code", "completed", 2, None),
        ("payment-processing", "processing", None, None),
    ]
    done = hooks[-1]
    assert (done["result"], done["token_id"][:4]) == ("success", "tok_")  # no amount: tokenize
    assert "payment_card_postal_code" not in done


def test_silence_times_out_each_attempt_then_too_many_failed_attempts() -> None:
    h = Harness()
    ccid = answered(h)
    start = h.sent[-1].at
    pay(h, ccid, max_attempts=2, timeout_millis=3000)
    h.run(60)
    hooks = payments(h, ccid)
    assert steps(hooks) == [
        ("payment-card-number", "failed", 1, "timeout"),
        ("payment-card-number", "failed", 2, "timeout"),
    ]
    done = hooks[-1]
    assert (done["result"], done["payment_error"]) == ("too-many-failed-attempts", "timeout")
    prompt = rules.PROMPTS["payment-card-number"]
    first = next(s.at for s in h.sent if s.event_type == "call.payment.progress")
    assert first == pytest.approx(start + speech_secs(prompt) + 3.0)


def test_expired_date_and_short_postal_code_are_invalid() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid, min_postal_code_length=5, max_attempts=1)
    press(h, ccid, CARD + "#")
    press(h, ccid, "0120")  # January 2020: before the clock's date (2027)
    hooks = payments(h, ccid)
    assert steps(hooks)[-1] == ("expiration-date", "failed", 1, "invalid-date")
    assert hooks[-1]["result"] == "too-many-failed-attempts"
    h2 = Harness()
    ccid = answered(h2)
    pay(h2, ccid, min_postal_code_length=5, max_attempts=1)
    for digits in (CARD + "#", "1299", "123", "941#"):
        press(h2, ccid, digits)
    assert steps(payments(h2, ccid))[-1] == ("postal-code", "failed", 1, "invalid-postal-code")


def test_ach_debit_masks_the_account_and_the_magic_account_declines() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid, payment_method="ach-debit", amount=5)
    press(h, ccid, rules.DECLINED_ACCOUNT + "#")
    press(h, ccid, "021000022", then=1)  # a bad checksum
    press(h, ccid, "021000021", then=5)
    hooks = payments(h, ccid)
    assert [s[:2] for s in steps(hooks)] == [
        ("bank-account-number", "completed"),
        ("bank-routing-number", "failed"),
        ("bank-routing-number", "completed"),
        ("payment-processing", "processing"),
    ]
    done = hooks[-1]
    assert done["bank_account_number"] == "**********02"
    assert (done["result"], done["pay_error_code"]) == ("payment-connector-error", "card_declined")
    assert done["payment_method"] == "ach-debit" and "charge_id" not in done


def test_a_payment_token_skips_collection() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid, payment_token="tok_saved", amount=1)
    h.run(5)
    hooks = payments(h, ccid)
    assert steps(hooks) == [("payment-processing", "processing", None, None)]
    assert hooks[-1]["result"] == "success" and hooks[-1]["charge_id"].startswith("ch_")
    journal = h.request("GET", "/_emulator/commands").payload["data"]
    assert [e["body"]["payment_token"] for e in journal if e["command"] == "pay"] == ["[redacted]"]


def test_hanging_up_cancels_before_the_hangup_and_a_speak_replaces_it() -> None:
    h = Harness()
    ccid = answered(h)
    pay(h, ccid)
    press(h, ccid, CARD + "#")
    assert h.request("POST", f"/_emulator/calls/{ccid}/hangup", {}).status == 200
    h.run(5)
    assert h.events(ccid)[-2:] == ["call.payment.completed", "call.hangup"]
    done = payments(h, ccid)[-1]
    assert done["result"] == "cancelled" and done["payment_card_number"].endswith("4242")
    ccid = answered(h)
    pay(h, ccid)
    r = h.request("POST", f"/v2/calls/{ccid}/actions/speak", {"payload": "hi", "voice": "female"})
    assert r.status == 200, r.payload
    h.run(5)
    assert payments(h, ccid)[-1]["result"] == "cancelled"
    assert "call.dtmf.received" not in h.events(ccid)


def test_a_magic_card_is_declined_with_the_fixture_press(telnyx_emulator: TelnyxEmulator) -> None:
    call = telnyx_emulator.create_call(webhook_url="http://app.test/hook")
    client = telnyx_emulator.client()
    client.calls.actions.answer(call.call_control_id)
    client.calls.actions.pay(call.call_control_id, amount=20, postal_code="90210")
    for digits in (rules.DECLINED_CARD + "#", "1299", "123"):
        telnyx_emulator.advance(1)
        call.press(digits)
    telnyx_emulator.advance(5)
    [done] = telnyx_emulator.webhooks_for(call.call_control_id, "call.payment.completed")
    body = done.body
    sdk_valid(body)
    assert_valid_webhook(body)
    payload = body["data"]["payload"]
    assert payload["result"] == "payment-connector-error"
    assert payload["payment_card_postal_code"] == "90210"
    assert payload["payment_card_number"] == "************0002"


# -- end to end: the SDK, a real server, a scripted caller ----------------------------------

VALID = """
  - when: prompt_started
    press: "4242424242424242#"
  - when: prompt_started
    press: "1299"
  - when: prompt_started
    press: "123"
  - when: prompt_started
    press: "94105#"
"""
WRONG_THEN_RIGHT = """
  - when: prompt_started
    press: "4242424242424241#"
  - when: prompt_started
    press: "4242424242424242#"
  - when: prompt_started
    press: "1299"
  - when: prompt_started
    press: "123"
"""


@pytest.fixture
def scripted(
    tmp_path: Path, start_emulator: Callable[..., EmulatorServer]
) -> tuple[EmulatorServer, telnyx.Telnyx]:
    for name, steps_ in (("pays", VALID), ("pays_after_a_typo", WRONG_THEN_RIGHT)):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\nfar_end:{steps_}")
    (tmp_path / "says_nothing.yaml").write_text("name: says_nothing\n")
    server = start_emulator(scenario_dirs=(tmp_path,))
    return server, telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=0)


def call_with(server: EmulatorServer, client: telnyx.Telnyx, receiver: Receiver, name: str) -> str:
    body = {"from": "+12125550199", "to": "+13125550100", "webhook_url": f"{receiver.url}/hook"}
    r = httpx.post(
        f"{server.url}/_emulator/calls",
        json={**body, "scenario": name},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert r.status_code == 201, r.text
    ccid = str(r.json()["data"]["call_control_id"])
    client.calls.actions.answer(ccid)
    return ccid


def completed(receiver: Receiver, ccid: str) -> list[dict[str, Any]]:
    def mine() -> list[Any]:
        return [r for r in receiver.requests if r.body and r.payload.get("call_control_id") == ccid]

    receiver.wait_for(lambda _: "call.payment.completed" in [r.event_type for r in mine()])
    out = []
    for r in mine():
        assert_valid_webhook(r.json)
        if r.event_type.startswith("call.payment."):
            sdk_valid(r.json)
            out.append({"event": r.event_type, **r.payload})
    return out


def test_e2e_a_caller_pays_with_a_valid_card(
    scripted: tuple[EmulatorServer, telnyx.Telnyx], receiver: Receiver
) -> None:
    server, client = scripted
    ccid = call_with(server, client, receiver, "pays")
    response = client.calls.actions.pay(ccid, amount=9.99, currency="USD")
    assert response.data is not None and response.data.result == "ok"
    hooks = completed(receiver, ccid)
    assert [s[:2] for s in steps(hooks)] == [
        *[(step, "completed") for step in CARD_STEPS],
        ("payment-processing", "processing"),
    ]
    assert hooks[-1]["result"] == "success" and hooks[-1]["charge_id"].startswith("ch_")
    assert hooks[-1]["payment_card_number"] == "************4242"


def test_e2e_an_invalid_card_then_a_valid_one(
    scripted: tuple[EmulatorServer, telnyx.Telnyx], receiver: Receiver
) -> None:
    server, client = scripted
    ccid = call_with(server, client, receiver, "pays_after_a_typo")
    client.calls.actions.pay(ccid, postal_code=False, valid_card_types=["visa", "mastercard"])
    hooks = completed(receiver, ccid)
    assert steps(hooks)[:2] == [
        ("payment-card-number", "failed", 1, "invalid-card-number"),
        ("payment-card-number", "completed", 2, None),
    ]
    assert hooks[-1]["result"] == "success" and hooks[-1]["token_id"].startswith("tok_")


def test_e2e_a_silent_caller_times_out(
    scripted: tuple[EmulatorServer, telnyx.Telnyx], receiver: Receiver
) -> None:
    server, client = scripted
    ccid = call_with(server, client, receiver, "says_nothing")
    client.calls.actions.pay(ccid, amount=1, timeout_millis=2000, max_attempts=3)
    hooks = completed(receiver, ccid)
    assert steps(hooks) == [("payment-card-number", "failed", n, "timeout") for n in (1, 2, 3)]
    assert (hooks[-1]["result"], hooks[-1]["payment_error"]) == (
        "too-many-failed-attempts",
        "timeout",
    )
