"""The downlink action: hand a payload to whichever ingress worker holds the device's session.

The ingress records, per device, the channel-layer name of the worker process that last heard it
(SO_REUSEPORT sends a device's datagrams, and so its acknowledgements, to one worker), and keeps a
heartbeat key per live worker. `queue_downlink` reads both and, once the caller's transaction
commits, sends `{"type": "downlink", ...}` to that worker's channel. The worker sends the payload on
the device's downlink resource (LwM2M /19/1/0, Huawei /t/d) as a confirmable message with CoAP's own
retransmission (INGRESS_ACK_TIMEOUT, INGRESS_ACK_RANDOM_FACTOR, INGRESS_MAX_RETRANSMIT) and reports
the outcome through devices.hooks.downlink_outcome: acked, reset, timeout, error, or undeliverable
when no live worker holds the device. The commands layer (issue 8) registers a handler with
devices.hooks.on_downlink_outcome and correlates by `request_id`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from applications.redis import get_redis, key
from devices import hooks
from devices.models import Device

DOWNLINK_MESSAGE = "downlink"


def owner_key(device_pk: int) -> str:
    """Redis key: the channel name of the ingress worker that last heard the device."""
    return key("ingress", "owner", device_pk)


def worker_key(channel: str) -> str:
    """Redis key that exists while the ingress worker with this channel name is alive."""
    return key("ingress", "worker", channel)


def holder(device: Device) -> str | None:
    """The channel of the live worker holding the device's session, if any: a sub-device's is its
    gateway's (devices.gateways), which receives the sub-device's downlinks."""
    redis = get_redis()
    channel = redis.get(owner_key(device.gateway_id or device.pk))
    if not channel:
        return None
    channel = channel.decode()
    return channel if redis.exists(worker_key(channel)) else None


def queue_downlink(
    device: Device,
    payload: bytes,
    *,
    request_id: str,
    confirmable: bool = True,
    max_retransmit: int | None = None,
    method: str | None = None,
) -> bool:
    """Queue `payload` for the device; the outcome comes back through devices.hooks.downlink_outcome.

    Returns False when no live ingress worker holds the device: the outcome "undeliverable" is then
    reported at once (after commit), so a caller can keep the command for the device's next uplink.
    """
    channel = holder(device)
    if channel is None:
        outcome = hooks.DownlinkOutcome(request_id, device.pk, "undeliverable", detail="no ingress session")
        transaction.on_commit(lambda: hooks.downlink_outcome(outcome))
        return False
    message = {
        "type": DOWNLINK_MESSAGE,
        "device": device.pk,
        "payload": payload.hex(),
        "request_id": request_id,
        "confirmable": confirmable,
    }
    if device.gateway_id is not None:  # sent through the gateway's session, reported for the sub-device
        message["gateway"] = device.gateway_id
    if max_retransmit is not None:  # CoAP retransmissions of this downlink (else INGRESS_MAX_RETRANSMIT)
        message["max_retransmit"] = max_retransmit
    if method is not None:  # LwM2M: "write" (PUT) or "execute" (POST) /19/1/0 (else INGRESS_LWM2M_DOWNLINK)
        message["method"] = method
    transaction.on_commit(lambda: send_to_worker(channel, message))
    return True


def send_to_worker(channel: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured: downlinks need CHANNEL_LAYERS")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.send)(channel, message)
        return
    # Called from a thread that runs an event loop (async_to_sync refuses that): send from a helper.
    helper = threading.Thread(target=async_to_sync(layer.send), args=(channel, message))
    helper.start()
    helper.join(timeout=10)
