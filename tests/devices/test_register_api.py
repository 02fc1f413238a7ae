import json

import pytest

from applications.models import Application
from devices.models import Device
from subscriptions.models import PushMessage, Subscription

REGISTER = "/iocm/app/reg/v1.1.0/deviceCredentials"


def _register(client, credentials, **body):
    body.setdefault("nodeId", "863703030000001")
    body.setdefault("verifyCode", body["nodeId"])
    return client.post(REGISTER, json.dumps(body), content_type="application/json", headers=credentials.headers())


def test_register_answers_200_with_a_generated_psk(client, owner_app, no_wake):
    response = _register(client, owner_app, timeout=300)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["deviceId", "verifyCode", "psk", "timeout"]
    assert body["verifyCode"] == "863703030000001" and body["timeout"] == 300
    assert len(body["psk"]) == 32 and int(body["psk"], 16) >= 0
    device = Device.objects.get(device_id=body["deviceId"])
    assert device.psk == body["psk"]
    assert body["psk"] not in device.psk_encrypted  # encrypted at rest, not stored in clear
    assert (device.status, device.status_detail, device.activated) == ("OFFLINE", "NOT_ACTIVE", False)


def test_default_timeout_is_180_and_a_given_psk_is_kept(client, owner_app, no_wake):
    body = _register(client, owner_app, psk="0123456789abcdef").json()
    assert body["timeout"] == 180
    assert body["psk"] == "0123456789abcdef"


@pytest.mark.parametrize("psk", ["1234567", "z" * 16, "0" * 33, 12345678])
def test_a_bad_psk_is_100022(client, owner_app, psk):
    response = _register(client, owner_app, psk=psk)
    assert response.status_code == 400
    assert response.json()["error_code"] == "100022"
    assert "psk" in response.json()["error_desc"]
    assert not Device.objects.exists()


@pytest.mark.parametrize("timeout", [-1, 2147483648, "60", 1.5])
def test_a_bad_timeout_is_100022(client, owner_app, timeout):
    response = _register(client, owner_app, timeout=timeout)
    assert response.json()["error_code"] == "100022"
    assert "timeout" in response.json()["error_desc"]


def test_missing_node_id_is_100022(client, owner_app):
    response = client.post(
        REGISTER, json.dumps({"verifyCode": "x"}), content_type="application/json", headers=owner_app.headers()
    )
    assert response.status_code == 400
    assert "nodeId" in response.json()["error_desc"]


def test_one_imei_one_device_is_100416(client, owner_app, other_app):
    _register(client, owner_app)
    response = _register(client, other_app)
    assert response.status_code == 400
    assert response.json() == {"error_code": "100416", "error_desc": "The device has already been binded."}
    assert Device.objects.count() == 1


def test_quota_is_100412(client, owner_app):
    Application.objects.filter(pk=owner_app.application.pk).update(device_quota=1)
    owner_app.application.refresh_from_db()
    _register(client, owner_app, nodeId="1")
    response = _register(client, owner_app, nodeId="2")
    assert response.status_code == 500
    assert response.json()["error_code"] == "100412"


def test_anonymous_cannot_register(client, db):
    response = client.post(REGISTER, json.dumps({"nodeId": "1"}), content_type="application/json")
    assert response.status_code == 403
    assert not Device.objects.exists()


def test_device_added_is_notified(client, owner_app, no_wake):
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:9/x"
    )
    device_id = _register(client, owner_app).json()["deviceId"]
    body = json.loads(bytes(PushMessage.objects.get().body))
    assert body["notifyType"] == "deviceAdded"
    assert body["deviceId"] == body["gatewayId"] == device_id
    assert body["nodeType"] == "ENDPOINT"
    assert body["deviceInfo"]["status"] == "OFFLINE" and body["deviceInfo"]["statusDetail"] == "NOT_ACTIVE"


def test_password_mode_answers_the_secret_once(client, owner_app, no_wake):
    body = {
        "deviceInfo": {
            "nodeId": "ABC123",
            "name": "gw",
            "manufacturerId": "Huawei",
            "deviceType": "WaterMeter",
            "model": "v1001",
        }
    }
    response = client.post(
        "/iocm/app/reg/v2.0.0/deviceCredentials",
        json.dumps(body),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert response.status_code == 200
    answer = response.json()
    device = Device.objects.get(device_id=answer["deviceId"])
    assert device.secret == answer["secret"] and len(answer["secret"]) == 32
    assert answer["secret"] not in device.secret_encrypted
    assert device.name == "gw"


@pytest.mark.parametrize("version", ["v1.1.0", "v1.2.0"])
def test_legacy_register_paths(client, owner_app, version, no_wake):
    body = {"nodeId": f"legacy-{version}", "verifyCode": f"legacy-{version}", "timeout": 0, "deviceName": "old"}
    response = client.post(
        f"/iocm/app/reg/{version}/devices",
        json.dumps(body),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert response.status_code == 200
    device = Device.objects.get(device_id=response.json()["deviceId"])
    assert device.name == "old" and device.bind_deadline is None


def test_registration_ties_the_product_by_its_triple(client, owner_app, no_wake):
    from tests.devices.fixtures import WATER_METER, water_meter

    product = water_meter(owner_app)
    body = {"deviceInfo": {"nodeId": "P1", **WATER_METER}}
    response = client.post(
        "/iocm/app/reg/v1.2.0/devices",
        json.dumps({"nodeId": "P1", "verifyCode": "P1", **body}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    assert Device.objects.get(device_id=response.json()["deviceId"]).product == product
