"""Delivery policies: a product's or a device's power mode and LwM2M downlink method (Write or Execute on
/19/1/0), set in the portal or through /api/v1/delivery-policies, and what they change on the wire."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest

from commands import actions
from commands.models import Command, DeliveryPolicy
from devices.models import Device
from ingress.simulator import connect
from tests.applications.fixtures import create_app
from tests.commands.test_end_to_end import _command_downlink, _create, _threaded, _wait_status
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.ingress.fixtures import WorkerThread
from tests.portal.fixtures import create_personas


@pytest.fixture
def setup(db, no_wake):
    personas = create_personas()
    product = water_meter(personas.app)
    device = register(personas.app, info=WATER_METER)
    return personas, product, Device.objects.select_related("product").get(pk=device.pk)


def test_each_field_comes_from_the_device_else_the_product_else_the_platform(settings, setup):
    _, product, device = setup
    settings.COMMAND_DEFAULT_POWER_MODE, settings.INGRESS_LWM2M_DOWNLINK = "PSM", "write"
    assert actions.delivery_settings([device]) == {device.pk: ("PSM", "write")}

    actions.do_set_delivery_policy(product=product, power_mode="DRX", lwm2m_downlink="execute")
    assert actions.delivery_settings([device]) == {device.pk: ("DRX", "execute")}

    actions.do_set_delivery_policy(device=device, lwm2m_downlink="write")  # power mode still the product's
    assert actions.delivery_settings([device]) == {device.pk: ("DRX", "write")}
    assert actions.power_mode(device) == "DRX" and actions.lwm2m_downlink(device) == "write"

    actions.do_set_delivery_policy(device=device)  # both empty: the device's policy is removed
    assert not DeliveryPolicy.objects.filter(device=device).exists()
    assert actions.delivery_settings([device]) == {device.pk: ("DRX", "execute")}


@pytest.fixture
def api_setup(db, no_wake):
    credentials, other = create_app("Water utility"), create_app("Gas utility")
    product = water_meter(credentials)
    return credentials, other, product, register(credentials, info=WATER_METER)


def test_an_lwm2m_gateways_sub_device_follows_its_gateways_power_mode(settings, setup):
    from devices import gateways
    from products.models import Product

    _, product, gateway = setup
    settings.COMMAND_DEFAULT_POWER_MODE, settings.INGRESS_LWM2M_DOWNLINK = "PSM", "write"
    info = gateways.SubDeviceInfo("sub-0001", product_id=str(product.product_id))
    sub = gateways.do_add_sub_devices(gateway, [info])[0].device
    actions.do_set_delivery_policy(device=gateway, power_mode="DRX", lwm2m_downlink="execute")
    actions.do_set_delivery_policy(device=sub, power_mode="eDRX")
    # An MQTT gateway's sub-device keeps its own chain.
    assert actions.delivery_settings([sub]) == {sub.pk: ("eDRX", "write")}

    Product.objects.filter(pk=product.pk).update(lwm2m_gateway=True)
    # An LwM2M gateway's: the gateway's power mode; the method its own, else its product's, else the gateway's.
    assert actions.delivery_settings([sub, gateway]) == {sub.pk: ("DRX", "execute"), gateway.pk: ("DRX", "execute")}
    actions.do_set_delivery_policy(device=sub, power_mode="eDRX", lwm2m_downlink="write")
    assert actions.delivery_settings([sub]) == {sub.pk: ("DRX", "write")}
    assert actions.power_mode(sub) == "DRX"


def test_api_sets_reads_and_refuses_with_the_field_named(client, api_setup):
    credentials, _, product, device = api_setup
    headers = credentials.headers()
    url = f"/api/v1/delivery-policies/products/{product.product_id}"
    answer = client.put(url, {"lwm2mDownlink": "execute"}, content_type="application/json", headers=headers)
    assert answer.status_code == 200 and answer.json() == {"powerMode": "", "lwm2mDownlink": "execute"}

    device_url = f"/api/v1/delivery-policies/devices/{device.device_id}"
    body = client.get(device_url, headers=headers).json()
    assert body["lwm2mDownlink"] == "" and body["effective"]["lwm2mDownlink"] == "execute"

    refused = client.put(url, {"powerMode": "SLEEPY"}, content_type="application/json", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "100022" and "powerMode must be" in refused.json()["error_desc"]
    assert DeliveryPolicy.objects.get(product=product).lwm2m_downlink == "execute"  # unchanged


def test_another_application_cannot_read_or_change_a_policy(client, api_setup):
    _, other, product, device = api_setup
    headers = other.headers()
    url = f"/api/v1/delivery-policies/products/{product.product_id}"
    assert client.put(url, {"powerMode": "DRX"}, content_type="application/json", headers=headers).status_code == 400
    assert client.get(f"/api/v1/delivery-policies/devices/{device.device_id}", headers=headers).json()[
        "error_code"
    ] == ("100418")
    assert not DeliveryPolicy.objects.exists()


def test_portal_page_for_owners_and_read_only_for_viewers(client, setup):
    personas, product, device = setup
    url = f"/commands/delivery/product/{product.product_id}/"
    client.force_login(personas.viewer)
    assert "inherit" in client.get(url).content.decode()
    assert client.post(url, {"power_mode": "DRX", "lwm2m_downlink": ""}).status_code == 403
    assert not DeliveryPolicy.objects.exists()

    client.force_login(personas.owner)
    assert client.post(url, {"power_mode": "DRX", "lwm2m_downlink": "execute"}).status_code == 302
    policy = DeliveryPolicy.objects.get(product=product)
    assert (policy.power_mode, policy.lwm2m_downlink) == ("DRX", "execute")
    page = client.get(f"/commands/delivery/device/{device.device_id}/").content.decode()
    assert "<code>DRX</code>" in page and "<code>execute</code>" in page

    client.force_login(personas.outsider)
    assert client.get(url).status_code == 404


@pytest.fixture
def worker(settings, monkeypatch):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.INGRESS_ACK_TIMEOUT = 0.2
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    thread = WorkerThread().start()
    yield thread
    thread.stop()


@pytest.mark.django_db(transaction=True)
def test_execute_product_gets_post_downlinks_and_its_report_ack_as_non(client, worker, settings):
    from tests.products.codecs.fixtures import deploy, meter

    credentials = create_app()
    product = meter(credentials)
    deploy(product)
    actions.do_set_delivery_policy(product=product, power_mode="DRX", lwm2m_downlink="execute")
    node_id = "867724030023558"
    registered = client.post(
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        json.dumps({"nodeId": node_id, "verifyCode": node_id, "timeout": 0}),
        content_type="application/json",
        headers=credentials.headers(),
    ).json()
    tie = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
    client.put(
        f"/iocm/app/dm/v1.4.0/devices/{registered['deviceId']}",
        json.dumps(tie),
        content_type="application/json",
        headers=credentials.headers(),
    )

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(b"\x01" + struct.pack(">Ih", 100, 21))
        report_ack = (await simulated.wait_downlink(1))[0]
        command_id = await asyncio.to_thread(_threaded, _create, client, credentials, registered["deviceId"])
        downlink = await _command_downlink(simulated)
        await asyncio.to_thread(_threaded, _wait_status, command_id, "DELIVERED")
        simulated.close()
        return report_ack, downlink, command_id

    report_ack, downlink, command_id = asyncio.run(scenario())
    assert (report_ack.method, report_ack.path, report_ack.confirmable) == ("POST", "/19/1/0", False)
    assert (downlink.method, downlink.path, downlink.confirmable) == ("POST", "/19/1/0", True)
    assert Command.objects.get(command_id=command_id).status == "DELIVERED"
