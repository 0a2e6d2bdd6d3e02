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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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

Refusal = Callable[[], errors.ApiFailure]


def _state_refusal(detail: str) -> Refusal:
    return lambda: errors.invalid_command_for_state(detail)


_NOT_INCOMING_UNANSWERED = _state_refusal(
    "Only incoming calls that have not been answered can be rejected."
)
_ALREADY_ANSWERED = _state_refusal("This call has already been answered.")
_NOT_ANSWERED = errors.call_not_answered


@dataclass(frozen=True, slots=True)
class Legality:
    """The live states a command is accepted in, and the failure each other live state gets.

    A command's declaration (``emulator/commands/``) names one of the profiles below; the
    registry adds its rows to :data:`COMMANDS` and :data:`REFUSALS` under the command's name.
    A command with a new kind of rule gets a new profile here, never an ``if`` in its effect.
    """

    states: frozenset[LegState]
    refusals: Mapping[LegState, Refusal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        live = {s for s in LegState if s.alive}
        uncovered = live - self.states - set(self.refusals)
        if uncovered or set(self.refusals) & self.states:
            raise ValueError(f"legality must refuse every other live state: {uncovered}")


# Any live leg, ringing included (hangup, client_state_update).
ANY_LIVE = Legality(frozenset({P, R, A, B}))
# (chosen, for every media, queue, SIP and AI command) an answered leg, bridged or not;
# 90034 "Call not answered yet" otherwise (Telnyx's example for "some commands").
ANSWERED = Legality(frozenset({A, B}), {P: _NOT_ANSWERED, R: _NOT_ANSWERED})
# Transfer works before the answer (NOTES §2), not on a leg that is itself still being dialled.
TRANSFERABLE = Legality(
    frozenset({P, A, B}),
    {R: _state_refusal("A leg that is still being dialled can't be transferred.")},
)
ANSWERABLE = Legality(
    frozenset({P}),
    {
        R: _state_refusal("Outgoing calls are answered by the far end, not by the answer command."),
        A: _ALREADY_ANSWERED,
        B: _ALREADY_ANSWERED,
    },
)
REJECTABLE = Legality(
    frozenset({P}),
    {R: _NOT_INCOMING_UNANSWERED, A: _NOT_INCOMING_UNANSWERED, B: _NOT_INCOMING_UNANSWERED},
)

# Commands by the states in which Telnyx accepts them. A command on an ended leg always gets
# 90018; a command missing from a live state's set gets the failure named in REFUSALS. The
# commands' own rows are added by register() from their declarations (emulator/commands/);
# the rows written here are the other calls a command checks.
COMMANDS: dict[str, frozenset[LegState]] = {
    # The other call named in a bridge command's body (pointer /call_control_id), and the same
    # with prevent_double_bridge, which refuses a target that is bridged to another call.
    "bridge_target": frozenset({A, B}),
    "bridge_target_exclusive": frozenset({A}),
    # The call named in a Dial's link_to when the Dial asks to bridge with it (pointer /link_to).
    "dial_link": frozenset({P, R, A, B}),
}

# (command, live state) -> the failure it gets: 90034 where Telnyx wants an answered call,
# otherwise (chosen) 90016 with a reason. A live pair that is in neither COMMANDS nor here gets
# a generic 90016 (tests check there is none).
REFUSALS: dict[tuple[str, LegState], Refusal] = {
    ("bridge_target", P): errors.call_not_answered,
    ("bridge_target", R): errors.call_not_answered,
    ("bridge_target_exclusive", P): errors.call_not_answered,
    ("bridge_target_exclusive", R): errors.call_not_answered,
    ("bridge_target_exclusive", B): _state_refusal(
        "The call to bridge with is already bridged to another call (prevent_double_bridge)."
    ),
}


def register(command: str, legality: Legality) -> None:
    """Add a command's rows to the table (called once per declaration by the registry)."""
    if command in COMMANDS:
        raise ValueError(f"state rules for {command!r} are declared twice")
    COMMANDS[command] = legality.states
    for state, refusal in legality.refusals.items():
        REFUSALS[(command, state)] = refusal


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
    refusal = REFUSALS.get((command, state))
    if refusal is not None:
        raise refusal()
    raise errors.invalid_command_for_state(f"'{command}' is not allowed in state {state.value}.")


def allows(state: LegState, event: LegEvent) -> bool:
    """Whether the table has a transition for this event in this state."""
    return (state, event) in TRANSITIONS
