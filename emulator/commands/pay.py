"""The payment family: collect card or bank details over DTMF (SDK only: not in Telnyx's
published spec; fields and enums from the telnyx SDK 4.189.0, ``action_pay_params.py`` and the
``call.payment.*`` webhook models).

A payment is one activity (:mod:`emulator.activities`, kind ``payment``) driven by a
:class:`Payment`. It walks its steps (credit card: ``payment-card-number``,
``expiration-date``, ``security-code``, ``postal-code`` unless ``postal_code`` is false or a
value; ach-debit: ``bank-account-number``, ``bank-routing-number``; none with a
``payment_token``): each step speaks its prompt (the far end hears ``prompt_started``), then
collects digits from the person on the line (:mod:`emulator.person`) until ``#``, a full-length
entry or ``inter_digit_timeout_millis`` of quiet. A step that is wrong or silent re-prompts
until ``max_attempts``; each step's outcome is a ``call.payment.progress``. Then the
``payment-processing`` step charges or tokenizes, deterministically
(:mod:`emulator.commands.payment_rules` says what is valid and what declines), and
``call.payment.completed`` ends the activity. Card data is masked in every webhook as
Telnyx's models say (last four of the card, last two of the account, the security code fully).
"""

from __future__ import annotations

from typing import Any

from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..media_timing import speech_secs
from ..person import FarEndInput
from ..timeline import Entry
from ..webhooks import media_payload
from . import payment_rules as rules
from .registry import Command, Context, declare

FAMILY = "pay"

TERMINATOR = "#"  # (chosen) ends an entry early, as in a gather
PROCESSING_SECS = 1.0  # (chosen) how long the connector takes to answer
DEFAULTS = {  # (chosen) the SDK gives no defaults for these
    "timeout_millis": 10000,
    "inter_digit_timeout_millis": 5000,
    "max_attempts": 3,
}


class Payment:
    """One payment's steps and state; its activity's ``hear`` and ``on_end``."""

    def __init__(self, engine: Engine, leg: Leg, p: dict[str, Any]):
        self.engine, self.leg, self.p = engine, leg, p
        self.method = str(p.get("payment_method", "credit-card"))  # (chosen) the default
        self.timeout = int(p.get("timeout_millis", DEFAULTS["timeout_millis"])) / 1000.0
        self.inter_digit = (
            int(p.get("inter_digit_timeout_millis", DEFAULTS["inter_digit_timeout_millis"]))
            / 1000.0
        )
        self.max_attempts = int(p.get("max_attempts", DEFAULTS["max_attempts"]))
        self.steps = rules.steps(self.method, p)
        self.index = 0
        self.attempt = 1
        self.error: str | None = None  # the last attempt's error_type, for the prompt
        self.digits = ""
        self.collected: dict[str, str] = {}  # step -> the digits entered (never sent as is)
        self.card_type: str | None = None
        self.result: dict[str, Any] = {"result": "cancelled"}
        self.timer: Entry | None = None
        self.prompting: Entry | None = None
        self.activity: Activity | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.activity = self.engine.start_activity(
            self.leg, ActivityKind.PAYMENT, self.on_end, hear=self.hear, data={"payment": self}
        )
        self._next_step()

    @property
    def running(self) -> bool:
        return self.activity is not None and self.activity.running

    @property
    def step(self) -> str:
        return self.steps[self.index]

    def hear(self, heard: FarEndInput) -> None:
        if heard.kind != "dtmf" or not self.running or self.index >= len(self.steps):
            return
        if self.prompting is not None:  # the first digit interrupts the prompt (chosen)
            self.prompting.cancel()
            self.prompting = None
        self._cancel_timer()
        if heard.value == TERMINATOR:
            self._entry_ended()
            return
        self.digits += heard.value
        if len(self.digits) >= rules.max_length(self.step, self.p, self.card_type):
            self._entry_ended()
        else:
            self.timer = self.engine.after(self.leg, self.inter_digit, self._entry_ended)

    def on_end(self, activity: Activity, reason: EndReason) -> None:
        self._cancel_timer()
        if self.prompting is not None:
            self.prompting.cancel()
        # (chosen) stopped, replaced or hung up: "cancelled", before the call's call.hangup
        result = self.result if reason is EndReason.COMPLETED else {"result": "cancelled"}
        self.engine.emit(self.leg, "call.payment.completed", {**self._fields(), **result})

    # -- the steps --------------------------------------------------------------------------

    def _next_step(self) -> None:
        if self.index >= len(self.steps):
            self._process()
            return
        self.digits = ""
        text = rules.prompt_text(self.p, self.step, self.attempt, self.error, self.card_type)
        self.engine.cue(self.leg, "prompt_started")
        self.prompting = self.engine.after(self.leg, speech_secs(text), self._prompt_done)

    def _prompt_done(self) -> None:
        self.prompting = None
        self.engine.cue(self.leg, "prompt_ended")
        self.timer = self.engine.after(self.leg, self.timeout, self._no_input)

    def _no_input(self) -> None:
        self.timer = None
        self._failed("timeout")

    def _entry_ended(self) -> None:
        self.timer = None
        step, digits = self.step, self.digits
        if step == "payment-card-number":
            self.card_type = rules.card_type(digits)
        error = rules.check(step, digits, self.p, self.card_type, self.engine.clock.now())
        if error is not None:
            self._failed(error)
            return
        self.collected[step] = digits
        self._progress("completed")
        self.index += 1
        self.attempt, self.error = 1, None
        self._next_step()

    def _failed(self, error: str) -> None:
        self._progress("failed", error)
        if self.step == "payment-card-number":
            self.card_type = None
        if self.attempt >= self.max_attempts:
            self.result = {"result": "too-many-failed-attempts", "payment_error": error}
            self._finish()
            return
        self.attempt += 1
        self.error = error
        self._next_step()

    def _process(self) -> None:
        self.engine.emit(
            self.leg,
            "call.payment.progress",
            {
                **self._fields(),
                "payment_step": "payment-processing",
                "payment_status": "processing",
            },
        )
        self.timer = self.engine.after(self.leg, PROCESSING_SECS, self._processed)

    def _processed(self) -> None:
        self.timer = None
        self.result = rules.outcome(self.p, self.collected, self.engine.ids.event_id())
        self._finish()

    def _finish(self) -> None:
        if self.running and self.activity is not None:
            self.engine.finish_activity(self.leg, self.activity)

    # -- webhooks ---------------------------------------------------------------------------

    def _progress(self, status: str, error: str | None = None) -> None:
        payload = {
            **self._fields(),
            "payment_step": self.step,
            "payment_status": status,
            "attempt": self.attempt,
        }
        if error is not None:
            payload["error_type"] = error
        self.engine.emit(self.leg, "call.payment.progress", payload)

    def _fields(self) -> dict[str, Any]:
        """The common fields: the call's, the method and what has been collected, masked."""
        payload = {**media_payload(self.leg), "payment_method": self.method}
        if "connector_name" in self.p:
            payload["payment_connector"] = self.p["connector_name"]
        if self.card_type is not None:
            payload["payment_card_type"] = self.card_type
        payload.update(rules.masked(self.collected, self.p))
        return payload

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def pay(ctx: Context, p: dict[str, Any]) -> None:
    Payment(ctx.engine, ctx.leg, p).start()


declare(
    Command(
        "pay",
        "/calls/{call_control_id}/actions/pay",
        "client.calls.actions.pay",
        "Collect a payment",
        FAMILY,
        webhooks=("call.payment.progress", "call.payment.completed"),
        effect=pay,
    )
)
