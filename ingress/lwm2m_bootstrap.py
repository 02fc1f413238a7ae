"""The LwM2M bootstrap server (docs/lwm2m-objects.md): `POST /bs?ep=<endpoint>` over CoAPS with the
bootstrap PSK (LWM2M_BOOTSTRAP_IDENTITY / LWM2M_BOOTSTRAP_PSK), for devices whose bootstrap is enabled.

The flow (LwM2M TS 1.1, 5.2.7): the device asks (2.04), then the platform

- discovers `/0` and `/1` (Bootstrap-Discover: `GET` with Accept link format) to learn which instances
  the device holds: the new accounts go to the instances already holding short server id 1, else to the
  lowest free ones, so the device's own bootstrap account (a Security instance without `ssid`, at /0/1 in
  Anjay's demo client) is never overwritten; a device that does not answer the Discover gets /0/1 and /1/0;
- writes the Security instance: Server URI (the platform's CoAPS address, LWM2M_SERVER_URI), not a
  bootstrap server, security mode 0 (PSK), the device's nodeId as PSK identity, its PSK, short server id 1;
- writes the Server instance: short server id 1, lifetime 300 s, binding U;

and ends with Bootstrap-Finish (`POST /bs`), after whose answer it ends the bootstrap DTLS session
(close_notify). The device then registers with the written identity and PSK, in a session of its own.
Each step is logged on the device. A request over plain CoAP, with another PSK identity, for an unknown
endpoint or a device without bootstrap (or without a PSK) is refused with 4.03 and logged (on the device
when there is one, else in the ingress's refusal log).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiocoap import Message
from aiocoap import error as aiocoap_error
from aiocoap.numbers import codes
from django.conf import settings
from django.utils import timezone

from devices import logs
from devices.models import Device, LogKind
from ingress import endpoints, formats, sessions
from ingress.dtls import DTLSAddress
from ingress.models import BootstrapDevice

if TYPE_CHECKING:
    from ingress.worker import IngressWorker

SHORT_SERVER_ID = 1
LIFETIME = 300
FALLBACK_INSTANCES = {0: 1, 1: 0}  # Security, Server instance when the device does not answer the Discover


def bootstrap_key(identity: str) -> bytes | None:
    """The bootstrap PSK when `identity` is the bootstrap identity and a key is set."""
    if settings.LWM2M_BOOTSTRAP_PSK and identity == settings.LWM2M_BOOTSTRAP_IDENTITY:
        return bytes.fromhex(settings.LWM2M_BOOTSTRAP_PSK)
    return None


def server_uri(worker: IngressWorker) -> str:
    return settings.LWM2M_SERVER_URI or f"coaps://127.0.0.1:{worker.coaps_port}"


def _int(value: int) -> bytes:
    for size in (1, 2, 4, 8):
        if -(2 ** (8 * size - 1)) <= value < 2 ** (8 * size - 1):
            return value.to_bytes(size, "big", signed=True)
    raise ValueError(value)


def discovered_instances(payload: bytes, object_id: int) -> dict[int, int | None]:
    """The instances of `object_id` a Bootstrap-Discover answer lists, with their `ssid` (None: none given,
    the bootstrap account in /0). `</>;lwm2m=1.1,</0>,</0/1>;uri="coaps://bs:5684",</0/2>;ssid=1`
    -> {1: None, 2: 1}. The `lwm2m="1.0"` a 1.0 client puts first is not a link and is skipped."""
    instances: dict[int, int | None] = {}
    for link in formats.parse_link_format(payload, skip_non_links=True):
        parts = link["path"].strip("/").split("/")
        if len(parts) != 2 or parts[0] != str(object_id) or not parts[1].isdigit():
            continue
        ssid = link.get("ssid", "")
        instances[int(parts[1])] = int(ssid) if ssid.isdigit() else None
    return instances


def chosen_instance(instances: dict[int, int | None]) -> int:
    """The instance that holds short server id 1 already, else the lowest one the device does not use."""
    for instance, ssid in sorted(instances.items()):
        if ssid == SHORT_SERVER_ID:
            return instance
    return next(instance for instance in range(len(instances) + 1) if instance not in instances)


def security_instance(uri: str, identity: str, key: bytes, instance: int = 1) -> bytes:
    """TLV of a Security instance (/0/instance): the platform as the device's LwM2M server, PSK mode."""
    resources = [
        (0, uri.encode()),
        (1, b"\x00"),  # not a bootstrap server
        (2, _int(0)),  # security mode: pre-shared key
        (3, identity.encode()),
        (5, key),
        (10, _int(SHORT_SERVER_ID)),
    ]
    return formats.encode_tlv_instance(
        instance, b"".join(formats.encode_tlv_resource(rid, value) for rid, value in resources)
    )


def server_instance(instance: int = 0) -> bytes:
    """TLV of a Server instance (/1/instance): short server id, lifetime, notification storing off, binding U."""
    resources = [(0, _int(SHORT_SERVER_ID)), (1, _int(LIFETIME)), (6, b"\x00"), (7, b"U")]
    return formats.encode_tlv_instance(
        instance, b"".join(formats.encode_tlv_resource(rid, value) for rid, value in resources)
    )


def _device(endpoint: str) -> tuple[Device | None, str]:
    """(the device, why it is refused or "")."""
    try:
        device = sessions.find_device(endpoints.parse(endpoint))
    except ValueError:
        device = None
    if device is None:
        return None, f"unknown endpoint {endpoint[:64]!r}"
    if not BootstrapDevice.objects.filter(device=device).exists():
        return device, "bootstrap is not enabled for this device"
    if not device.psk:
        return device, "the device has no PSK to write"
    return device, ""


def _finished(device_pk: int) -> None:
    BootstrapDevice.objects.filter(device_id=device_pk).update(bootstrapped_at=timezone.now())


async def request(worker: IngressWorker, message: Message, query: dict[str, str]) -> Message:
    """Answer `POST /bs?ep=` and, when accepted, write /0 and /1 and finish."""
    host = worker._where(message)[0]
    endpoint = query.get("ep", "")
    identity = message.remote.identity if isinstance(message.remote, DTLSAddress) else None
    if identity is None or identity != settings.LWM2M_BOOTSTRAP_IDENTITY or not settings.LWM2M_BOOTSTRAP_PSK:
        reason = "bootstrap needs CoAPS with the bootstrap PSK"
        worker.refusals.refuse("lwm2m_bootstrap", host, f"{reason} (ep={endpoint[:64]!r})")
        return Message(code=codes.FORBIDDEN, payload=reason.encode())
    device, refused = await worker.run_misc(_device, endpoint)
    if refused:
        if device is not None:
            await worker.run_misc(logs.log_device, device.pk, LogKind.INFO, f"bootstrap refused: {refused}")
        else:
            worker.refusals.refuse("lwm2m_bootstrap", host, f"bootstrap refused: {refused}")
        return Message(code=codes.FORBIDDEN, payload=refused.encode())
    worker.loop.call_soon(lambda: worker._spawn(_provision(worker, message.remote, device)))
    return Message(code=codes.CHANGED)


async def _exchange(
    worker: IngressWorker, remote: Any, method: Any, path: tuple[str, ...], payload: bytes
) -> tuple[str, Message | None]:
    """One confirmable request on the bootstrap session: (its answer's code or why none, the answer)."""
    from ingress.worker import PlatformTuning, _retrieve

    request = Message(code=method, payload=payload, transport_tuning=PlatformTuning())
    request.opt.uri_path = path
    if payload:
        request.opt.content_format = formats.TLV
    elif method == codes.GET:
        request.opt.accept = formats.LINK_FORMAT  # Bootstrap-Discover
    request.remote = remote
    pending = worker.context.request(request).response
    pending.add_done_callback(_retrieve)
    try:
        answer = await asyncio.wait_for(asyncio.shield(pending), request.transport_tuning.MAX_TRANSMIT_WAIT + 1)
    except (TimeoutError, aiocoap_error.Error) as problem:
        return f"no answer ({type(problem).__name__})", None
    return str(answer.code.dotted), answer


async def _instances(worker: IngressWorker, remote: Any, done: list[str]) -> dict[int, int]:
    """Security and Server instance to write, from Bootstrap-Discover of /0 and /1 (FALLBACK_INSTANCES for
    a device that refuses it or answers what cannot be read)."""
    chosen = {}
    for object_id in (0, 1):
        code, answer = await _exchange(worker, remote, codes.GET, (str(object_id),), b"")
        try:
            if answer is None or answer.code != codes.CONTENT:
                raise formats.FormatError(code)
            chosen[object_id] = chosen_instance(discovered_instances(answer.payload, object_id))
            done.append(f"Discover /{object_id} {code}")
        except formats.FormatError:
            chosen[object_id] = FALLBACK_INSTANCES[object_id]
            done.append(f"Discover /{object_id} {code} (instance {chosen[object_id]} assumed)")
    return chosen


async def _provision(worker: IngressWorker, remote: Any, device: Device) -> None:
    done: list[str] = []
    instances = await _instances(worker, remote, done)
    key = bytes.fromhex(device.psk)
    steps = [
        (codes.PUT, ("0",), security_instance(server_uri(worker), device.node_id, key, instances[0]), instances[0]),
        (codes.PUT, ("1",), server_instance(instances[1]), instances[1]),
        (codes.POST, ("bs",), b"", None),
    ]
    finished = False
    for method, path, payload, instance in steps:
        code, _ = await _exchange(worker, remote, method, path, payload)
        shown = f" (instance {instance})" if instance is not None else ""
        done.append(f"{method} /{'/'.join(path)}{shown} {code}")
        if not code.startswith("2."):
            break
        finished = path == ("bs",)
    if finished:
        remote.interface.end_session(remote)  # the device registers through a session of its own
        await worker.run_misc(_finished, device.pk)
    summary = f"bootstrap: {'; '.join(done)}" + ("" if finished else " (stopped)")
    await worker.run_misc(logs.log_device, device.pk, LogKind.INFO, summary)
