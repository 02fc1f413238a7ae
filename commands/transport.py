"""Where commands meet codecs and the device transports.

`encode()` turns a cloudReq into the device's bytes with the product's codec (products.codecs), or,
for an MQTT device of a product without codec (JSON mode) and for a gateway's sub-device (with its
deviceId), into the cloudReq's compact JSON (an LwM2M gateway's sub-device gets its product's codec
bytes, written to /{prefix}/19/1/0 through the gateway: ingress.lwm2m_gateway);
`deliver()` hands them to the ingress worker that holds the device (devices.downlink), which reports
acked, reset, timeout, error or undeliverable back through devices.hooks; commands/apps.py connects
those reports to commands.actions.
"""

from __future__ import annotations

import json
from typing import Any

from commands import actions
from devices import downlink, gateways
from devices.models import Device


class EncodeError(Exception):
    """The command cannot be turned into bytes for this device (no codec, or the codec refused it)."""


def encode(device: Device, cloud_req: dict[str, Any]) -> bytes:
    from products import codecs

    if device.product is None:
        raise EncodeError("the device is tied to no product")
    mapped = _mapped(device, cloud_req["serviceId"], cloud_req["cmd"], cloud_req.get("paras"))
    if mapped is not None:
        return mapped[3]  # a Write's value or an Execute's argument (products.lwm2m_mapping)
    if device.gateway_id is not None and not gateways.lwm2m_gateways([device.gateway_id]):
        # A gateway's sub-device: its gateway reads the cloudReq JSON on its own command topic, with the
        # sub-device's deviceId, and answers with it (devices.gateways, docs/gateways.md).
        fields = ("msgType", "serviceId", "cmd", "paras", "hasMore", "mid")
        message = {"msgType": "cloudReq", "deviceId": device.device_id}
        message.update({name: cloud_req[name] for name in fields if name in cloud_req})
        return json.dumps(message, separators=(",", ":")).encode()
    if device.protocol_type.upper() == "MQTT" and codecs.active_version(device.product) is None:
        # JSON mode: an MQTT device of a product without codec reads the cloudReq itself on /command/json.
        fields = ("msgType", "serviceId", "cmd", "paras", "hasMore", "mid")
        message = {name: cloud_req[name] for name in fields if name in cloud_req}
        return json.dumps(message, separators=(",", ":")).encode()
    try:
        return codecs.encode_command(device.product, cloud_req)
    except codecs.CodecError as error:
        raise EncodeError(str(error)) from None


def _mapped(device: Device, service_id: str, command: str, paras: Any) -> tuple[str, str, int, bytes] | None:
    """An LwM2M device's command that its product maps to a Write or Execute of a standard resource."""
    from products import lwm2m_mapping

    if device.gateway_id is not None or device.product is None or not device.product.lwm2m_mapping:
        return None
    try:
        return lwm2m_mapping.command_request(device.product, service_id, command, paras)
    except lwm2m_mapping.MappingInvalid as error:
        raise EncodeError(error.reason) from None


def reachable(device: Device) -> bool:
    """Whether an ingress worker holds a live session for the device, and the device listens, right now
    (an LwM2M queue-mode device listens only in its wake window)."""
    return downlink.holder(device) is not None and not downlink.asleep(device)


def deliver(command: Any, payload: bytes) -> None:
    mapped = _mapped(command.device, command.service_id, command.method, command.paras)
    if mapped is not None:
        # Written to or executed on the mapped resource; its 2.xx answer completes the command (mid).
        path, operation, content_format, _payload = mapped
        downlink.queue_downlink(
            command.device,
            payload,
            request_id=command.command_id,
            max_retransmit=command.max_retransmit,
            method=operation,
            path=path,
            content_format=content_format,
            mid=command.mid,
        )
        return
    downlink.queue_downlink(
        command.device,
        payload,
        request_id=command.command_id,
        max_retransmit=command.max_retransmit,
        method=actions.lwm2m_downlink(command.device),
    )
