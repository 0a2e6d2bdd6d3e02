"""The person on the line: what the far end of a call does, and what it hears.

Two streams cross the line of every answered leg, and this module names both:

- **what the far end does** (:class:`FarEndInput`): it presses a digit or says something. The
  engine (:meth:`emulator.engine.Engine.far_end_press`, :meth:`~emulator.engine.Engine.far_end_say`)
  sends ``call.dtmf.received`` for each digit, then hands the input to every running activity
  of the leg that listens (a gather collects digits, transcription hears speech; a recording,
  a media stream or an AI assistant can listen the same way: ``start_activity(..., hear=...)``)
  and to the engine's :attr:`~emulator.engine.Engine.far_end_listeners`;
- **what the far end hears** (:data:`Cue`): a prompt starting or ending (speak, playback, a
  gather's prompt), a gather starting, digits the app sent with ``send_dtmf``. A scripted far
  end (:class:`FarEnd`, from a scenario's ``far_end:`` steps) reacts to those.

The input comes from a scenario's script, from a test (``POST /_emulator/calls/{id}/dtmf`` and
``/speech``, the fixture's ``press``/``say``) or from the dashboard; the engine does not care
which. Sans-I/O: the script plans its steps through the engine's timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .scenarios import Step
from .timeline import Entry

Cue = Literal["prompt_started", "prompt_ended", "gather_started", "dtmf_sent"]


@dataclass(frozen=True, slots=True)
class FarEndInput:
    """One thing the far end did: a digit pressed, or words said."""

    kind: Literal["dtmf", "speech"]
    value: str  # one digit, or the text said
    at: float  # the engine clock's time


Hear = Callable[[FarEndInput], None]


class FarEnd:
    """A far end following its script: one step at a time, in order.

    A step with ``on`` waits for that cue (cues heard before the step's turn are not
    remembered: a person reacts to what happens now), then ``after_secs``; a step without
    ``on`` waits ``after_secs`` after the previous step. ``plan(secs, step)`` plans on the
    engine's timeline (dropped when the leg ends); ``act(step)`` presses, says or hangs up.
    """

    __slots__ = ("_act", "_index", "_pending", "_plan", "_steps")

    def __init__(
        self,
        steps: Sequence[Step],
        plan: Callable[[float, Callable[[], None]], Entry],
        act: Callable[[Step], None],
    ) -> None:
        self._steps = tuple(steps)
        self._plan = plan
        self._act = act
        self._index = 0
        self._pending: Entry | None = None  # the current step's planned action

    @property
    def done(self) -> bool:
        return self._index >= len(self._steps)

    def start(self) -> None:
        self._arm()

    def hear(self, cue: Cue, value: str = "") -> None:
        """The far end hears ``cue``: the waiting step goes ahead if it waits for it."""
        if self.done or self._pending is not None:
            return
        step = self._steps[self._index]
        if step.on is not None and _matches(step.on, cue, value):
            self._pending = self._plan(step.after_secs, self._run)

    def _arm(self) -> None:
        if self.done:
            return
        step = self._steps[self._index]
        if step.on is None:
            self._pending = self._plan(step.after_secs, self._run)

    def _run(self) -> None:
        step = self._steps[self._index]
        self._pending = None
        if step.action == "silence":
            self._pending = self._plan(step.silence_secs, self._next)
            return
        self._index += 1
        self._act(step)  # may end the leg: then the next step's plan is dropped
        self._arm()

    def _next(self) -> None:
        self._pending = None
        self._index += 1
        self._arm()


def _matches(trigger: str, cue: Cue, value: str) -> bool:
    name, _, digits = trigger.partition(":")
    return name == cue and (not digits or digits == value)
