"""A gateway's MQTT topics: it adds, deletes and reports the status of its sub-devices, reports their
data and answers their commands (devices.gateways; topics and shapes in docs/gateways.md).

Modelled on the original's gateway conventions (the Agent Lite SDK's topology messages, kept by
Huawei's ROMA Connect device access as `/v1/devices/{gatewayId}/topo/...`), under this platform's
`/huawei/v1/devices/{gatewayId}/` prefix and with its camelCase JSON:

- `topo/add` `{"mid", "deviceInfos": [{"nodeId", "productId" (or "manufacturerId" and "model"),
  "name"?, "description"?}]}`, answered on `topo/addResponse` with each sub-device's deviceId;
- `topo/delete` `{"mid", "deviceIds": [...]}`, answered on `topo/deleteResponse`;
- `topo/update` `{"mid", "deviceStatuses": [{"deviceId", "status": "ONLINE" or "OFFLINE"}]}`, answered
  on `topo/updateResponse`;
- `datas` `{"devices": [{"deviceId", "services": [{"serviceId", "data", "eventTime"?}]}]}`: PUBACK once
  stored;
- `commandResponse` `{"msgType": "deviceRsp", "deviceId", "mid", "errcode", "body"}`: PUBACK once handled.

A command to a sub-device reaches the gateway on its own `command/json` topic as the cloudReq with the
sub-device's `deviceId` (commands.transport). Responses are `{"mid", "statusCode": 0 or 1,
"statusDesc", "data": [...]}`. Any request that names a device not the gateway's own, or that cannot
be read, is refused whole, changes nothing, is logged on the gateway with the reason and, for topo
requests, answered with statusCode 1 and that reason. Data go through the same pipeline as a direct
device's (ingress.pipeline): shadow, history, logs, deviceDataChanged with gatewayId = the gateway.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from applications.guard import hostile
from devices import gateways, logs
from devices.models import Device, LogKind
from devices.reports import ReportInvalid, service_reports
from ingress import pipeline
from ingress.mqtt import auth

if TYPE_CHECKING:
    from ingress.mqtt.server import DeviceHandler, MqttServer

log = logging.getLogger("ingress.mqtt")

KINDS = ("topo/add", "topo/delete", "topo/update", "datas", "commandResponse")
# The most sub-devices one request may name (the original took 100 per topo request; bulk adds of
# hundreds are a goal here, and the bench reports for 1,000 in one datas message).
MAX_ITEMS = 1000
MAX_TEXT = 256
TRANSPORT = "MQTT gateway"


class Unreadable(gateways.GatewayRefused):
    """The request is not the JSON its topic expects."""


def _object(raw: bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Unreadable(f"not JSON ({error})") from None
    if not isinstance(message, dict):
        raise Unreadable("not a JSON object")
    if found := hostile(message):  # PostgreSQL would refuse it (applications.guard)
        raise Unreadable(f"cannot be stored: {found}")
    return message


def _list(message: dict[str, Any], name: str) -> list[Any]:
    items = message.get(name)
    if not isinstance(items, list) or not items:
        raise Unreadable(f"{name} must be a non-empty list")
    if len(items) > MAX_ITEMS:
        raise Unreadable(f"{name} has {len(items)} entries, at most {MAX_ITEMS} per message")
    return items


def _text(item: Any, name: str, where: str, *, required: bool = True) -> str:
    value = item.get(name) if isinstance(item, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise Unreadable(f"{where}: {name} must be a string of 1 to {MAX_TEXT} characters")
    return value.strip()


def _mid(message: dict[str, Any]) -> int:
    mid = message.get("mid")
    if isinstance(mid, bool) or not isinstance(mid, int):
        raise Unreadable(f"mid {mid!r} is not a whole number")
    return mid


def read_add(message: dict[str, Any]) -> list[gateways.SubDeviceInfo]:
    infos = []
    for index, item in enumerate(_list(message, "deviceInfos")):
        where = f"deviceInfos[{index}]"
        if not isinstance(item, dict):
            raise Unreadable(f"{where} is not an object")
        node_id = _text(item, "nodeId", where)
        product_id = _text(item, "productId", where, required=False)
        if not product_id and not (item.get("manufacturerId") and item.get("model")):
            raise Unreadable(f"{where}: productId, or manufacturerId and model, name the product")
        infos.append(
            gateways.SubDeviceInfo(
                node_id=node_id,
                product_id=product_id,
                manufacturer_id=_text(item, "manufacturerId", where, required=not product_id),
                device_type=_text(item, "deviceType", where, required=False),
                model=_text(item, "model", where, required=not product_id),
                name=_text(item, "name", where, required=False),
                description=_text(item, "description", where, required=False),
            )
        )
    return infos


def read_device_ids(message: dict[str, Any]) -> list[str]:
    ids = _list(message, "deviceIds")
    for index, device_id in enumerate(ids):
        if not isinstance(device_id, str) or not device_id:
            raise Unreadable(f"deviceIds[{index}] is not a deviceId")
    return ids


def read_statuses(message: dict[str, Any]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for index, item in enumerate(_list(message, "deviceStatuses")):
        where = f"deviceStatuses[{index}]"
        device_id = _text(item, "deviceId", where)
        status = _text(item, "status", where)
        if device_id in statuses:
            raise Unreadable(f"{where}: deviceId {device_id} appears more than once")
        statuses[device_id] = status
    return statuses


def read_datas(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Each sub-device's part of a datas message as the deviceReq the pipeline reads (json mode)."""
    message = _object(raw)
    parts = []
    for index, item in enumerate(_list(message, "devices")):
        where = f"devices[{index}]"
        device_id = _text(item, "deviceId", where)
        services = item.get("services")
        if not isinstance(services, list) or not services:
            raise Unreadable(f"{where}: services must be a non-empty list")
        data = []
        for number, service in enumerate(services):
            if not isinstance(service, dict) or not isinstance(service.get("data"), dict):
                raise Unreadable(f"{where}.services[{number}]: data must be an object")
            entry = {"serviceId": service.get("serviceId"), "serviceData": service["data"]}
            if service.get("eventTime") is not None:
                entry["eventTime"] = service["eventTime"]
            data.append(entry)
        parts.append((device_id, {"msgType": "deviceReq", "data": data}))
    return parts


# --- the requests, each in a thread (ORM) ----------------------------------------------------------


def _topo(gateway_pk: int, kind: str, raw: bytes) -> dict[str, Any]:
    """A topo request: the response body (statusCode 0, or 1 with the reason, logged on the gateway)."""
    mid = None
    try:
        gateway = gateways.get_gateway(gateway_pk)
        if gateway is None:
            return {"mid": None, "statusCode": 1, "statusDesc": "the gateway was deleted", "data": []}
        try:
            message = _object(raw)
            mid = _mid(message)
            data = _apply(gateway, kind, message)
        except gateways.GatewayRefused as refusal:
            entry = LogKind.DECODE_ERROR if isinstance(refusal, Unreadable) else LogKind.INFO
            logs.log(gateway, entry, f"gateway {kind} refused: {refusal}", raw=raw[:1024])
            return {"mid": mid, "statusCode": 1, "statusDesc": str(refusal), "data": []}
        gateways.record_gateway_seen(gateway_pk)
        return {"mid": mid, "statusCode": 0, "statusDesc": "", "data": data}
    finally:
        close_old_connections()


def _apply(gateway: Device, kind: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "topo/add":
        added = gateways.do_add_sub_devices(gateway, read_add(message))
        return [
            {
                "statusCode": 0,
                "statusDesc": "added" if one.created else "already a sub-device of this gateway",
                "deviceInfo": {
                    "nodeId": one.device.node_id,
                    "deviceId": one.device.device_id,
                    "name": one.device.name or None,
                    "description": one.device.description or None,
                    "manufacturerId": one.device.manufacturer_id,
                    "model": one.device.model,
                },
            }
            for one in added
        ]
    if kind == "topo/delete":
        deleted = gateways.do_delete_sub_devices(gateway, read_device_ids(message))
        return [{"deviceId": device_id, "statusCode": 0} for device_id in deleted]
    statuses = gateways.do_report_sub_device_status(gateway, read_statuses(message))
    return [{"deviceId": device_id, "statusCode": 0, "status": status} for device_id, status in statuses.items()]


def _own_parts(gateway_pk: int, kind: str, raw: bytes) -> list[tuple[int, bytes]] | str:
    """The (sub-device pk, payload) uplinks of a datas or commandResponse message, or the reason it is
    refused (logged on the gateway)."""
    try:
        try:
            if kind == "datas":
                requests = read_datas(raw)
                owned = gateways.own_sub_device_products(gateway_pk, [device_id for device_id, _ in requests])
                _check_profiles(requests, owned)
                parts = [
                    (device_id, json.dumps(request, separators=(",", ":")).encode()) for device_id, request in requests
                ]
            else:
                message = _object(raw)
                parts = [(_text(message, "deviceId", "commandResponse"), raw)]
                owned = gateways.own_sub_device_products(gateway_pk, [device_id for device_id, _ in parts])
        except gateways.GatewayRefused as refusal:
            gateway = Device.objects.filter(pk=gateway_pk).first()
            if gateway is not None:
                entry = LogKind.DECODE_ERROR if isinstance(refusal, Unreadable) else LogKind.INFO
                logs.log(gateway, entry, f"gateway {kind} refused: {refusal}", raw=raw[:1024])
            return str(refusal)
        gateways.record_gateway_seen(gateway_pk)
        return [(owned[device_id][0], payload) for device_id, payload in parts]
    finally:
        close_old_connections()


def _check_profiles(requests: list[tuple[str, dict[str, Any]]], owned: dict[str, tuple[int, Any]]) -> None:
    """Every part against its sub-device's profile before anything is stored: a datas message that
    breaks one is refused whole (the pipeline checks each part again as it stores it)."""
    now = timezone.now()
    for device_id, request in requests:
        product = owned[device_id][1]
        if product is None:
            raise gateways.GatewayRefused(f"sub-device {device_id} is tied to no product")
        try:
            service_reports(product, request, now)
        except ReportInvalid as error:
            raise gateways.GatewayRefused(f"sub-device {device_id} does not match its profile: {error}") from None


def _log_partial(gateway_pk: int, kind: str, outcomes: list[pipeline.Outcome]) -> None:
    refused = [outcome for outcome in outcomes if outcome.result not in (pipeline.STORED, pipeline.RESPONSE)]
    gateway = Device.objects.filter(pk=gateway_pk).first()
    if gateway is not None and refused:
        reasons = "; ".join(sorted({outcome.detail for outcome in refused if outcome.detail})[:3])
        summary = f"gateway {kind}: {len(outcomes) - len(refused)} of {len(outcomes)} stored; {reasons}"
        logs.log(gateway, LogKind.INFO, summary + " (the sub-devices' logs say more)")


# --- the broker side -----------------------------------------------------------------------------------


async def handle(
    server: MqttServer, handler: DeviceHandler, identity: auth.Identity, kind: str, data: bytes, packet: Any
) -> None:
    """One PUBLISH from a gateway to one of its gateway topics; PUBACK once it is handled."""
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
    from amqtt.mqtt.puback import PubackPacket

    qos, packet_id = packet.qos, packet.packet_id
    acknowledge = True
    if kind.startswith("topo/"):
        response = await server.run_misc(_topo, identity.device_pk, kind, data)
        server.stats[f"gateway_{kind}_{'ok' if response['statusCode'] == 0 else 'refused'}"] += 1
        topic = auth.GATEWAY_RESPONSE_TOPIC.format(device_id=identity.device_id, kind=kind.removeprefix("topo/"))
        body = json.dumps(response, separators=(",", ":")).encode()
        server.spawn(_respond(server, handler, topic, body))
    else:
        parts = await server.run_misc(_own_parts, identity.device_pk, kind, data)
        if isinstance(parts, str):
            server.stats[f"gateway_{kind}_refused"] += 1
        else:
            # A DUP resend is deduplicated per sub-device under the gateway's packet id, as a direct
            # device's is under its own (ingress.mqtt.server.MqttServer.ingest).
            dup = packet.dup_flag and packet_id is not None and qos > 0
            first = not packet.dup_flag and packet_id is not None and qos > 0
            items = [
                (
                    pipeline.Uplink(
                        pk,
                        payload,
                        message_id=server.packet_message_id(packet_id) if dup else None,
                        transport=TRANSPORT,
                        json=True,
                    ),
                    server.packet_message_id(packet_id) if first else None,
                )
                for pk, payload in parts
            ]
            outcomes = await server.ingest_many(items)
            acknowledge = all(outcome.acknowledge for outcome in outcomes)
            server.stats[f"gateway_{kind}_uplinks"] += len(outcomes)
            if any(outcome.result not in (pipeline.STORED, pipeline.RESPONSE) for outcome in outcomes):
                await server.run_misc(_log_partial, identity.device_pk, kind, outcomes)
    if qos == 1 and packet_id is not None and acknowledge:
        await handler._send_packet(PubackPacket.build(packet_id))
    elif qos == 2 and acknowledge:
        await BrokerProtocolHandler.handle_publish(handler, packet)


async def _respond(server: MqttServer, handler: DeviceHandler, topic: str, body: bytes) -> None:
    # In its own task: waiting for the gateway's PUBACK inside handle_publish would hold its reader.
    try:
        await handler.mqtt_publish(topic, body, 1, False, ack_timeout=settings.MQTT_ACK_TIMEOUT)
        server.stats["gateway_responses"] += 1
    except Exception as problem:  # the gateway went away or did not acknowledge: it may ask again
        server.stats["gateway_responses_lost"] += 1
        log.info("gateway response on %s not acknowledged: %s", topic, str(problem) or type(problem).__name__)
