"""`manage.py simulate_devices` against a worker: registers a fleet, sends at a rate, reports."""

from __future__ import annotations

import re

import pytest

from devices.models import DataHistory, Device
from tests.conftest import manage
from tests.ingress.fixtures import WorkerThread, water_product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def test_simulate_devices_registers_a_fleet_and_every_acknowledged_uplink_is_stored(owner_app, worker, settings):
    water_product(owner_app)
    args = ["--register", owner_app.app_id, "--count", "3", "--rate", "40", "--duration", "1"]
    done = manage(
        "simulate_devices", *args, "--port", str(worker.port), env={"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX}
    )

    assert done.returncode == 0, done.stderr
    assert "3 devices registered" in done.stdout
    summary = re.search(r"3 devices, (\d+) uplinks sent, (\d+) acknowledged, 0 failed", done.stdout)
    assert summary, done.stdout
    sent, acknowledged = int(summary[1]), int(summary[2])
    assert sent == acknowledged >= 30
    fleet = Device.objects.filter(node_id__startswith="86100000").values_list("pk", flat=True)
    assert DataHistory.objects.filter(device_id__in=list(fleet)).count() == acknowledged
    assert Device.objects.filter(node_id__startswith="86100000", activated=True).count() == 3


def test_simulate_devices_says_why_nothing_connected(owner_app, worker):
    done = manage("simulate_devices", "--count", "1", "--duration", "0.1", "--port", str(worker.port))

    assert done.returncode != 0
    assert "4.03" in done.stderr and "no device could register" in done.stderr


def test_simulate_devices_over_coaps(owner_app, worker, settings):
    water_product(owner_app)
    args = ["--register", owner_app.app_id, "--count", "2", "--rate", "20", "--duration", "0.5", "--coaps"]
    done = manage(
        "simulate_devices", *args, "--port", str(worker.coaps_port), env={"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX}
    )

    assert done.returncode == 0, done.stderr
    summary = re.search(r"2 devices, (\d+) uplinks sent, (\d+) acknowledged, 0 failed", done.stdout)
    assert summary and int(summary[2]) >= 5, done.stdout
    from ingress.models import DeviceSession

    assert DeviceSession.objects.filter(secure=True).count() == 2


def test_simulate_devices_as_an_lwm2m_gateway_with_n_sub_devices(owner_app, worker, settings):
    from products.models import Product

    Product.objects.filter(pk=water_product(owner_app).pk).update(lwm2m_gateway=True)
    args = ["--protocol", "lwm2m", "--register", owner_app.app_id, "--count", "1", "--gateway", "5"]
    done = manage(
        "simulate_devices",
        *args,
        *("--rate", "30", "--duration", "1", "--port", str(worker.port)),
        env={"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX},
    )

    assert done.returncode == 0, done.stderr
    summary = re.search(
        r"LwM2M gateway (\d+) with 5 sub-devices: (\d+) uplinks sent, (\d+) acknowledged, 0 fail", done.stdout
    )
    assert summary, done.stdout
    gateway = Device.objects.get(node_id=summary[1])
    subs = list(Device.objects.filter(gateway=gateway).values_list("pk", flat=True))
    assert len(subs) == 5 and gateway.node_type == "GATEWAY"
    assert int(summary[2]) == int(summary[3]) >= 20
    assert DataHistory.objects.filter(device_id__in=subs).count() == int(summary[3])


def test_simulate_devices_as_conformant_1_1_clients_named_urn_imei(owner_app, worker, settings):
    water_product(owner_app)
    args = ["--register", owner_app.app_id, "--count", "2", "--rate", "20", "--duration", "0.5"]
    args += ["--client", "1.1", "--endpoint-form", "urn:imei"]
    done = manage(
        "simulate_devices", *args, "--port", str(worker.port), env={"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX}
    )

    assert done.returncode == 0, done.stderr
    summary = re.search(r"2 devices, (\d+) uplinks sent, (\d+) acknowledged, 0 failed", done.stdout)
    assert summary and int(summary[2]) >= 5, done.stdout
    from devices.models import DeviceLog
    from ingress.models import DeviceSession

    sessions = DeviceSession.objects.filter(device__node_id__startswith="86100000")
    assert sorted(sessions.values_list("lwm2m_version", "downlink_forms")) == [("1.1", "instance,opaque")] * 2
    logs = DeviceLog.objects.filter(summary__contains="endpoint name 'urn:imei:86100000")
    assert logs.count() == 2


def test_simulate_devices_as_standard_clients_with_ipso_sensors(owner_app, worker, settings):
    from tests.products.lwm2m_fixtures import standard_device

    standard_device(owner_app, "861999990000000")  # imports and maps the standard product
    args = ["--register", owner_app.app_id, "--count", "2", "--rate", "20", "--duration", "0.5"]
    args += ["--client", "standard", "--manufacturer", "Std", "--device-type", "Sensor", "--model", "std1"]
    done = manage(
        "simulate_devices", *args, "--port", str(worker.port), env={"REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX}
    )

    assert done.returncode == 0, done.stderr
    summary = re.search(r"2 devices, (\d+) uplinks sent, (\d+) acknowledged, 0 failed", done.stdout)
    assert summary and int(summary[2]) >= 5, done.stdout
    fleet = list(Device.objects.filter(node_id__startswith="86100000"))
    assert all(18.0 <= device.shadow["Temperature"]["data"]["temperature"] <= 26.0 for device in fleet)
    temperatures = DataHistory.objects.filter(device_id__in=[device.pk for device in fleet], service_id="Temperature")
    assert temperatures.count() >= int(summary[2])
