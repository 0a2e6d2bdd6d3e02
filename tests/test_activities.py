"""The activity model (emulator/activities.py) through the engine's primitives, in virtual time:
planned ends, stops, replacement and refusal by the conflict table, and the leg's end stopping
every activity before its call.hangup."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.activities import (
    CONFLICTS,
    REFUSALS,
    Activity,
    ActivityKind,
    Conflict,
    EndReason,
)
from emulator.calls import Leg
from emulator.engine import Engine
from emulator.errors import ApiFailure

from .harness import Harness

K = ActivityKind


# How a family maps the reason to its webhook's status (call.playback.ended's enum).
PLAYBACK_STATUS = {
    EndReason.COMPLETED: "completed",
    EndReason.STOPPED: "cancelled",
    EndReason.REPLACED: "cancelled",
    EndReason.CALL_ENDED: "call_hangup",
}


class Ends:
    """An on_end callback that records (kind, reason, emulated time) and emits a webhook, as a
    family's callback would (call.playback.ended here, whatever the kind)."""

    def __init__(self, h: Harness, engine: Engine, leg: Leg) -> None:
        self.h, self.engine, self.leg = h, engine, leg
        self.seen: list[tuple[str, str, float]] = []

    def __call__(self, activity: Activity, reason: EndReason) -> None:
        assert activity.ended_at is not None
        self.seen.append(
            (activity.kind.value, reason.value, activity.ended_at - activity.started_at)
        )
        payload: dict[str, Any] = {
            "call_control_id": self.leg.call_control_id,
            "status": PLAYBACK_STATUS[reason],
        }
        self.engine.emit(self.leg, "call.playback.ended", payload)


@pytest.fixture
def setup() -> tuple[Harness, Engine, Leg, Ends]:
    h = Harness()
    ccid = h.inbound()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    engine = h.api.tenant(h.key)
    leg = engine.leg(ccid)
    return h, engine, leg, Ends(h, engine, leg)


def test_an_activity_ends_at_its_planned_time(setup: tuple[Harness, Engine, Leg, Ends]) -> None:
    h, engine, leg, ends = setup
    activity = engine.start_activity(leg, K.PLAYBACK, ends, secs=5)
    h.run(4.9)
    assert ends.seen == [] and activity.running
    h.run(0.2)
    assert ends.seen == [("playback", "completed", 5.0)]
    assert not activity.running and leg.activities is not None and len(leg.activities) == 0


def test_a_stop_ends_it_early_and_cancels_the_planned_end(
    setup: tuple[Harness, Engine, Leg, Ends],
) -> None:
    h, engine, leg, ends = setup
    engine.start_activity(leg, K.RECORDING, ends, secs=60)
    h.run(2)
    stopped = engine.stop_activity(leg, K.RECORDING)
    assert stopped is not None and ends.seen == [("recording", "stopped", 2.0)]
    h.run(120)
    assert len(ends.seen) == 1  # the planned end never fires
    assert engine.stop_activity(leg, K.RECORDING) is None  # nothing left to stop


def test_a_new_prompt_replaces_the_one_playing(setup: tuple[Harness, Engine, Leg, Ends]) -> None:
    h, engine, leg, ends = setup
    engine.start_activity(leg, K.PLAYBACK, ends, secs=10)
    engine.start_activity(leg, K.RECORDING, ends)  # runs beside both
    h.run(3)
    speak = engine.start_activity(leg, K.SPEAK, ends, secs=4)
    assert ends.seen == [("playback", "replaced", 3.0)]
    assert leg.activities is not None
    assert [a.kind for a in leg.activities] == [K.RECORDING, K.SPEAK]
    h.run(20)
    assert ends.seen[1:] == [("speak", "completed", 4.0)] and not speak.running


def test_a_refused_start_changes_nothing(setup: tuple[Harness, Engine, Leg, Ends]) -> None:
    _, engine, leg, ends = setup
    engine.start_activity(leg, K.PLAYBACK, ends)
    engine.start_activity(leg, K.AI_ASSISTANT, ends)
    with pytest.raises(ApiFailure) as info:
        engine.start_activity(leg, K.AI_ASSISTANT, ends)
    assert info.value.status == 422 and info.value.errors[0].code == "90061"
    with pytest.raises(ApiFailure) as info:
        engine.start_activity(leg, K.CONVERSATION_RELAY, ends)
    assert info.value.errors[0].code == "90016"
    assert ends.seen == [] and leg.activities is not None and len(leg.activities) == 2


def test_the_leg_ending_stops_every_activity_before_call_hangup(
    setup: tuple[Harness, Engine, Leg, Ends],
) -> None:
    h, engine, leg, ends = setup
    engine.start_activity(leg, K.PLAYBACK, ends, secs=30)
    engine.start_activity(leg, K.STREAMING, ends)
    h.run(1)
    r = h.request("POST", f"/v2/calls/{leg.call_control_id}/actions/hangup", {})
    assert r.status == 200
    assert [(k, why) for k, why, _ in ends.seen] == [
        ("playback", "call_ended"),
        ("streaming", "call_ended"),
    ]
    h.run(60)
    assert h.events(leg.call_control_id)[-3:] == [
        "call.playback.ended",
        "call.playback.ended",
        "call.hangup",
    ]
    assert len(ends.seen) == 2  # the playback's planned end never fires


def test_an_activity_ends_once_even_if_stopped_again(
    setup: tuple[Harness, Engine, Leg, Ends],
) -> None:
    h, engine, leg, ends = setup
    activity = engine.start_activity(leg, K.FORK, ends)
    activity.end(EndReason.STOPPED, h.clock.now())
    activity.end(EndReason.CALL_ENDED, h.clock.now())
    assert [why for _, why, _ in ends.seen] == ["stopped"]


def test_the_conflict_table_is_complete() -> None:
    refused = {new for (new, _), c in CONFLICTS.items() if c is Conflict.REFUSE}
    assert refused <= set(REFUSALS)  # every refusal has its error
    audio = {K.PLAYBACK, K.SPEAK, K.AI_GATHER, K.PAYMENT}
    assert all(CONFLICTS[(a, b)] is Conflict.REPLACE for a in audio for b in audio)
    # A DTMF gather is not audio: a prompt leaves it listening, a new gather replaces it.
    assert (K.SPEAK, K.GATHER) not in CONFLICTS and (K.GATHER, K.PLAYBACK) not in CONFLICTS
    assert CONFLICTS[(K.GATHER, K.GATHER)] is Conflict.REPLACE
