"""Packages and operations as the iodm northbound API shows them (section 6)."""

from __future__ import annotations

from typing import Any

from applications.formats import format_time
from firmware.models import Operation, Package, SubOperation


def package_body(package: Package) -> dict[str, Any]:
    return {
        "fileId": package.file_id,
        "name": package.name,
        "version": package.version,
        "fileType": package.file_type,
        "deviceType": package.device_type,
        "model": package.model,
        "manufacturerName": package.manufacturer_name,
        "protocolType": package.protocol_type,
        "description": package.description or None,
        "date": format_time(package.uploaded_at),
        "uploadTime": format_time(package.uploaded_at),
        "sourceVersions": package.source_versions,
        "sha256": package.sha256,
        "size": package.size,
    }


def operation_body(operation: Operation, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "operationId": operation.operation_id,
        "createTime": format_time(operation.created_at),
        "startTime": format_time(operation.started_at),
        "stopTime": format_time(operation.stopped_at),
        "operateType": operation.operate_type,
        "targets": operation.targets,
        "policy": operation.policy,
        "status": operation.status,
        "staResult": {
            key: counts[key] for key in ("total", "wait", "processing", "success", "fail", "stop", "timeout")
        },
        "extendPara": {"fileVersion": operation.package.version, "fileId": operation.package.file_id},
        "rollout": {
            "ratePerMinute": operation.rate_per_minute,
            "maxConcurrent": operation.max_concurrent,
            "abortFailureRatio": operation.abort_failure_ratio,
        },
    }


def sub_operation_body(sub: SubOperation) -> dict[str, Any]:
    return {
        "subOperationId": sub.sub_operation_id,
        "createTime": format_time(sub.created_at),
        "startTime": format_time(sub.started_at),
        "stopTime": format_time(sub.stopped_at),
        "operateType": sub.operation.operate_type,
        "deviceId": sub.device.device_id,
        "status": sub.status,
        "detailInfo": sub.detail_info or None,
        "errorCode": sub.error_code or None,
        "step": sub.step,
        "extendInfo": {
            "upgradeTime": format_time(sub.stopped_at),
            "sourceVersion": sub.source_version or None,
            "curVersion": sub.cur_version or None,
            "downloadTime": format_time(sub.download_time),
            "targetVersion": sub.target_version,
        },
    }
