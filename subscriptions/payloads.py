"""The exact body of every push (northbound-api.md section 4.4), and its encoding.

Bodies are plain dicts built in the original's key order, with unknown values as null, and are
encoded once, compactly (`{"a":1}`), when the outbox row is written: receivers match substrings
like `"notifyType":"deviceDataChanged"`, so the bytes matter, not only the JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from applications.formats import format_time
from subscriptions import notify_types as nt

DEVICE_INFO_KEYS = (
    "nodeId",
    "name",
    "description",
    "manufacturerId",
    "manufacturerName",
    "mac",
    "location",
    "deviceType",
    "model",
    "swVersion",
    "fwVersion",
    "hwVersion",
    "protocolType",
    "bridgeId",
    "status",
    "statusDetail",
    "mute",
    "supportedSecurity",
    "isSecurity",
    "signalStrength",
    "sigVersion",
    "serialNumber",
    "batteryLevel",
)

Json = dict[str, Any]


def encode(payload: Json) -> bytes:
    """Compact UTF-8 JSON with nulls kept, as the original platform sent it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def device_info(values: Json) -> Json:
    """The 23 DeviceInfo keys in order; anything not given is null."""
    return {key: values.get(key) for key in DEVICE_INFO_KEYS}


def _time(value: dt.datetime | str | None) -> str | None:
    return value if isinstance(value, str) or value is None else format_time(value)


def device_added(device_id: str, gateway_id: str, node_type: str, info: Json) -> Json:
    return {
        "notifyType": nt.DEVICE_ADDED,
        "deviceId": device_id,
        "gatewayId": gateway_id,
        "nodeType": node_type,
        "deviceInfo": device_info(info),
    }


def bind_device(device_id: str, result_code: str, info: Json) -> Json:
    """result_code: `succeeded` when the device first connected, `expired` when its timeout passed."""
    return {
        "notifyType": nt.BIND_DEVICE,
        "deviceId": device_id,
        "resultCode": result_code,
        "deviceInfo": device_info(info),
    }


def device_info_changed(device_id: str, gateway_id: str, info: Json) -> Json:
    return {
        "notifyType": nt.DEVICE_INFO_CHANGED,
        "deviceId": device_id,
        "gatewayId": gateway_id,
        "deviceInfo": device_info(info),
    }


def service(service_id: str, service_type: str, data: Json, event_time: dt.datetime | str | None) -> Json:
    return {"serviceId": service_id, "serviceType": service_type, "data": data, "eventTime": _time(event_time)}


def device_data_changed(device_id: str, gateway_id: str, one_service: Json, request_id: str | None = None) -> Json:
    """One service per push (F-6.4)."""
    return {
        "notifyType": nt.DEVICE_DATA_CHANGED,
        "deviceId": device_id,
        "gatewayId": gateway_id,
        "requestId": request_id,
        "service": one_service,
    }


def device_datas_changed(device_id: str, gateway_id: str, services: list[Json], request_id: str | None = None) -> Json:
    """All services of one report together, under `services` (F-6.4; the doc's `service` is a typo)."""
    return {
        "notifyType": nt.DEVICE_DATAS_CHANGED,
        "requestId": request_id,
        "deviceId": device_id,
        "gatewayId": gateway_id,
        "services": services,
    }


def service_info_changed(
    device_id: str, gateway_id: str, service_id: str, service_type: str, mute_cmds: Any = None
) -> Json:
    return {
        "notifyType": nt.SERVICE_INFO_CHANGED,
        "deviceId": device_id,
        "gatewayId": gateway_id,
        "serviceId": service_id,
        "serviceType": service_type,
        "serviceInfo": {"muteCmds": mute_cmds},
    }


def device_deleted(device_id: str, gateway_id: str) -> Json:
    return {"notifyType": nt.DEVICE_DELETED, "deviceId": device_id, "gatewayId": gateway_id}


def device_model(notify_type: str, app_id: str, product: Json) -> Json:
    """deviceModelAdded / deviceModelDeleted for a profile (product) of the application."""
    assert notify_type in (nt.DEVICE_MODEL_ADDED, nt.DEVICE_MODEL_DELETED)
    return {
        "notifyType": notify_type,
        "appId": app_id,
        "deviceType": product.get("deviceType"),
        "manufacturerName": product.get("manufacturerName"),
        "manufacturerId": product.get("manufacturerId"),
        "model": product.get("model"),
        "protocolType": product.get("protocolType"),
    }


def rule_event(
    author: str,
    rule_id: str,
    rule_name: str,
    logic: Any,
    reasons: list[Json],
    trigger_time: dt.datetime | str,
    actions_results: list[Json],
) -> Json:
    return {
        "notifyType": nt.RULE_EVENT,
        "author": author,
        "ruleId": rule_id,
        "ruleName": rule_name,
        "logic": logic,
        "reasons": reasons,
        "triggerTime": _time(trigger_time),
        "actionsResults": actions_results,
    }


def message_confirm(
    request_id: str, sender: str, to: str, status: str, timestamp: dt.datetime | str, body: Json
) -> Json:
    """Gateway/agent devices only; not emitted for NB-IoT devices (F-6.8)."""
    header = {"requestId": request_id, "from": sender, "to": to, "status": status, "timestamp": _time(timestamp)}
    return {"notifyType": nt.MESSAGE_CONFIRM, "header": header, "body": body}


def command_rsp(
    request_id: str, sender: str, to: str, device_id: str, service_type: str, method: str, body: Json
) -> Json:
    """Gateway/agent devices only; not emitted for NB-IoT devices (F-6.8)."""
    header = {
        "requestId": request_id,
        "from": sender,
        "to": to,
        "deviceId": device_id,
        "serviceType": service_type,
        "method": method,
    }
    return {"notifyType": nt.COMMAND_RSP, "header": header, "body": body}


def device_event(
    event_type: str,
    sender: str,
    timestamp: dt.datetime | str,
    event_time: dt.datetime | str,
    device_id: str,
    service_type: str,
    body: Json,
) -> Json:
    """Gateway/agent devices only; not emitted for NB-IoT devices (F-6.8)."""
    header = {
        "eventType": event_type,
        "from": sender,
        "timestamp": _time(timestamp),
        "eventTime": _time(event_time),
        "deviceId": device_id,
        "serviceType": service_type,
    }
    return {"notifyType": nt.DEVICE_EVENT, "header": header, "body": body}


def sw_upgrade_state_change(device_id: str, app_id: str, operation_id: str, sub_operation_id: str, state: str) -> Json:
    """state: downloading, downloaded, updating or idle."""
    return {
        "notifyType": nt.SW_UPGRADE_STATE_CHANGE,
        "deviceId": device_id,
        "appId": app_id,
        "operationId": operation_id,
        "subOperationId": sub_operation_id,
        "swUpgradeState": state,
    }


def sw_upgrade_result(
    device_id: str,
    app_id: str,
    operation_id: str,
    sub_operation_id: str,
    *,
    cur_version: str | None,
    target_version: str | None,
    source_version: str | None,
    result: str,
    upgrade_time: dt.datetime | str | None,
    result_desc: str | None = None,
    error_code: str | None = None,
    description: str | None = None,
) -> Json:
    """result: SUCCESS or FAIL."""
    return {
        "notifyType": nt.SW_UPGRADE_RESULT,
        "deviceId": device_id,
        "appId": app_id,
        "operationId": operation_id,
        "subOperationId": sub_operation_id,
        "curVersion": cur_version,
        "targetVersion": target_version,
        "sourceVersion": source_version,
        "swUpgradeResult": result,
        "upgradeTime": _time(upgrade_time),
        "resultDesc": result_desc,
        "errorCode": error_code,
        "description": description,
    }


FW_STEPS = {"0": "idle", "1": "downloading", "2": "downloaded", "3": "updating"}


def fw_upgrade_state_change(device_id: str, app_id: str, operation_id: str, sub_operation_id: str, step: str) -> Json:
    """step: "0" idle, "1" downloading, "2" downloaded, "3" updating (LwM2M object 5 states)."""
    return {
        "notifyType": nt.FW_UPGRADE_STATE_CHANGE,
        "deviceId": device_id,
        "appId": app_id,
        "operationId": operation_id,
        "subOperationId": sub_operation_id,
        "step": step,
        "stepDesc": FW_STEPS[step],
    }


def fw_upgrade_result(
    device_id: str,
    app_id: str,
    operation_id: str,
    sub_operation_id: str,
    *,
    cur_version: str | None,
    target_version: str | None,
    source_version: str | None,
    status: str,
    status_desc: str | None,
    upgrade_time: dt.datetime | str | None,
) -> Json:
    """status: SUCCESS or FAIL."""
    return {
        "notifyType": nt.FW_UPGRADE_RESULT,
        "deviceId": device_id,
        "appId": app_id,
        "operationId": operation_id,
        "subOperationId": sub_operation_id,
        "curVersion": cur_version,
        "targetVersion": target_version,
        "sourceVersion": source_version,
        "status": status,
        "statusDesc": status_desc,
        "upgradeTime": _time(upgrade_time),
    }


def desired_properties_status(device_id: str, service_id: str, properties: Json, status: str) -> Json:
    return {
        "notifyType": nt.DEVICE_DESIRED_PROPERTIES_MODIFY_STATUS_CHANGED,
        "deviceId": device_id,
        "serviceId": service_id,
        "properties": properties,
        "status": status,
    }


def command_callback(device_id: str, command_id: str, result_code: str, result_detail: Json | None = None) -> Json:
    """A command's status change, POSTed to its callbackUrl: no notifyType in this body."""
    return {
        "deviceId": device_id,
        "commandId": command_id,
        "result": {"resultCode": result_code, "resultDetail": result_detail},
    }


def sample(notify_type: str) -> Json:
    """A realistic body of any notifyType, for the portal's debugging page."""
    device_id, now = "fd3fd274-fa2b-4e35-a3a0-4a5ff4d1e8b2", dt.datetime.now(dt.UTC)
    info = {
        "nodeId": "863703030000001",
        "name": "water-meter-001",
        "manufacturerId": "Huawei",
        "manufacturerName": "Huawei",
        "deviceType": "WaterMeter",
        "model": "v1001",
        "protocolType": "CoAP",
        "status": "ONLINE",
        "statusDetail": "NONE",
        "mute": "FALSE",
        "supportedSecurity": "FALSE",
        "isSecurity": "FALSE",
    }
    meter = service("WaterMeter", "WaterMeter", {"currentReading": "46.3", "signalStrength": "-83"}, now)
    product = {
        "deviceType": "WaterMeter",
        "manufacturerName": "Huawei",
        "manufacturerId": "Huawei",
        "model": "v1001",
        "protocolType": "CoAP",
    }
    builders = {
        nt.DEVICE_ADDED: lambda: device_added(
            device_id, device_id, "ENDPOINT", {**info, "status": "OFFLINE", "statusDetail": "NOT_ACTIVE"}
        ),
        nt.BIND_DEVICE: lambda: bind_device(device_id, "succeeded", info),
        nt.DEVICE_INFO_CHANGED: lambda: device_info_changed(device_id, device_id, info),
        nt.DEVICE_DATA_CHANGED: lambda: device_data_changed(device_id, device_id, meter),
        nt.DEVICE_DATAS_CHANGED: lambda: device_datas_changed(
            device_id, device_id, [meter, service("Battery", "Battery", {"batteryLevel": 87}, now)]
        ),
        nt.DEVICE_DELETED: lambda: device_deleted(device_id, device_id),
        nt.SERVICE_INFO_CHANGED: lambda: service_info_changed(device_id, device_id, "WaterMeter", "WaterMeter", "ALL"),
        nt.DEVICE_MODEL_ADDED: lambda: device_model(nt.DEVICE_MODEL_ADDED, "sampleAppId", product),
        nt.DEVICE_MODEL_DELETED: lambda: device_model(nt.DEVICE_MODEL_DELETED, "sampleAppId", product),
        nt.RULE_EVENT: lambda: rule_event("sample", "rule-1", "High flow", None, [], now, []),
        nt.MESSAGE_CONFIRM: lambda: message_confirm("req-1", "/devices/" + device_id, "app", "sent", now, {}),
        nt.COMMAND_RSP: lambda: command_rsp("req-1", "/devices/" + device_id, "app", device_id, "Switch", "SET", {}),
        nt.DEVICE_EVENT: lambda: device_event("alarm", "/devices/" + device_id, now, now, device_id, "Alarm", {}),
        nt.SW_UPGRADE_STATE_CHANGE: lambda: sw_upgrade_state_change(
            device_id, "sampleAppId", "op-1", "sub-1", "downloading"
        ),
        nt.SW_UPGRADE_RESULT: lambda: sw_upgrade_result(
            device_id,
            "sampleAppId",
            "op-1",
            "sub-1",
            cur_version="1.1",
            target_version="1.1",
            source_version="1.0",
            result="SUCCESS",
            upgrade_time=now,
        ),
        nt.FW_UPGRADE_STATE_CHANGE: lambda: fw_upgrade_state_change(device_id, "sampleAppId", "op-1", "sub-1", "1"),
        nt.FW_UPGRADE_RESULT: lambda: fw_upgrade_result(
            device_id,
            "sampleAppId",
            "op-1",
            "sub-1",
            cur_version="V1.1",
            target_version="V1.1",
            source_version="V1.0",
            status="SUCCESS",
            status_desc=None,
            upgrade_time=now,
        ),
        nt.DEVICE_DESIRED_PROPERTIES_MODIFY_STATUS_CHANGED: lambda: desired_properties_status(
            device_id, "WaterMeter", {"reportPeriod": 3600}, "DELIVERED"
        ),
        nt.COMMAND_CALLBACK: lambda: command_callback(device_id, "5c2534b13b4343fb966ecc461100e462", "DELIVERED"),
    }
    builder = builders.get(notify_type)
    if builder is None:
        return {"notifyType": notify_type}
    return builder()


SAMPLE_TYPES = (*nt.ALL, nt.COMMAND_CALLBACK)
