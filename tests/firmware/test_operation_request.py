"""The upgrade-task body parsed by its serializer (firmware.requests): each failed check answers the
reference's code with the original's status and text, and when several fail, the one the original
checked first. A refused body creates nothing."""

import json

import pytest

from devices.models import DeviceGroup
from firmware import actions
from firmware.models import Operation
from tests.firmware.conftest import package_zip


def _package(credentials, file_type="firmwarePackage"):
    fields = {
        "fileType": file_type, "version": "V1.1", "deviceType": "WaterMeter", "manufacturerName": "Huawei",
        "model": "v1001", "protocolType": "LWM2M", "sourceVersions": "V1.0",
    }  # fmt: skip
    return actions.do_upload_package(credentials.application, fields, "fw.zip", package_zip())


def _body(package, devices):
    return {
        "fileId": package.file_id,
        "targets": {"deviceType": "WaterMeter", "model": "v1001", "manufacturerName": "Huawei",
                    "devices": [device.device_id for device in devices]},
        "policy": {"executeType": "now"},
    }  # fmt: skip


def _refused(client, credentials, body):
    response = client.post(
        "/iodm/northbound/v1.5.0/operations/firmwareUpgrade",
        json.dumps(body),
        content_type="application/json",
        headers=credentials.headers(),
    )
    assert not Operation.objects.exists()
    return response.status_code, response.json()


DEFAULT = {
    "123001": "Bad request error.",
    "123002": "Device or package file not found.",
    "123019": "manufacturerName is null.",
    "123024": "The number of deviceGroups or devices reached upper limit",
    "123025": "executeType is error or can not to be null",
    "123026": "startTime or endTime is null or error",
    "123027": "some deviceGroups not found",
    "123028": "retryTimes is null or beyond the limit",
}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b.pop("fileId"), "123002"),
        (lambda b: b.pop("targets"), "123001"),
        (lambda b: b.update(targets=["WaterMeter"]), "123001"),
        (lambda b: b["targets"].update(manufacturerName=""), "123019"),
        (lambda b: b["targets"].update(manufacturerName=None), "123019"),
        (lambda b: b["targets"].update(devices=[f"d{i}" for i in range(257)]), "123024"),
        (lambda b: b["targets"].update(devices="not a list"), "123001"),
        (lambda b: b.pop("policy"), "123025"),
        (lambda b: b.update(policy="now"), "123025"),
        (lambda b: b["policy"].pop("executeType"), "123025"),
        (lambda b: b["policy"].update(executeType="custom", startTime="tomorrow", endTime="later"), "123026"),
        (lambda b: b["policy"].update(retryType=True, retryTimes="3"), "123028"),
        (lambda b: b["policy"].update(retryType=True, retryTimes=True), "123028"),
        (lambda b: b["policy"].update(retryType=True), "123028"),
        (lambda b: b["targets"].update(devices=["no-such-device"]), "123002"),
        (lambda b: b["targets"].update(devices=None, deviceGroups=["no-such-group"]), "123027"),
        (lambda b: b.update(rollout=[1]), "123001"),
    ],
)
def test_each_failed_check_answers_its_code_with_the_catalogue_text(client, owner_app, meters, change, code):
    body = _body(_package(owner_app), meters)
    change(body)
    status, answer = _refused(client, owner_app, body)
    assert (status, answer) == (400 if code != "123002" else 404, {"error_code": code, "error_desc": DEFAULT[code]})


def test_a_body_that_is_not_an_object_is_a_bad_request(client, owner_app):
    status, answer = _refused(client, owner_app, ["fileId"])
    assert (status, answer) == (400, {"error_code": "123001", "error_desc": "Bad request error."})


def test_a_package_of_the_other_type_is_named(client, owner_app, meters):
    package = _package(owner_app, file_type="softwarePackage")
    status, answer = _refused(client, owner_app, _body(package, meters))
    assert (status, answer["error_code"]) == (400, "123001")
    assert answer["error_desc"] == (
        f"Bad request error: {package.file_id} is a softwarePackage, not a firmwarePackage."
    )


@pytest.mark.parametrize(
    ("rollout", "desc"),
    [
        ({"ratePerMinute": -1}, "Bad request error: rollout.ratePerMinute must be 0 (no limit) or more."),
        ({"maxConcurrent": True}, "Bad request error: rollout.maxConcurrent must be 0 (no limit) or more."),
        ({"maxConcurrent": 1.5}, "Bad request error: rollout.maxConcurrent must be 0 (no limit) or more."),
        ({"abortFailureRatio": 0}, "Bad request error: rollout.abortFailureRatio must be above 0 and at most 1."),
        ({"abortFailureRatio": "0.5"}, "Bad request error: rollout.abortFailureRatio must be above 0 and at most 1."),
    ],
)
def test_a_bad_rollout_names_the_field(client, owner_app, meters, rollout, desc):
    status, answer = _refused(client, owner_app, {**_body(_package(owner_app), meters), "rollout": rollout})
    assert (status, answer) == (400, {"error_code": "123001", "error_desc": desc})


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # the package first, whatever else is wrong
        (lambda b: b.update(fileId="nope", targets={}, policy={}, rollout={"maxConcurrent": -1}), "123002"),
        # the targets' fields before the policy
        (lambda b: (b["targets"].pop("model"), b.update(policy={})), "123021"),
        (lambda b: (b["targets"].pop("model"), b["targets"].pop("deviceType")), "123020"),
        # the policy before which devices
        (lambda b: (b["targets"].update(devices=["no-such-device"]), b.update(policy={})), "123025"),
        # which devices before the rollout
        (
            lambda b: (b["targets"].update(devices=["no-such-device"]), b.update(rollout={"ratePerMinute": -1})),
            "123002",
        ),
        # the retry check after the custom window's
        (lambda b: b["policy"].update(executeType="custom", retryType=True, retryTimes=9), "123026"),
    ],
)
def test_of_several_failures_the_original_answered_the_first_it_checked(client, owner_app, meters, change, code):
    body = _body(_package(owner_app), meters)
    change(body)
    _status, answer = _refused(client, owner_app, body)
    assert answer["error_code"] == code


def test_a_group_target_upgrades_its_members(client, owner_app, meters, driver):
    group = DeviceGroup.objects.create(application=owner_app.application, name="all")
    group.devices.set(meters)
    body = _body(_package(owner_app), [])
    body["targets"].update(devices=None, deviceGroups=[group.dev_group_id])
    response = client.post(
        "/iodm/northbound/v1.5.0/operations/firmwareUpgrade",
        json.dumps(body),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    operation = Operation.objects.get(operation_id=response.json()["operationId"])
    assert operation.targets == body["targets"]  # kept as sent
    assert operation.sub_operations.count() == len(meters)
