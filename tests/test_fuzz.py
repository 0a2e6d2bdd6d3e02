"""Fuzzing: schemathesis against a real server's ``/openapi.json``, hypothesis on the engine.

Three layers, each bounded for CI (``FUZZ_EXAMPLES``, default 100 per operation and mode;
``bench/fuzz_long.py`` runs the same tests with more examples and a random seed, see
docs/reliability.md):

1. **Every route of /openapi.json** (admin routes included) with schemathesis-generated
   requests, valid ("positive") and invalid ("negative"): never a 5xx (except the documented
   501 / 10501 of a command declared without an effect), every 4xx in Telnyx's error shape,
   every status and body as the document says. Commands run on a live call most of the time
   (answered when the command needs it), so valid bodies reach the engine rather than stopping
   at "unknown call". Not-emulated commands get fewer examples (``NOT_EMULATED_EXAMPLES``).
2. **The transfer schema**: every body generated from ``schemas/transfer_request.schema.json``
   that the reference validator (python-jsonschema) accepts is accepted (200) on a fresh call,
   and the webhooks it causes are valid; arbitrary JSON bodies never give a 5xx.
3. **The engine** as a hypothesis state machine: random sequences of calls, commands and time
   never break the call-leg invariants.

Exclusions, on purpose: the ``X-Emulator-Scenario`` header is documented as a string but only
the names of loaded scenarios are accepted (422), so valid cases send a real scenario name; a
``webhook_retries_policies`` list over 60 000 ms in total is refused (422) by a rule JSON Schema
can't express (``x-telnyx-max-total-ms``); and the fuzz server only sends webhooks to
``127.0.0.1:1`` (``--webhook-allow``), so generated URLs are recorded ``blocked``, never requested;
integers beyond ±(2^53-1), which the schemas do not yet bound, are refused by the decoder (10033)
and so left out of the valid cases.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from schemathesis import checks as sc
from schemathesis.generation.modes import GenerationMode

from emulator import openapi
from emulator.bodies import MAX_SAFE_INTEGER
from emulator.commands.registry import Command, commands
from emulator.config import Settings
from emulator.resources import schemas_dir
from emulator.state import LegState

from .harness import Harness
from .preconditions import prepare
from .servers import EmulatorServer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# Unset: the same examples every run (CI must not flake on luck); "random" or an integer: the
# long run's choice (bench/fuzz_long.py).
SEED = os.environ.get("FUZZ_SEED", "")
SCENARIO_HEADER = "X-Emulator-Scenario"
MAX_RETRIES_TOTAL_MS = 60_000


def fuzz_settings(examples: int = EXAMPLES, **extra: Any) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not SEED,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        **extra,
    )


def seeded(test: Any) -> Any:
    return seed(int(SEED))(test) if SEED.isdigit() else test


def is_telnyx_error(payload: Any) -> bool:
    """Telnyx's error envelope: ``{"errors": [{code: str, title: str, detail: str, ...}]}``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("errors"), list):
        return False
    errors = payload["errors"]
    return bool(errors) and all(
        isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("code", "title", "detail"))
        for e in errors
    )


def error_codes(payload: Any) -> set[str]:
    return {e["code"] for e in payload["errors"]} if is_telnyx_error(payload) else set()


# -- 1. schemathesis on every route ----------------------------------------------------------

OPERATIONS = [
    (path, method.upper())
    for path, item in openapi.document()["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
]


def has_inputs(path: str, method: str) -> bool:
    operation = openapi.document()["paths"][path][method.lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


# The command each Call Control operation serves (emulator/commands/).
DECLARED: dict[tuple[str, str], Command] = {(c.http_path, c.method): c for c in commands()}
# Declared commands without an effect answer 501 (code 10501) to every valid request on a live
# call; fewer examples for them keep the suite fast (their validation is the same machinery).
NOT_EMULATED_EXAMPLES = max(3, EXAMPLES // 25)

CASES = [
    pytest.param(path, method, mode, id=f"{method} {path} {mode}")
    for path, method in OPERATIONS
    for mode in ("positive", "negative")
    if mode == "positive" or has_inputs(path, method)
]

# What a valid request may still be refused for, by design (see the module docstring), per
# operation: unknown or ended call ids (90015/90018), call state (90034 not answered, 90016 already
# bridged), and 10015 for the retries total or a body a state rule refuses.
# 90036: a queue that generated bodies filled (enqueue with a small max_size).
STATE_CODES = {"90015", "90018", "90034", "90016", "90036"}
SERVER_CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        # Generated webhook URLs are recorded "blocked": only a closed loopback port is allowed.
        Settings(time_scale=0.001, webhook_allow=("127.0.0.1:1",), seed=1234)
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: EmulatorServer) -> Any:
    """The server's own /openapi.json, with one regex made cheaper to generate from.

    hypothesis builds a regex character class by enumerating every code point of each range; the
    hangup ``reason`` pattern excludes the astral planes (``\\U00010000-\\U0010ffff``, a million
    code points), which costs ~15 s per process before the first example. The same set of
    characters written as a positive BMP-only class generates the same strings in 0.1 s.
    """
    doc = httpx.get(fuzz_server.url + "/openapi.json").json()
    reason = doc["components"]["schemas"]["hangup_request"]["properties"]["reason"]
    assert reason["pattern"] == '^[^"`\\x00-\\x1f\\x7f\U00010000-\U0010ffff]*$'
    reason["pattern"] = "^[ !#-_a-~\\x80-\\uffff]*$"
    return schemathesis.openapi.from_dict(doc)


@pytest.fixture(scope="module")
def fuzz_stats() -> Iterator[dict[str, Counter[int]]]:
    stats: dict[str, Counter[int]] = defaultdict(Counter)
    yield stats
    total = sum(sum(c.values()) for c in stats.values())
    print(f"\nfuzzed {total} requests over {len(stats)} operation/mode pairs")


def test_served_document_is_the_one_fuzzed(fuzz_server: EmulatorServer) -> None:
    assert httpx.get(fuzz_server.url + "/openapi.json").json() == openapi.document()
    assert {(p, m) for p, m in OPERATIONS} == {
        (p, m.upper()) for p, item in openapi.document()["paths"].items() for m in item
    }


# Commands that act on something running: a live call gets it started first (with the body
# that starts it), so valid bodies reach the effect.
STARTED_FIRST: dict[str, tuple[str, dict[str, Any]]] = {
    "fork_stop": ("fork_start", {}),
    "siprec_stop": ("siprec_start", {}),
    "ai_assistant_stop": ("ai_assistant_start", {}),
    "ai_assistant_add_messages": ("ai_assistant_start", {}),
    "conversation_relay_stop": ("conversation_relay_start", {"url": "wss://relay.example/ws"}),
}
# Valid bodies that cannot succeed on a fuzzed call, tested in tests/test_streaming*.py and
# tests/test_ai.py instead: a stream needs a ws:// URL the fuzzer rarely writes (and the stream
# stops at once: the server may not connect anywhere but 127.0.0.1:1), and a join needs a
# running conversation's ID.
NO_SUCCESS_EXPECTED = {"streaming_start", "streaming_stop", "ai_assistant_join"}
# Options answered 501 "not emulated" (docs/streaming.md).
NOT_EMULATED_OPTIONS = ("enable_dialogflow", "stream_establish_before_call_originate")


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_schemathesis(
    fuzz_server: EmulatorServer,
    api_schema: Any,
    fuzz_stats: dict[str, Counter[int]],
    path: str,
    method: str,
    mode: str,
) -> None:
    operation = api_schema[path][method]
    positive = mode == "positive"
    scenarios = sorted(s.name for s in fuzz_server.api.scenarios)
    stats = fuzz_stats[f"{method} {path} {mode}"]
    refused: Counter[str] = Counter()
    # Each operation has an API key (tenant) of its own: PUT /_emulator/faults may switch on
    # command faults (injected 500s) for its key, and inspection reads stay small.
    auth = {"Authorization": f"Bearer KEY_FUZZ_{OPERATIONS.index((path, method))}"}
    http = httpx.Client(base_url=fuzz_server.url, headers=auth)
    declared = DECLARED.get((path, method))
    not_emulated = declared is not None and not declared.emulated
    # Commands that need an answered call get one (else every valid body would get 90034).
    needs_answer = declared is not None and LegState.PARKED not in declared.legal.states
    # An emulated command with options not emulated yet (record_start's transcription): 501.
    partly = declared is not None and bool(declared.not_emulated_options)
    checks = [
        c for c in SERVER_CHECKS if not ((not_emulated or partly) and c is sc.not_a_server_error)
    ]

    def live_call(answered: bool = False) -> str:
        r = http.post(
            "/_emulator/calls",
            json={"from": "+12125550199", "to": "+13125550100"},  # webhooks: not_sent
        )
        assert r.status_code == 201, r.text
        ccid = str(r.json()["data"]["call_control_id"])
        if answered:
            assert http.post(f"/v2/calls/{ccid}/actions/answer", json={}).status_code == 200
            if declared is not None:
                ccid = prepare(declared, ccid, http)
        return ccid

    @seeded
    @fuzz_settings(NOT_EMULATED_EXAMPLES if not_emulated else EXAMPLES)
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode(mode)),
        live=st.booleans() | st.just(True),
        scenario=st.sampled_from(scenarios),
    )
    def run(case: Any, live: bool, scenario: str) -> None:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if positive:
            assume(exact_integers(case.body))  # beyond 2^53: the decoder's 10033, by design
        body = case.body if isinstance(case.body, dict) else {}
        assume(not any(body.get(option) is True for option in NOT_EMULATED_OPTIONS))
        if positive and SCENARIO_HEADER in headers:
            headers[SCENARIO_HEADER] = scenario  # documented as a string; must name a scenario
        case.headers = {**headers, **auth}
        # With few examples, a not-emulated command always gets a live call (its unknown-call
        # answer is tested in tests/test_sdk_surface.py), so its 501 is reached.
        if (
            positive
            and (live or not_emulated)
            and "call_control_id" in (case.path_parameters or {})
        ):
            bridge = path.endswith("/bridge") and isinstance(case.body, dict)
            ccid = live_call(answered=bridge or needs_answer)
            case.path_parameters["call_control_id"] = ccid
            if declared is not None and declared.name in STARTED_FIRST:
                first, first_body = STARTED_FIRST[declared.name]
                r = http.post(f"/v2/calls/{ccid}/actions/{first}", json=first_body)
                assert r.status_code == 200, r.text
            if bridge:
                case.body["call_control_id"] = live_call(answered=True)  # a call it can join
        response = case.call(base_url=fuzz_server.url)
        stats[response.status_code] += 1
        if (not_emulated or partly) and response.status_code == 501:
            assert error_codes(response.json()) == {"10501"}, response.text
        else:
            assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert is_telnyx_error(response.json()), response.text
            refused.update(error_codes(response.json()))
        case.validate_response(response, checks=checks)

    try:
        run()
    finally:
        http.close()
    if positive and path.startswith("/v2/calls"):
        # Valid requests got through to the engine, and were refused only for state reasons
        # (or, for a declared command without an effect, answered "not emulated").
        if declared is None or declared.name not in NO_SUCCESS_EXPECTED:
            assert stats[501 if not_emulated else 200] > 0, dict(stats)
        assert set(refused) <= STATE_CODES | {"10015", "10501"}, refused


# -- 2. the transfer schema, with the reference validator as the oracle ----------------------

TRANSFER_SCHEMA = json.loads((schemas_dir() / "transfer_request.schema.json").read_text())
REFERENCE = jsonschema.Draft202012Validator(
    TRANSFER_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def _body_strategy(schema: dict[str, Any]) -> Any:
    """Bodies generated from a JSON Schema file, by schemathesis's generator (the one it uses
    for request bodies; hypothesis-jsonschema 0.23 no longer runs on current hypothesis)."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "body", "version": "1"},
        "paths": {
            "/body": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": copy.deepcopy(schema)}},
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(doc)["/body"]["POST"]
    return operation.as_strategy().map(lambda case: case.body)


TRANSFER_BODIES = _body_strategy(TRANSFER_SCHEMA)


def exact_integers(value: Any) -> bool:
    """No integer beyond ±(2^53-1) anywhere in ``value``: the decoder refuses those (RFC 7493,
    emulator/bodies.py) while the command schemas, until they get Telnyx's int32 ranges, still
    say "integer" without bounds."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(exact_integers(v) for v in value.values())
    if isinstance(value, list):
        return all(exact_integers(v) for v in value)
    return True


def _retries_within_limit(body: dict[str, Any]) -> bool:
    policies = body.get("webhook_retries_policies") or {}
    return all(
        sum(p.get("retries_ms") or []) <= MAX_RETRIES_TOTAL_MS
        for p in policies.values()
        if isinstance(p, dict)
    )


@seeded
@fuzz_settings(examples=EXAMPLES * 2)
@given(body=TRANSFER_BODIES)
def test_every_valid_transfer_body_is_accepted(body: dict[str, Any]) -> None:
    REFERENCE.validate(body)  # the generator keeps to the schema file
    assume(_retries_within_limit(body))  # x-telnyx-max-total-ms: not expressible in JSON Schema
    assume(exact_integers(body))  # I-JSON's range, enforced by the decoder (emulator/bodies.py)
    h = Harness()  # in-process: the generated webhook URLs are never requested
    a = h.inbound()
    r = h.request("POST", f"/v2/calls/{a}/actions/transfer", body)
    assert r.status == 200, r.payload
    # Every webhook the transfer causes is valid against its schema (Harness.run checks each).
    sent = h.run(60)
    assert any(s.event_type == "call.initiated" and s.ccid != a for s in sent)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=20,
)
# Real field names, so arbitrary values land on the validators rather than on unknown keys.
FIELDS = sorted(TRANSFER_SCHEMA["properties"])
BODIES = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=8)
COMMANDS = [
    ("POST", "/v2/calls/{id}/actions/transfer"),
    ("POST", "/v2/calls/{id}/actions/answer"),
    ("POST", "/v2/calls/{id}/actions/hangup"),
    ("POST", "/v2/calls/{id}/actions/reject"),
    ("POST", "/v2/calls/{id}/actions/bridge"),
    ("PUT", "/v2/calls/{id}/actions/client_state_update"),
    ("POST", "/v2/calls"),
    ("POST", "/_emulator/calls"),
    ("PUT", "/_emulator/faults"),
]


@seeded
@fuzz_settings(examples=EXAMPLES * 3)
@given(
    command=st.sampled_from(COMMANDS),
    body=BODIES | JSON,
    raw=st.none() | st.binary(max_size=64),
    live=st.booleans(),
)
def test_arbitrary_bodies_get_telnyx_errors_never_5xx(
    command: tuple[str, str], body: Any, raw: bytes | None, live: bool
) -> None:
    h = Harness()
    ccid = h.inbound() if live else "v3:unknown"
    method, path = command
    path = path.format(id=ccid)
    if raw is None:
        r = h.request(method, path, body)
    else:  # not even JSON
        from emulator.api import ApiRequest

        headers = {"authorization": f"Bearer {h.key}", "content-type": "application/json"}
        r = h.api.handle(ApiRequest(method, path, headers, raw))
    assert r.status < 500, r.payload
    if r.status >= 400:
        assert is_telnyx_error(r.payload), r.payload
    json.dumps(r.payload)  # always serialisable
    h.run(60)


# -- 3. the engine as a state machine ------------------------------------------------------------

NUMBERS = [f"+1312555010{i}" for i in range(7)] + ["+16465550101", "sip:bob@example.com"]


class EngineMachine(RuleBasedStateMachine):
    """Random calls, transfers, answers, hang-ups, bridges and time on one tenant."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(time_scale=1.0)
        self.ids: list[str] = []

    def _post(self, path: str, body: dict[str, Any]) -> None:
        r = self.h.request("POST", path, body)
        assert r.status < 500, r.payload
        if r.status >= 400:
            assert is_telnyx_error(r.payload), r.payload
            assert error_codes(r.payload) <= STATE_CODES | {"10015", "10011"}, r.payload

    def _legs(self) -> list[Any]:
        return (
            list(self.h.api.tenants[self.h.key].calls) if self.h.key in self.h.api.tenants else []
        )

    @rule()
    def inbound(self) -> None:
        self.ids.append(self.h.inbound())

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), to=st.sampled_from(NUMBERS), command_id=st.sampled_from([None, "c1"]))
    def transfer(self, data: st.DataObject, to: str, command_id: str | None) -> None:
        ccid = data.draw(st.sampled_from(self.ids))
        body: dict[str, Any] = {"to": to, "timeout_secs": 5}
        if command_id:
            body["command_id"] = command_id
        self._post(f"/v2/calls/{ccid}/actions/transfer", body)
        self.ids = [leg.call_control_id for leg in self._legs()]

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), action=st.sampled_from(["answer", "hangup", "reject"]))
    def act(self, data: st.DataObject, action: str) -> None:
        ccid = data.draw(st.sampled_from(self.ids))
        body = {"cause": "USER_BUSY"} if action == "reject" else {}
        self._post(f"/v2/calls/{ccid}/actions/{action}", body)

    @precondition(lambda self: len(self.ids) >= 2)
    @rule(data=st.data())
    def bridge(self, data: st.DataObject) -> None:
        a, b = data.draw(st.lists(st.sampled_from(self.ids), min_size=2, max_size=2, unique=True))
        self._post(f"/v2/calls/{a}/actions/bridge", {"call_control_id": b})

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0, 12.0, 40.0]))
    def advance(self, seconds: float) -> None:
        self.h.run(seconds)

    @invariant()
    def legs_are_consistent(self) -> None:
        for leg in self._legs():
            if leg.peer is not None:
                assert leg.peer.peer is leg, "bridges are symmetric"
                assert leg.alive and leg.peer.alive
                assert leg.state is LegState.BRIDGED and leg.peer.state is LegState.BRIDGED
            if not leg.alive:
                assert leg.hangup_cause and leg.ended_at is not None

    @invariant()
    def one_hangup_per_leg(self) -> None:
        hangups = Counter(
            s.ccid for s in self.h.sent if s.event_type == "call.hangup" and s.attempt.number == 1
        )
        assert all(n == 1 for n in hangups.values()), hangups


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = fuzz_settings(examples=EXAMPLES, stateful_step_count=30)
