"""Things that run on a call leg over time: playback, speak, gather, recording, streams, forks,
SIPREC, transcription, AI assistants.

Telnyx models each of these as its own command pair (``playback_start``/``playback_stop``,
``record_start``/``record_stop``, ...) with its own ending webhook, but they share one life
cycle, and the rules between them are a table, not code:

- an activity **starts** on a live leg, at the engine clock's time, and may have a **planned
  end** (a timeline step: the audio's length, a gather's timeout, a recording's ``max_length``);
- it **ends** exactly once, for one of four :class:`EndReason` s: its time is up
  (``completed``), a command stopped it (``stopped``), a conflicting activity replaced it
  (``replaced``), or its leg ended (``call_ended``);
- ending calls its ``on_end`` callback with the reason, which emits the kind's ending webhook
  (``call.playback.ended`` with ``status``, ``call.recording.saved``, ...): the activity model
  decides *when* and *why*, the family module decides *what is sent*;
- a new activity meets the running ones through :data:`CONFLICTS`: it replaces them (a new
  playback or speak stops the audio that is playing, as Telnyx does), or is refused with a
  Telnyx error (a second AI assistant: 90061), or runs beside them (the default);
- when the leg ends, :meth:`Activities.stop_all` ends every activity with ``call_ended``
  *before* the leg's ``call.hangup`` is emitted (:meth:`emulator.engine.Engine.end`), so an app
  sees ``call.playback.ended`` then ``call.hangup``, as from Telnyx.

This module is sans-I/O and knows nothing of the engine:
:meth:`emulator.engine.Engine.start_activity` plans the end on the timeline and hands the entry
to the activity, so stopping it early cancels the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import errors
from .errors import ApiFailure
from .person import Hear
from .timeline import Entry


class ActivityKind(str, Enum):
    PLAYBACK = "playback"
    OVERLAY = "overlay"  # playback_start with overlay: mixed over the audio playing
    SPEAK = "speak"
    GATHER = "gather"  # gather, gather_using_audio, gather_using_speak
    AI_GATHER = "ai_gather"  # gather_using_ai
    RECORDING = "recording"
    STREAMING = "streaming"
    FORK = "fork"
    SIPREC = "siprec"
    TRANSCRIPTION = "transcription"
    AI_ASSISTANT = "ai_assistant"
    CONVERSATION_RELAY = "conversation_relay"
    NOISE_SUPPRESSION = "noise_suppression"
    PAYMENT = "payment"
    QUEUE = "queue"  # waiting in a call queue (enqueue .. call.dequeued)


class EndReason(str, Enum):
    COMPLETED = "completed"  # its planned end was reached
    STOPPED = "stopped"  # a command stopped it (playback_stop, record_stop, ...)
    REPLACED = "replaced"  # a conflicting activity started (CONFLICTS: REPLACE)
    CALL_ENDED = "call_ended"  # the leg ended (hangup, either side)
    BRIDGED = "bridged"  # the leg was bridged to another (only kinds in ENDS_ON_BRIDGE)
    AMD = "amd"  # answering machine detection found a machine (only kinds in ENDS_ON_MACHINE)


class Conflict(str, Enum):
    REPLACE = "replace"  # the running activity ends (REPLACED), the new one starts
    REFUSE = "refuse"  # the new one is refused with the table's error; the running one goes on


K = ActivityKind
_AUDIO_OUT = (K.PLAYBACK, K.SPEAK, K.AI_GATHER, K.PAYMENT)
_PROMPTED = (K.AI_GATHER, K.PAYMENT)


def _refuse(code: str, title: str, detail: str) -> Callable[[], ApiFailure]:
    return lambda: ApiFailure(422, [errors.ApiError(code, title, detail)])


def _already(kind: str) -> Callable[[], ApiFailure]:
    """(chosen) 90016 where Telnyx documents no code for starting a second one."""
    return lambda: errors.invalid_command_for_state(f"A {kind} is already running on this call.")


_AI_ACTIVE = _refuse(
    "90061",  # Telnyx's own example: "AI Assistant is already in progress"
    "AI Assistant is already in progress",
    "AI Assistant cannot be started more than once.",
)

# (new kind, running kind) -> what happens; a pair that is missing runs side by side. Audio the
# caller hears is one channel: a new prompt (playback, speak, the prompts of an AI gather or a
# payment) replaces the one playing (Telnyx: "a new playback/speak stops the current one").
# A DTMF gather is not audio: a new gather replaces a running one (chosen), a prompt played
# while a gather listens leaves it listening, and a gather with a prompt (gather_using_speak,
# gather_using_audio) stops the audio playing itself (emulator/commands/gather.py), since a
# silent gather must not.
# One of each long-running media session per leg (chosen, except 90061 which Telnyx documents).
CONFLICTS: dict[tuple[ActivityKind, ActivityKind], Conflict] = {
    **{(new, old): Conflict.REPLACE for new in _AUDIO_OUT for old in _AUDIO_OUT},
    **{(new, K.GATHER): Conflict.REPLACE for new in (K.GATHER, *_PROMPTED)},
    **{(K.GATHER, old): Conflict.REPLACE for old in _PROMPTED},
    (K.OVERLAY, K.OVERLAY): Conflict.REPLACE,
    (K.RECORDING, K.RECORDING): Conflict.REFUSE,
    (K.STREAMING, K.STREAMING): Conflict.REFUSE,
    (K.FORK, K.FORK): Conflict.REFUSE,
    (K.SIPREC, K.SIPREC): Conflict.REFUSE,
    (K.TRANSCRIPTION, K.TRANSCRIPTION): Conflict.REFUSE,
    (K.NOISE_SUPPRESSION, K.NOISE_SUPPRESSION): Conflict.REFUSE,
    (K.QUEUE, K.QUEUE): Conflict.REFUSE,
    (K.AI_ASSISTANT, K.AI_ASSISTANT): Conflict.REFUSE,
    (K.AI_ASSISTANT, K.CONVERSATION_RELAY): Conflict.REFUSE,
    (K.CONVERSATION_RELAY, K.CONVERSATION_RELAY): Conflict.REFUSE,
    (K.CONVERSATION_RELAY, K.AI_ASSISTANT): Conflict.REFUSE,
}

# The error a REFUSE answers, by the new activity's kind.
REFUSALS: dict[ActivityKind, Callable[[], ApiFailure]] = {
    K.AI_ASSISTANT: _AI_ACTIVE,
    K.CONVERSATION_RELAY: _already("Conversation Relay or AI assistant session"),
    K.RECORDING: _already("recording"),
    K.STREAMING: _already("media stream"),
    K.FORK: _already("media fork"),
    K.SIPREC: _already("SIPREC session"),
    K.TRANSCRIPTION: _already("transcription"),
    K.NOISE_SUPPRESSION: _already("noise suppression"),
    K.QUEUE: lambda: errors.invalid_command_for_state(
        "The call is already in a queue; leave_queue first."
    ),
}

# Kinds that end (``bridged``) when their leg is bridged to another: a queued call leaves its
# queue when it is bridged (Telnyx's call.dequeued reason ``bridged``).
ENDS_ON_BRIDGE = frozenset({K.QUEUE})
# (chosen) What a detected answering machine stops: the prompts playing to it, and a gather
# waiting for its digits, each ending with status cancelled_amd (the one value of the spec's
# speak, playback and gather status enums that names AMD; the spec says no more).
ENDS_ON_MACHINE = frozenset({K.PLAYBACK, K.SPEAK, K.GATHER})

OnEnd = Callable[["Activity", EndReason], None]


@dataclass(slots=True, eq=False)
class Activity:
    """One running activity. ``data`` is the family's own state (the command body, an ID)."""

    kind: ActivityKind
    started_at: float
    on_end: OnEnd
    data: dict[str, Any] = field(default_factory=dict)
    planned_end: Entry | None = None  # the timeline step of its planned end, if any
    hear: Hear | None = None  # what it does with the far end's input (a gather, transcription)
    ended_at: float | None = None
    end_reason: EndReason | None = None

    @property
    def running(self) -> bool:
        return self.end_reason is None

    def end(self, reason: EndReason, now: float) -> None:
        """End it (once: later calls do nothing) and call ``on_end``."""
        if self.end_reason is not None:
            return
        self.end_reason, self.ended_at = reason, now
        if self.planned_end is not None:
            self.planned_end.cancel()
            self.planned_end = None
        self.on_end(self, reason)


class Activities:
    """The running activities of one leg, in start order."""

    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: list[Activity] = []

    def __iter__(self) -> Iterator[Activity]:
        return iter(list(self._running))

    def __len__(self) -> int:
        return len(self._running)

    def running(self, kind: ActivityKind) -> Activity | None:
        """The running activity of this kind, the newest if several."""
        for activity in reversed(self._running):
            if activity.kind is kind:
                return activity
        return None

    def admit(self, new: Activity, now: float) -> None:
        """Apply :data:`CONFLICTS` for ``new``, then record it as running.

        Refusals are checked for every running activity before anything is replaced, so a
        refused start changes nothing.
        """
        clashes = [(a, CONFLICTS.get((new.kind, a.kind))) for a in self._running]
        if any(c is Conflict.REFUSE for _, c in clashes):
            raise REFUSALS.get(new.kind, _already(new.kind.value))()
        for activity, conflict in clashes:
            if conflict is Conflict.REPLACE:
                self._end(activity, EndReason.REPLACED, now)
        self._running.append(new)

    def stop(self, kind: ActivityKind, reason: EndReason, now: float) -> Activity | None:
        """End the newest running activity of ``kind``; None if there is none."""
        activity = self.running(kind)
        if activity is not None:
            self._end(activity, reason, now)
        return activity

    def finish(self, activity: Activity, now: float) -> None:
        """Its planned end was reached."""
        self._end(activity, EndReason.COMPLETED, now)

    def stop_kinds(self, kinds: frozenset[ActivityKind], reason: EndReason, now: float) -> None:
        """End every running activity of these kinds, oldest first."""
        for activity in [a for a in self._running if a.kind in kinds]:
            self._end(activity, reason, now)

    def stop_all(self, reason: EndReason, now: float) -> None:
        """End every running activity, oldest first (the leg ends)."""
        while self._running:
            self._end(self._running[0], reason, now)

    def _end(self, activity: Activity, reason: EndReason, now: float) -> None:
        if activity in self._running:
            self._running.remove(activity)
        activity.end(reason, now)
