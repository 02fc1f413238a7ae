"""Where commands meet codecs and the device transports.

`encode()` turns a cloudReq into the device's bytes with the product's codec (products.codecs);
`deliver()` hands them to the ingress worker that holds the device (devices.downlink), which later
reports ACK, reset or timeout back to commands.actions.on_transport_result.
"""

from __future__ import annotations

from typing import Any

from devices.models import Device


class EncodeError(Exception):
    """The command cannot be turned into bytes for this device (no codec, or the codec refused it)."""


def encode(device: Device, cloud_req: dict[str, Any]) -> bytes:
    from products import codecs

    if device.product is None:
        raise EncodeError("the device is tied to no product")
    try:
        return codecs.encode_command(device.product, cloud_req)
    except codecs.CodecError as error:
        raise EncodeError(str(error)) from None


def deliver(command: Any, payload: bytes) -> None:
    from devices import downlink

    downlink.queue_downlink(
        command.device, payload, request_id=command.command_id, max_retransmit=command.max_retransmit
    )
