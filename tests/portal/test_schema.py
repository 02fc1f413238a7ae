"""The OpenAPI schema documents every northbound call and validates."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from applications.errors import CATALOGUE, GATEWAY_CATALOGUE


def test_schema_validates_and_names_the_calls(db, tmp_path):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--file", str(path))
    text = path.read_text()
    for call in (
        "/iocm/app/sec/v1.1.0/login",
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        "/iocm/app/dm/v1.4.0/devices/{device_id}",
        "/iocm/app/data/v1.2.0/deviceDataHistory",
        "/iocm/app/sub/v1.2.0/subscriptions",
        "/api/v1/profiles",
    ):
        assert call + ":" in text, call
    assert "name: app_key" in text


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict) -> dict[str, dict]:
    return {
        operation["operationId"]: operation
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def test_schema_generation_fails_on_no_warning(tmp_path):
    # CI runs the same command (.ci/run): a view drf-spectacular cannot describe, or two components or
    # enums that collide, is a warning, and a warning fails the build.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))


def test_every_call_that_takes_a_token_declares_the_gateway_refusal(schema):
    secured = {
        name: operation
        for name, operation in _operations(schema).items()
        if any("bearer" in requirement for requirement in operation.get("security", []))
    }
    assert len(secured) > 80
    for name, operation in secured.items():
        forbidden = operation["responses"]["403"]["content"]["application/json"]["schema"]
        options = forbidden.get("oneOf", [forbidden])
        assert {"$ref": "#/components/schemas/GatewayError"} in options, name
        assert {"$ref": "#/components/schemas/Error"} in options, name  # 100217: appId of another app
    assert schema["components"]["schemas"]["GatewayError"]["required"] == ["resultcode", "resultmsg"]


def test_create_command_declares_its_body_and_every_answer(schema):
    operation = _operations(schema)["createCommand"]
    assert operation["requestBody"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/CreateCommandRequest"}}
    }
    request = schema["components"]["schemas"]["CreateCommandRequest"]
    assert sorted(request["required"]) == ["command", "deviceId"]
    assert request["properties"]["maxRetransmit"]["maximum"] == 3
    answers = operation["responses"]
    assert answers["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DeviceCommand"}
    # the original's "not online", "muted", "no such device" come with HTTP 200 and the error body
    assert answers["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    for code in ("100418", "100428", "100431", "100432"):
        assert code in answers["200"]["description"]
    assert "100223" in answers["400"]["description"]


def test_a_device_get_answers_the_device_or_the_error_with_200(schema):
    operation = _operations(schema)["iocm_app_dm_v1.4.0_devices_retrieve"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DeviceOrError"}
    assert schema["components"]["schemas"]["DeviceOrError"]["oneOf"] == [
        {"$ref": "#/components/schemas/Device"},
        {"$ref": "#/components/schemas/Error"},
    ]
    assert "iocm_app_dm_v1.4.0_devices_list" in _operations(schema)


def test_firmware_and_batch_calls_declare_their_request_bodies(schema):
    operations = _operations(schema)
    upgrade = operations["iodm_northbound_v1.5.0_operations_firmwareUpgrade_create"]
    assert upgrade["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UpgradeRequest"
    }
    for code in ("123019", "123025", "123034"):
        assert code in upgrade["responses"]["400"]["description"]
    batch = operations["createBatchTask"]
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchTaskRequest"
    }
    upload = operations["uploadPackage"]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]


def test_the_profile_and_codec_400_bodies_name_errors_only_when_a_rule_broke(schema):
    # a bad query parameter answers the plain 100022 body, without `errors`
    for name in ("ProfileError", "CodecError"):
        component = schema["components"]["schemas"][name]
        assert "errors" in component["properties"]
        assert component["required"] == ["error_code", "error_desc"]


def test_every_code_the_schema_declares_is_in_the_catalogue(schema):
    declared = set()
    for operation in _operations(schema).values():
        for status, answer in operation["responses"].items():
            if status[0] in "45" or "Error" in str(answer.get("content")):
                declared |= set(re.findall(r"\b(\d{6,7}):", answer.get("description", "")))
    assert {"100418", "123009", "105005", "1010005"} <= declared
    assert declared <= {*CATALOGUE, *GATEWAY_CATALOGUE}
