"""Packages, upgrade operations and the rollout engine (F-7, issue 10).

An operation's sub-operations start when beat's sweep finds them due and the rollout allows it (rate
per minute, devices upgrading at once, the policy's window, the device online for `device_online`).
Each start runs the checks of F-7.3 to F-7.7, then hands the device to the protocol driver of the
package (LwM2M object 5 for firmware, PCP for software; firmware.drivers). Drivers report steps and
results back through `on_step` / `on_result`; every wait has a due time the sweep enforces, so a
restart never leaves a sub-operation hanging. Notifications carry the reference's bodies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from applications import audit
from applications.errors import NorthboundError
from applications.models import Application
from devices import logs
from devices.models import Device, LogKind, Status, StatusDetail
from firmware import errors
from firmware.models import (
    FileType,
    Operation,
    OperationStatus,
    Package,
    Step,
    SubOperation,
    SubOperationStep,
    SubStatus,
)
from firmware.requests import parse_operation
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

MAX_PACKAGE_BYTES = 35 * 1024 * 1024
FW_STEP_CODES = {Step.IDLE: "0", Step.DOWNLOADING: "1", Step.DOWNLOADED: "2", Step.UPDATING: "3"}


# --- packages -----------------------------------------------------------------------------------


def check_package(fields: dict[str, Any], name: str, data: bytes) -> dict[str, Any]:
    """The upload's fields and file (F-7.2): a zip of at most 35 MB; {field: message} problems raise 400."""
    problems = {}
    if len(data) > MAX_PACKAGE_BYTES:
        problems["file"] = f"is {len(data)} bytes; a package is at most 35 MB"
    elif not zipfile.is_zipfile(io.BytesIO(data)):
        problems["file"] = "is not a zip archive"
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            broken = archive.testzip()
            if broken is not None:
                problems["file"] = f"member {broken} is corrupt"
    if fields.get("fileType") not in FileType.values:
        problems["fileType"] = "must be firmwarePackage or softwarePackage"
    for field, limit in (
        ("version", 64),
        ("deviceType", 64),
        ("manufacturerName", 128),
        ("model", 64),
        ("protocolType", 16),
    ):
        value = fields.get(field)
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
            problems[field] = f"is required, 1 to {limit} characters"
    if len(fields.get("description") or "") > 1024:
        problems["description"] = "is longer than 1024 characters"
    if problems:
        detail = "; ".join(f"{field} {message}" for field, message in problems.items())
        raise NorthboundError("123001", f"Bad request error: {detail}.")
    return {
        "file_type": fields["fileType"],
        "version": fields["version"].strip(),
        "device_type": fields["deviceType"].strip(),
        "manufacturer_name": fields["manufacturerName"].strip(),
        "model": fields["model"].strip(),
        "protocol_type": fields["protocolType"].strip(),
        "source_versions": (fields.get("sourceVersions") or "").split(),
        "description": fields.get("description") or "",
        "name": name[:256] or "package.zip",
    }


@transaction.atomic
def do_upload_package(application: Application, fields: dict[str, Any], name: str, data: bytes) -> Package:
    values = check_package(fields, name, data)
    duplicate = Package.objects.filter(
        application=application,
        **{key: values[key] for key in ("file_type", "device_type", "manufacturer_name", "model", "version")},
    ).exists()
    if duplicate:
        raise NorthboundError(
            "123001", "Bad request error: a package of this version exists already for this device type."
        )
    package = Package.objects.create(
        application=application, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data, **values
    )
    _audit("package.uploaded", package.application_id, f"package {package.file_id}", version=package.version)
    return package


def _audit(action: str, application_id: int, target: str, **detail: Any) -> None:
    audit.record(action, application_id=application_id, target=target, detail=detail)


def do_delete_package(package: Package) -> None:
    if package.operations.filter(
        status__in=[OperationStatus.WAIT, OperationStatus.PROCESSING, OperationStatus.PAUSED]
    ).exists():
        raise NorthboundError("123001", "Bad request error: an upgrade task still uses this package.")
    if package.operations.exists():
        raise NorthboundError(
            "123001", "Bad request error: upgrade tasks refer to this package; it is kept for their history."
        )
    _audit("package.deleted", package.application_id, f"package {package.file_id}", version=package.version)
    package.delete()


# --- operations ---------------------------------------------------------------------------------


def check_operation(application: Application, body: Any, operate_type: str) -> dict[str, Any]:
    """The operation call's body, with the reference's errors 123001-123034 (`firmware.requests`)."""
    return parse_operation(application, body, operate_type)


@transaction.atomic
def do_create_operation(application: Application, body: Any, operate_type: str) -> Operation:
    values = check_operation(application, body, operate_type)
    devices = values.pop("devices")
    now = timezone.now()
    operation = Operation.objects.create(
        application=application, operate_type=operate_type, created_at=now, status=OperationStatus.PROCESSING,
        started_at=now, **values,
    )  # fmt: skip
    SubOperation.objects.bulk_create(
        SubOperation(operation=operation, device=device, created_at=now, target_version=operation.package.version)
        for device in devices
    )
    transaction.on_commit(lambda: schedule(operation.pk))
    _audit(
        "upgrade.created", application.pk, f"upgrade {operation.operation_id}", type=operate_type, devices=len(devices)
    )
    return operation


# --- the engine ---------------------------------------------------------------------------------


def _log_step(sub: SubOperation, note: str = "") -> None:
    SubOperationStep.objects.create(
        sub_operation=sub, at=timezone.now(), step=sub.step, status=sub.status, note=note[:512]
    )


def _is_firmware(sub: SubOperation) -> bool:
    return sub.operation.operate_type == "firmware_upgrade"


def _notify_state(sub: SubOperation) -> None:
    device, operation = sub.device, sub.operation
    app_id = operation.application.app_id
    if _is_firmware(sub):
        body = payloads.fw_upgrade_state_change(
            device.device_id, app_id, operation.operation_id, sub.sub_operation_id, FW_STEP_CODES[sub.step]
        )
        push.notify(operation.application, nt.FW_UPGRADE_STATE_CHANGE, body)
    else:
        body = payloads.sw_upgrade_state_change(
            device.device_id, app_id, operation.operation_id, sub.sub_operation_id, sub.step
        )
        push.notify(operation.application, nt.SW_UPGRADE_STATE_CHANGE, body)


def _versions(sub: SubOperation) -> dict[str, str | None]:
    return {
        "cur_version": sub.cur_version or None,
        "target_version": sub.target_version,
        "source_version": sub.source_version or None,
    }


def _notify_result(sub: SubOperation) -> None:
    device, operation = sub.device, sub.operation
    app_id, ok = operation.application.app_id, sub.status == SubStatus.SUCCESS
    ids = (device.device_id, app_id, operation.operation_id, sub.sub_operation_id)
    outcome, why = ("SUCCESS" if ok else "FAIL"), (None if ok else sub.detail_info)
    if _is_firmware(sub):
        body = payloads.fw_upgrade_result(
            *ids, **_versions(sub), status=outcome, status_desc=why, upgrade_time=sub.stopped_at
        )
        push.notify(operation.application, nt.FW_UPGRADE_RESULT, body)
    else:
        body = payloads.sw_upgrade_result(
            *ids, **_versions(sub), result=outcome, upgrade_time=sub.stopped_at, result_desc=why,
            error_code=sub.error_code or None,
        )  # fmt: skip
        push.notify(operation.application, nt.SW_UPGRADE_RESULT, body)


def finish(sub: SubOperation, status: str, code: str = "", note: str = "") -> None:
    """End a sub-operation (success, fail or stop); a failure with retries left goes back to wait (F-7.8)."""
    now = timezone.now()
    retry = (
        status == SubStatus.FAIL
        and code not in errors.NOT_ROLLOUT_FAILURES
        and sub.attempts <= sub.operation.retry_times
    )
    with transaction.atomic():
        if retry:
            SubOperation.objects.filter(pk=sub.pk).update(status=SubStatus.WAIT, step=Step.IDLE, step_due_at=None)
            sub.status, sub.step = SubStatus.WAIT, Step.IDLE
            _log_step(sub, f"failed ({errors.describe(code)}); retry {sub.attempts} of {sub.operation.retry_times}")
            return
        moved = SubOperation.objects.filter(pk=sub.pk, status__in=[SubStatus.WAIT, SubStatus.PROCESSING]).update(
            status=status,
            error_code=code,
            detail_info=errors.describe(code) if code else note,
            stopped_at=now,
            step_due_at=None,
        )
        if not moved:
            return
        sub.status, sub.error_code, sub.stopped_at = status, code, now
        sub.detail_info = errors.describe(code) if code else note
        _log_step(sub, sub.detail_info)
        released = Device.objects.filter(pk=sub.device_id, status_detail=StatusDetail.FIRMWARE_UPDATING).update(
            status_detail=StatusDetail.NONE
        )
        if released:
            transaction.on_commit(lambda: _release_commands(sub.device_id))
        _notify_result(sub)
        logs.log(
            sub.device,
            LogKind.INFO,
            f"upgrade to {sub.target_version}: {status}{' - ' + sub.detail_info if sub.detail_info else ''}",
        )
        # The last device's result ends the task now, not at the sweep's next pass.
        _close_if_done(sub.operation)


def _release_commands(device_pk: int) -> None:
    """Commands held while the device upgraded (F-7.6) may go now."""
    from commands.actions import on_upgrade_ended

    device = Device.objects.select_related("product", "application").filter(pk=device_pk).first()
    if device is not None:
        on_upgrade_ended(device)


def start(sub: SubOperation) -> None:
    """Checks of F-7.3 to F-7.7, then the protocol driver takes over."""
    from firmware import drivers

    operation, device, package = sub.operation, sub.device, sub.operation.package
    current = device.fw_version if _is_firmware(sub) else device.sw_version
    SubOperation.objects.filter(pk=sub.pk).update(source_version=current, attempts=F("attempts") + 1)
    sub.source_version, sub.attempts = current, sub.attempts + 1
    if not upgrade_enabled(device, _is_firmware(sub)):
        return finish(sub, SubStatus.FAIL, "UPGRADE_DISABLED")
    if current and current == package.version:
        return finish(sub, SubStatus.FAIL, "SAME_VERSION")
    if package.source_versions and current not in package.source_versions:
        return finish(sub, SubStatus.FAIL, "SOURCE_VERSION_MISMATCH")
    conflict = SubOperation.objects.filter(device=device, status=SubStatus.PROCESSING).exclude(pk=sub.pk).exists()
    if conflict:
        return finish(sub, SubStatus.FAIL, "TASK_CONFLICT")
    if device.status != Status.ONLINE:
        return finish(sub, SubStatus.FAIL, "DEVICE_NOT_ONLINE")
    driver = drivers.for_operation(operation)
    if driver is None:
        return finish(sub, SubStatus.FAIL, "NO_PROTOCOL_SERVICE")
    now = timezone.now()
    # Due from the start: a driver's hand-off lost with a process that died ends in a timeout, not a hang.
    due = now + dt.timedelta(seconds=settings.FIRMWARE_STEP_TIMEOUT)
    SubOperation.objects.filter(pk=sub.pk).update(status=SubStatus.PROCESSING, started_at=now, step_due_at=due)
    sub.status, sub.started_at, sub.step_due_at = SubStatus.PROCESSING, now, due
    Device.objects.filter(pk=device.pk).update(status_detail=StatusDetail.FIRMWARE_UPDATING)
    _log_step(sub, f"started, from version {current or 'unknown'}")
    driver.start(sub)


def upgrade_enabled(device: Device, firmware: bool) -> bool:
    """The product's omCapability may switch firmware or software upgrades off (F-7.5)."""
    if device.product is None:
        return True
    capability = (device.product.profile.get("device") or {}).get("omCapability") or {}
    key = "fwUpgradeCapability" if firmware else "upgradeCapability"
    return (capability.get(key) or {}).get("supportUpgrade", True) is not False


def on_step(sub: SubOperation, step: str, note: str = "", *, due_seconds: int | None = None) -> None:
    """A driver reports progress: downloading, downloaded, updating."""
    due = timezone.now() + dt.timedelta(seconds=due_seconds or settings.FIRMWARE_STEP_TIMEOUT)
    moved = (
        SubOperation.objects.filter(pk=sub.pk, status=SubStatus.PROCESSING)
        .exclude(step=step)
        .update(step=step, step_due_at=due)
    )
    if moved:
        sub.step, sub.step_due_at = step, due
        if step == Step.DOWNLOADED:
            SubOperation.objects.filter(pk=sub.pk).update(download_time=timezone.now())
        _log_step(sub, note)
        _notify_state(sub)


def on_version(sub: SubOperation, version: str) -> bool:
    """A driver asked the device its version (F-7.5): it is recorded on the device and the sub-task,
    and F-7.3/F-7.4 are checked again on it (what the platform had stored may be stale). False when
    that ended the sub-task."""
    field = "fw_version" if _is_firmware(sub) else "sw_version"
    Device.objects.filter(pk=sub.device_id).update(**{field: version})
    SubOperation.objects.filter(pk=sub.pk).update(source_version=version)
    sub.source_version = version
    package = sub.operation.package
    if version == package.version:
        on_result(sub, ok=False, code="SAME_VERSION")
        return False
    if package.source_versions and version not in package.source_versions:
        on_result(sub, ok=False, code="SOURCE_VERSION_MISMATCH")
        return False
    return True


def note(sub: SubOperation, text: str) -> None:
    """A driver records something worth seeing in the sub-operation's history, without a step change."""
    _log_step(sub, text)


def on_result(sub: SubOperation, *, ok: bool, code: str = "", cur_version: str = "") -> None:
    """A driver reports the end: the new version confirmed (success) or an F-7.7 failure."""
    if cur_version:
        SubOperation.objects.filter(pk=sub.pk).update(cur_version=cur_version)
        sub.cur_version = cur_version
        field = "fw_version" if _is_firmware(sub) else "sw_version"
        Device.objects.filter(pk=sub.device_id).update(**{field: cur_version})
    if ok and cur_version and cur_version != sub.target_version:
        ok, code = False, "VERSION_MISMATCH"
    finish(sub, SubStatus.SUCCESS if ok else SubStatus.FAIL, code)


STEP_TIMEOUTS = {
    Step.IDLE: "WAIT_VERSION_TIMEOUT",
    Step.DOWNLOADING: "DOWNLOAD_TIMEOUT",
    Step.DOWNLOADED: "WAIT_RESULT_TIMEOUT",
    Step.UPDATING: "VERSION_CHECK_TIMEOUT",
}


def schedule(operation_pk: int, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass of an operation: time out stuck steps, start due sub-operations within the rollout's
    limits, abort by failure ratio, and close the operation when nothing is left."""
    now = now or timezone.now()
    operation = Operation.objects.select_related("package", "application").filter(pk=operation_pk).first()
    if operation is None or operation.status not in (OperationStatus.PROCESSING, OperationStatus.WAIT):
        return {}
    subs = SubOperation.objects.select_related(
        "device", "device__product", "operation", "operation__package", "operation__application"
    )
    for sub in subs.filter(operation=operation, status=SubStatus.PROCESSING, step_due_at__lte=now):
        finish(sub, SubStatus.FAIL, STEP_TIMEOUTS[sub.step])
    counts = dict(SubOperation.objects.filter(operation=operation).values_list("status").annotate(n=Count("id")))
    started = 0
    if _abort_by_ratio(operation, counts):
        return {"aborted": 1}
    in_window = operation.execute_type != "custom" or operation.window_start <= now <= operation.window_end
    if operation.execute_type == "custom" and now > operation.window_end:
        for sub in subs.filter(operation=operation, status=SubStatus.WAIT):
            finish(sub, SubStatus.FAIL, "WAIT_ONLINE_TIMEOUT")
    elif in_window:
        room = _room(operation, counts, now)
        waiting = subs.filter(operation=operation, status=SubStatus.WAIT).order_by("id")
        if operation.execute_type == "device_online":
            waiting = waiting.filter(device__status=Status.ONLINE)
        for sub in waiting[:room]:
            start(sub)
            started += 1
    _close_if_done(operation)
    return {"started": started}


def _room(operation: Operation, counts: dict[str, int], now: dt.datetime) -> int:
    room = 10_000
    if operation.max_concurrent:
        room = min(room, operation.max_concurrent - counts.get(SubStatus.PROCESSING, 0))
    if operation.rate_per_minute:
        recent = SubOperation.objects.filter(operation=operation, started_at__gte=now - dt.timedelta(minutes=1)).count()
        room = min(room, operation.rate_per_minute - recent)
    return max(room, 0)


def _abort_by_ratio(operation: Operation, counts: dict[str, int]) -> bool:
    if operation.abort_failure_ratio is None:
        return False
    failed = (
        SubOperation.objects.filter(operation=operation, status=SubStatus.FAIL)
        .exclude(error_code__in=errors.NOT_ROLLOUT_FAILURES)
        .count()
    )
    finished = failed + counts.get(SubStatus.SUCCESS, 0)
    if finished < settings.FIRMWARE_ABORT_MIN_SAMPLE or failed / finished < operation.abort_failure_ratio:
        return False
    do_abort(operation, f"aborted: {failed} of {finished} finished sub-tasks failed "
                        f"(threshold {operation.abort_failure_ratio:.0%})")  # fmt: skip
    return True


def _close_if_done(operation: Operation) -> None:
    open_count = SubOperation.objects.filter(
        operation=operation, status__in=[SubStatus.WAIT, SubStatus.PROCESSING]
    ).count()
    if open_count:
        return
    failed = SubOperation.objects.filter(operation=operation).exclude(status=SubStatus.SUCCESS).exists()
    Operation.objects.filter(pk=operation.pk, status=OperationStatus.PROCESSING).update(
        status=OperationStatus.FAILED if failed else OperationStatus.SUCCESS, stopped_at=timezone.now()
    )


@transaction.atomic
def do_abort(operation: Operation, reason: str = "aborted by the user") -> None:
    _audit("upgrade.aborted", operation.application_id, f"upgrade {operation.operation_id}", reason=reason)
    Operation.objects.filter(pk=operation.pk).update(
        status=OperationStatus.STOP, stopped_at=timezone.now(), detail=reason[:512]
    )
    subs = SubOperation.objects.select_related("device", "operation", "operation__application").filter(
        operation=operation, status=SubStatus.WAIT
    )
    for sub in subs:
        finish(sub, SubStatus.STOP, "STOPPED")


def do_pause(operation: Operation) -> None:
    _audit("upgrade.paused", operation.application_id, f"upgrade {operation.operation_id}")
    Operation.objects.filter(pk=operation.pk, status=OperationStatus.PROCESSING).update(status=OperationStatus.PAUSED)


def do_resume(operation: Operation) -> None:
    _audit("upgrade.resumed", operation.application_id, f"upgrade {operation.operation_id}")
    Operation.objects.filter(pk=operation.pk, status=OperationStatus.PAUSED).update(status=OperationStatus.PROCESSING)
    transaction.on_commit(lambda: schedule(operation.pk))


@transaction.atomic
def do_retry_failed(operation: Operation) -> int:
    """Retry only the failed sub-tasks (F-7.8)."""
    retried = SubOperation.objects.filter(operation=operation, status__in=[SubStatus.FAIL, SubStatus.STOP]).update(
        status=SubStatus.WAIT, step=Step.IDLE, error_code="", detail_info="", stopped_at=None, attempts=0
    )
    if retried:
        _audit("upgrade.retried", operation.application_id, f"upgrade {operation.operation_id}", subTasks=retried)
        Operation.objects.filter(pk=operation.pk).update(status=OperationStatus.PROCESSING, stopped_at=None, detail="")
        transaction.on_commit(lambda: schedule(operation.pk))
    return retried


def sweep(now: dt.datetime | None = None) -> int:
    active = Operation.objects.filter(status__in=[OperationStatus.PROCESSING, OperationStatus.WAIT]).values_list(
        "pk", flat=True
    )
    for pk in active:
        schedule(pk, now)
    return len(active)


def progress(operation: Operation) -> dict[str, int]:
    counts = dict(SubOperation.objects.filter(operation=operation).values_list("status").annotate(n=Count("id")))
    return {
        "total": sum(counts.values()),
        "wait": counts.get(SubStatus.WAIT, 0),
        "processing": counts.get(SubStatus.PROCESSING, 0),
        "success": counts.get(SubStatus.SUCCESS, 0),
        "fail": counts.get(SubStatus.FAIL, 0),
        "stop": counts.get(SubStatus.STOP, 0),
        "timeout": SubOperation.objects.filter(operation=operation, error_code__endswith="_TIMEOUT").count(),
    }


def active_sub_operation(device: Device) -> SubOperation | None:
    """The device's upgrade in progress, for the drivers and the ingress."""
    return (
        SubOperation.objects.select_related("operation", "operation__package", "operation__application", "device")
        .filter(device=device, status=SubStatus.PROCESSING)
        .first()
    )
