"""The downlink action: hand a payload to whichever ingress worker holds the device's session.

The ingress records, per device, the channel-layer name of the worker process that last heard it
(SO_REUSEPORT sends a device's datagrams, and so its acknowledgements, to one worker), and keeps a
heartbeat key per live worker. `queue_downlink` reads both and, once the caller's transaction
commits, sends `{"type": "downlink", ...}` to that worker's channel. The worker sends the payload on
the device's downlink resource (LwM2M /19/1/0, Huawei /t/d) as a confirmable message with CoAP's own
retransmission (INGRESS_ACK_TIMEOUT, INGRESS_ACK_RANDOM_FACTOR, INGRESS_MAX_RETRANSMIT) and reports
the outcome through devices.hooks.downlink_outcome: acked, reset, timeout, error, or undeliverable
when no live worker holds the device. A device in LwM2M queue mode that is asleep (outside the wake
window that follows its last Update or uplink) has the message held in Redis instead: its worker sends
it when the device wakes (ingress.worker, docs/lwm2m.md). The commands layer (issue 8) registers a handler with
devices.hooks.on_downlink_outcome and correlates by `request_id`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
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


def queue_key(device_pk: int) -> str:
    """Redis key of an LwM2M queue-mode device (binding Q): the time (epoch seconds) until which it is awake."""
    return key("ingress", "queue", device_pk)


def held_key(device_pk: int) -> str:
    """Redis list: downlink messages held for a queue-mode device until it wakes (its next Update or uplink)."""
    return key("ingress", "held", device_pk)


def set_queue_mode(device_pk: int, queued: bool, *, ttl: int, awake_until: float | None = None) -> None:
    """The ingress records a registration's queue mode (awake until `awake_until`, for `ttl` seconds at most)."""
    redis = get_redis()
    if queued:
        redis.set(queue_key(device_pk), awake_until if awake_until is not None else time.time(), ex=ttl)
    else:
        redis.delete(queue_key(device_pk), held_key(device_pk))


def queue_mode(device: Device) -> bool:
    """Whether the device (a sub-device: its gateway) registered in LwM2M queue mode."""
    return bool(get_redis().exists(queue_key(device.gateway_id or device.pk)))


def asleep(device: Device) -> bool:
    """A queue-mode device outside its wake window: requests to it wait for its next Update or uplink."""
    until = get_redis().get(queue_key(device.gateway_id or device.pk))
    return until is not None and float(until) < time.time()


def take_held(device_pk: int) -> list[dict[str, Any]]:
    """The downlinks held for a device that woke, oldest first, taken (no other worker sends them too)."""
    pipe = get_redis().pipeline(transaction=True)
    pipe.lrange(held_key(device_pk), 0, -1)
    pipe.delete(held_key(device_pk))
    held, _ = pipe.execute()
    return [json.loads(message) for message in held]


def queue_downlink(
    device: Device,
    payload: bytes,
    *,
    request_id: str,
    confirmable: bool = True,
    max_retransmit: int | None = None,
    method: str | None = None,
    path: str | None = None,
    content_format: int | None = None,
    mid: int | None = None,
) -> bool:
    """Queue `payload` for the device; the outcome comes back through devices.hooks.downlink_outcome.

    `path` (with `content_format` and the command's `mid`): an LwM2M Write or Execute of a standard
    resource that the product maps a command to (products.lwm2m_mapping), instead of object 19.

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
    if path is not None:  # LwM2M: a mapped standard resource (ingress.lwm2m_management.send_mapped)
        message.update(path=path, content_format=content_format, mid=mid)
    if asleep(device):
        # LwM2M queue mode: held until the device's next Update or uplink, when its worker sends it.
        target = device.gateway_id or device.pk
        transaction.on_commit(lambda: _hold(target, message))
        return True
    transaction.on_commit(lambda: send_to_worker(channel, message))
    return True


def _hold(device_pk: int, message: dict[str, Any]) -> None:
    redis = get_redis()
    pipe = redis.pipeline(transaction=True)
    pipe.rpush(held_key(device_pk), json.dumps(message, separators=(",", ":")))
    pipe.expire(held_key(device_pk), max(redis.ttl(queue_key(device_pk)), 60))
    pipe.execute()


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
