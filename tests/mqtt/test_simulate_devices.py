"""`manage.py simulate_devices --protocol mqtt` against the MQTT server: registers, connects, reports."""

from __future__ import annotations

import json
import re

import pytest

from applications.models import Application
from devices.models import DataHistory, Device
from tests.conftest import manage
from tests.ingress.fixtures import water_product
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("kind", ["binary", "json"])
def test_simulate_devices_over_mqtt_stores_every_acknowledged_uplink(owner_app, server, settings, kind):
    water_product(owner_app)
    args = ["--protocol", "mqtt", "--register", owner_app.app_id, "--count", "3", "--rate", "40", "--duration", "1"]
    if kind == "json":
        data = {"serviceId": "WaterMeter", "serviceData": {"currentReading": "7"}}
        args += ["--json", json.dumps({"msgType": "deviceReq", "data": [data]})]
    else:
        args += ["--payload", report(reading=7).hex()]
    env = {"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX, "INGRESS_CODEC_MODULE": "products.codecs"}

    done = manage("simulate_devices", *args, "--port", str(server.port), env=env)

    assert done.returncode == 0, done.stderr
    assert "3 devices registered" in done.stdout
    summary = re.search(r"3 devices, (\d+) uplinks sent, (\d+) acknowledged, 0 failed", done.stdout)
    assert summary, done.stdout
    sent, acknowledged = int(summary[1]), int(summary[2])
    assert sent == acknowledged >= 30
    fleet = list(Device.objects.filter(node_id__startswith="86100000").values_list("pk", flat=True))
    assert DataHistory.objects.filter(device_id__in=fleet).count() == acknowledged


def test_simulate_devices_over_mqtt_says_why_nothing_connected(owner_app, server):
    done = manage("simulate_devices", "--protocol", "mqtt", "--count", "1", "--duration", "0.1")

    assert done.returncode != 0
    assert "no device with an MQTT secret" in done.stderr


def test_simulate_devices_fetches_secrets_by_the_product_secret_then_reports(owner_app, server, settings):
    from devices.actions import do_set_product_secret

    product = water_product(owner_app)
    secret = do_set_product_secret(product)
    args = ["--protocol", "mqtt", "--product-secret", str(product.product_id), secret, "--count", "2"]
    args += ["--rate", "20", "--duration", "1", "--payload", report(reading=9).hex(), "--port", str(server.port)]
    env = {"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX, "INGRESS_CODEC_MODULE": "products.codecs"}

    done = manage("simulate_devices", *args, env=env)

    assert done.returncode == 0, done.stderr
    assert "2 devices got their secret by the dynamic connection" in done.stdout
    fleet = list(Device.objects.filter(node_id__startswith="86100000", product=product).values_list("pk", flat=True))
    assert len(fleet) == 2
    assert DataHistory.objects.filter(device_id__in=fleet).count() >= 10


def test_simulate_devices_as_a_gateway_adds_its_sub_devices_and_reports_for_all_of_them(owner_app, server, settings):
    water_product(owner_app)
    # 25 sub-devices x 5 messages a second pass the application's 120 uplinks a second (F-8.2): not tested here.
    Application.objects.filter(pk=owner_app.application.pk).update(uplink_rate_limit=100_000)
    args = ["--protocol", "mqtt", "--register", owner_app.app_id, "--count", "1", "--gateway", "25"]
    args += ["--rate", "5", "--duration", "1", "--port", str(server.port)]
    env = {"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX, "INGRESS_CODEC_MODULE": "products.codecs"}

    done = manage("simulate_devices", *args, env=env)

    assert done.returncode == 0, done.stderr
    summary = re.search(r"gateway 861000000000000 with 25 sub-devices: (\d+) datas messages sent", done.stdout)
    assert summary, done.stdout
    messages = int(summary[1])
    assert f"{messages} acknowledged, 0 failed" in done.stdout
    gateway = Device.objects.get(node_id="861000000000000")
    children = list(Device.objects.filter(gateway=gateway).values_list("pk", flat=True))
    assert gateway.node_type == "GATEWAY" and len(children) == 25
    assert DataHistory.objects.filter(device_id__in=children).count() == 25 * messages
