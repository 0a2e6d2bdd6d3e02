"""The whole Call Control surface, checked against the official SDK, command by command.

Parametrised over the registry (emulator/commands/), so a new declaration is covered by
construction:

- every request schema has exactly the fields of the SDK's params ``TypedDict``
  (``telnyx.types.calls.action_*_params``, ``telnyx.types.call_dial_params``), recursively into
  nested ``TypedDict`` s, and the same ``Literal`` values as its enums: an SDK upgrade that adds
  a field or a value fails here (intentional differences are listed in ``EXCEPTIONS``);
- the SDK drives every endpoint of a real server: a valid request on a live call gets the
  success body (or 501 / 10501 for a command without an effect), an invalid body 422, an
  unknown call 90015, an ended call 90018, a call in the wrong state its documented refusal;
- the SDK's own request, with every parameter filled (values built from the ``TypedDict``
  and the schema), is accepted.
"""

from __future__ import annotations

import collections.abc as cabc
import importlib
import itertools
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin
from typing import get_type_hints as type_hints

import httpx
import jsonschema
import pytest
import telnyx
from typing_extensions import is_typeddict

from emulator.commands.registry import Command, commands
from emulator.config import Settings
from emulator.resources import load_schema
from emulator.state import REFUSALS, LegState

from .preconditions import prepare
from .servers import EmulatorServer, StreamReceiver

API_KEY = "KEY_SURFACE"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
COMMANDS = commands()
WITH_BODY = [c for c in COMMANDS if c.scope != "read"]
ON_A_CALL = [c for c in COMMANDS if c.scope != "account"]

# (command, dotted field) -> why the schema and the SDK differ on purpose.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # The SDK types preferred_codecs as one Literal string (its docs' example list); the schema
    # accepts any comma-separated codec list, as Telnyx documents it.
    ("answer", "preferred_codecs"): "enum",
    # The spec has them, the (newer) SDK dropped them: still accepted, as Telnyx's spec says.
    ("ai_assistant_start", ""): "fields voice, voice_settings",
}

# -- reading the SDK's TypedDicts ------------------------------------------------------------


def sdk_params(command: Command) -> Any:
    if command.name == "dial":
        return importlib.import_module("telnyx.types.call_dial_params").CallDialParams
    method = command.sdk.rsplit(".", 1)[1]
    module = importlib.import_module(f"telnyx.types.calls.action_{method}_params")
    wanted = f"action{method.replace('_', '')}params"
    return next(v for k, v in vars(module).items() if k.lower() == wanted)


def _unwrap(t: Any) -> Any:
    while get_origin(t) in (Required, NotRequired, Annotated):
        t = get_args(t)[0]
    return t


def _wire_name(t: Any, name: str) -> str:
    """The JSON name of a field: PropertyInfo(alias=...) in Annotated, else the Python name."""
    while get_origin(t) in (Required, NotRequired, Annotated):
        if get_origin(t) is Annotated:
            for meta in get_args(t)[1:]:
                alias = getattr(meta, "alias", None)
                if alias:
                    return str(alias)
        t = get_args(t)[0]
    return name


def _fields(cls: Any) -> dict[str, tuple[str, Any]]:
    """wire name -> (Python name, annotation)."""
    return {_wire_name(t, n): (n, t) for n, t in type_hints(cls, include_extras=True).items()}


def _members(t: Any) -> list[Any]:
    """The alternatives of a type: Union members, list items, the type itself."""
    t = _unwrap(t)
    origin = get_origin(t)
    if origin is Union:
        return [m for a in get_args(t) for m in _members(a)]
    if origin in (list, cabc.Iterable, cabc.Sequence):
        return [m for a in get_args(t) for m in _members(a)]
    return [t]


def _branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node, *node.get("anyOf", []), *node.get("oneOf", [])]
    return out + [b["items"] for b in list(out) if isinstance(b.get("items"), dict)]


def differences(cls: Any, schema: dict[str, Any], where: str = "") -> Iterator[tuple[str, str]]:
    props = schema.get("properties")
    if props is None:
        return
    fields = _fields(cls)
    if set(fields) != set(props):
        sdk_only, schema_only = sorted(set(fields) - set(props)), sorted(set(props) - set(fields))
        yield where, f"fields: SDK only {sdk_only}, schema only {schema_only}"
    for wire, (_, t) in fields.items():
        if wire not in props:
            continue
        here = f"{where}.{wire}".lstrip(".")
        branches = _branches(props[wire])
        literals = {v for m in _members(t) if get_origin(m) is Literal for v in get_args(m)}
        if literals:
            enum = {v for b in branches for v in b.get("enum", ())}
            if literals != enum:
                yield (
                    here,
                    f"enum: SDK only {sorted(literals - enum)}, schema only {enum - literals}",
                )
        nested = [m for m in _members(t) if is_typeddict(m)]
        objects = [b for b in branches if "properties" in b]
        if len(nested) == 1 and len(objects) == 1:
            yield from differences(nested[0], objects[0], here)


@pytest.mark.parametrize("command", WITH_BODY, ids=lambda c: c.name)
def test_schema_has_the_sdk_fields_and_enums(command: Command) -> None:
    found = [
        (where, what)
        for where, what in differences(sdk_params(command), load_schema(command.request_schema))
        if (command.name, where) not in EXCEPTIONS
    ]
    assert found == []


def test_the_comparison_sees_nested_fields_and_aliases() -> None:
    dial = next(c for c in COMMANDS if c.name == "dial")
    schema = load_schema("dial_request")
    assert list(differences(sdk_params(dial), schema)) == []
    trimmed = {**schema, "properties": dict(schema["properties"])}
    amd = dict(trimmed["properties"]["answering_machine_detection_config"])
    amd["properties"] = {k: v for k, v in amd["properties"].items() if k != "silence_threshold"}
    trimmed["properties"]["answering_machine_detection_config"] = amd
    del trimmed["properties"]["from"]  # the SDK's from_, aliased
    found = dict(differences(sdk_params(dial), trimmed))
    assert (
        "['from']" in found[""]
        and "silence_threshold" in found["answering_machine_detection_config"]
    )


def test_every_sdk_endpoint_is_declared() -> None:
    methods = {
        name
        for name in dir(telnyx.Telnyx(api_key="x").calls.actions)
        if not name.startswith("_") and name not in ("with_raw_response", "with_streaming_response")
    }
    declared = {c.sdk.rsplit(".", 1)[1] for c in COMMANDS if ".actions." in c.sdk}
    assert declared == methods
    assert len(COMMANDS) == 43 and {"dial", "retrieve_call"} <= {c.name for c in COMMANDS}


# -- plausible request bodies from the TypedDicts ------------------------------------------

# By wire name: values the generic rules below cannot guess.
SAMPLES: dict[str, Any] = {
    "client_state": "aGk=",
    "target_leg_client_state": "aGk=",
    "to": "+13125550100",
    "from": "+12125550199",
    "connection_id": "1293384261075731461",
    "webhook_url": "https://app.example/hooks",
    "billing_group_id": "f5586561-8ff0-4291-a0ac-84fe544797bd",
    "diversion": "+13125550111",
    "send_digits_on_answer": "123",
    "playback_content": "aGk=",
    "digits": "123#",
    "url": "wss://relay.example/ws",
    "conversation_relay_url": "wss://relay.example/ws",
    "stream_url": "ws://127.0.0.1:1/stream",  # loopback only: refused, streaming.failed
}


def _valid(value: Any, node: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft202012Validator(node).is_valid(value))


def sample(t: Any, node: dict[str, Any], name: str) -> Any:
    t = _unwrap(t)
    origin = get_origin(t)
    if name in SAMPLES:
        return SAMPLES[name]
    default = node.get("default")
    if default not in (None, False, 0, "", [], {}) and _valid(default, node):
        return default
    for example in node.get("examples", ()):
        if _valid(example, node):
            return example
    if origin is Literal:
        enum = node.get("enum")
        values = [v for v in get_args(t) if not enum or v in enum] or list(get_args(t))
        return values[0]
    if origin is Union:
        options = [a for a in get_args(t) if a is not type(None)]
        branches = node.get("anyOf") or node.get("oneOf") or [node]
        for option, branch in itertools.product(options, branches):
            value = sample(option, branch, name)
            if _valid(value, node):
                return value
        return sample(options[0], branches[0], name)
    if is_typeddict(t):
        return {wire: sample(a, node.get("properties", {}).get(wire, {}), wire)
                for wire, (_, a) in _fields(t).items()}  # fmt: skip
    if origin in (list, cabc.Iterable, cabc.Sequence):
        return [sample(get_args(t)[0], node.get("items", {}), name)]
    if origin in (dict, cabc.Mapping):
        return {"key": "value"}
    if t is bool:
        return True
    if t is int:
        low = node.get("minimum", 1)
        return max(low, min(node.get("maximum", low + 10), max(low, 1)))
    if t is float:
        return float(max(node.get("minimum", 0.5), min(node.get("maximum", 1.0), 1.0)))
    return node["enum"][0] if "enum" in node else "x"


_ids = itertools.count()


# Fields of the SDK's request that the emulator refuses on purpose (documented 422s).
REFUSED_FIELDS: dict[str, set[str]] = {
    # docs/commands.md, Bridge: no queues or video rooms to bridge into.
    "bridge": {"queue", "video_room_id", "video_room_context"},
    # docs/commands.md, record_start: the full body's transcription_profanity_filter answers 501
    # (no profanity list); tests/test_recordings.py covers transcription itself.
    "record_start": {"transcription"},
    # The schema's example ID names no recording on the call (tests/test_recordings.py sends
    # the real one).
    "record_stop": {"recording_id"},
    "record_pause": {"recording_id"},
    "record_resume": {"recording_id"},
    # docs/streaming.md: Dialogflow and streams set up before the call are not emulated (501).
    "dial": {"enable_dialogflow", "stream_establish_before_call_originate"},
    "streaming_start": {"enable_dialogflow"},
}


def sdk_request(command: Command, *, full: bool, ids: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for the SDK method: every field (``full``) or the required ones,
    valid against the command's schema (a field excluded by another is left out)."""
    schema = load_schema(command.request_schema)
    required = set(schema.get("required", ()))
    for alternative in schema.get("anyOf", ())[:1]:  # "one of these is required": the first
        required |= set(alternative.get("required", ()))
    body: dict[str, Any] = {}
    python: dict[str, str] = {}
    for wire, (py, t) in _fields(sdk_params(command)).items():
        if wire in REFUSED_FIELDS.get(command.name, ()):
            continue
        if not full and wire not in required and wire not in ids:
            continue
        node = schema["properties"].get(wire, {})
        body[wire] = ids[wire] if wire in ids else sample(t, node, wire)
        python[wire] = py
    if "command_id" in body:
        body["command_id"] = f"cmd-{next(_ids)}"  # dedup must not hide a request
    for error in jsonschema.Draft202012Validator(schema).iter_errors(body):
        where: Any = body
        for part in error.absolute_path:
            where = where[part]
        if error.validator == "not":  # e.g. audio_url with media_name: keep the first
            where.pop(error.validator_value["required"][-1], None)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(body)) == [], body
    return {python[wire]: value for wire, value in body.items()}


# -- driving a real server through the SDK ---------------------------------------------------


@pytest.fixture(scope="module")
def stream_receiver() -> Iterator[StreamReceiver]:
    ws = StreamReceiver().start()
    yield ws
    ws.stop()


@pytest.fixture(scope="module")
def server(stream_receiver: StreamReceiver) -> Iterator[EmulatorServer]:
    # Webhooks (to app.example) are only recorded: nothing leaves 127.0.0.1. Media streams go
    # to the module's WebSocket receiver.
    allow = ("127.0.0.1:1", f"127.0.0.1:{stream_receiver.port}")
    s = EmulatorServer(Settings(time_scale=0.001, webhook_allow=allow)).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> telnyx.Telnyx:
    return telnyx.Telnyx(api_key=API_KEY, base_url=server.base_url, max_retries=0)


@pytest.fixture(scope="module")
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        yield c


@pytest.fixture
def new_call(http: httpx.Client) -> Callable[..., str]:
    def make(state: LegState = LegState.PARKED) -> str:
        r = http.post("/_emulator/calls", json={"from": "+12125550199", "to": "+13125550100"})
        ccid = str(r.json()["data"]["call_control_id"])
        if state is LegState.ANSWERED:
            assert http.post(f"/v2/calls/{ccid}/actions/answer", json={}).status_code == 200
        elif state is LegState.HANGUP:
            assert http.post(f"/v2/calls/{ccid}/actions/hangup", json={}).status_code == 200
        return ccid

    return make


def legal_state(command: Command) -> LegState:
    return LegState.PARKED if LegState.PARKED in command.legal.states else LegState.ANSWERED


# Commands that stop or add to something need it running first (else 90016), and fields the
# emulator needs though the spec marks them optional (docs/streaming.md): (command, body).
LOOPBACK_FORK = "udp:127.0.0.1:1"
RUNNING_FIRST: dict[str, tuple[str, dict[str, Any]]] = {
    "streaming_stop": ("streaming_start", {"stream_url": "<ws>"}),
    "fork_stop": ("fork_start", {"rx": LOOPBACK_FORK}),
    "siprec_stop": ("siprec_start", {"connector_name": "srs"}),
    "ai_assistant_stop": ("ai_assistant_start", {}),
    "ai_assistant_add_messages": ("ai_assistant_start", {}),
    "conversation_relay_stop": ("conversation_relay_start", {"url": "wss://relay.example/ws"}),
}
EMULATOR_NEEDS: dict[str, dict[str, Any]] = {
    "streaming_start": {"stream_url": "<ws>"},
    "fork_start": {"rx": LOOPBACK_FORK},
    "siprec_start": {"connector_name": "srs"},
}


def start_running(
    command: Command, ccid: str | None, http: httpx.Client, new_call: Callable[..., str], ws: str
) -> dict[str, str]:
    """Start what the command needs running on the call; returns body fields it needs."""
    fields = {k: ws if v == "<ws>" else v for k, v in EMULATOR_NEEDS.get(command.name, {}).items()}
    if command.name in RUNNING_FIRST and ccid is not None:
        first, body = RUNNING_FIRST[command.name]
        body = {k: ws if v == "<ws>" else v for k, v in body.items()}
        r = http.post(f"/v2/calls/{ccid}/actions/{first}", json=body)
        assert r.status_code == 200, r.text
        if command.name == "streaming_stop":
            [stream] = http.get(f"/_emulator/calls/{ccid}/streams").json()["data"]
            fields["stream_id"] = stream["stream_id"]
    if command.name == "ai_assistant_join":
        other = new_call(LegState.ANSWERED)
        r = http.post(f"/v2/calls/{other}/actions/ai_assistant_start", json={})
        fields["conversation_id"] = r.json()["data"]["conversation_id"]
    return fields


def call_ids(command: Command, new_call: Callable[..., str]) -> dict[str, str]:
    """Body fields that name another live call."""
    if command.name == "bridge":
        return {"call_control_id": new_call(LegState.ANSWERED)}
    if command.name == "dial":
        return {"link_to": new_call(LegState.ANSWERED), "supervise_call_control_id": new_call()}
    return {}


def send(client: telnyx.Telnyx, command: Command, ccid: str | None, kwargs: dict[str, Any]) -> Any:
    method = command.sdk.removeprefix("client.").split(".")
    target: Any = client
    for part in method:
        target = getattr(target, part)
    return target(**kwargs) if ccid is None else target(ccid, **kwargs)


def expect_not_emulated(command: Command, call: Callable[[], Any]) -> None:
    with pytest.raises(telnyx.InternalServerError) as info:
        call()
    assert info.value.status_code == 501
    assert info.value.response.headers["x-should-retry"] == "false"
    body = info.value.body
    assert isinstance(body, dict)
    [error] = body["errors"]
    assert error["code"] == "10501" and f"#{command.issue}" in error["detail"]


def check_success(command: Command, response: Any) -> None:
    data = response.data
    assert data is not None
    if command.response == "call":
        assert data.call_control_id.startswith("v3:")
    else:
        assert data.result == "ok"


@pytest.mark.parametrize("full", [False, True], ids=["required", "every_field"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_valid_request_on_a_live_call(
    command: Command,
    full: bool,
    client: telnyx.Telnyx,
    new_call: Callable[..., str],
    http: httpx.Client,
    stream_receiver: StreamReceiver,
) -> None:
    ccid = None if command.scope == "account" else new_call(legal_state(command))
    ccid = prepare(command, ccid, http)
    ids = call_ids(command, new_call)
    if command.emulated:
        ids.update(
            start_running(command, ccid, http, new_call, stream_receiver.ws_url + "/surface")
        )
    kwargs = {} if command.scope == "read" else sdk_request(command, full=full, ids=ids)
    if command.name == "playback_start" and kwargs.get("overlay") and ccid is not None:
        # Telnyx: no overlay "unless there is a Play Audio with overlay=false actively playing".
        client.calls.actions.start_playback(
            ccid, audio_url="https://example.com/a.mp3", loop="infinity"
        )
    if command.emulated:
        check_success(command, send(client, command, ccid, kwargs))
    else:
        expect_not_emulated(command, lambda: send(client, command, ccid, kwargs))


@pytest.mark.parametrize("command", WITH_BODY, ids=lambda c: c.name)
def test_invalid_body_gets_422_first(
    command: Command, http: httpx.Client, new_call: Callable[..., str]
) -> None:
    path = command.http_path.replace("{call_control_id}", new_call(LegState.HANGUP))
    properties = load_schema(command.request_schema)["properties"]
    if "client_state" in properties:
        body, expected = {"client_state": "not base64!"}, ("10015", "/client_state")
    else:  # switch_supervisor_role: a wrong type for its (only) field
        field = next(iter(properties))
        body, expected = {field: ["a list"]}, ("10020", f"/{field}")
    r = http.request(command.method, path, json=body)
    assert r.status_code == 422, r.text
    codes = {(e["code"], e["source"]["pointer"]) for e in r.json()["errors"]}
    assert expected in codes  # before the call (ended) is looked at


@pytest.mark.parametrize("command", ON_A_CALL, ids=lambda c: c.name)
def test_unknown_and_ended_calls(
    command: Command, client: telnyx.Telnyx, new_call: Callable[..., str]
) -> None:
    kwargs = {} if command.scope == "read" else sdk_request(command, full=False, ids={})
    if command.name == "bridge":
        kwargs = {"call_control_id_to_bridge_with": new_call(LegState.ANSWERED)}
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        send(client, command, "v3:unknown", kwargs)
    assert isinstance(info.value.body, dict) and info.value.body["errors"][0]["code"] == "90015"
    if command.scope == "read":
        return  # an ended call's status is still answered (is_alive false)
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        send(client, command, new_call(LegState.HANGUP), kwargs)
    assert isinstance(info.value.body, dict) and info.value.body["errors"][0]["code"] == "90018"


REFUSED_ON_PARKED = [
    c for c in ON_A_CALL if c.scope == "call" and LegState.PARKED not in c.legal.states
]


@pytest.mark.parametrize("command", REFUSED_ON_PARKED, ids=lambda c: c.name)
def test_a_call_in_the_wrong_state_is_refused(
    command: Command, client: telnyx.Telnyx, new_call: Callable[..., str]
) -> None:
    kwargs = sdk_request(command, full=False, ids={})
    if command.name == "bridge":
        kwargs = {"call_control_id_to_bridge_with": new_call(LegState.ANSWERED)}
    expected = REFUSALS[(command.name, LegState.PARKED)]().errors[0].code
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        send(client, command, new_call(LegState.PARKED), kwargs)
    assert isinstance(info.value.body, dict) and info.value.body["errors"][0]["code"] == expected
    assert expected == "90034" or command.name in ("answer", "reject")


def test_not_emulated_options_are_journaled_and_change_nothing(
    http: httpx.Client, new_call: Callable[..., str]
) -> None:
    # Every command is emulated now; an option that is not (Dialogflow) answers 501 the same way.
    ccid = new_call(LegState.ANSWERED)
    body = {
        "stream_url": "ws://127.0.0.1:9/never",
        "enable_dialogflow": True,
        "client_state": "c3BlYWs=",
        "command_id": "s1",
    }
    for _ in range(2):  # never accepted, so the command_id is never a duplicate
        r = http.post(f"/v2/calls/{ccid}/actions/streaming_start", json=body)
        assert r.status_code == 501 and r.json()["errors"][0]["code"] == "10501"
    entries = http.get("/_emulator/commands", params={"call_control_id": ccid}).json()["data"]
    refused = [e for e in entries if e["command"] == "streaming_start"]
    assert [e["result"] for e in refused] == ["not_emulated", "not_emulated"]
    assert refused[0]["status"] == 501 and refused[0]["errors"][0]["code"] == "10501"
    status = http.get(f"/v2/calls/{ccid}").json()["data"]
    assert status["client_state"] is None  # the refused command's client_state was not kept
    assert http.get(f"/_emulator/calls/{ccid}/streams").json()["data"] == []


def test_the_journal_of_a_not_emulated_command_matches_the_document(
    http: httpx.Client, new_call: Callable[..., str]
) -> None:
    from emulator import openapi

    ccid = new_call(LegState.ANSWERED)
    assert http.post(f"/v2/calls/{ccid}/actions/record_start", json={}).status_code == 422
    assert (
        http.post(
            f"/v2/calls/{ccid}/actions/streaming_start",
            json={"stream_url": "ws://127.0.0.1:9/never", "enable_dialogflow": True},
        ).status_code
        == 501
    )
    entries = http.get("/_emulator/commands", params={"call_control_id": ccid}).json()
    schema = openapi.document()["paths"]["/_emulator/commands"]["get"]["responses"]["200"]
    item = schema["content"]["application/json"]["schema"]["properties"]["data"]["items"]
    journal = [
        e["result"] for e in entries["data"] if e["command"] in ("record_start", "streaming_start")
    ]
    assert journal == ["rejected", "not_emulated"]
    assert set(journal) <= set(item["properties"]["result"]["enum"])
