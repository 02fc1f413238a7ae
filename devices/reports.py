"""A codec's deviceReq checked against the product's profile and turned into service reports.

Every device transport (CoAP/LwM2M now, MQTT later) stores data through here, so a report is held to
the same rules whichever way it came: each serviceId must be one of the product's services, each key
one of that service's properties, each value of the property's type (F-2.8) and within its range,
length and enumeration. The first broken rule is the error, naming service, property and value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from applications.formats import parse_time
from devices.actions import ServiceReport
from products.models import Product


class ReportInvalid(ValueError):
    """The decoded report breaks the profile; the message says where and how."""


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _check_value(service_id: str, prop: Mapping[str, Any], value: Any) -> None:
    name = prop["propertyName"]
    data_type = str(prop.get("dataType") or "").lower()
    where = f"service {service_id}, property {name}"
    if value is None:
        return
    if data_type == "int":
        if isinstance(value, bool):
            return  # F-2.8: int carries integers or booleans
        if not isinstance(value, int):
            raise ReportInvalid(f"{where}: {value!r} is not an int")
    elif data_type in ("decimal", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportInvalid(f"{where}: {value!r} is not a {data_type}")
    elif data_type in ("string", "datetime"):
        if not isinstance(value, str):
            raise ReportInvalid(f"{where}: {value!r} is not a string")
        max_length = prop.get("maxLength")
        if isinstance(max_length, int) and max_length > 0 and len(value) > max_length:
            raise ReportInvalid(f"{where}: {len(value)} characters, at most {max_length} allowed")
    elif data_type == "jsonobject" and not isinstance(value, dict | list):
        raise ReportInvalid(f"{where}: {value!r} is not a JSON object")
    enum = prop.get("enumList")
    if isinstance(enum, list) and enum and value not in enum and str(value) not in [str(item) for item in enum]:
        raise ReportInvalid(f"{where}: {value!r} is not one of {enum}")
    if data_type in ("int", "decimal", "double", "float") and not isinstance(value, bool):
        low, high = _number(prop.get("min")), _number(prop.get("max"))
        # A profile may leave the range open (max <= min, as the reference's highFlow has min 1 max 0).
        if low is not None and high is not None and high > low and not low <= value <= high:
            raise ReportInvalid(f"{where}: {value!r} is outside {prop.get('min')}..{prop.get('max')}")


def service_reports(product: Product, decoded: Mapping[str, Any], received_at: dt.datetime) -> list[ServiceReport]:
    """The reports of a decoded deviceReq, validated against the product's profile."""
    if decoded.get("msgType") != "deviceReq":
        raise ReportInvalid(f"msgType is {decoded.get('msgType')!r}, a data report needs deviceReq")
    data = decoded.get("data")
    if not isinstance(data, list) or not data:
        raise ReportInvalid('a deviceReq needs a non-empty "data" array')
    profile = product.profile
    types = {cap["serviceId"]: cap["serviceType"] for cap in profile["device"]["serviceTypeCapabilities"]}
    properties = {
        service["serviceType"]: {prop["propertyName"]: prop for prop in service.get("properties") or []}
        for service in profile["services"]
    }
    reports = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ReportInvalid(f"data[{index}] is not an object")
        service_id = item.get("serviceId")
        if service_id not in types:
            raise ReportInvalid(f"data[{index}]: serviceId {service_id!r} is not a service of {product}")
        service_data = item.get("serviceData")
        if not isinstance(service_data, Mapping):
            raise ReportInvalid(f"data[{index}]: serviceData of {service_id} is not an object")
        known = properties.get(types[service_id], {})
        for name, value in service_data.items():
            if name not in known:
                raise ReportInvalid(f"service {service_id} has no property {name!r}")
            _check_value(service_id, known[name], value)
        event_time = received_at
        if item.get("eventTime"):
            try:
                event_time = parse_time(item["eventTime"])
            except ValueError as error:
                raise ReportInvalid(f"data[{index}]: eventTime {error}") from None
        reports.append(ServiceReport(service_id, types[service_id], dict(service_data), event_time))
    return reports
