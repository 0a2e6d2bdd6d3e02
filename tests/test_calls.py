"""The call store's archive of ended legs, and the cheap timestamp and ID builders."""

from __future__ import annotations

import gc
import math
import random
import re
import uuid
from datetime import datetime, timezone

from emulator.calls import Leg, iso
from emulator.ids import IdFactory

from .harness import Harness


def test_an_ended_leg_reads_the_same_after_it_is_archived() -> None:
    h = Harness()
    a = h.inbound(client_state="YQ==")
    h.transfer(a, to="+13125550106")  # short_call: B answers, talks, hangs up; A follows
    engine = h.api.tenant("KEY")
    live = {leg.call_control_id: leg.summary(h.clock.now()) for leg in engine.calls}
    h.run(60)
    after = {
        leg["call_control_id"]: leg for leg in h.request("GET", "/_emulator/calls").payload["data"]
    }
    assert set(after) == set(live) and len(after) == 2
    for ccid, leg in after.items():
        assert leg["is_alive"] is False and leg["state"] == "hangup"
        assert leg["end_time"] and leg["hangup_cause"]
        # What was known while live is still reported: IDs, parties, parent, scenario, URL.
        for key in (
            "call_leg_id",
            "call_session_id",
            "from",
            "to",
            "parent_call_control_id",
            "scenario",
            "webhook_url",
            "client_state",
            "start_time",
            "direction",
        ):
            assert leg[key] == live[ccid][key], key
        status = h.request("GET", f"/v2/calls/{ccid}").payload["data"]
        assert status["is_alive"] is False and status["end_time"] == leg["end_time"]
    b = next(ccid for ccid, leg in after.items() if leg["parent_call_control_id"])
    assert after[b]["parent_call_control_id"] == a and after[b]["scenario"] == "short_call"
    # Stored as a flat record of strings and numbers, which the cyclic GC does not track.
    record = engine.calls._legs[a]
    assert type(record) is tuple
    gc.collect()
    assert not gc.is_tracked(record)
    assert isinstance(engine.calls.get(a), Leg) and engine.calls.get(a).hangup_cause  # type: ignore[union-attr]


def test_commands_on_an_archived_leg_are_refused_as_on_an_ended_one() -> None:
    h = Harness()
    a = h.inbound()
    h.request("POST", f"/v2/calls/{a}/actions/hangup", {})
    h.run(5)
    r = h.request("POST", f"/v2/calls/{a}/actions/transfer", {"to": "+13125550100"})
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90018"


def test_archived_legs_expire_in_the_order_they_ended() -> None:
    h = Harness(retention_secs=10)
    first = h.inbound()
    second = h.inbound()
    h.request("POST", f"/v2/calls/{second}/actions/hangup", {})
    h.clock.advance(5)
    h.request("POST", f"/v2/calls/{first}/actions/hangup", {})
    h.clock.advance(6)  # second ended 11 s ago, first 6 s ago
    assert h.request("GET", f"/v2/calls/{second}").status == 422
    assert h.request("GET", f"/v2/calls/{first}").status == 200
    h.clock.advance(5)
    assert h.request("GET", f"/v2/calls/{first}").status == 422


def test_iso_matches_datetime_to_the_microsecond() -> None:
    rng = random.Random(5)
    values = [rng.uniform(0, 4e9) for _ in range(20_000)]
    values += [1_800_000_000 + k / 1e6 + 5e-7 for k in range(-500, 500)]  # ties round to even
    values += [math.nextafter(v, 0) for v in values[:2000]] + [1_800_000_000.9999995, 0.0]
    for ts in values:
        expected = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert iso(ts) == expected, ts


def test_ids_have_telnyx_shapes_and_follow_the_seed() -> None:
    ids = IdFactory(9)
    for _ in range(200):
        assert re.fullmatch(r"v3:[A-Za-z0-9_-]{54}", ids.call_control_id())
        leg = uuid.UUID(ids.leg_uuid())
        assert leg.version == 1 and leg.variant == uuid.RFC_4122 and leg.node & 0x010000000000
        event = uuid.UUID(ids.event_id())
        assert event.version == 4 and event.variant == uuid.RFC_4122
        assert re.fullmatch(r"\d{19}", ids.connection_id())
    one, two = IdFactory(3), IdFactory(3)
    assert [one.call_control_id() for _ in range(3)] == [two.call_control_id() for _ in range(3)]
    assert IdFactory(4).call_control_id() != IdFactory(3).call_control_id()
