"""Queues: enqueue/leave_queue over the official SDK against a real server and receiver (every
webhook validated against its schema), client.queues, and the in-process path for the timing
rules (max_wait_time_secs, hangup, bridge, keep_after_hangup, a full queue)."""

from __future__ import annotations

import pytest
import telnyx

from .harness import Harness, assert_valid_webhook
from .servers import EmulatorServer, Receiver
from .test_webhooks_e2e import inbound


def test_positions_shift_when_a_call_leaves(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    calls = []
    for i in range(3):
        ccid = inbound(emulator, receiver, path=f"/q{i}")
        client.calls.actions.answer(ccid)
        client.calls.actions.enqueue(ccid, queue_name="support", client_state="cQ==")
        calls.append(ccid)
    got = receiver.wait_for(lambda rs: sum(r.event_type == "call.enqueued" for r in rs) == 3)
    enqueued = {r.payload["call_control_id"]: r.payload for r in got
                if r.event_type == "call.enqueued"}  # fmt: skip
    assert [enqueued[c]["current_position"] for c in calls] == [1, 2, 3]
    assert enqueued[calls[0]]["queue"] == "support"

    client.calls.actions.leave_queue(calls[0])
    got = receiver.wait_for(lambda rs: any(r.event_type == "call.dequeued" for r in rs))
    [left] = [r.payload for r in got if r.event_type == "call.dequeued"]
    assert left["reason"] == "leave" and left["queue_position"] == 1
    for r in receiver.requests:
        assert_valid_webhook(r.json)

    queue = client.queues.retrieve("support").data
    assert queue is not None and queue.current_size == 2 and queue.max_size == 100
    assert [q.name for q in client.queues.list()] == ["support"]
    waiting = list(client.queues.calls.list("support"))
    assert [(c.call_control_id, c.queue_position) for c in waiting] == [
        (calls[1], 1),
        (calls[2], 2),
    ]
    one = client.queues.calls.retrieve(calls[2], queue_name="support").data
    assert one is not None and one.queue_position == 2 and one.is_alive
    with pytest.raises(telnyx.NotFoundError):
        client.queues.retrieve("nope")


def _queued(h: Harness, name: str = "q", **extra: object) -> str:
    ccid = h.inbound()
    assert h.request("POST", f"/v2/calls/{ccid}/actions/answer", {}).status == 200
    r = h.request("POST", f"/v2/calls/{ccid}/actions/enqueue", {"queue_name": name, **extra})
    assert r.status == 200, r.payload
    return ccid


def _dequeued(h: Harness, ccid: str) -> dict[str, object]:
    [s] = [s for s in h.sent if s.event_type == "call.dequeued" and s.ccid == ccid]
    return s.payload


def test_wait_time_expiry_dequeues_with_reason_timeout() -> None:
    h = Harness()
    ccid = _queued(h, max_wait_time_secs=30)
    h.run(29)
    assert "call.dequeued" not in h.events(ccid)
    h.run(2)
    p = _dequeued(h, ccid)
    assert p["reason"] == "timeout" and p["wait_time_secs"] == 30
    # The call stays up: the app decides what comes next.
    assert h.request("GET", f"/v2/calls/{ccid}").payload["data"]["is_alive"] is True


def test_hangup_dequeues_before_call_hangup_and_the_others_move_up() -> None:
    h = Harness()
    first, second = _queued(h), _queued(h)
    h.request("POST", f"/v2/calls/{first}/actions/hangup", {})
    h.run(1)
    assert h.events(first)[-2:] == ["call.dequeued", "call.hangup"]
    assert _dequeued(h, first)["reason"] == "hangup"
    calls = h.request("GET", "/v2/queues/q/calls").payload["data"]
    assert [(c["call_control_id"], c["queue_position"]) for c in calls] == [(second, 1)]


def test_bridge_dequeues_with_reason_bridged() -> None:
    h = Harness()
    queued = _queued(h)
    agent = h.inbound()
    h.request("POST", f"/v2/calls/{agent}/actions/answer", {})
    r = h.request("POST", f"/v2/calls/{agent}/actions/bridge", {"call_control_id": queued})
    assert r.status == 200
    h.run(1)
    assert _dequeued(h, queued)["reason"] == "bridged"
    assert h.request("GET", "/v2/queues/q").payload["data"]["current_size"] == 0


def test_transfer_of_a_queued_call_dequeues_when_leg_b_answers() -> None:
    h = Harness()
    queued = _queued(h)
    h.transfer(queued, to="+13125550100")
    h.run(30)
    events = h.events(queued)
    assert events.index("call.dequeued") < events.index("call.bridged")
    assert _dequeued(h, queued)["reason"] == "bridged"


def test_a_full_queue_answers_90036_and_max_size_is_fixed_once_created() -> None:
    h = Harness()
    _queued(h, max_size=1)
    ccid = h.inbound()
    h.request("POST", f"/v2/calls/{ccid}/actions/answer", {})
    body = {"queue_name": "q", "max_size": 50}
    r = h.request("POST", f"/v2/calls/{ccid}/actions/enqueue", body)
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90036"
    assert "call.enqueued" not in h.events(ccid)


def test_enqueue_twice_and_leave_when_not_queued_are_refused() -> None:
    h = Harness()
    ccid = _queued(h)
    again = h.request("POST", f"/v2/calls/{ccid}/actions/enqueue", {"queue_name": "other"})
    assert again.status == 422 and again.payload["errors"][0]["code"] == "90016"
    other = h.inbound()
    h.request("POST", f"/v2/calls/{other}/actions/answer", {})
    r = h.request("POST", f"/v2/calls/{other}/actions/leave_queue", {})
    assert r.status == 422 and r.payload["errors"][0]["code"] == "90016"


def test_keep_after_hangup_keeps_the_ended_call_until_removed() -> None:
    h = Harness()
    ccid = _queued(h, keep_after_hangup=True)
    h.request("POST", f"/v2/calls/{ccid}/actions/hangup", {})
    h.run(1)
    assert "call.dequeued" not in h.events(ccid)
    [kept] = h.request("GET", "/v2/queues/q/calls").payload["data"]
    assert kept["call_control_id"] == ccid and kept["is_alive"] is False
    assert h.request("DELETE", f"/v2/queues/q/calls/{ccid}").status == 204
    assert h.request("GET", "/v2/queues/q/calls").payload["data"] == []


def test_queues_api_create_update_delete() -> None:
    h = Harness()
    r = h.request("POST", "/v2/queues", {"queue_name": "sales"})
    assert r.status == 200 and r.payload["data"]["max_size"] == 300
    r = h.request("POST", "/v2/queues/sales", {"max_size": 5})
    assert r.payload["data"]["max_size"] == 5
    _queued(h, "sales")
    assert h.request("DELETE", "/v2/queues/sales").status == 422  # a call waits in it
    page = h.request("GET", "/v2/queues", None).payload
    assert page["meta"]["total_results"] == 1
