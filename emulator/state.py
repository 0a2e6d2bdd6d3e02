"""The call-leg state machine, as one table.

Everything that decides whether a leg may change state, or may receive a command, lives here
(h11's ``_state.py`` is the model): handlers ask this module and never test states themselves,
so the rules can be read, and changed, in one place.

States follow what Telnyx reports in webhook ``state`` fields and what a developer sees:

- ``parked``: an incoming leg that has not been answered (``call.initiated`` state ``parked``).
- ``ringing``: an outgoing leg being dialled (``call.initiated`` state ``bridging``).
- ``answered``: up, not bridged to another leg.
- ``bridged``: up and bridged to a peer leg.
- ``hangup``: ended; only ``GET /calls/{id}`` still works on it.
"""

from __future__ import annotations

from enum import Enum

from . import errors


class LegState(str, Enum):
    PARKED = "parked"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    HANGUP = "hangup"

    @property
    def alive(self) -> bool:
        return self is not LegState.HANGUP


class LegEvent(str, Enum):
    ANSWER = "answer"  # the leg is answered (by the app's answer command, or the far end)
    BRIDGE = "bridge"  # media joined with a peer leg
    UNBRIDGE = "unbridge"  # the peer went away and this leg stays up (park_after_unbridge)
    HANGUP = "hangup"  # the leg ends, for whatever reason


P, R, A, B, H = (
    LegState.PARKED,
    LegState.RINGING,
    LegState.ANSWERED,
    LegState.BRIDGED,
    LegState.HANGUP,
)

# (state, event) -> next state. A pair that is missing is an illegal transition.
TRANSITIONS: dict[tuple[LegState, LegEvent], LegState] = {
    (P, LegEvent.ANSWER): A,
    (R, LegEvent.ANSWER): A,
    # A transfer issued on an unanswered incoming leg bridges it when leg B answers (NOTES §2).
    (P, LegEvent.BRIDGE): B,
    (A, LegEvent.BRIDGE): B,
    (B, LegEvent.BRIDGE): B,
    (B, LegEvent.UNBRIDGE): A,
    (P, LegEvent.HANGUP): H,
    (R, LegEvent.HANGUP): H,
    (A, LegEvent.HANGUP): H,
    (B, LegEvent.HANGUP): H,
}

# Commands by the states in which Telnyx accepts them. A command on an ended leg always gets
# 90018; a command missing from a live state's set gets the failure named in REFUSALS.
COMMANDS: dict[str, frozenset[LegState]] = {
    "transfer": frozenset({P, A, B}),
    "answer": frozenset({P}),
    "hangup": frozenset({P, R, A, B}),
    "reject": frozenset({P}),
    "bridge": frozenset({A, B}),
    "client_state_update": frozenset({P, R, A, B}),
}

REFUSALS: dict[tuple[str, LegState], str] = {
    ("transfer", R): "A leg that is still being dialled can't be transferred.",
    ("answer", R): "Outgoing calls are answered by the far end, not by the answer command.",
    ("answer", A): "This call has already been answered.",
    ("answer", B): "This call has already been answered.",
    ("reject", R): "Only incoming calls that have not been answered can be rejected.",
    ("reject", A): "Only incoming calls that have not been answered can be rejected.",
    ("reject", B): "Only incoming calls that have not been answered can be rejected.",
}


def next_state(state: LegState, event: LegEvent) -> LegState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise ValueError(f"illegal transition: {event.value} in state {state.value}") from None


def check_command(command: str, state: LegState) -> None:
    """Raise the Telnyx-shaped failure for a command the leg cannot take in this state."""
    if not state.alive:
        raise errors.call_already_ended()
    if state in COMMANDS[command]:
        return
    if command == "bridge" and state in (P, R):
        raise errors.call_not_answered()
    detail = REFUSALS.get((command, state), f"'{command}' is not allowed in state {state.value}.")
    raise errors.invalid_command_for_state(detail)
