"""POST /api/v1/codecs/{id}/decode: online debugging of an uplink, checked against the profile."""

from __future__ import annotations

from tests.products.codecs.fixtures import deploy, meter, upload


def _url(codec) -> str:
    return f"/api/v1/codecs/{codec.codec_id}/decode"


def _post(client, codec, credentials, body, **params):
    query = "?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else ""
    return client.post(_url(codec) + query, body, content_type="application/json", headers=credentials.headers())


def test_a_payload_decodes_to_the_device_req(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    response = _post(client, codec, owner_app, {"payload": "01 000004D2 FFF6"})
    assert response.status_code == 200
    assert response.json() == {
        "version": 1,
        "result": {
            "msgType": "deviceReq",
            "hasMore": 0,
            "data": [{"serviceId": "Meter", "serviceData": {"reading": 1234, "temperature": -10}}],
        },
        "issues": [],
        "logs": [],
    }


def test_values_outside_the_profile_are_listed(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    body = _post(client, codec, owner_app, {"payload": "01000004D200C8"}).json()
    assert body["result"]["data"][0]["serviceData"]["temperature"] == 200
    (issue,) = body["issues"]
    assert (issue["code"], issue["field"], issue["path"]) == (
        "CODEC_VALUE_RANGE",
        "temperature",
        "$.data[0].serviceData.temperature",
    )
    assert issue["message"] == "The value 200 is outside -40 to 125."


def test_a_payload_that_does_not_decode_names_message_field_and_byte(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    response = _post(client, codec, owner_app, {"payload": "010000"})
    assert response.status_code == 400
    body = response.json()
    (issue,) = body["errors"]
    assert (issue["code"], issue["messageName"], issue["field"], issue["offset"]) == (
        "CODEC_DECODE_TOO_SHORT",
        "report",
        "reading",
        1,
    )
    assert body["error_desc"].startswith("The input is invalid. report.reading @ byte 1: ")


def test_not_hex(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    for payload in ("01zz", 42):
        response = _post(client, codec, owner_app, {"payload": payload})
        assert [issue["code"] for issue in response.json()["errors"]] == ["CODEC_PAYLOAD_HEX"]


def test_a_javascript_plugins_logs_and_own_message(client, owner_app):
    meter(owner_app)
    codec = upload(owner_app).codec
    assert _post(client, codec, owner_app, {"payload": "01000004D2FFF6"}).json()["logs"] == ["decoding 7 bytes"]
    body = _post(client, codec, owner_app, {"payload": "09"}).json()
    assert body["errors"][0]["code"] == "CODEC_JS_EXCEPTION"
    assert body["errors"][0]["detail"].startswith("Error: unknown message 9")
    assert body["logs"] == ["decoding 1 bytes"]


def test_any_version(client, owner_app):
    product = meter(owner_app)
    deploy(product)
    codec = upload(owner_app).codec
    assert _post(client, codec, owner_app, {"payload": "01000004D2FFF6"}).json()["version"] == 2
    body = _post(client, codec, owner_app, {"payload": "01000004D2FFF6"}, version=1).json()
    assert body["version"] == 1 and "identifier" not in body["result"]
    assert (
        _post(client, codec, owner_app, {"payload": "01"}, version=5).json()["errors"][0]["code"]
        == "CODEC_VERSION_UNKNOWN"
    )


def test_another_application_gets_404(client, owner_app, other_app):
    codec = deploy(meter(owner_app)).codec
    assert _post(client, codec, other_app, {"payload": "01000004D2FFF6"}).status_code == 404


def test_anonymous_is_refused(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    assert client.post(_url(codec), {"payload": "01"}, content_type="application/json").status_code == 403
