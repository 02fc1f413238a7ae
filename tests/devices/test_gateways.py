"""Sub-devices through the northbound API: the list's gatewayId and nodeType filters, history with
gatewayId, cascade and refused deletion, tenant isolation, and the status sweep taking a gateway's
sub-devices offline with it (devices.gateways)."""

import datetime as dt
import json

import pytest
import time_machine

from devices import actions, gateways
from devices.models import DataHistory, Device, Status, StatusDetail
from devices.tasks import sweep_devices
from subscriptions.models import PushMessage, Subscription
from tests.devices.fixtures import WATER_METER, register, report, water_meter

T0 = dt.datetime(2026, 5, 1, 10, 0, 0, tzinfo=dt.UTC)
DEVICES = "/iocm/app/dm/v1.4.0/devices"
HISTORY = "/iocm/app/data/v1.2.0/deviceDataHistory"


def add(gateway: Device, *node_ids: str) -> list[Device]:
    infos = [gateways.SubDeviceInfo(node_id, manufacturer_id="Huawei", model="v1001") for node_id in node_ids]
    return [one.device for one in gateways.do_add_sub_devices(gateway, infos)]


@pytest.fixture
def gateway(owner_app, no_wake):
    water_meter(owner_app)
    device = register(owner_app, node_id="gw-1", info=WATER_METER)
    return Device.objects.select_related("application").get(pk=device.pk)


@pytest.fixture
def children(gateway):
    return add(gateway, "sub-1", "sub-2", "sub-3")


def test_the_list_filtered_by_gateway_id_gives_the_gateway_and_its_sub_devices(client, owner_app, gateway, children):
    other = register(owner_app, node_id="gw-2", info=WATER_METER)
    add(Device.objects.select_related("application").get(pk=other.pk), "theirs-1")
    register(owner_app, node_id="direct-1")

    body = client.get(f"{DEVICES}?gatewayId={gateway.device_id}&pageSize=100", headers=owner_app.headers()).json()

    listed = {device["deviceId"]: device for device in body["devices"]}
    assert body["totalCount"] == 4
    assert set(listed) == {gateway.device_id, *(child.device_id for child in children)}
    assert {device["gatewayId"] for device in listed.values()} == {gateway.device_id}
    assert listed[gateway.device_id]["nodeType"] == "GATEWAY"
    assert listed[children[0].device_id]["nodeType"] == "ENDPOINT"
    endpoints = client.get(
        f"{DEVICES}?gatewayId={gateway.device_id}&nodeType=ENDPOINT&pageNo=0&pageSize=100", headers=owner_app.headers()
    ).json()
    assert sorted(device["deviceId"] for device in endpoints["devices"]) == sorted(c.device_id for c in children)
    gateways_only = client.get(f"{DEVICES}?nodeType=GATEWAY&pageNo=0&pageSize=100", headers=owner_app.headers())
    assert {device["deviceId"] for device in gateways_only.json()["devices"]} == {gateway.device_id, other.device_id}


def test_the_list_by_gateway_id_costs_the_same_queries_for_more_sub_devices(
    client, owner_app, gateway, children, django_assert_max_num_queries
):
    url = f"{DEVICES}?gatewayId={gateway.device_id}&pageSize=100"
    client.get(url, headers=owner_app.headers())
    add(gateway, *(f"more-{number}" for number in range(20)))
    with django_assert_max_num_queries(6):
        assert client.get(url, headers=owner_app.headers()).json()["totalCount"] == 24


def test_a_sub_devices_history_carries_its_gateway_and_needs_the_right_gateway_id(client, owner_app, gateway, children):
    child = Device.objects.select_related("application", "gateway").get(pk=children[0].pk)
    report(child, "WaterMeter", T0, currentReading="7")

    asked = f"{HISTORY}?deviceId={child.device_id}&gatewayId={gateway.device_id}&pageNo=0&pageSize=10"
    body = client.get(asked, headers=owner_app.headers()).json()
    assert body["totalCount"] == 1
    row = body["deviceDataHistoryDTOs"][0]
    assert (row["deviceId"], row["gatewayId"], row["data"]) == (
        child.device_id,
        gateway.device_id,
        {"currentReading": "7"},
    )

    wrong = f"{HISTORY}?deviceId={child.device_id}&gatewayId={children[1].device_id}&pageNo=0&pageSize=10"
    assert client.get(wrong, headers=owner_app.headers()).json()["totalCount"] == 0


def test_deleting_a_gateway_needs_cascade_while_it_has_sub_devices(client, owner_app, gateway, children):
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceDeleted", callback_url="http://127.0.0.1:9/x"
    )
    child = Device.objects.select_related("application", "gateway").get(pk=children[0].pk)
    report(child, "WaterMeter", T0, currentReading="7")

    refused = client.delete(f"{DEVICES}/{gateway.device_id}", headers=owner_app.headers())

    assert refused.status_code == 400
    assert refused.json() == {
        "error_code": "100022",
        "error_desc": "The input is invalid: cascade must be true to delete a gateway with 3 sub-devices.",
    }
    assert Device.objects.filter(application=owner_app.application).count() == 4
    assert DataHistory.objects.filter(device_id=child.pk).exists()
    assert not PushMessage.objects.exists()

    deleted = client.delete(f"{DEVICES}/{gateway.device_id}?cascade=true", headers=owner_app.headers())

    assert deleted.status_code == 204
    assert not Device.objects.filter(application=owner_app.application).exists()
    assert not DataHistory.objects.filter(device_id=child.pk).exists()
    bodies = [json.loads(bytes(message.body)) for message in PushMessage.objects.all()]
    assert sorted(body["deviceId"] for body in bodies) == sorted([gateway.device_id, *(c.device_id for c in children)])
    assert {body["gatewayId"] for body in bodies} == {gateway.device_id}


def test_a_gateway_without_sub_devices_is_deleted_without_cascade(client, owner_app, gateway, children):
    gateways.do_delete_sub_devices(gateway, [child.device_id for child in children])
    assert client.delete(f"{DEVICES}/{gateway.device_id}", headers=owner_app.headers()).status_code == 204
    assert not Device.objects.filter(pk=gateway.pk).exists()


def test_another_application_can_neither_see_nor_change_a_gateways_sub_devices(
    client, owner_app, other_app, gateway, children
):
    child = children[0]
    listed = client.get(f"{DEVICES}?gatewayId={gateway.device_id}&pageSize=100", headers=other_app.headers())
    assert listed.json()["totalCount"] == 0
    one = client.get(f"{DEVICES}/{child.device_id}", headers=other_app.headers())
    assert one.json()["error_code"] == "100418"
    history = client.get(
        f"{HISTORY}?deviceId={child.device_id}&gatewayId={gateway.device_id}", headers=other_app.headers()
    )
    assert history.json()["totalCount"] == 0
    for refused in (
        client.delete(f"{DEVICES}/{gateway.device_id}?cascade=true", headers=other_app.headers()),
        client.delete(f"{DEVICES}/{child.device_id}", headers=other_app.headers()),
        client.put(f"{DEVICES}/{child.device_id}", {"name": "x"}, "application/json", headers=other_app.headers()),
    ):
        assert refused.status_code == 404 and refused.json()["error_code"] == "100418"
    command = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": child.device_id, "command": {"serviceId": "WaterMeter", "method": "X", "paras": {}}}),
        content_type="application/json",
        headers=other_app.headers(),
    )
    assert command.json()["error_code"] == "100418"
    assert Device.objects.filter(gateway=gateway).count() == 3
    assert Device.objects.get(pk=child.pk).name == ""


def test_a_gateway_cannot_add_sub_devices_of_another_applications_product(owner_app, other_app, gateway, no_wake):
    foreign = register(other_app, node_id="gw-other")
    foreign = Device.objects.select_related("application").get(pk=foreign.pk)
    owners_product = gateway.product
    with pytest.raises(gateways.GatewayRefused, match="no product of this application has productId"):
        gateways.do_add_sub_devices(
            foreign, [gateways.SubDeviceInfo("sneaky-1", product_id=str(owners_product.product_id))]
        )
    assert not Device.objects.filter(node_id="sneaky-1").exists()


def test_the_status_sweep_takes_a_gateways_sub_devices_offline_with_it(owner_app, gateway, no_wake):
    with time_machine.travel(T0, tick=False):
        actions.do_bind_device(gateway)
        children = add(Device.objects.select_related("application").get(pk=gateway.pk), "s-1", "s-2")
    # The sub-devices reported recently; only their gateway went quiet.
    with time_machine.travel(T0 + dt.timedelta(hours=49, seconds=1), tick=False):
        Device.objects.filter(pk__in=[child.pk for child in children]).update(last_seen_at=T0 + dt.timedelta(hours=48))
        result = sweep_devices()
    assert result.get("sub_devices") == 2, result
    assert Device.objects.get(pk=gateway.pk).status == Status.OFFLINE
    assert {(d.status, d.status_detail) for d in Device.objects.filter(gateway=gateway)} == {
        (Status.OFFLINE, StatusDetail.BRIDGE_OFFLINE)
    }
    # The gateway comes back: so do they.
    assert gateways.do_gateway_online(gateway.pk) == 2
    assert set(Device.objects.filter(gateway=gateway).values_list("status", flat=True)) == {Status.ONLINE}


def test_a_sub_device_deleted_on_its_own_is_notified_with_its_gateway(client, owner_app, gateway, children):
    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceDeleted", callback_url="http://127.0.0.1:9/x"
    )
    assert client.delete(f"{DEVICES}/{children[0].device_id}", headers=owner_app.headers()).status_code == 204
    body = json.loads(bytes(PushMessage.objects.get().body))
    assert body == {"notifyType": "deviceDeleted", "deviceId": children[0].device_id, "gatewayId": gateway.device_id}
    assert Device.objects.filter(gateway=gateway).count() == 2
