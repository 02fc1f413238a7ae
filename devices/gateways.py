"""Gateways and their sub-devices (F-1.1): the changes a gateway makes for the devices behind it.

A gateway is a device of its own (nodeType GATEWAY) that connects once and acts for its sub-devices:
it adds them (by nodeId, with a product), deletes them, reports their status, and reports data and
answers commands for them (the ingress's MQTT gateway topics, ingress/mqtt/gateway.py). Sub-devices are
ordinary devices of the registry (nodeType ENDPOINT, `gateway` = the gateway), so listing, history,
shadow, commands and notifications treat them as any device; their `gatewayId` is the gateway's deviceId.

Rules every action here keeps:
- a gateway acts only for its own sub-devices: anything naming another device is refused whole
  (`GatewayRefused`, with the reason), and nothing changes;
- a message that adds hundreds of sub-devices is one transaction: all are added, with one deviceAdded
  each and the application's quota counted once under its row lock, or none is;
- when the gateway goes offline (its connection closes, or the status sweep takes it OFFLINE) its
  online sub-devices follow, marked OFFLINE/BRIDGE_OFFLINE; when it comes back those come back ONLINE.

They run in the ingress (and the sweep), in a thread where the ORM may be used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from applications.models import Application
from devices import actions, logs
from devices.models import Device, LogKind, NodeType, Status, StatusDetail
from devices.presenters import device_info
from products.models import Product
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

MAX_NODE_ID = 256
# Statuses a gateway may report for a sub-device (topo/update), as the original's gateway SDK does.
REPORTABLE = (Status.ONLINE, Status.OFFLINE)


class GatewayRefused(Exception):
    """A gateway's request is refused whole; the message says why (logged on the gateway)."""


@dataclass(frozen=True)
class SubDeviceInfo:
    """One sub-device a gateway adds: its nodeId and product (productId, or manufacturerId + model)."""

    node_id: str
    product_id: str = ""
    manufacturer_id: str = ""
    device_type: str = ""
    model: str = ""
    name: str = ""
    description: str = ""


@dataclass(frozen=True)
class Added:
    """A sub-device the add request left in place: `created` False when it was already this gateway's."""

    device: Device
    created: bool


def get_gateway(device_pk: int) -> Device | None:
    return Device.objects.select_related("application", "gateway").filter(pk=device_pk).first()


def own_sub_devices(gateway: Device, device_ids: Iterable[str], *, only: Sequence[str] = ()) -> dict[str, Device]:
    """The gateway's sub-devices among `device_ids`, by deviceId; refused whole when any is not its own."""
    wanted = list(dict.fromkeys(device_ids))
    devices = Device.objects.filter(gateway_id=gateway.pk, device_id__in=wanted)
    if only:
        devices = devices.only(*only)
    found = {device.device_id: device for device in devices}
    foreign = [device_id for device_id in wanted if device_id not in found]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise GatewayRefused(f"not sub-devices of this gateway: {shown}")
    return found


def own_sub_device_products(gateway_pk: int, device_ids: Iterable[str]) -> dict[str, tuple[int, Product | None]]:
    """deviceId -> (pk, product) of the gateway's sub-devices among `device_ids` (two indexed queries,
    no device instances); refused whole when any is not its own. The data path's check."""
    wanted = list(dict.fromkeys(device_ids))
    rows = Device.objects.filter(gateway_id=gateway_pk, device_id__in=wanted).values_list(
        "device_id", "pk", "product_id"
    )
    found = {device_id: (pk, product_id) for device_id, pk, product_id in rows}
    foreign = [device_id for device_id in wanted if device_id not in found]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise GatewayRefused(f"not sub-devices of this gateway: {shown}")
    products = Product.objects.in_bulk({product_id for _, product_id in found.values() if product_id})
    return {device_id: (pk, products.get(product_id)) for device_id, (pk, product_id) in found.items()}


def _check_gateway(gateway: Device) -> None:
    if gateway.gateway_id is not None:
        raise GatewayRefused("a sub-device cannot act as a gateway")


def _products(application: Application, infos: Sequence[SubDeviceInfo]) -> dict[SubDeviceInfo, Product]:
    """Each info's product among the application's, looked up once per distinct product."""
    owned = list(Product.objects.filter(application=application))
    by_id = {str(product.product_id): product for product in owned}
    by_model = {(product.manufacturer_id, product.model): product for product in owned}
    found: dict[SubDeviceInfo, Product] = {}
    for info in infos:
        if info.product_id:
            product = by_id.get(info.product_id)
            named = f"productId {info.product_id}"
        else:
            product = by_model.get((info.manufacturer_id, info.model))
            named = f"manufacturerId {info.manufacturer_id!r} and model {info.model!r}"
            if product is not None and info.device_type and product.device_type != info.device_type:
                product = None
                named += f" with deviceType {info.device_type!r}"
        if product is None:
            raise GatewayRefused(f"nodeId {info.node_id}: no product of this application has {named}")
        found[info] = product
    return found


@transaction.atomic
def do_add_sub_devices(gateway: Device, infos: Sequence[SubDeviceInfo]) -> list[Added]:
    """Add sub-devices to a gateway in one transaction, all or none.

    A nodeId that is already this gateway's sub-device of the same product is kept (a gateway that
    restarts adds its devices again); any other taken nodeId, an unknown product or a quota the new
    devices would exceed refuses the whole request. The gateway becomes a GATEWAY on its first add.
    Added devices are bound at once (the gateway vouches for them) and ONLINE; each gets a deviceAdded
    (gatewayId = the gateway's deviceId) and a log line.
    """
    _check_gateway(gateway)
    if not infos:
        raise GatewayRefused("no sub-devices to add")
    application = gateway.application
    node_ids = [info.node_id for info in infos]
    seen: set[str] = set()
    repeated = sorted({node_id for node_id in node_ids if node_id in seen or seen.add(node_id)})
    if repeated:
        raise GatewayRefused(f"nodeId {', '.join(repeated[:5])} appears more than once")
    products = _products(application, infos)
    # Count under the application's row lock, as do_register_device does: the quota holds across requests.
    Application.objects.select_for_update().filter(pk=application.pk).first()
    existing = {device.node_id: device for device in Device.objects.filter(node_id__in=node_ids)}
    kept: dict[str, Device] = {}
    for info in infos:
        device = existing.get(info.node_id)
        if device is None:
            continue
        if device.gateway_id != gateway.pk:
            raise GatewayRefused(f"nodeId {info.node_id} is already registered to another device or gateway")
        if device.product_id != products[info].pk:
            raise GatewayRefused(f"nodeId {info.node_id} is already this gateway's sub-device of another product")
        kept[info.node_id] = device
    new = [info for info in infos if info.node_id not in kept]
    if new:
        count = Device.objects.filter(application=application).count()
        if count + len(new) > application.device_quota:
            left = max(0, application.device_quota - count)
            raise GatewayRefused(
                f"the application's device quota ({application.device_quota}) leaves room for {left} of "
                f"the {len(new)} new sub-devices"
            )
    for product in sorted({product.pk: product for product in products.values()}.values(), key=lambda p: p.pk):
        # The profile lock counts devices under the product's row lock (F-2.9).
        Product.objects.select_for_update(no_key=True).filter(pk=product.pk).first()
    if gateway.node_type != NodeType.GATEWAY:
        Device.objects.filter(pk=gateway.pk).update(node_type=NodeType.GATEWAY, updated_at=timezone.now())
        gateway.node_type = NodeType.GATEWAY
        logs.log(gateway, LogKind.INFO, "became a gateway: it added its first sub-devices")
    now = timezone.now()
    devices = []
    for info in new:
        product = products[info]
        devices.append(
            Device(
                application=application,
                node_id=info.node_id,
                verify_code=info.node_id,
                node_type=NodeType.ENDPOINT,
                gateway=gateway,
                product=product,
                name=info.name,
                description=info.description,
                manufacturer_id=product.manufacturer_id,
                manufacturer_name=product.manufacturer_name,
                device_type=product.device_type,
                model=product.model,
                protocol_type=product.protocol_type,
                timeout=0,
                activated=True,
                bound_at=now,
                status=Status.ONLINE,
                status_detail=StatusDetail.NONE,
                last_seen_at=now,
            )
        )
    try:
        with transaction.atomic():
            Device.objects.bulk_create(devices)
    except IntegrityError:  # another registration took one of the nodeIds since the check
        raise GatewayRefused("a nodeId was registered by someone else meanwhile; nothing was added") from None
    push.notify_many(
        application,
        nt.DEVICE_ADDED,
        [
            payloads.device_added(device.device_id, gateway.device_id, device.node_type, device_info(device))
            for device in devices
        ],
    )
    logs.log_many(
        (device, LogKind.INFO, f"added by gateway {gateway.node_id} with nodeId {device.node_id}", None, None)
        for device in devices
    )
    if devices:
        logs.log(gateway, LogKind.INFO, f"gateway added {len(devices)} sub-devices ({len(kept)} already its own)")
    by_node = {device.node_id: device for device in devices}
    return [
        Added(kept[info.node_id], False) if info.node_id in kept else Added(by_node[info.node_id], True)
        for info in infos
    ]


@transaction.atomic
def do_delete_sub_devices(gateway: Device, device_ids: Sequence[str]) -> list[str]:
    """Delete some of the gateway's sub-devices (data and logs with them; deviceDeleted each)."""
    _check_gateway(gateway)
    if not device_ids:
        raise GatewayRefused("no sub-devices to delete")
    found = own_sub_devices(gateway, device_ids)
    for device in found.values():
        device.gateway = gateway
        actions.do_delete_device(device)
    logs.log(gateway, LogKind.INFO, f"gateway deleted {len(found)} sub-devices: {', '.join(list(found)[:5])}")
    return list(found)


@transaction.atomic
def do_report_sub_device_status(gateway: Device, statuses: Mapping[str, str]) -> dict[str, str]:
    """The gateway reports its sub-devices ONLINE or OFFLINE: those that change are notified
    (deviceInfoChanged) and logged. Returns deviceId -> the status now."""
    _check_gateway(gateway)
    if not statuses:
        raise GatewayRefused("no sub-device statuses")
    for device_id, status in statuses.items():
        if status not in REPORTABLE:
            raise GatewayRefused(f"status {status!r} of {device_id}: ONLINE or OFFLINE expected")
    found = own_sub_devices(gateway, statuses)
    now = timezone.now()
    changed = []
    for device_id, status in statuses.items():
        device = found[device_id]
        if device.status == status and device.status_detail == StatusDetail.NONE:
            continue
        previous = device.status
        device.status, device.status_detail = status, StatusDetail.NONE
        if status == Status.ONLINE:
            device.last_seen_at = now
        changed.append((device, previous))
    _save_statuses(gateway, changed, "reported by its gateway")
    return {device_id: found[device_id].status for device_id in statuses}


def _save_statuses(gateway: Device, changed: list[tuple[Device, str]], why: str) -> None:
    if not changed:
        return
    # One UPDATE per distinct outcome (a gateway coming back brings hundreds ONLINE at once).
    groups: dict[tuple, list[int]] = {}
    for device, _ in changed:
        groups.setdefault((device.status, device.status_detail, device.last_seen_at), []).append(device.pk)
    for (status, detail, last_seen_at), pks in groups.items():
        Device.objects.filter(pk__in=pks).update(status=status, status_detail=detail, last_seen_at=last_seen_at)
    push.notify_many(
        gateway.application,
        nt.DEVICE_INFO_CHANGED,
        [
            payloads.device_info_changed(device.device_id, gateway.device_id, device_info(device))
            for device, _ in changed
        ],
    )
    logs.log_many(
        (device, LogKind.STATUS, f"{previous} -> {device.status}: {why}", None, None) for device, previous in changed
    )


@transaction.atomic
def do_gateway_offline(gateway_pk: int, *, why: str = "its gateway went offline") -> int:
    """The gateway is offline: it goes OFFLINE, and so do its sub-devices that were not (marked
    BRIDGE_OFFLINE, so they come back with it). Returns how many sub-devices followed."""
    gateway = get_gateway(gateway_pk)
    if gateway is None or gateway.node_type != NodeType.GATEWAY:
        return 0
    if gateway.status != Status.OFFLINE:
        previous = gateway.status
        Device.objects.filter(pk=gateway.pk).update(status=Status.OFFLINE, status_detail=StatusDetail.NONE)
        gateway.status, gateway.status_detail = Status.OFFLINE, StatusDetail.NONE
        push.notify(
            gateway.application,
            nt.DEVICE_INFO_CHANGED,
            payloads.device_info_changed(gateway.device_id, gateway.gateway_device_id, device_info(gateway)),
        )
        logs.log(gateway, LogKind.STATUS, f"{previous} -> OFFLINE: its MQTT connection closed")
    return follow_gateways([gateway.pk], why=why)


def follow_gateways(gateway_pks: Sequence[int], *, why: str = "its gateway went offline") -> int:
    """Sub-devices of these (offline) gateways that are not OFFLINE become OFFLINE/BRIDGE_OFFLINE,
    notified and logged; the status sweep calls this for the gateways it took OFFLINE."""
    if not gateway_pks:
        return 0
    with transaction.atomic():
        children = list(
            Device.objects.select_for_update(of=("self",))
            .select_related("application", "gateway")
            .filter(gateway_id__in=gateway_pks)
            .exclude(status=Status.OFFLINE)
        )
        if not children:
            return 0
        Device.objects.filter(pk__in=[device.pk for device in children]).update(
            status=Status.OFFLINE, status_detail=StatusDetail.BRIDGE_OFFLINE
        )
        changed_by_gateway: dict[int, list[tuple[Device, str]]] = {}
        for device in children:
            previous = device.status
            device.status, device.status_detail = Status.OFFLINE, StatusDetail.BRIDGE_OFFLINE
            changed_by_gateway.setdefault(device.gateway_id, []).append((device, previous))
        for changed in changed_by_gateway.values():
            gateway = changed[0][0].gateway
            push.notify_many(
                gateway.application,
                nt.DEVICE_INFO_CHANGED,
                [
                    payloads.device_info_changed(device.device_id, gateway.device_id, device_info(device))
                    for device, _ in changed
                ],
            )
            logs.log_many(
                (device, LogKind.STATUS, f"{previous} -> OFFLINE: {why}", None, None) for device, previous in changed
            )
        return len(children)


@transaction.atomic
def do_gateway_online(gateway_pk: int) -> int:
    """The gateway connected: it is seen now, and its sub-devices that went offline with it
    (OFFLINE/BRIDGE_OFFLINE) are ONLINE again. Returns how many came back."""
    gateway = get_gateway(gateway_pk)
    if gateway is None or gateway.node_type != NodeType.GATEWAY:
        return 0
    now = timezone.now()
    actions.record_seen(gateway, now)
    children = list(
        Device.objects.select_for_update()
        .filter(gateway_id=gateway.pk, status=Status.OFFLINE, status_detail=StatusDetail.BRIDGE_OFFLINE)
        .order_by("pk")
    )
    changed = []
    for device in children:
        device.status, device.status_detail, device.last_seen_at = Status.ONLINE, StatusDetail.NONE, now
        changed.append((device, Status.OFFLINE))
    _save_statuses(gateway, changed, "its gateway is back online")
    return len(changed)


def record_gateway_seen(gateway_pk: int) -> None:
    """A message from the gateway: it is alive (its own status follows the usual thresholds)."""
    gateway = get_gateway(gateway_pk)
    if gateway is not None:
        actions.record_seen(gateway, timezone.now())


def sub_device_rows(gateway: Device, *, limit: int) -> list[Device]:
    """The gateway's first sub-devices by nodeId, for its portal page (one query)."""
    fields = ("pk", "device_id", "node_id", "name", "status", "status_detail", "last_seen_at", "shadow", "gateway_id")
    return list(Device.objects.filter(gateway=gateway).only(*fields).order_by("node_id")[:limit])
