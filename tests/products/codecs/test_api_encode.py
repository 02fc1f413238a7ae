"""POST /api/v1/codecs/{id}/encode: a cloudReq (command) or a cloudRsp (report ACK) to hex."""

from __future__ import annotations

from tests.products.codecs.fixtures import deploy, meter, upload

CLOUD_REQ = {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 60}, "mid": 7}


def _post(client, codec, credentials, body):
    return client.post(
        f"/api/v1/codecs/{codec.codec_id}/encode", body, content_type="application/json", headers=credentials.headers()
    )


def test_a_command(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    response = _post(client, codec, owner_app, CLOUD_REQ)
    assert response.status_code == 200
    assert response.json() == {"version": 1, "payload": "0200070000003C", "logs": []}


def test_a_report_ack_and_none(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    ack = {"msgType": "cloudRsp", "request": "01000004D2FFF6", "errcode": 0, "hasMore": 1}
    assert _post(client, codec, owner_app, ack).json()["payload"] == "AAAA0001"
    no_ack = {**ack, "request": "0300070000"}
    assert _post(client, codec, owner_app, no_ack).json()["payload"] is None


def test_a_para_of_the_wrong_type_f_5_9(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    response = _post(client, codec, owner_app, {**CLOUD_REQ, "paras": {"period": "12"}})
    assert response.status_code == 400
    (issue,) = response.json()["errors"]
    assert (issue["code"], issue["path"]) == ("CODEC_VALUE_TYPE", "$.paras.period")


def test_not_a_cloud_message(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    for body, path in (
        ({"msgType": "deviceReq"}, "$.msgType"),
        ({**CLOUD_REQ, "paras": [1]}, "$.paras"),
        ([1, 2], "$"),
    ):
        response = _post(client, codec, owner_app, body)
        assert [(issue["code"], issue["path"]) for issue in response.json()["errors"]] == [("CODEC_INPUT_SHAPE", path)]


def test_a_javascript_plugin(client, owner_app):
    meter(owner_app)
    codec = upload(owner_app).codec
    assert _post(client, codec, owner_app, CLOUD_REQ).json()["payload"] == "0200070000003C"


def test_another_application_gets_404(client, owner_app, other_app):
    codec = deploy(meter(owner_app)).codec
    assert _post(client, codec, other_app, CLOUD_REQ).status_code == 404


def test_anonymous_is_refused(client, owner_app):
    codec = deploy(meter(owner_app)).codec
    response = client.post(f"/api/v1/codecs/{codec.codec_id}/encode", CLOUD_REQ, content_type="application/json")
    assert response.status_code == 403
