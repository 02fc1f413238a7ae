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


# --- Issue 20, item 8: targets reported, reasons with their fix, controls and polling by state ---------


def _task(client, personas, node_ids: str):
    client.force_login(personas.owner)
    _upload(client, personas)
    package = Package.objects.get()
    return client.post(
        "/firmware/tasks/",
        {"package": package.file_id, "node_ids": node_ids, "execute_type": "now", "rate_per_minute": 0,
         "max_concurrent": 0, "retry_times": 0},
    )  # fmt: skip


def test_unknown_nodeids_are_named_and_no_task_is_created(client, personas):
    register(personas.other_app, node_id="869999999999999")  # another application's device is unknown here too
    response = _task(client, personas, "861000000000000\n861234567890123\n869999999999999")
    assert response.status_code == 200
    errors = response.context["form"].errors["node_ids"]
    assert errors == [
        "No devices with nodeIds 861234567890123, 869999999999999 in Water utility: correct or remove them."
    ]
    assert not Operation.objects.exists()


def _page(client, operation) -> str:
    return client.get(f"/firmware/tasks/{operation.operation_id}/").content.decode()


def test_a_task_where_every_device_failed_reads_failed_with_the_fix_and_stops_polling(client, personas):
    from firmware import actions, drivers
    from firmware.models import OperationStatus

    _task(client, personas, "861000000000000\n861000000000001")
    operation = Operation.objects.get()
    before = dict(drivers.DRIVERS)
    drivers.DRIVERS.clear()  # no protocol driver: every device fails with NO_PROTOCOL_SERVICE
    try:
        actions.schedule(operation.pk)
    finally:
        drivers.DRIVERS.update(before)
    operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert set(SubOperation.objects.values_list("error_code", flat=True)) == {"NO_PROTOCOL_SERVICE"}
    page = _page(client, operation)
    assert "Cannot find the protocol service for the device." in page
    assert "Fix: The product must support LwM2M object 5 (firmware) or PCP (software)" in page
    assert "op-failed" in page and 'class="seg-fail" style="width: 100.00%"' in page
    assert 'class="seg-success" style="width: 0.00%"' in page
    assert "hx-trigger" not in page  # finished: no polling
    assert ">Pause<" not in page and ">Resume<" not in page and ">Abort<" not in page
    assert ">Retry failed<" in page


def test_a_running_task_polls_and_offers_pause_and_abort_then_resume_when_paused(client, personas, driver):
    from firmware import actions

    _task(client, personas, "861000000000000")
    operation = Operation.objects.get()
    actions.schedule(operation.pk)
    page = _page(client, operation)
    assert 'hx-trigger="every 2s"' in page
    assert ">Pause<" in page and ">Abort<" in page and ">Resume<" not in page and ">Retry failed<" not in page
    assert 'data-confirm="Abort this upgrade task?' in page
    client.post(f"/firmware/tasks/{operation.operation_id}/pause/")
    page = _page(client, operation)
    assert ">Resume<" in page and ">Pause<" not in page and ">Abort<" in page
    assert 'hx-trigger="every 2s"' in page  # paused: it can still change


def test_a_package_is_uploaded_by_picking_the_product(client, personas):
    from products.models import Product

    product = Product.objects.get(application=personas.app.application)
    client.force_login(personas.owner)
    form = {"application": personas.app.app_id, "product": str(product.product_id), "file_type": "firmwarePackage",
            "version": "V1.2", "protocol_type": "LWM2M", "source_versions": "V1.0"}  # fmt: skip
    page = client.get("/firmware/packages/").content.decode()
    assert "WaterMeter · Huawei · v1001" in page  # the product to pick
    response = client.post("/firmware/packages/", {**form, "file": SimpleUploadedFile("fw.zip", package_zip())})
    assert response.status_code == 302
    package = Package.objects.get()
    assert (package.device_type, package.manufacturer_name, package.model) == ("WaterMeter", "Huawei", "v1001")


def test_without_a_product_the_three_fields_are_asked_for_in_one_round(client, personas):
    client.force_login(personas.owner)
    response = client.post("/firmware/packages/", {
        "application": personas.app.app_id, "file_type": "firmwarePackage", "version": "V1.2",
        "protocol_type": "LWM2M", "file": SimpleUploadedFile("fw.zip", package_zip()),
    })  # fmt: skip
    errors = response.context["form"].errors
    assert set(errors) == {"device_type", "manufacturer_name", "model"}
    assert not Package.objects.exists()
