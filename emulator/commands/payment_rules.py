"""What a payment accepts and how it ends: the steps, each step's check, card brands, masking
and the connector's (deterministic) answer. Kept apart from :mod:`emulator.commands.pay`,
which runs the steps in time, so the rules read as a table.

Sources: the telnyx SDK 4.189.0 (``action_pay_params.py``, ``call_payment_*_webhook_event.py``)
for fields, enums and the postal-code rules; the card brands' published IIN ranges and the Luhn
check; the ABA routing-number checksum. Everything else is marked (chosen) and listed in
docs/behaviour.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CARD_STEPS = ("payment-card-number", "expiration-date", "security-code", "postal-code")
ACH_STEPS = ("bank-account-number", "bank-routing-number")

PROMPTS = {  # (chosen) English default prompts, spoken when ``prompts`` has none for the step
    "payment-card-number": "Please enter your card number, followed by the pound key.",
    "expiration-date": "Please enter the expiration date, two digits for the month and two "
    "for the year.",
    "security-code": "Please enter the security code.",
    "postal-code": "Please enter the billing postal code, followed by the pound key.",
    "bank-account-number": "Please enter your bank account number, followed by the pound key.",
    "bank-routing-number": "Please enter your bank routing number.",
}

# Magic inputs that the emulated connector declines (chosen; Stripe's generic-decline test card).
DECLINED_CARD = "4000000000000002"
DECLINED_ACCOUNT = "000000000002"
DECLINED_TOKEN = "tok_declined"

# (brand, IIN prefix ranges as (low, high) on the first digits, allowed lengths). First match
# wins. Optima (American Express) shares Amex's ranges: such numbers are reported "amex".
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("enroute", ((2014, 2014), (2149, 2149)), (15,)),
    ("diners-club", ((300, 305), (36, 36), (38, 39)), (14, 16)),
    ("jcb", ((3528, 3589),), (16, 17, 18, 19)),
    ("discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), (16, 17, 18, 19)),
    (
        "maestro",
        (
            (5018, 5018),
            (5020, 5020),
            (5038, 5038),
            (5893, 5893),
            (6304, 6304),
            (6759, 6759),
            (6761, 6763),
        ),
        (12, 13, 14, 15, 16, 17, 18, 19),
    ),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("visa", ((4, 4),), (13, 16, 19)),
)


def _on(value: Any) -> bool:
    return value is True or value == "true"


def _off(value: Any) -> bool:
    return value is False or value == "false"


def steps(method: str, p: dict[str, Any]) -> tuple[str, ...]:
    """The collection steps: none with a ``payment_token``; the postal code only when
    ``postal_code`` is true (the default), not false nor a supplied value."""
    if "payment_token" in p:
        return ()
    if method == "ach-debit":
        return ACH_STEPS
    postal = p.get("postal_code", True)
    return CARD_STEPS if _on(postal) else CARD_STEPS[:3]


def card_type(number: str) -> str | None:
    for brand, ranges, lengths in _BRANDS:
        if len(number) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if number[:width].isdigit() and low <= int(number[:width]) <= high:
                return brand
    return None


def luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def aba(number: str) -> bool:
    """The routing number's checksum: 3, 7, 1 weights over the nine digits."""
    d = [int(c) for c in number]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def _postal_range(p: dict[str, Any]) -> tuple[int, int]:
    """SDK: minimum ``min_postal_code_length`` (default 1), "the maximum number of digits
    collected is the greater of 10 and this value"."""
    low = int(p.get("min_postal_code_length", 1))
    return low, max(10, low)


def max_length(step: str, p: dict[str, Any], brand: str | None) -> int:
    """The entry ends by itself at this many digits (else ``#`` or the inter-digit timeout)."""
    if step == "postal-code":
        return _postal_range(p)[1]
    return {
        "payment-card-number": 19,
        "expiration-date": 4,
        "security-code": 4 if brand == "amex" else 3,
        "bank-account-number": 17,  # (chosen) US account numbers are 4 to 17 digits
        "bank-routing-number": 9,
    }[step]


def check(step: str, digits: str, p: dict[str, Any], brand: str | None, now: float) -> str | None:
    """The step's ``error_type`` for ``digits``, or None if they are accepted."""
    if not digits:
        return "timeout"  # (chosen) a bare "#" counts as no input
    if not digits.isdigit():
        return _INVALID[step]
    if step == "payment-card-number":
        if brand is None or not luhn(digits):
            return "invalid-card-number"
        allowed = p.get("valid_card_types")
        if allowed and brand not in allowed:
            return "invalid-card-type"
        return None
    if step == "expiration-date":
        if len(digits) != 4 or not 1 <= int(digits[:2]) <= 12:
            return "invalid-date"
        today = datetime.fromtimestamp(now, UTC)
        expires = (2000 + int(digits[2:]), int(digits[:2]))
        return "invalid-date" if expires < (today.year, today.month) else None
    if step == "security-code":
        return None if len(digits) == (4 if brand == "amex" else 3) else "invalid-security-code"
    if step == "postal-code":
        low, high = _postal_range(p)
        return None if low <= len(digits) <= high else "invalid-postal-code"
    if step == "bank-account-number":
        return None if 4 <= len(digits) <= 17 else "invalid-bank-account-number"
    return None if len(digits) == 9 and aba(digits) else "invalid-bank-routing-number"


_INVALID = {
    "payment-card-number": "invalid-card-number",
    "expiration-date": "invalid-date",
    "security-code": "invalid-security-code",
    "postal-code": "invalid-postal-code",
    "bank-account-number": "invalid-bank-account-number",
    "bank-routing-number": "invalid-bank-routing-number",
}


def prompt_text(
    p: dict[str, Any], step: str, attempt: int, error: str | None, brand: str | None
) -> str:
    """The step's prompt: ``prompts[step]`` as a string, or the first of its list whose
    qualifiers (``attempt``, ``card_type``, ``error_type``) all match (chosen), else the
    default prompt."""
    given = (p.get("prompts") or {}).get(step)
    if isinstance(given, str):
        return given
    for item in given or ():
        if "attempt" in item and str(attempt) not in item["attempt"].split():
            continue
        if "card_type" in item and item["card_type"] != brand:
            continue
        if "error_type" in item and item["error_type"] != error:
            continue
        return str(item["text"])
    return PROMPTS[step]


def masked(collected: dict[str, str], p: dict[str, Any]) -> dict[str, str]:
    """What the webhooks may show of the collected details, as the SDK's models describe them:
    the card number with only the last four digits visible, the security code fully masked,
    the account number with only the last two visible; the rest as entered."""
    out: dict[str, str] = {}
    if (card := collected.get("payment-card-number")) is not None:
        out["payment_card_number"] = "*" * (len(card) - 4) + card[-4:]
    if (date := collected.get("expiration-date")) is not None:
        out["expiration_date"] = date
    if (code := collected.get("security-code")) is not None:
        out["security_code"] = "*" * len(code)
    postal = collected.get("postal-code")
    given = p.get("postal_code")
    if postal is None and isinstance(given, str) and not (_on(given) or _off(given)):
        postal = given
    if postal is not None and p.get("payment_method", "credit-card") == "credit-card":
        out["payment_card_postal_code"] = postal
    if (account := collected.get("bank-account-number")) is not None:
        out["bank_account_number"] = "*" * (len(account) - 2) + account[-2:]
    if (routing := collected.get("bank-routing-number")) is not None:
        out["bank_routing_number"] = routing
    return out


def outcome(p: dict[str, Any], collected: dict[str, str], unique: str) -> dict[str, Any]:
    """The connector's answer (chosen: deterministic): a decline for the magic inputs, else
    success with a ``charge_id`` (charge) or ``token_id`` (tokenize). SDK: without
    ``transaction_type``, "Pay infers tokenize when amount is absent or zero and charge when
    amount is positive"."""
    declined = (
        collected.get("payment-card-number") == DECLINED_CARD
        or collected.get("bank-account-number") == DECLINED_ACCOUNT
        or p.get("payment_token") == DECLINED_TOKEN
    )
    if declined:
        return {
            "result": "payment-connector-error",
            "pay_error_code": "card_declined",
            "payment_error": "The payment was declined.",
            "connector_error": {"code": "card_declined", "message": "The payment was declined."},
        }
    kind = p.get("transaction_type") or ("charge" if p.get("amount", 0) > 0 else "tokenize")
    hex_ = unique.replace("-", "")
    result: dict[str, Any] = {"result": "success", "payment_confirmation_code": hex_[:8].upper()}
    if kind == "charge":
        result["charge_id"] = f"ch_{hex_[:24]}"
    else:
        result["token_id"] = p.get("payment_token") or f"tok_{hex_[:24]}"
    return result
