"""Devices as the northbound API shows them (northbound-api.md sections 2.6, 4.4)."""

from __future__ import annotations

from typing import Any

from applications.formats import format_time
from devices.models import Device


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def device_info(device: Device, *, imsi: bool = False) -> dict[str, Any]:
    """The 23 DeviceInfo values, in the original's order (subscriptions.payloads.DEVICE_INFO_KEYS)."""
    info = {
        "nodeId": device.node_id,
        "name": device.name or None,
        "description": device.description or None,
        "manufacturerId": device.manufacturer_id or None,
        "manufacturerName": device.manufacturer_name or None,
        "mac": device.mac or None,
        "location": device.location or None,
        "deviceType": device.device_type or None,
        "model": device.model or None,
        "swVersion": device.sw_version or None,
        "fwVersion": device.fw_version or None,
        "hwVersion": device.hw_version or None,
        "protocolType": device.protocol_type or None,
        "bridgeId": device.bridge_id or None,
        "status": device.status,
        "statusDetail": device.status_detail,
        "mute": _bool(device.mute),
        "supportedSecurity": _bool(device.supported_security),
        "isSecurity": _bool(device.is_secure),
        "signalStrength": device.signal_strength,
        "sigVersion": device.sig_version or None,
        "serialNumber": device.serial_number or None,
        "batteryLevel": device.battery_level,
    }
    if imsi:
        info["imsi"] = device.imsi or None
    return info


def services(device: Device) -> list[dict[str, Any]]:
    """The shadow: each service's latest data, as `services` in the device query."""
    return [
        {
            "serviceId": service_id,
            "serviceType": value.get("serviceType", service_id),
            "serviceInfo": None,
            "data": value.get("data"),
            "eventTime": value.get("eventTime"),
        }
        for service_id, value in device.shadow.items()
    ]


def device_body(device: Device, *, imsi: bool = False) -> dict[str, Any]:
    """One device as `GET /iocm/app/dm/v1.4.0/devices/{deviceId}` answers it."""
    return {
        "deviceId": device.device_id,
        "gatewayId": device.gateway_device_id,
        "nodeType": device.node_type,
        "createTime": format_time(device.created_at),
        "lastModifiedTime": format_time(device.updated_at),
        "deviceInfo": device_info(device, imsi=imsi),
        "services": services(device),
    }
