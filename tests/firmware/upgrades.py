"""Helpers for upgrade tests with simulated devices and the real `run_ingress` process."""

from __future__ import annotations

import time

from firmware import actions
from firmware.models import Operation, Package, SubOperation
from tests.applications.fixtures import AppCredentials
from tests.firmware.conftest import package_zip

FINAL = ("success", "fail", "stop")


def upload(credentials: AppCredentials, *, version: str = "V1.1", size: int = 3000, software: bool = False) -> Package:
    fields = {
        "fileType": "softwarePackage" if software else "firmwarePackage",
        "version": version,
        "deviceType": "WaterMeter",
        "manufacturerName": "Huawei",
        "model": "v1001",
        "protocolType": "PCP" if software else "LWM2M",
        "sourceVersions": "V1.0",
    }
    return actions.do_upload_package(credentials.application, fields, "package.zip", package_zip(size))


def create_task(credentials: AppCredentials, package: Package, devices: list, **options) -> Operation:
    """A task for `devices`; options: policy fields, and `rollout`. It starts at once (after commit)."""
    rollout = options.pop("rollout", None)
    body = {
        "fileId": package.file_id,
        "targets": {
            "deviceType": "WaterMeter",
            "model": "v1001",
            "manufacturerName": "Huawei",
            "devices": [device.device_id for device in devices],
        },
        "policy": {"executeType": "now", **options},
    }
    if rollout:
        body["rollout"] = rollout
    kind = "software_upgrade" if package.file_type == "softwarePackage" else "firmware_upgrade"
    return actions.do_create_operation(credentials.application, body, kind)


def wait_for(condition, seconds: float = 20.0, what: str = "condition"):
    """Poll the database until `condition()` gives something true (from a test thread)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def finished(operation: Operation, count: int = 1, seconds: float = 20.0) -> list[SubOperation]:
    """The operation's sub-operations once `count` of them have ended."""

    def ended():
        subs = list(SubOperation.objects.filter(operation=operation).order_by("id"))
        return subs if sum(sub.status in FINAL for sub in subs) >= count else None

    try:
        return wait_for(ended, seconds, f"{count} sub-operations to end")
    except AssertionError:
        from devices.models import DeviceLog

        states = [
            (sub.device.node_id, sub.status, sub.step, steps(sub))
            for sub in SubOperation.objects.filter(operation=operation).select_related("device")
        ]
        logs = list(DeviceLog.objects.order_by("id").values_list("device__node_id", "summary"))
        raise AssertionError(f"sub-operations did not end: {states}; device logs: {logs}") from None


def steps(sub: SubOperation) -> list[tuple[str, str, str]]:
    return list(sub.steps.values_list("step", "status", "note"))
