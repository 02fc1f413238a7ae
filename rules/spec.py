"""The original's rule body (RuleDTO) checked and normalised, before anything is written.

Fields as the Huawei SDKs name them (RuleDTO/RuleDTO2: ruleId, appKey, name, description, author,
conditions, logic, timeRange, actions, matchNow, status, groupExpress, triggerSources, timezoneID,
transData, executor, refreshId, checkNullAction, priority, tags; conditions ConditionDeviceData with
deviceInfo {deviceId, path "Service/property"}, operator, value, strategy {trigger}; actions
ActionDeviceCMD with cmd {serviceId, messageType, messageBody}). The condition and action types the
original lacked (status, absence, group scope, alarms' automatic clearing, webhooks) follow the same
shape; docs/rules.md lists them all. A broken rule is 400 100022 naming the field and the rule.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from applications.errors import NorthboundError
from applications.models import Application
from devices.models import Device, DeviceGroup, Status
from products.models import Product

DATA_TYPES = ("DEVICE_DATA", "DEVICE_TYPE_DATA", "DEVICE_GROUP_DATA")
STATUS = "DEVICE_STATUS"
NO_DATA = "DEVICE_NO_DATA"
DAILY_TIMER, CYCLE_TIMER = "DAILY_TIMER", "CYCLE_TIMER"
CONDITION_TYPES = (*DATA_TYPES, STATUS, NO_DATA, DAILY_TIMER, CYCLE_TIMER)
NUMERIC_OPERATORS = (">", ">=", "<", "<=")
OPERATORS = (*NUMERIC_OPERATORS, "=", "!=", "between", "changedBy")
TRIGGERS = ("pulse", "reverse")
CMD, ALARM, WEBHOOK = "DEVICE_CMD", "DEVICE_ALARM", "WEBHOOK"
ACTION_TYPES = (CMD, ALARM, WEBHOOK, "SMS", "EMAIL")
SEVERITIES = ("warning", "minor", "major", "critical")
MAX_CONDITIONS, MAX_ACTIONS = 10, 10
# Original keys a rule keeps and returns as it got them.
EXTRA_KEYS = (
    "matchNow",
    "groupExpress",
    "triggerSources",
    "transData",
    "executor",
    "refreshId",
    "checkNullAction",
    "priority",
    "tags",
    "rulePreProcessors",
)
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def invalid(where: str, rule: str) -> NorthboundError:
    return NorthboundError("100022", f"The input is invalid: {where} {rule}.")


@dataclass
class Checked:
    """A rule body that passed every check, ready to store."""

    name: str
    description: str
    author: str
    status: str
    logic: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    time_range: dict[str, Any] | None
    timezone_id: str
    extra: dict[str, Any]


def _text(body: dict, key: str, *, required: bool = False, max_length: int = 256, default: str = "") -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise invalid(key, "is required")
        return default
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid(key, f"must be a string of at most {max_length} characters")
    return value


def number(value: Any) -> float | None:
    """A number, or a string holding one (the original's `value` is a String)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def check_rule(application: Application, body: Any) -> Checked:
    if not isinstance(body, dict):
        raise invalid("the body", "must be a JSON object")
    status = body.get("status") or "active"
    if status not in ("active", "inactive"):
        raise invalid("status", "must be active or inactive")
    logic = body.get("logic") or "and"
    if not isinstance(logic, str) or logic.lower() not in ("and", "or"):
        raise invalid("logic", "must be and or or")
    conditions = body.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise invalid("conditions", "must be a non-empty array")
    if len(conditions) > MAX_CONDITIONS:
        raise invalid("conditions", f"may hold at most {MAX_CONDITIONS} conditions")
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise invalid("actions", "must be a non-empty array")
    if len(actions) > MAX_ACTIONS:
        raise invalid("actions", f"may hold at most {MAX_ACTIONS} actions")
    timezone_id = _text(body, "timezoneID", max_length=64)
    if timezone_id:
        try:
            zoneinfo.ZoneInfo(timezone_id)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise invalid("timezoneID", "must be an IANA time zone such as Asia/Shanghai") from None
    return Checked(
        name=_text(body, "name", required=True),
        description=_text(body, "description", max_length=1024),
        author=_text(body, "author", default=application.app_id),
        status=status,
        logic=logic.lower(),
        conditions=[_condition(application, f"conditions[{i}]", c) for i, c in enumerate(conditions)],
        actions=[_action(application, f"actions[{i}]", a) for i, a in enumerate(actions)],
        time_range=_time_range(body.get("timeRange")),
        timezone_id=timezone_id,
        extra={key: body[key] for key in EXTRA_KEYS if key in body},
    )


def _days(where: str, value: Any) -> str:
    if value in (None, ""):
        return "1,2,3,4,5,6,7"
    days = [part.strip() for part in str(value).split(",")]
    if not all(day in {"1", "2", "3", "4", "5", "6", "7"} for day in days):
        raise invalid(where, "must list days 1 (Monday) to 7 (Sunday), separated by commas")
    return ",".join(sorted(set(days)))


def _time_range(value: Any) -> dict[str, Any] | None:
    if value in (None, {}):
        return None
    if not isinstance(value, dict):
        raise invalid("timeRange", "must be an object with startTime, endTime and daysOfWeek")
    for key in ("startTime", "endTime"):
        if not isinstance(value.get(key), str) or not TIME.match(value[key]):
            raise invalid(f"timeRange.{key}", "must be a time HH:mm")
    return {
        "startTime": value["startTime"],
        "endTime": value["endTime"],
        "daysOfWeek": _days("timeRange.daysOfWeek", value.get("daysOfWeek")),
    }


def _path(where: str, value: Any) -> tuple[str, str]:
    if not isinstance(value, str) or value.count("/") != 1 or not all(value.split("/")):
        raise invalid(f"{where}.path", "must be serviceId/propertyName")
    service_id, prop = value.split("/")
    return service_id, prop


def _scope(application: Application, where: str, condition: dict, kind: str) -> dict[str, Any]:
    """Which devices a condition watches: one device, a product (deviceTypeInfo) or a group."""
    if kind in ("DEVICE_DATA", STATUS, NO_DATA) and isinstance(condition.get("deviceInfo"), dict):
        info = condition["deviceInfo"]
        device = Device.objects.filter(application=application, device_id=str(info.get("deviceId") or "")).first()
        if device is None:
            raise invalid(f"{where}.deviceInfo.deviceId", "must be a device of this application")
        return {
            "deviceInfo": {"deviceId": device.device_id, "path": info.get("path")},
            "_device": device.pk,
            "_product": device.product_id,
        }
    if kind in ("DEVICE_TYPE_DATA", STATUS, NO_DATA) and isinstance(condition.get("deviceTypeInfo"), dict):
        info = condition["deviceTypeInfo"]
        product = Product.objects.filter(
            application=application,
            manufacturer_id=str(info.get("manufacturerId") or ""),
            model=str(info.get("model") or ""),
        ).first()
        if product is None:
            raise invalid(f"{where}.deviceTypeInfo", "must name a product of this application (manufacturerId, model)")
        return {
            "deviceTypeInfo": {
                "manufacturerId": product.manufacturer_id,
                "model": product.model,
                "deviceType": product.device_type,
                "path": info.get("path"),
            },
            "_product": product.pk,
        }
    if kind in ("DEVICE_GROUP_DATA", STATUS, NO_DATA) and isinstance(condition.get("deviceGroupInfo"), dict):
        info = condition["deviceGroupInfo"]
        group = DeviceGroup.objects.filter(
            application=application, dev_group_id=str(info.get("devGroupId") or "")
        ).first()
        if group is None:
            raise invalid(f"{where}.deviceGroupInfo.devGroupId", "must be a device group of this application")
        return {"deviceGroupInfo": {"devGroupId": group.dev_group_id, "path": info.get("path")}, "_group": group.pk}
    expected = {
        "DEVICE_DATA": "deviceInfo",
        "DEVICE_TYPE_DATA": "deviceTypeInfo",
        "DEVICE_GROUP_DATA": "deviceGroupInfo",
    }.get(kind, "deviceInfo, deviceTypeInfo or deviceGroupInfo")
    raise invalid(where, f"needs {expected}")


def _condition(application: Application, where: str, condition: Any) -> dict[str, Any]:
    if not isinstance(condition, dict):
        raise invalid(where, "must be an object")
    kind = condition.get("type")
    if kind not in CONDITION_TYPES:
        raise invalid(f"{where}.type", f"must be one of {', '.join(CONDITION_TYPES)}")
    checked: dict[str, Any] = {"type": kind, "transInfo": condition.get("transInfo")}
    if kind in (DAILY_TIMER, CYCLE_TIMER):
        if kind == DAILY_TIMER:
            if not isinstance(condition.get("time"), str) or not TIME.match(condition["time"]):
                raise invalid(f"{where}.time", "must be a time HH:mm")
            checked["time"] = condition["time"]
            checked["daysOfWeek"] = _days(f"{where}.daysOfWeek", condition.get("daysOfWeek"))
        else:
            interval = condition.get("interval")
            if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 10080:
                raise invalid(f"{where}.interval", "must be a whole number of minutes, 1 to 10080")
            checked["interval"] = interval
        return checked
    checked.update(_scope(application, where, condition, kind))
    if kind == STATUS:
        status = condition.get("status")
        if status not in (Status.ONLINE, Status.OFFLINE, Status.ABNORMAL):
            raise invalid(f"{where}.status", "must be ONLINE, OFFLINE or ABNORMAL")
        checked["status"] = status
        return checked
    if kind == NO_DATA:
        minutes = condition.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 10080:
            raise invalid(f"{where}.minutes", "must be a whole number of minutes, 1 to 10080")
        checked["minutes"] = minutes
        return checked
    info_key = next(key for key in ("deviceInfo", "deviceTypeInfo", "deviceGroupInfo") if key in checked)
    service_id, prop = _path(f"{where}.{info_key}", checked[info_key].get("path"))
    operator = condition.get("operator")
    if operator not in OPERATORS:
        raise invalid(f"{where}.operator", f"must be one of {', '.join(OPERATORS)}")
    value = condition.get("value")
    if operator in (*NUMERIC_OPERATORS, "changedBy") and number(value) is None:
        raise invalid(f"{where}.value", f"must be a number for operator {operator}")
    if operator == "between":
        parts = value if isinstance(value, list) else str(value or "").split(",")
        bounds = [number(part) for part in parts]
        if len(bounds) != 2 or None in bounds or bounds[0] > bounds[1]:
            raise invalid(f"{where}.value", 'must be "low,high" for operator between')
    if operator in ("=", "!=") and (value is None or isinstance(value, dict | list)):
        raise invalid(f"{where}.value", f"must be a number or a string for operator {operator}")
    duration = condition.get("duration") or 0
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= 86400:
        raise invalid(f"{where}.duration", "must be a whole number of seconds, 0 to 86400")
    strategy = condition.get("strategy") or {}
    trigger = strategy.get("trigger", "pulse") if isinstance(strategy, dict) else None
    if trigger not in TRIGGERS:
        raise invalid(f"{where}.strategy.trigger", "must be pulse or reverse")
    checked.update(
        operator=operator,
        value=value,
        duration=duration,
        strategy={**strategy, "trigger": trigger},
        _service=service_id,
        _property=prop,
    )
    return checked


def _action(application: Application, where: str, action: Any) -> dict[str, Any]:
    if not isinstance(action, dict):
        raise invalid(where, "must be an object")
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise invalid(f"{where}.type", f"must be one of {', '.join(ACTION_TYPES)}")
    enable = action.get("enable", True)
    if not isinstance(enable, bool):
        raise invalid(f"{where}.enable", "must be true or false")
    checked: dict[str, Any] = {**action, "type": kind, "enable": enable}
    if kind == CMD:
        device_id = action.get("deviceId")
        if (
            device_id not in (None, "")
            and not Device.objects.filter(application=application, device_id=str(device_id)).exists()
        ):
            raise invalid(
                f"{where}.deviceId", "must be a device of this application (or left out: the device that triggered)"
            )
        cmd = action.get("cmd")
        if not isinstance(cmd, dict) or not isinstance(cmd.get("serviceId"), str) or not cmd["serviceId"]:
            raise invalid(f"{where}.cmd.serviceId", "is required")
        if not isinstance(cmd.get("messageType"), str) or not cmd["messageType"]:
            raise invalid(f"{where}.cmd.messageType", "is required (the command's method)")
        body = cmd.get("messageBody")
        if body is not None and not isinstance(body, dict):
            raise invalid(f"{where}.cmd.messageBody", "must be an object")
        meta = action.get("cmdMetaData") or {}
        if not isinstance(meta, dict):
            raise invalid(f"{where}.cmdMetaData", "must be an object")
    elif kind == ALARM:
        if not isinstance(action.get("name"), str) or not action["name"] or len(action["name"]) > 256:
            raise invalid(f"{where}.name", "is required, at most 256 characters")
        status = action.get("status", "fault")
        if status not in ("fault", "recovery"):
            raise invalid(f"{where}.status", "must be fault or recovery")
        severity = action.get("severity", "major")
        if severity not in SEVERITIES:
            raise invalid(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
        auto_clear = action.get("autoClear", True)
        if not isinstance(auto_clear, bool):
            raise invalid(f"{where}.autoClear", "must be true or false")
        checked.update(status=status, severity=severity, autoClear=auto_clear)
    elif kind == WEBHOOK:
        from subscriptions.callbacks import CallbackUrlError, parse_callback_url

        try:
            parse_callback_url(action.get("url"))
        except CallbackUrlError as error:
            raise NorthboundError("100222", f"The request callbackurl is illegal: {where}.url {error}.") from None
    return checked


def in_time_range(time_range: dict[str, Any] | None, timezone_id: str, now: dt.datetime) -> bool:
    """Whether `now` falls in the rule's active window (days 1 = Monday; a window may pass midnight)."""
    if not time_range:
        return True
    local = now.astimezone(zoneinfo.ZoneInfo(timezone_id)) if timezone_id else now.astimezone(dt.UTC)
    days = {int(day) for day in time_range["daysOfWeek"].split(",")}
    start, end = time_range["startTime"], time_range["endTime"]
    clock = local.strftime("%H:%M")
    if start <= end:
        return local.isoweekday() in days and start <= clock <= end
    # Past midnight: the window belongs to the day it started on.
    if clock >= start:
        return local.isoweekday() in days
    return clock <= end and (local - dt.timedelta(days=1)).isoweekday() in days


def public(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conditions without the internal keys (`_device`, `_product`...) the engine compiled them with."""
    return [{key: value for key, value in condition.items() if not key.startswith("_")} for condition in conditions]
