"""The gather family: collect DTMF digits, with or without a prompt.

Every gather is one activity (:mod:`emulator.activities`, kind ``gather``) driven by a
:class:`Gather`: it hears the far end's digits (:mod:`emulator.person`) and ends once, with
``call.gather.ended`` carrying the digits and a ``status`` of Telnyx's enum:

- ``valid``: the input ended (the ``terminating_digit``, ``maximum_digits`` reached, or
  ``inter_digit_timeout_millis`` of quiet) with ``minimum_digits`` to ``maximum_digits`` digits,
  all in ``valid_digits`` (the terminating digit is not part of ``digits``);
- ``invalid``: the input ended otherwise (a digit outside ``valid_digits``, too few digits);
  with a prompt (``gather_using_speak``/``_audio``) only once ``maximum_tries`` are used up:
  before that the ``invalid_payload``/``invalid_audio_url`` prompt plays, then the prompt again;
- ``timeout``: no digit in time: ``initial_timeout_millis`` for ``gather``, or
  ``timeout_millis`` after the last of ``maximum_tries`` prompts for the prompted gathers; a
  plain gather also ends ``timeout`` when ``timeout_millis`` (the whole request) runs out;
- ``cancelled``: ``gather_stop``, or a new gather replaced it; ``call_hangup``: the leg ended
  (before its ``call.hangup``).

A prompt plays with the speak or playback webhooks (``call.speak.*`` for gather_using_speak,
``call.playback.*`` for gather_using_audio); the first digit interrupts it, as Telnyx says
("Speech will be interrupted when a DTMF signal is received"). docs/commands.md has the rules
and the timing; docs/behaviour.md the choices.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from ..activities import Activity, ActivityKind, EndReason
from ..calls import Leg
from ..engine import Engine
from ..media_timing import speech_secs
from ..person import FarEndInput
from ..timeline import Entry
from ..webhooks import media_payload
from .media import PLAYBACK_STATUS, SPEAK_STATUS, audio_secs
from .registry import Command, Context, declare

FAMILY = "gather"

Prompt = Literal["speak", "audio"]
END_STATUS = {
    EndReason.STOPPED: "cancelled",
    EndReason.REPLACED: "cancelled",
    EndReason.CALL_ENDED: "call_hangup",
    EndReason.AMD: "cancelled_amd",
}


class Gather:
    """One gather's rules and state; its activity's ``hear`` and ``on_end``."""

    def __init__(self, engine: Engine, leg: Leg, p: dict[str, Any], prompt: Prompt | None):
        self.engine, self.leg, self.p, self.prompt = engine, leg, p, prompt
        self.valid = str(p.get("valid_digits", "0123456789#*"))
        self.terminator = str(p.get("terminating_digit", "#"))
        self.minimum = int(p.get("minimum_digits", 1))
        self.maximum = int(p.get("maximum_digits", 128))
        self.timeout = p.get("timeout_millis", 60000) / 1000.0
        self.inter_digit = p.get("inter_digit_timeout_millis", 5000) / 1000.0
        self.initial = p.get("initial_timeout_millis", 5000) / 1000.0
        self.max_tries = int(p.get("maximum_tries", 3))
        self.gather_id = p.get("gather_id") or (str(uuid.uuid4()) if prompt is None else None)
        self.digits = ""
        self.tries = 0
        self.status = "timeout"
        self.timer: Entry | None = None
        self.playing: tuple[str, Entry | None] | None = None  # the prompt's ended event
        self.activity: Activity | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        engine, leg = self.engine, self.leg
        if self.prompt is not None:  # a prompt stops the audio playing (a silent gather doesn't)
            for kind in (ActivityKind.PLAYBACK, ActivityKind.SPEAK):
                engine.stop_activity(leg, kind, EndReason.REPLACED)
        self.activity = engine.start_activity(
            leg, ActivityKind.GATHER, self.on_end, hear=self.hear, data={"gather": self}
        )
        engine.cue(leg, "gather_started")
        if self.prompt is None:
            # "The number of milliseconds to wait to complete the request."
            self.activity.planned_end = engine.after(leg, self.timeout, self._finish_timeout)
            self._wait(self.initial, self._no_input)
        else:
            self._play(invalid=False)

    def hear(self, heard: FarEndInput) -> None:
        if heard.kind != "dtmf" or not self.running:
            return
        self._stop_prompt()
        self._cancel_timer()
        digit = heard.value
        if digit == self.terminator and len(self.digits) < self.maximum:
            self._input_ended()
            return
        self.digits += digit
        if len(self.digits) >= self.maximum:
            self._input_ended()
        else:
            self._wait(self.inter_digit, self._input_ended)

    def on_end(self, activity: Activity, reason: EndReason) -> None:
        self._cancel_timer()
        self._stop_prompt(reason)
        status = self.status if reason is EndReason.COMPLETED else END_STATUS[reason]
        payload = {**media_payload(self.leg), "digits": self.digits, "status": status}
        if self.gather_id is not None:
            payload["gather_id"] = self.gather_id
        self.engine.emit(self.leg, "call.gather.ended", payload)

    @property
    def running(self) -> bool:
        return self.activity is not None and self.activity.running

    # -- the rules --------------------------------------------------------------------------

    def _input_ended(self) -> None:
        """The caller's input is complete: valid ends the gather; invalid re-prompts while
        tries are left (prompted gathers)."""
        self.timer = None
        ok = self.minimum <= len(self.digits) <= self.maximum and all(
            d in self.valid for d in self.digits
        )
        if ok or self.prompt is None:
            self._finish("valid" if ok else "invalid")
            return
        self.tries += 1
        if self.tries >= self.max_tries:
            self._finish("invalid")
        else:
            self.digits = ""
            self._play(invalid=True)

    def _no_input(self) -> None:
        """Nobody pressed anything in time: the prompt again while tries are left."""
        self.timer = None
        self.tries += 1
        if self.prompt is None or self.tries >= self.max_tries:
            self._finish("timeout")
        else:
            self._play(invalid=False)

    def _finish_timeout(self) -> None:
        self._finish("timeout")

    def _finish(self, status: str) -> None:
        if self.running and self.activity is not None:
            self.status = status
            self.engine.finish_activity(self.leg, self.activity)

    # -- the prompt -------------------------------------------------------------------------

    def _play(self, *, invalid: bool) -> None:
        """Play the prompt (after the invalid-input prompt if there is one), then wait
        ``timeout_millis`` for the first digit."""
        p, prompt = self.p, self.prompt
        secs = 0.0
        if prompt == "speak":
            ssml = p.get("payload_type") == "ssml"
            text = p["payload"]
            if invalid and p.get("invalid_payload"):
                secs += speech_secs(p["invalid_payload"], ssml)
            secs += speech_secs(text, ssml)
            started, ended = "call.speak.started", "call.speak.ended"
            payload = media_payload(self.leg)
        else:
            extra = 0.0
            if invalid and (p.get("invalid_audio_url") or p.get("invalid_media_name")):
                extra = audio_secs(self.engine, self.leg, p.get("invalid_audio_url"))
            secs = extra + audio_secs(self.engine, self.leg, p.get("audio_url"))
            started, ended = "call.playback.started", "call.playback.ended"
            payload = {**media_payload(self.leg), **_media(p), "overlay": False}
        self.engine.emit(self.leg, started, payload)
        self.engine.cue(self.leg, "prompt_started")
        self.playing = (ended, self.engine.after(self.leg, secs, self._prompt_done))

    def _prompt_done(self) -> None:
        self._end_prompt("completed")
        self._wait(self.timeout, self._no_input)

    def _stop_prompt(self, reason: EndReason = EndReason.STOPPED) -> None:
        if self.playing is None:
            return
        statuses = SPEAK_STATUS if self.prompt == "speak" else PLAYBACK_STATUS
        # The prompt ends as its gather did when the call or a machine ended it; otherwise the
        # gather ended (digits, a command, a new prompt) and stopped it.
        own = reason in (EndReason.CALL_ENDED, EndReason.AMD)
        self._end_prompt(statuses[reason if own else EndReason.STOPPED])

    def _end_prompt(self, status: str) -> None:
        assert self.playing is not None
        event, entry = self.playing
        self.playing = None
        if entry is not None:
            entry.cancel()
        payload = media_payload(self.leg)
        if event == "call.playback.ended":
            payload.update(_media(self.p), overlay=False)
        payload["status"] = status
        self.engine.emit(self.leg, event, payload)
        if status != "call_hangup":
            self.engine.cue(self.leg, "prompt_ended")

    # -- timers -----------------------------------------------------------------------------

    def _wait(self, secs: float, then: Any) -> None:
        self._cancel_timer()
        self.timer = self.engine.after(self.leg, secs, then)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _media(p: dict[str, Any]) -> dict[str, Any]:
    if "audio_url" in p:
        return {"media_url": p["audio_url"]}
    if "media_name" in p:
        return {"media_name": p["media_name"]}
    return {}


def gather(ctx: Context, p: dict[str, Any]) -> None:
    Gather(ctx.engine, ctx.leg, p, None).start()


def gather_using_speak(ctx: Context, p: dict[str, Any]) -> None:
    Gather(ctx.engine, ctx.leg, p, "speak").start()


def gather_using_audio(ctx: Context, p: dict[str, Any]) -> None:
    Gather(ctx.engine, ctx.leg, p, "audio").start()


def gather_stop(ctx: Context, p: dict[str, Any]) -> None:
    """``call.gather.ended`` with status ``cancelled`` and the digits so far; no gather
    running: nothing to end, no webhook (chosen)."""
    ctx.engine.stop_activity(ctx.leg, ActivityKind.GATHER)


declare(
    Command(
        "gather",
        "/calls/{call_control_id}/actions/gather",
        "client.calls.actions.gather",
        "Gather DTMF digits",
        FAMILY,
        webhooks=("call.dtmf.received", "call.gather.ended"),
        effect=gather,
    )
)

declare(
    Command(
        "gather_using_audio",
        "/calls/{call_control_id}/actions/gather_using_audio",
        "client.calls.actions.gather_using_audio",
        "Gather using audio",
        FAMILY,
        webhooks=(
            "call.playback.started",
            "call.playback.ended",
            "call.dtmf.received",
            "call.gather.ended",
        ),
        effect=gather_using_audio,
    )
)

declare(
    Command(
        "gather_using_speak",
        "/calls/{call_control_id}/actions/gather_using_speak",
        "client.calls.actions.gather_using_speak",
        "Gather using speak",
        FAMILY,
        webhooks=(
            "call.speak.started",
            "call.speak.ended",
            "call.dtmf.received",
            "call.gather.ended",
        ),
        effect=gather_using_speak,
    )
)

declare(
    Command(
        "gather_stop",
        "/calls/{call_control_id}/actions/gather_stop",
        "client.calls.actions.stop_gather",
        "Stop a gather",
        FAMILY,
        webhooks=("call.gather.ended",),
        effect=gather_stop,
    )
)
