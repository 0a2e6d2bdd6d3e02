"""GET /openapi.json: valid OpenAPI 3.1, every route, the schemas/ files verbatim, and response
schemas that match what the server really answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from emulator import openapi
from emulator.api import _ROUTES, ApiRequest, ApiResponse, Route
from emulator.resources import schemas_dir

from .conftest import API_KEY
from .servers import EmulatorServer

DOC_URI = "urn:telnyx-emulator:openapi"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document()


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def check(doc: dict[str, Any], path: str, method: str, status: str, instance: Any) -> None:
    """Validate ``instance`` against the response schema the document gives for it."""
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(DOC_URI, resource)
    where = _pointer("paths", path, method, "responses", status)
    response = doc["paths"][path][method]["responses"][status]
    if "$ref" in response:
        where = response["$ref"].lstrip("#/")
    schema = {"$ref": f"{DOC_URI}#/{where}/content/application~1json/schema"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(instance)


def test_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    json.dumps(doc)  # plain JSON all the way down
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def test_every_route_appears(doc: dict[str, Any]) -> None:
    for route in _ROUTES:
        path, params = openapi.openapi_path(route)
        operation = doc["paths"][path][route.method.lower()]
        assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == params
        assert re.findall(r"\{(\w+)\}", path) == params
        assert operation["security"] == [] if not route.auth else "security" not in operation
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == len(_ROUTES)


def test_request_and_webhook_schemas_are_the_files(doc: dict[str, Any]) -> None:
    components = doc["components"]["schemas"]
    used_names: set[str] = set()
    for path in sorted(schemas_dir().glob("*.schema.json")):
        name = path.name.removesuffix(".schema.json")
        used = any(
            op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            == {"$ref": f"#/components/schemas/{name}"}
            for item in doc["paths"].values()
            for op in item.values()
        )
        if not used:  # the scenario format, or a request schema whose route is not there yet
            assert name not in components
            continue
        assert components[name] == json.loads(path.read_text(encoding="utf-8"))
        used_names.add(name)
    assert "transfer_request" in used_names and "inbound_call" in used_names
    hooks = sorted(schemas_dir().glob("webhooks/*.schema.json"))
    assert hooks and sorted(doc["webhooks"]) == sorted(
        p.name.removesuffix(".schema.json") for p in hooks
    )
    for path in hooks:
        event = path.name.removesuffix(".schema.json")
        body = doc["webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{event}"}
        assert components[event] == json.loads(path.read_text(encoding="utf-8"))


def test_transfer_operation(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v2/calls/{call_control_id}/actions/transfer"]["post"]
    assert op["requestBody"]["required"] is True
    assert set(op["responses"]) >= {"200", "401", "422"}
    assert op["responses"]["422"] == {"$ref": "#/components/responses/422"}
    assert "call.bridged" in op["description"]
    assert doc["components"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Errors"
    }


def _handler(api: Any, request: ApiRequest, engine: Any, m: re.Match[str]) -> ApiResponse:
    return ApiResponse(200)


def test_new_routes_appear_without_a_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # A route without a declaration or a table entry: described generically; an action route
    # finds schemas/<name>_request.schema.json by the naming convention (transfer's route is
    # swapped for an undeclared one to show it).
    fake = [
        Route("POST", re.compile(r"^/calls/(?P<id>[^/]+)/actions/speak_loudly$"), _handler),
        Route("GET", re.compile(r"^/_emulator/clock$"), _handler, auth=False),
        Route("POST", re.compile(r"^/calls/(?P<id>[^/]+)/actions/transfer$"), _handler),
    ]
    kept = [r for r in _ROUTES if r.name != "transfer"]
    monkeypatch.setattr(openapi, "_ROUTES", [*kept, *fake])
    doc = openapi.document.__wrapped__()
    speak = doc["paths"]["/v2/calls/{call_control_id}/actions/speak_loudly"]["post"]
    assert speak["requestBody"]["content"]["application/json"]["schema"] == {"type": "object"}
    assert speak["summary"] and "401" in speak["responses"]
    assert doc["paths"]["/_emulator/clock"]["get"]["security"] == []
    transfer = doc["paths"]["/v2/calls/{call_control_id}/actions/transfer"]["post"]
    schema = transfer["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/transfer_request"}
    pytest.importorskip("openapi_spec_validator").validate(doc)


def test_served_without_auth_and_matches_the_server(
    emulator: EmulatorServer, doc: dict[str, Any]
) -> None:
    r = httpx.get(emulator.url + "/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == doc
    assert httpx.head(emulator.url + "/openapi.json").status_code == 200

    with httpx.Client(base_url=emulator.url, headers=AUTH) as client:
        check(doc, "/_emulator/health", "get", "200", client.get("/_emulator/health").json())
        check(
            doc, "/_emulator/public-key", "get", "200", client.get("/_emulator/public-key").json()
        )
        created = client.post(
            "/_emulator/calls", json={"from": "+15551230000", "to": "+15559870000"}
        )
        check(doc, "/_emulator/calls", "post", "201", created.json())
        ccid = created.json()["data"]["call_control_id"]
        path = "/v2/calls/{call_control_id}/actions/transfer"
        ok = client.post(f"/v2/calls/{ccid}/actions/transfer", json={"to": "+15550001111"})
        check(doc, path, "post", "200", ok.json())
        bad = client.post(f"/v2/calls/{ccid}/actions/transfer", json={"to": "12"})
        assert bad.status_code == 422
        check(doc, path, "post", "422", bad.json())
        unauthorised = httpx.post(emulator.url + f"/v2/calls/{ccid}/actions/transfer", json={})
        check(doc, path, "post", "401", unauthorised.json())
        check(
            doc, "/v2/calls/{call_control_id}", "get", "200", client.get(f"/v2/calls/{ccid}").json()
        )
        dialled = client.post(
            "/v2/calls", json={"connection_id": "1", "from": "+15551230000", "to": "+15550002222"}
        )
        check(doc, "/v2/calls", "post", "200", dialled.json())
        answered = client.post(f"/v2/calls/{ccid}/actions/answer", json={})
        check(
            doc,
            "/v2/calls/{call_control_id}/actions/answer",
            "post",
            str(answered.status_code),
            answered.json(),
        )
        updated = client.put(
            f"/v2/calls/{ccid}/actions/client_state_update", json={"client_state": "aGk="}
        )
        path = "/v2/calls/{call_control_id}/actions/client_state_update"
        check(doc, path, "put", str(updated.status_code), updated.json())
        check(doc, "/_emulator/calls", "get", "200", client.get("/_emulator/calls").json())
        check(doc, "/_emulator/commands", "get", "200", client.get("/_emulator/commands").json())
        check(doc, "/_emulator/webhooks", "get", "200", client.get("/_emulator/webhooks").json())
        check(doc, "/_emulator/reset", "post", "200", client.post("/_emulator/reset").json())


def test_document_is_built_once() -> None:
    assert openapi.document() is openapi.document()


def test_schema_files_exist_for_table_entries_that_are_routes(doc: dict[str, Any]) -> None:
    """A table entry naming a request schema must have the file once its route exists."""
    routes = {(r.method, openapi.openapi_path(r)[0]) for r in _ROUTES}
    for key, op in openapi.OPERATIONS.items():
        if key in routes and op.request is not None:
            assert Path(schemas_dir() / f"{op.request}.schema.json").is_file(), key
