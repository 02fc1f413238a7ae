"""Commands as the northbound API shows them (DeviceCommandRespV4, section 3)."""

from __future__ import annotations

from typing import Any

from applications.formats import format_time
from commands.models import BatchTask, Command


def command_body(command: Command, *, with_result: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "commandId": command.command_id,
        "appId": command.application.app_id,
        "deviceId": command.device.device_id,
        "command": {"serviceId": command.service_id, "method": command.method, "paras": command.paras},
        "callbackUrl": command.callback_url or None,
        "expireTime": command.expire_time,
        "status": command.status,
        "creationTime": format_time(command.created_at),
        "executeTime": format_time(command.executed_at),
        "platformIssuedTime": format_time(command.sent_at),
        "deliveredTime": format_time(command.delivered_at),
        "issuedTimes": command.issued_times,
        "maxRetransmit": command.max_retransmit,
    }
    if with_result:
        body["result"] = {"resultCode": command.status, "resultDetail": command.result_detail}
    return body


def task_body(task: BatchTask, counts: dict[str, int]) -> dict[str, Any]:
    done = task.total - counts["pending"]
    return {
        "taskId": task.task_id,
        "taskName": task.task_name,
        "appId": task.application.app_id,
        "operator": task.application.app_id,
        "taskFrom": task.task_from,
        "taskType": "DeviceCmd",
        "status": task.status,
        "startTime": format_time(task.created_at),
        "timeout": task.timeout_minutes,
        "progress": int(done * 1000 / task.total) if task.total else 1000,
        "totalCnt": task.total,
        "successCnt": counts["success"],
        "failCnt": counts["fail"],
        "timeoutCnt": counts["timeout"],
        "expiredCnt": counts["expired"],
        "completeCnt": done,
        "successRate": int(counts["success"] * 1000 / task.total) if task.total else 0,
        "param": task.param,
    }
