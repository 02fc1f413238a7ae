"""Query, list, modify, delete, activation status and refresh key: owner, other application, anonymous."""

import json

import pytest

from devices.models import Device
from subscriptions.models import PushMessage, Subscription
from tests.devices.fixtures import WATER_METER, register, water_meter


def _url(device, version="v1.4.0"):
    return f"/iocm/app/dm/{version}/devices/{device.device_id}"


def _put(client, credentials, url, body):
    return client.put(url, json.dumps(body), content_type="application/json", headers=credentials.headers())


@pytest.mark.parametrize("version", ["v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0"])
def test_get_one_has_the_originals_shape(client, owner_app, version, no_wake):
    device = register(owner_app, info={"name": "meter-1"})
    body = client.get(_url(device, version), headers=owner_app.headers()).json()
    assert list(body) == [
        "deviceId",
        "gatewayId",
        "nodeType",
        "createTime",
        "lastModifiedTime",
        "deviceInfo",
        "services",
    ]
    assert body["gatewayId"] == device.device_id
    assert len(body["deviceInfo"]) == 23
    assert body["deviceInfo"]["name"] == "meter-1"
    assert body["deviceInfo"]["mute"] == "FALSE"
    assert "imsi" not in body["deviceInfo"]
    assert len(body["createTime"]) == 16 and body["createTime"].endswith("Z")


def test_select_imsi_adds_it(client, owner_app, no_wake):
    device = register(owner_app, imsi="460111176000001")
    body = client.get(_url(device) + "?select=imsi", headers=owner_app.headers()).json()
    assert body["deviceInfo"]["imsi"] == "460111176000001"


def test_another_applications_device_is_not_existed_with_http_200(client, owner_app, other_app, no_wake):
    device = register(owner_app)
    response = client.get(_url(device), headers=other_app.headers())
    assert response.status_code == 200
    assert response.json() == {"error_code": "100418", "error_desc": "The deviceData is not existed."}


def test_anonymous_gets_1010005(client, owner_app, no_wake):
    assert client.get(_url(register(owner_app))).status_code == 403


def test_list_needs_page_no_or_gateway_id(client, owner_app):
    response = client.get("/iocm/app/dm/v1.4.0/devices", headers=owner_app.headers())
    assert response.status_code == 400
    assert response.json()["error_code"] == "100218"


def test_list_pages_default_size_1_newest_first(client, owner_app, other_app, no_wake, django_assert_max_num_queries):
    devices = [register(owner_app, node_id=f"n{number}") for number in range(5)]
    register(other_app, node_id="other")
    with django_assert_max_num_queries(4):
        body = client.get("/iocm/app/dm/v1.4.0/devices?pageNo=0", headers=owner_app.headers()).json()
    assert (body["totalCount"], body["pageNo"], body["pageSize"]) == (5, 0, 1)
    assert [d["deviceId"] for d in body["devices"]] == [devices[-1].device_id]
    with django_assert_max_num_queries(4):
        page = client.get(
            "/iocm/app/dm/v1.4.0/devices?pageNo=1&pageSize=2&sort=ASC", headers=owner_app.headers()
        ).json()
    assert [d["deviceInfo"]["nodeId"] for d in page["devices"]] == ["n2", "n3"]


def test_list_filters_by_status_and_checks_values(client, owner_app, no_wake):
    register(owner_app)
    assert (
        client.get("/iocm/app/dm/v1.3.0/devices?pageNo=0&status=ONLINE", headers=owner_app.headers()).json()[
            "totalCount"
        ]
        == 0
    )
    bad = client.get("/iocm/app/dm/v1.4.0/devices?pageNo=0&status=SLEEPY", headers=owner_app.headers())
    assert bad.status_code == 400 and bad.json()["error_code"] == "100216"
    bad_time = client.get("/iocm/app/dm/v1.4.0/devices?pageNo=0&startTime=yesterday", headers=owner_app.headers())
    assert bad_time.json()["error_code"] == "100022" and "startTime" in bad_time.json()["error_desc"]


def test_modify_is_204_and_ties_the_product(client, owner_app, no_wake):
    product = water_meter(owner_app)
    device = register(owner_app)
    response = _put(
        client,
        owner_app,
        _url(device),
        {"name": "kitchen", "mute": "TRUE", **WATER_METER, "deviceConfig": {"dataConfig": {"dataAgingTime": 3}}},
    )
    assert response.status_code == 204
    device.refresh_from_db()
    assert (device.name, device.mute, device.product, device.data_aging_days) == ("kitchen", True, product, 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mute": "yes"}, "mute"),
        ({"protocolType": "Carrier pigeon"}, "protocolType"),
        ({"deviceConfig": {"dataConfig": {"dataAgingTime": 91}}}, "dataAgingTime"),
        ({"name": "x" * 257}, "name"),
        ({"psk": "nothex!!"}, "psk"),
    ],
)
def test_modify_refuses_bad_fields_naming_them(client, owner_app, body, field, no_wake):
    device = register(owner_app)
    response = _put(client, owner_app, _url(device), body)
    assert response.status_code == 400
    assert field in response.json()["error_desc"]
    device.refresh_from_db()
    assert (device.name, device.mute, device.protocol_type) == ("", False, "")


def test_another_application_cannot_modify_or_delete(client, owner_app, other_app, no_wake):
    device = register(owner_app)
    assert _put(client, other_app, _url(device), {"name": "stolen"}).status_code == 404
    assert client.delete(_url(device), headers=other_app.headers()).status_code == 404
    device.refresh_from_db()
    assert device.name == ""


def test_delete_is_204_and_notifies(client, owner_app, no_wake):
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceDeleted", callback_url="http://127.0.0.1:9/x"
    )
    device = register(owner_app)
    assert client.delete(_url(device), headers=owner_app.headers()).status_code == 204
    assert not Device.objects.exists()
    assert json.loads(bytes(PushMessage.objects.get().body)) == {
        "notifyType": "deviceDeleted",
        "deviceId": device.device_id,
        "gatewayId": device.device_id,
    }


def test_a_gateway_with_sub_devices_needs_cascade(client, owner_app, no_wake):
    gateway = register(owner_app, node_id="gw")
    Device.objects.filter(pk=gateway.pk).update(node_type="GATEWAY")
    register(owner_app, node_id="child", gateway=gateway)
    refused = client.delete(_url(gateway), headers=owner_app.headers())
    assert refused.status_code == 400 and "cascade" in refused.json()["error_desc"]
    assert Device.objects.count() == 2
    assert client.delete(_url(gateway) + "?cascade=true", headers=owner_app.headers()).status_code == 204
    assert not Device.objects.exists()


def test_activation_status(client, owner_app, no_wake):
    device = register(owner_app, info={"name": "m"})
    body = client.get(f"/iocm/app/reg/v1.1.0/deviceCredentials/{device.device_id}", headers=owner_app.headers()).json()
    assert body == {"deviceId": device.device_id, "activated": False, "name": "m"}


def test_refresh_key_only_while_offline(client, owner_app, no_wake):
    device = register(owner_app)
    url = f"/iocm/app/reg/v1.1.0/deviceCredentials/{device.device_id}"
    response = _put(client, owner_app, url, {"verifyCode": "NEWCODE", "timeout": 600})
    assert response.json() == {"verifyCode": "NEWCODE", "timeout": 600}
    Device.objects.filter(pk=device.pk).update(status="ONLINE")
    online = _put(client, owner_app, url, {"verifyCode": "AGAIN"})
    assert online.status_code == 400 and online.json()["error_code"] == "100611"


def test_refresh_key_to_a_taken_node_id_is_100426(client, owner_app, no_wake):
    register(owner_app, node_id="taken")
    device = register(owner_app, node_id="mine")
    response = _put(
        client, owner_app, f"/iocm/app/reg/v1.1.0/deviceCredentials/{device.device_id}", {"nodeId": "taken"}
    )
    assert response.json()["error_code"] == "100426"
