"""OceanConnect MQTT authentication and topic rules (device-protocols.md section 6), as plain functions.

Static connection: client id `{deviceId}_0_{checkTime}_{YYYYMMDDHH}`, user name = deviceId, password
= lowercase hex HMAC-SHA256 keyed by the 10-digit UTC hour string over the device's secret (password
mode). With checkTime 1 the stated hour must be within one hour of the server's clock; with 0 any hour
is accepted (the device has no clock), as the original did.

Dynamic connection: client id `{productId}_{nodeId}_1_{checkTime}_{YYYYMMDDHH}`, user name = productId,
password the same HMAC over the product's MQTT secret (devices.models.ProductSecret). The device, registered
in password mode on first contact, may then only subscribe to `/huawei/v1/products/{productId}/sn/{nodeId}/
secretNotify`, where it is sent `{"msgType":"cloudSendSecret","deviceid":…,"secret":…}`, and publish its
acknowledgement to `…/secretACK`; it reconnects statically with that secret.

A device publishes only to `/huawei/v1/devices/{deviceId}/data/{json|binary}` and subscribes only to
`/huawei/v1/devices/{deviceId}/command/{json|binary}`; a gateway also publishes to its own `topo/add`,
`topo/delete`, `topo/update`, `datas` and `commandResponse` and subscribes to its `topo/…Response`
topics (ingress.mqtt.gateway, docs/gateways.md).

An application server (not a device) connects over MQTTS to receive the pushes of its `channel=MQTTS`
subscriptions: client id `{appId}` or `{appId}_{suffix}`, user name the appId, password its secret
(subscriptions.mqtts). It may subscribe under `/huawei/v1/apps/{appId}/` only and publishes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import ClassVar

from django.db import close_old_connections

from applications.errors import NorthboundError
from devices import actions, logs
from devices.models import Device, LogKind, ProductSecret
from ingress import codec
from subscriptions import mqtts

CLIENT_ID = re.compile(r"^(?P<device_id>[^_]+)_0_(?P<check_time>[01])_(?P<hour>\d{10})$")
DATA_TOPIC = re.compile(r"^/huawei/v1/devices/(?P<device_id>[^/]+)/data/(?P<kind>json|binary)$")
COMMAND_TOPIC = "/huawei/v1/devices/{device_id}/command/{kind}"
# A gateway's topics (ingress.mqtt.gateway): it publishes requests for its sub-devices and reads the answers.
GATEWAY_TOPIC = re.compile(
    r"^/huawei/v1/devices/(?P<device_id>[^/]+)/(?P<kind>topo/add|topo/delete|topo/update|datas|commandResponse)$"
)
GATEWAY_RESPONSE_TOPIC = "/huawei/v1/devices/{device_id}/topo/{kind}Response"
DYNAMIC_CLIENT_ID = re.compile(r"^(?P<product_id>[^_]+)_(?P<node_id>.+)_1_(?P<check_time>[01])_(?P<hour>\d{10})$")
# kind: secretNotify or secretACK (a topic, not a password)
SECRET_TOPIC = "/huawei/v1/products/{product_id}/sn/{node_id}/{kind}"  # noqa: S105


class Refused(Exception):
    """The connection is refused; the message says why (logged on the device when it is known)."""


@dataclass(frozen=True)
class Identity:
    """An authenticated device: what the broker keeps per connection."""

    is_application: ClassVar[bool] = False

    device_pk: int
    device_id: str
    json_mode: bool  # the product has no active codec: commands go to command/json as cloudReq JSON
    # A dynamic connection: it only fetches the device's secret (secretNotify / secretACK).
    product_id: str = ""
    node_id: str = ""
    secret: str = field(default="", repr=False)

    @property
    def provisioning(self) -> bool:
        return bool(self.product_id)

    def secret_topic(self, kind: str) -> str:
        return SECRET_TOPIC.format(product_id=self.product_id, node_id=self.node_id, kind=kind)

    def secret_notification(self) -> bytes:
        return json.dumps({"msgType": "cloudSendSecret", "deviceid": self.device_id, "secret": self.secret}).encode()


@dataclass(frozen=True)
class AppIdentity:
    """An authenticated application server: it receives its MQTTS pushes (subscriptions.mqtts)."""

    is_application: ClassVar[bool] = True
    provisioning: ClassVar[bool] = False

    application_pk: int
    app_id: str

    def may_subscribe(self, topic_filter: str) -> bool:
        return mqtts.may_subscribe(self.app_id, topic_filter)


def password(secret: str, hour: str) -> str:
    """The password a device sends for `hour` (YYYYMMDDHH): HMAC-SHA256(key=hour, message=secret), hex."""
    return hmac.new(hour.encode(), secret.encode(), hashlib.sha256).hexdigest()


def hour_string(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%d%H")


def check_hour(hour: str, now: dt.datetime) -> None:
    try:
        stated = dt.datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=dt.UTC)
    except ValueError:
        raise Refused(f"time {hour} in the client id is not an hour YYYYMMDDHH") from None
    current = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    if abs(stated - current) > dt.timedelta(hours=1):
        raise Refused(f"time {hour} in the client id is more than an hour from the server's {hour_string(now)}")


def authenticate(
    client_id: str | None, username: str | None, secret: str | None, now: dt.datetime, *, tls: bool = True
) -> Identity | AppIdentity:
    """Check a device's static or dynamic connection, or an application's (over TLS only); log a
    device's refusal on the device when the device is known. Runs in a thread."""
    try:
        if not CLIENT_ID.match(client_id or ""):
            application = _authenticate_application(client_id or "", username or "", secret or "", tls)
            if application is not None:
                return application
        return _authenticate(client_id or "", username or "", secret or "", now)
    finally:
        close_old_connections()


def _authenticate_application(client_id: str, username: str, sent: str, tls: bool) -> AppIdentity | None:
    try:
        application = mqtts.authenticate(client_id, username, sent)
    except PermissionError as refusal:
        raise Refused(f"application {username}: {refusal}") from None
    if application is None:
        return None
    if not tls:  # its secret is the northbound one: never over plain TCP
        raise Refused(f"application {username}: connect over MQTTS (MQTTS_PORT), not plain MQTT")
    return AppIdentity(application.pk, application.app_id)


def _authenticate(client_id: str, username: str, sent: str, now: dt.datetime) -> Identity:
    match = CLIENT_ID.match(client_id)
    if match is None:
        dynamic = DYNAMIC_CLIENT_ID.match(client_id)
        if dynamic is not None:
            return _authenticate_dynamic(dynamic, client_id, username, sent, now)
        raise Refused(
            f"client id {client_id!r} is neither deviceId_0_checkTime_YYYYMMDDHH nor "
            "productId_nodeId_1_checkTime_YYYYMMDDHH nor an application's appId"
        )
    device_id = match["device_id"]
    device = Device.objects.select_related("product").filter(device_id=device_id).first()
    if device is None:
        raise Refused(f"no device {device_id}")
    try:
        if username != device_id:
            raise Refused(f"user name {username!r} is not the deviceId of client id {client_id}")
        if match["check_time"] == "1":
            check_hour(match["hour"], now)
        secret = device.secret
        if not secret:
            raise Refused("the device has no secret (register it in password mode for MQTT)")
        if not hmac.compare_digest(password(secret, match["hour"]), sent.lower()):
            raise Refused("wrong password")
    except Refused as refusal:
        logs.log(device, LogKind.INFO, f"MQTT connection refused: {refusal}")
        raise
    return Identity(device.pk, device.device_id, json_mode=not codec.has_codec(device.product))


def _authenticate_dynamic(match: re.Match, client_id: str, username: str, sent: str, now: dt.datetime) -> Identity:
    try:
        product_uuid = uuid.UUID(match["product_id"])
    except ValueError:
        raise Refused(f"product id {match['product_id']!r} in client id {client_id} is not a productId") from None
    record = ProductSecret.objects.select_related("product").filter(product__product_id=product_uuid).first()
    if record is None:
        raise Refused(f"product {product_uuid} has no MQTT product secret (generate one on its device list)")
    if username != match["product_id"]:
        raise Refused(f"user name {username!r} is not the productId of client id {client_id}")
    if match["check_time"] == "1":
        check_hour(match["hour"], now)
    if not hmac.compare_digest(password(record.secret, match["hour"]), sent.lower()):
        raise Refused("wrong password for the product secret")
    try:
        device = actions.provision_device(record.product, match["node_id"])
    except NorthboundError as error:
        raise Refused(f"nodeId {match['node_id']} cannot be registered: {error.error_desc}") from None
    logs.log(device, LogKind.INFO, f"MQTT dynamic connection as {client_id}: sending the device its secret")
    return Identity(
        device.pk,
        device.device_id,
        json_mode=not codec.has_codec(device.product),
        product_id=match["product_id"],
        node_id=match["node_id"],
        secret=device.secret,
    )


def may_publish(identity: Identity, topic: str) -> str | None:
    """The uplink kind ("json" or "binary", or a gateway request: "topo/add", "topo/delete",
    "topo/update", "datas", "commandResponse") when the device may publish to `topic`, else None."""
    if identity.provisioning:
        return None
    match = DATA_TOPIC.match(topic or "") or GATEWAY_TOPIC.match(topic or "")
    if match is None or match["device_id"] != identity.device_id:
        return None
    return match["kind"]


def is_secret_ack(identity: Identity, topic: str) -> bool:
    return identity.provisioning and topic == identity.secret_topic("secretACK")


def may_subscribe(identity: Identity, topic: str) -> bool:
    if identity.provisioning:
        return topic == identity.secret_topic("secretNotify")
    return topic in (
        COMMAND_TOPIC.format(device_id=identity.device_id, kind="json"),
        COMMAND_TOPIC.format(device_id=identity.device_id, kind="binary"),
        *(GATEWAY_RESPONSE_TOPIC.format(device_id=identity.device_id, kind=kind) for kind in GATEWAY_RESPONSES),
        f"/huawei/v1/devices/{identity.device_id}/topo/+",
    )


GATEWAY_RESPONSES = ("add", "delete", "update")


def log_refusal(device_pk: int, summary: str) -> None:
    """Log a refused publish or subscribe on the device (from a thread)."""
    try:
        logs.log_device(device_pk, LogKind.INFO, summary)
    finally:
        close_old_connections()
