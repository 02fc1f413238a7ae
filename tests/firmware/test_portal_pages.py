"""Upgrade pages: packages, tasks with live progress and controls, for each persona."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from devices import actions as device_actions
from devices.models import Device
from firmware.models import Operation, Package, SubOperation
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.firmware.conftest import package_zip
from tests.portal.fixtures import create_personas


@pytest.fixture
def personas(db, driver):
    personas = create_personas()
    water_meter(personas.app)
    for number in range(2):
        device = device_actions.do_bind_device(
            register(personas.app, node_id=f"86100000000000{number}", info=WATER_METER)
        )
        Device.objects.filter(pk=device.pk).update(fw_version="V1.0")
    return personas


PACKAGE_FORM = {
    "file_type": "firmwarePackage",
    "version": "V1.1",
    "device_type": "WaterMeter",
    "manufacturer_name": "Huawei",
    "model": "v1001",
    "protocol_type": "LWM2M",
    "source_versions": "V1.0",
}


def _upload(client, personas, data=None):
    upload = SimpleUploadedFile("fw.zip", data or package_zip())
    return client.post("/firmware/packages/", {"application": personas.app.app_id, "file": upload, **PACKAGE_FORM})


def test_owner_uploads_and_starts_a_task_for_devices(client, personas, driver):
    client.force_login(personas.owner)
    assert _upload(client, personas).status_code == 302
    package = Package.objects.get()
    response = client.post(
        "/firmware/tasks/",
        {"package": package.file_id, "node_ids": "861000000000000\n861000000000001", "execute_type": "now",
         "rate_per_minute": 0, "max_concurrent": 1, "retry_times": 0},
    )  # fmt: skip
    operation = Operation.objects.get()
    assert response.status_code == 302 and operation.max_concurrent == 1
    from firmware import actions

    actions.schedule(operation.pk)
    page = client.get(f"/firmware/tasks/{operation.operation_id}/").content.decode()
    assert "861000000000000" in page and "Upgrading now" in page
    client.post(f"/firmware/tasks/{operation.operation_id}/abort/")
    assert Operation.objects.get().status == "stop"
    assert SubOperation.objects.filter(status="stop").count() == 1


def test_a_bad_package_says_why(client, personas):
    client.force_login(personas.owner)
    response = _upload(client, personas, b"not a zip")
    assert "not a zip" in response.content.decode()
    assert not Package.objects.exists()


def test_viewer_and_outsider_cannot_change_anything(client, personas):
    client.force_login(personas.owner)
    _upload(client, personas)
    client.force_login(personas.viewer)
    assert _upload(client, personas).status_code == 200  # not among the viewer's applications
    assert Package.objects.count() == 1
    client.force_login(personas.outsider)
    assert "V1.1" not in client.get("/firmware/packages/").content.decode()
