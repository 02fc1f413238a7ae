"""Real answers validate against the schema's declaration for their status: the cases where the
declaration and the truth used to differ (a 403 with `resultcode`, the original's errors with HTTP 200,
a device GET's body, the upgrade call's 400)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.applications.fixtures import create_app
from tests.devices.fixtures import register


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's null type."""
    if isinstance(node, dict):
        node = {key: _json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    return node


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def owner_app(db):
    return create_app("Owner application")


def _declared(schema: dict, path: str, method: str, status: int) -> dict:
    answer = schema["paths"][path][method]["responses"][str(status)]
    return answer["content"]["application/json"]["schema"]


def _check(schema: dict, path: str, method: str, response) -> None:
    declared = _declared(schema, path, method, response.status_code)
    document = {"allOf": [declared], "components": _json_schema(schema["components"])}
    jsonschema.Draft7Validator(document).validate(response.json())


def _refuses(schema: dict, path: str, method: str, status: int, body: Any) -> bool:
    document = {"allOf": [_declared(schema, path, method, status)], "components": _json_schema(schema["components"])}
    return not jsonschema.Draft7Validator(document).is_valid(body)


def test_a_refused_token_answers_the_declared_gateway_body(client, schema, db):
    response = client.post("/iocm/app/cmd/v1.4.0/deviceCommands", "{}", content_type="application/json")
    assert response.status_code == 403 and "resultcode" in response.json()
    _check(schema, "/iocm/app/cmd/v1.4.0/deviceCommands", "post", response)


def test_a_command_to_no_device_answers_the_declared_200_error(client, schema, owner_app):
    body = {"deviceId": "nope", "command": {"serviceId": "WaterMeter", "method": "SET", "paras": {}}}
    response = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps(body),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert (response.status_code, response.json()["error_code"]) == (200, "100418")
    _check(schema, "/iocm/app/cmd/v1.4.0/deviceCommands", "post", response)


def test_a_device_get_answers_either_declared_body(client, schema, owner_app):
    path = "/iocm/app/dm/v1.4.0/devices/{device_id}"
    device = register(owner_app)
    found = client.get(f"/iocm/app/dm/v1.4.0/devices/{device.device_id}", headers=owner_app.headers())
    missing = client.get("/iocm/app/dm/v1.4.0/devices/nope", headers=owner_app.headers())
    assert (found.status_code, missing.status_code) == (200, 200)
    assert "createTime" in found.json() and missing.json()["error_code"] == "100418"
    _check(schema, path, "get", found)
    _check(schema, path, "get", missing)
    # and the declaration is not so loose that anything passes
    assert _refuses(schema, path, "get", 200, {"deviceId": device.device_id})


def test_an_upgrade_call_refused_answers_the_declared_400(client, schema, owner_app):
    response = client.post(
        "/iodm/northbound/v1.5.0/operations/firmwareUpgrade",
        json.dumps({"fileId": 5, "targets": [], "policy": None}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert response.status_code == 404  # the package first: 123002
    _check(schema, "/iodm/northbound/v1.5.0/operations/firmwareUpgrade", "post", response)
