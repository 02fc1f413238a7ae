"""Software (MCU) upgrades with Huawei's PCP on the device's data channel (firmware.pcp has the frames).

The platform asks the device's version (0x13), announces the new version with its block size, block
count and check code (0x14); the device pulls the package block by block (0x15, any block it wants:
it resumes from the last block it recorded, F-7.9), reports the download (0x16); the platform tells it
to execute (0x17) and the device reports the upgrade's result with its new version (0x18).

Frames to the device go out as downlinks (devices.downlink: the ingress worker holding the device
sends them on /19/1/0 or t/d, without the codec). Frames from the device are split off by the uplink
pipeline before the codec and reach `on_pcp_message` through devices.hooks, in the ingress process.
The state of an upgrade is the sub-operation row (its step and due time), so any process and any
worker can take the next message.
"""

from __future__ import annotations

import collections
import logging
import math
import struct
import threading

from django.conf import settings

from devices import downlink, logs
from devices.models import Device, LogKind
from firmware import pcp
from firmware.models import Package, Step, SubOperation, SubStatus

log = logging.getLogger(__name__)

_packages: collections.OrderedDict[int, tuple[bytes, int]] = collections.OrderedDict()
_packages_lock = threading.Lock()
CACHED_PACKAGES = 8


def package_bytes(package_pk: int) -> tuple[bytes, int]:
    """The package's bytes and their PCP check code, read once per process (a few recent packages)."""
    with _packages_lock:
        if package_pk in _packages:
            _packages.move_to_end(package_pk)
            return _packages[package_pk]
    data = bytes(Package.objects.filter(pk=package_pk).values_list("data", flat=True).get())
    entry = (data, pcp.crc16(data))
    with _packages_lock:
        _packages[package_pk] = entry
        while len(_packages) > CACHED_PACKAGES:
            _packages.popitem(last=False)
    return entry


def _active(device: Device) -> SubOperation | None:
    return (
        SubOperation.objects.select_related("device", "operation", "operation__application", "operation__package")
        .defer("operation__package__data")
        .filter(device=device, status=SubStatus.PROCESSING, operation__operate_type="software_upgrade")
        .first()
    )


def _send(sub: SubOperation, frame: bytes, what: str) -> bool:
    return downlink.queue_downlink(sub.device, frame, request_id=f"pcp:{sub.sub_operation_id}:{what}")


def _block_count(size: int) -> int:
    return max(1, math.ceil(size / settings.FIRMWARE_PCP_BLOCK_SIZE))


class PcpDriver:
    """Starts a software upgrade by asking the device's version (0x13)."""

    def start(self, sub_operation: SubOperation) -> None:
        from firmware import actions

        if not _send(sub_operation, pcp.query_version(), "version"):
            actions.on_result(sub_operation, ok=False, code="DEVICE_NOT_ONLINE")


def on_pcp_message(device: Device, payload: bytes) -> None:
    """A PCP frame from the device (devices.hooks.pcp_received, after the uplink was stored)."""
    from firmware import actions

    try:
        frame = pcp.decode(payload)
    except pcp.FrameError as problem:
        logs.log(device, LogKind.DECODE_ERROR, f"PCP frame refused: {problem}", raw=payload)
        return
    sub = _active(device)
    name = pcp.NAMES.get(frame.code, f"code 0x{frame.code:02X}")
    if sub is None:
        if frame.code == pcp.REQUEST_BLOCK:
            number = struct.unpack_from(">H", frame.data, 16)[0] if len(frame.data) >= 18 else 0
            downlink.queue_downlink(device, pcp.block(pcp.TASK_MISSING, number), request_id="pcp:none")
        elif frame.code in (pcp.DOWNLOAD_RESULT, pcp.UPGRADE_RESULT):
            downlink.queue_downlink(device, pcp.answer(frame.code, pcp.TASK_MISSING), request_id="pcp:none")
        logs.log(device, LogKind.INFO, f"PCP {name} with no software upgrade in progress", raw=payload)
        return
    result = frame.data[0] if frame.data else None
    if frame.code == pcp.QUERY_VERSION:
        _version_reported(sub, result, pcp.version_text(frame.data[1:17]))
    elif frame.code == pcp.NEW_VERSION:
        if result != pcp.OK:
            actions.on_result(sub, ok=False, code=pcp.RESULTS.get(result, "UPDATE_FAILED"))
    elif frame.code == pcp.REQUEST_BLOCK:
        _serve_block(sub, frame.data)
    elif frame.code == pcp.DOWNLOAD_RESULT:
        _send(sub, pcp.answer(pcp.DOWNLOAD_RESULT), "download-answer")
        if result != pcp.OK:
            actions.on_result(sub, ok=False, code=pcp.RESULTS.get(result, "UPDATE_FAILED"))
            return
        actions.on_step(sub, Step.DOWNLOADED, "the device reported the package downloaded")
        _send(sub, pcp.execute(), "execute")
    elif frame.code == pcp.EXECUTE:
        if result != pcp.OK:
            actions.on_result(sub, ok=False, code=pcp.RESULTS.get(result, "UPDATE_FAILED"))
            return
        actions.on_step(sub, Step.UPDATING, "the device is installing the package")
    elif frame.code == pcp.UPGRADE_RESULT:
        _send(sub, pcp.answer(pcp.UPGRADE_RESULT), "result-answer")
        version = pcp.version_text(frame.data[1:17])
        if result == pcp.OK:
            actions.on_result(sub, ok=True, cur_version=version)
        else:
            actions.on_result(sub, ok=False, code=pcp.RESULTS.get(result, "UPDATE_FAILED"), cur_version=version)
    else:
        logs.log(device, LogKind.INFO, f"PCP {name}: not a message the platform expects", raw=payload)


def _version_reported(sub: SubOperation, result: int | None, version: str) -> None:
    from firmware import actions

    if result != pcp.OK:
        actions.on_result(sub, ok=False, code=pcp.RESULTS.get(result, "UPDATE_FAILED"))
        return
    if not actions.on_version(sub, version):
        return
    package = sub.operation.package
    _, check = package_bytes(package.pk)
    notice = pcp.new_version(package.version, settings.FIRMWARE_PCP_BLOCK_SIZE, _block_count(package.size), check)
    _send(sub, notice, "notice")
    summary = f"PCP: version {version or '?'} reported; new version {package.version} announced"
    logs.log(sub.device, LogKind.INFO, summary)


def _serve_block(sub: SubOperation, data: bytes) -> None:
    from firmware import actions

    if len(data) < 18:
        logs.log(sub.device, LogKind.DECODE_ERROR, "PCP block request shorter than 18 bytes", raw=data)
        return
    number = struct.unpack_from(">H", data, 16)[0]
    package = sub.operation.package
    content, _ = package_bytes(package.pk)
    size = settings.FIRMWARE_PCP_BLOCK_SIZE
    if number >= _block_count(package.size):
        _send(sub, pcp.block(pcp.BLOCK_MISSING, number), f"block-{number}")
        return
    _send(sub, pcp.block(pcp.OK, number, content[number * size : (number + 1) * size]), f"block-{number}")
    if sub.step == Step.IDLE:
        note = f"download resumed at block {number} (F-7.9)" if number else "the device requests the package"
        actions.on_step(sub, Step.DOWNLOADING, note)
    SubOperation.objects.filter(pk=sub.pk, blocks_sent__lt=number + 1).update(blocks_sent=number + 1)
