"""Upgrade operations: the reference's errors, the F-7.3 to F-7.7 checks, rollouts, steps and results."""

import datetime as dt
import json

import pytest
import time_machine

from devices.models import Device
from firmware import actions
from firmware.models import Operation, Package, SubOperation
from subscriptions.models import PushMessage, Subscription
from tests.firmware.conftest import package_zip

T0 = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)


def _package(credentials, **overrides):
    fields = {
        "fileType": "firmwarePackage", "version": "V1.1", "deviceType": "WaterMeter", "manufacturerName": "Huawei",
        "model": "v1001", "protocolType": "LWM2M", "sourceVersions": "V1.0",
    }  # fmt: skip
    return actions.do_upload_package(credentials.application, {**fields, **overrides}, "fw.zip", package_zip())


def _body(package, devices, **policy):
    return {
        "fileId": package.file_id,
        "targets": {"deviceType": "WaterMeter", "model": "v1001", "manufacturerName": "Huawei",
                    "devices": [device.device_id for device in devices]},
        "policy": {"executeType": "now", **policy},
    }  # fmt: skip


def _post(client, credentials, body, kind="firmwareUpgrade"):
    return client.post(
        f"/iodm/northbound/v1.5.0/operations/{kind}",
        json.dumps(body),
        content_type="application/json",
        headers=credentials.headers(),
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b["targets"].pop("manufacturerName"), "123019"),
        (lambda b: b["targets"].pop("deviceType"), "123020"),
        (lambda b: b["targets"].pop("model"), "123021"),
        (lambda b: b["targets"].pop("devices"), "123022"),
        (lambda b: b["targets"].update(deviceGroups=["g"]), "123023"),
        (lambda b: b["policy"].update(executeType="sometime"), "123025"),
        (lambda b: b["policy"].update(executeType="custom"), "123026"),
        (lambda b: b["policy"].update(retryType=True, retryTimes=9), "123028"),
        (lambda b: b.update(fileId="nope"), "123002"),
    ],
)
def test_the_references_errors(client, owner_app, meters, change, code):
    body = _body(_package(owner_app), meters)
    change(body)
    response = _post(client, owner_app, body)
    assert response.json()["error_code"] == code
    assert not Operation.objects.exists()


def test_custom_window_rules(client, owner_app, meters):
    package = _package(owner_app)
    with time_machine.travel(T0, tick=False):
        late = _body(package, meters, executeType="custom", startTime="20260701T100000Z", endTime="20260701T090000Z")
        assert _post(client, owner_app, late).json()["error_code"] == "123032"
        early = _body(package, meters, executeType="custom", startTime="20260701T070000Z", endTime="20260701T090000Z")
        assert _post(client, owner_app, early).json()["error_code"] == "123033"
        short = _body(package, meters, executeType="custom", startTime="20260701T090000Z", endTime="20260701T090400Z")
        assert _post(client, owner_app, short).json()["error_code"] == "123034"


def test_another_applications_package_or_devices_are_not_found(client, owner_app, other_app, meters):
    package = _package(owner_app)
    assert _post(client, other_app, _body(package, meters)).json()["error_code"] == "123002"


def test_a_task_starts_every_eligible_device_and_answers_its_id(client, owner_app, meters, driver):
    response = _post(client, owner_app, _body(_package(owner_app), meters))
    operation = Operation.objects.get(operation_id=response.json()["operationId"])
    actions.schedule(operation.pk)
    assert sorted(driver.started) == sorted(device.node_id for device in meters)
    assert set(SubOperation.objects.values_list("status", flat=True)) == {"processing"}
    assert set(Device.objects.values_list("status_detail", flat=True)) == {"FIRMWARE_UPDATING"}


def test_same_version_and_wrong_source_version_are_refused_per_device(owner_app, meters, driver):
    Device.objects.filter(pk=meters[0].pk).update(fw_version="V1.1")
    Device.objects.filter(pk=meters[1].pk).update(fw_version="V0.9")
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    details = dict(SubOperation.objects.values_list("device__node_id", "detail_info"))
    assert details[meters[0].node_id] == "The current version is the same as the target version"
    assert "source versions" in details[meters[1].node_id]
    assert driver.started == [meters[2].node_id]


def test_offline_device_fails_with_now_and_waits_with_device_online(owner_app, meters, driver):
    Device.objects.filter(pk=meters[0].pk).update(status="OFFLINE")
    now_task = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
    )
    actions.schedule(now_task.pk)
    assert SubOperation.objects.get(operation=now_task).error_code == "DEVICE_NOT_ONLINE"
    online = actions.do_create_operation(
        owner_app.application,
        _body(_package(owner_app, version="V1.2"), meters[:1], executeType="device_online"),
        "firmware_upgrade",
    )
    actions.schedule(online.pk)
    assert SubOperation.objects.get(operation=online).status == "wait"
    Device.objects.filter(pk=meters[0].pk).update(status="ONLINE")
    actions.schedule(online.pk)
    assert SubOperation.objects.get(operation=online).status == "processing"


def test_no_driver_is_no_protocol_service_not_a_hang(owner_app, meters, monkeypatch):
    monkeypatch.setattr("firmware.drivers.DRIVERS", {})
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    assert SubOperation.objects.get().error_code == "NO_PROTOCOL_SERVICE"


def test_the_lwm2m_driver_fails_a_device_no_ingress_worker_holds_as_not_online(owner_app, meters):
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    assert SubOperation.objects.get().error_code == "DEVICE_NOT_ONLINE"


def test_a_started_sub_operation_is_due_so_a_lost_hand_off_times_out(owner_app, meters, driver, settings):
    settings.FIRMWARE_STEP_TIMEOUT = 600
    with time_machine.travel(T0, tick=False):
        operation = actions.do_create_operation(
            owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
        )
        actions.schedule(operation.pk)
    with time_machine.travel(T0 + dt.timedelta(seconds=601), tick=False):
        actions.schedule(operation.pk)
    assert SubOperation.objects.get().error_code == "WAIT_VERSION_TIMEOUT"


def test_steps_and_result_are_notified_with_the_references_bodies(owner_app, meters, driver):
    for notify_type in ("fwUpgradeStateChangeNotify", "fwUpgradeResultNotify"):
        Subscription.objects.create(
            application=owner_app.application, notify_type=notify_type, callback_url="http://127.0.0.1:9/fw"
        )
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    sub = SubOperation.objects.select_related("device", "operation__application", "operation__package").get()
    actions.on_step(sub, "downloading")
    actions.on_step(sub, "downloaded")
    actions.on_step(sub, "updating")
    actions.on_result(sub, ok=True, cur_version="V1.1")
    states = [
        json.loads(bytes(m.body))
        for m in PushMessage.objects.filter(notify_type="fwUpgradeStateChangeNotify").order_by("id")
    ]
    assert [(s["step"], s["stepDesc"]) for s in states] == [
        ("1", "downloading"),
        ("2", "downloaded"),
        ("3", "updating"),
    ]
    [result] = [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type="fwUpgradeResultNotify")]
    assert (result["status"], result["curVersion"], result["sourceVersion"], result["targetVersion"]) == (
        "SUCCESS",
        "V1.1",
        "V1.0",
        "V1.1",
    )
    assert Device.objects.get(pk=meters[0].pk).fw_version == "V1.1"
    actions.schedule(operation.pk)
    assert Operation.objects.get(pk=operation.pk).status == "success"


def test_a_stuck_download_times_out_and_is_retried_then_fails(owner_app, meters, driver, settings):
    settings.FIRMWARE_STEP_TIMEOUT = 600
    body = _body(_package(owner_app), meters[:1], retryType=True, retryTimes=1)
    with time_machine.travel(T0, tick=False):
        operation = actions.do_create_operation(owner_app.application, body, "firmware_upgrade")
        actions.schedule(operation.pk)
        actions.on_step(SubOperation.objects.select_related("device", "operation").get(), "downloading")
    with time_machine.travel(T0 + dt.timedelta(seconds=601), tick=False):
        actions.schedule(operation.pk)  # times out, retries: back to wait, then starts again
        assert SubOperation.objects.get().status == "processing" and len(driver.started) == 2
        actions.on_step(SubOperation.objects.select_related("device", "operation").get(), "downloading")
    with time_machine.travel(T0 + dt.timedelta(seconds=1202), tick=False):
        actions.schedule(operation.pk)
    sub = SubOperation.objects.get()
    assert (sub.status, sub.error_code) == ("fail", "DOWNLOAD_TIMEOUT")


def test_rollout_limits_devices_at_once(owner_app, meters, driver):
    body = {**_body(_package(owner_app), meters), "rollout": {"maxConcurrent": 2}}
    operation = actions.do_create_operation(owner_app.application, body, "firmware_upgrade")
    actions.schedule(operation.pk)
    assert len(driver.started) == 2
    sub = (
        SubOperation.objects.select_related("device", "operation", "operation__application")
        .filter(status="processing")
        .first()
    )
    actions.on_result(sub, ok=True, cur_version="V1.1")
    actions.schedule(operation.pk)
    assert len(driver.started) == 3


def test_abort_when_the_failure_ratio_passes_the_threshold(owner_app, meters, driver, settings):
    settings.FIRMWARE_ABORT_MIN_SAMPLE = 2
    body = {**_body(_package(owner_app), meters), "rollout": {"maxConcurrent": 2, "abortFailureRatio": 0.5}}
    operation = actions.do_create_operation(owner_app.application, body, "firmware_upgrade")
    actions.schedule(operation.pk)
    for sub in SubOperation.objects.select_related("device", "operation", "operation__application").filter(
        status="processing"
    ):
        actions.on_result(sub, ok=False, code="INTEGRITY_FAILURE")
    actions.schedule(operation.pk)
    operation.refresh_from_db()
    assert operation.status == "stop" and "2 of 2" in operation.detail
    assert SubOperation.objects.filter(status="stop").count() == 1
    assert len(driver.started) == 2


def test_retry_failed_only_retries_failed(owner_app, meters, driver):
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:2]), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    first, second = SubOperation.objects.select_related("device", "operation", "operation__application").order_by("id")
    actions.on_result(first, ok=True, cur_version="V1.1")
    actions.on_result(second, ok=False, code="UPDATE_FAILED")
    actions.schedule(operation.pk)
    assert Operation.objects.get(pk=operation.pk).status == "failed"
    assert actions.do_retry_failed(operation) == 1
    actions.schedule(operation.pk)
    assert driver.started.count(second.device.node_id) == 2 and driver.started.count(first.device.node_id) == 1


def test_pause_stops_new_starts_and_resume_continues(owner_app, meters, driver):
    body = {**_body(_package(owner_app), meters), "rollout": {"maxConcurrent": 1}}
    operation = actions.do_create_operation(owner_app.application, body, "firmware_upgrade")
    actions.schedule(operation.pk)
    actions.do_pause(operation)
    sub = SubOperation.objects.select_related("device", "operation", "operation__application").get(status="processing")
    actions.on_result(sub, ok=True, cur_version="V1.1")
    actions.schedule(operation.pk)
    assert len(driver.started) == 1
    actions.do_resume(operation)
    actions.schedule(operation.pk)
    assert len(driver.started) == 2


def test_the_product_can_switch_firmware_upgrades_off(owner_app, meters, driver):
    product = meters[0].product
    product.profile["device"]["omCapability"] = {"fwUpgradeCapability": {"supportUpgrade": False}}
    product.save()
    operation = actions.do_create_operation(
        owner_app.application, _body(_package(owner_app), meters[:1]), "firmware_upgrade"
    )
    actions.schedule(operation.pk)
    assert SubOperation.objects.get().error_code == "UPGRADE_DISABLED"


def test_query_operation_and_sub_operations(client, owner_app, other_app, meters, driver):
    operation_id = _post(client, owner_app, _body(_package(owner_app), meters)).json()["operationId"]
    body = client.get(f"/iodm/northbound/v1.5.0/operations/{operation_id}", headers=owner_app.headers()).json()
    assert body["staResult"]["total"] == 3 and body["operateType"] == "firmware_upgrade"
    subs = client.get(
        f"/iodm/northbound/v1.5.0/operations/{operation_id}/subOperations", headers=owner_app.headers()
    ).json()
    assert subs["totalCount"] == 3 and subs["data"][0]["extendInfo"]["targetVersion"] == "V1.1"
    missing = client.get(f"/iodm/northbound/v1.5.0/operations/{operation_id}", headers=other_app.headers())
    assert missing.status_code == 404 and missing.json()["error_code"] == "123009"


def test_a_package_in_use_cannot_be_deleted(owner_app, meters):
    package = _package(owner_app)
    actions.do_create_operation(owner_app.application, _body(package, meters[:1]), "firmware_upgrade")
    from applications.errors import NorthboundError

    with pytest.raises(NorthboundError):
        actions.do_delete_package(package)
    assert Package.objects.exists()
