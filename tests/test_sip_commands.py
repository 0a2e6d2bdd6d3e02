"""refer (per scenario), send_sip_info, noise suppression and switch_supervisor_role: over the
SDK against a real server and receiver, and in-process for the scenario-driven outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
import telnyx

from emulator.scenarios import ScenarioBook, ScenarioError

from .harness import Harness, assert_valid_webhook
from .servers import EmulatorServer, Receiver
from .test_webhooks_e2e import inbound

FAILING_REFER = """\
name: refer-declined
match:
  to: ['sip:busy@.*']
refer:
  outcome: failed
  sip_code: 486
  after_secs: 3
"""


def test_refer_completes_then_the_far_end_hangs_up(
    emulator: EmulatorServer, receiver: Receiver, client: telnyx.Telnyx
) -> None:
    ccid = inbound(emulator, receiver)
    client.calls.actions.answer(ccid)
    client.calls.actions.refer(ccid, sip_address="sip:agent@pbx.example.com", client_state="cg==")
    got = receiver.wait_for(lambda rs: any(r.event_type == "call.hangup" for r in rs))
    events = [r.event_type for r in got]
    assert events[-3:] == ["call.refer.started", "call.refer.completed", "call.hangup"]
    by_type = {r.event_type: r.payload for r in got}
    assert by_type["call.refer.started"]["sip_notify_response"] == 100
    assert by_type["call.refer.completed"]["sip_notify_response"] == 200
    assert by_type["call.refer.completed"]["client_state"] == "cg=="
    assert by_type["call.hangup"]["hangup_cause"] == "normal_clearing"
    assert by_type["call.hangup"]["hangup_source"] == "caller"  # the far end of an inbound leg
    for r in got:
        assert_valid_webhook(r.json)


def test_a_scenario_makes_the_refer_fail_and_the_call_stays(tmp_path: Path) -> None:
    (tmp_path / "refer.yaml").write_text(FAILING_REFER)
    h = Harness(scenario_dirs=(tmp_path,))
    ccid = h.inbound()
    h.request("POST", f"/v2/calls/{ccid}/actions/answer", {})
    r = h.request("POST", f"/v2/calls/{ccid}/actions/refer", {"sip_address": "sip:busy@pbx"})
    assert r.status == 200
    h.run(2.5)
    assert h.events(ccid)[-1] == "call.refer.started"
    h.run(1)
    assert h.events(ccid)[-1] == "call.refer.failed"
    assert h.sent[-1].payload["sip_notify_response"] == 486
    assert h.request("GET", f"/v2/calls/{ccid}").payload["data"]["is_alive"] is True


def test_refer_scenario_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(FAILING_REFER.replace("486", "999"))
    with pytest.raises(ScenarioError) as info:
        ScenarioBook.load((tmp_path,))
    [problem] = info.value.problems
    assert problem.line == 6 and "sip_code" in str(problem)


def test_send_sip_info_is_accepted_journaled_and_sends_nothing() -> None:
    h = Harness()
    ccid = h.inbound()
    h.request("POST", f"/v2/calls/{ccid}/actions/answer", {})
    h.run(1)
    before = len(h.sent)
    body = {"content_type": "application/json", "body": '{"a": 1}'}
    assert h.request("POST", f"/v2/calls/{ccid}/actions/send_sip_info", body).status == 200
    h.run(10)
    assert len(h.sent) == before
    [entry] = [e for e in h.request("GET", "/_emulator/commands").payload["data"]
               if e["command"] == "send_sip_info"]  # fmt: skip
    assert entry["result"] == "accepted"


def test_noise_suppression_runs_until_stopped(client: telnyx.Telnyx, emulator: EmulatorServer,
                                              receiver: Receiver) -> None:  # fmt: skip
    ccid = inbound(emulator, receiver)
    client.calls.actions.answer(ccid)
    client.calls.actions.start_noise_suppression(ccid, direction="both")
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.calls.actions.start_noise_suppression(ccid)
    assert info.value.body["errors"][0]["code"] == "90016"  # type: ignore[index]
    client.calls.actions.stop_noise_suppression(ccid)
    with pytest.raises(telnyx.UnprocessableEntityError):
        client.calls.actions.stop_noise_suppression(ccid)


def test_switch_supervisor_role_only_on_a_supervisor_leg() -> None:
    h = Harness()
    agent = h.inbound()
    h.request("POST", f"/v2/calls/{agent}/actions/answer", {})
    refused = h.request(
        "POST", f"/v2/calls/{agent}/actions/switch_supervisor_role", {"role": "barge"}
    )
    assert refused.status == 422 and refused.payload["errors"][0]["code"] == "90016"
    r = h.request(
        "POST",
        "/v2/calls",
        {"connection_id": "1234567890", "from": "+12125550199", "to": "+13125550100",
         "webhook_url": "http://app/s", "supervise_call_control_id": agent},
    )  # fmt: skip
    supervisor = r.payload["data"]["call_control_id"]
    h.run(5)
    r = h.request(
        "POST", f"/v2/calls/{supervisor}/actions/switch_supervisor_role", {"role": "whisper"}
    )
    assert r.status == 200
    leg = h.api.tenant(h.key).calls.get(supervisor)
    assert leg is not None and leg.supervisor_role == "whisper"
