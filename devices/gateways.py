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
from devices import actions, counts, hooks, logs
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


def lwm2m_gateways(gateway_pks: Iterable[int]) -> dict[int, int | None]:
    """Among these gateways, the LwM2M gateways (their product says so, and it is not an MQTT product),
    with their product's pk: one query. Their sub-devices get binary commands through their product's
    codec and follow the gateway's power mode (commands.actions)."""
    pks = {pk for pk in gateway_pks if pk is not None}
    if not pks:
        return {}
    rows = (
        Device.objects.filter(pk__in=pks, product__lwm2m_gateway=True)
        .exclude(product__protocol_type__iexact="MQTT")
        .values_list("pk", "product_id")
    )
    return dict(rows)


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
    counts.devices_added(devices)
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
    statuses = [(device, previous, device.status) for device, previous in changed if device.status != previous]
    transaction.on_commit(lambda: hooks.status_changed(statuses))
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
def do_gateway_offline(
    gateway_pk: int, *, why: str = "its gateway went offline", because: str = "its MQTT connection closed"
) -> int:
    """The gateway is offline: it goes OFFLINE, and so do its sub-devices that were not (marked
    BRIDGE_OFFLINE, so they come back with it). Returns how many sub-devices followed."""
    gateway = get_gateway(gateway_pk)
    if gateway is None or gateway.node_type != NodeType.GATEWAY:
        return 0
    if gateway.status != Status.OFFLINE:
        previous = gateway.status
        Device.objects.filter(pk=gateway.pk).update(status=Status.OFFLINE, status_detail=StatusDetail.NONE)
        gateway.status, gateway.status_detail = Status.OFFLINE, StatusDetail.NONE
        transaction.on_commit(lambda: hooks.status_changed([(gateway, previous, Status.OFFLINE)]))
        push.notify(
            gateway.application,
            nt.DEVICE_INFO_CHANGED,
            payloads.device_info_changed(gateway.device_id, gateway.gateway_device_id, device_info(gateway)),
        )
        logs.log(gateway, LogKind.STATUS, f"{previous} -> OFFLINE: {because}")
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
        # The rules layer hears of the sub-devices' change after commit, as of any status change.
        followed = [
            (device, previous, Status.OFFLINE)
            for changed in changed_by_gateway.values()
            for device, previous in changed
        ]
        transaction.on_commit(lambda: hooks.status_changed(followed))
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


# --- LwM2M gateways (object 25): the gateway lists its sub-devices at each registration -----------------


@dataclass(frozen=True)
class ListedSubDevice:
    """One sub-device an LwM2M gateway lists (an instance of its object 25): its nodeId (Device ID), and
    the manufacturer and model it reads from the sub-device's /3/0 when the nodeId is new, or the reason
    that read failed."""

    node_id: str
    manufacturer_id: str = ""
    model: str = ""
    unreadable: str = ""


@dataclass
class Listing:
    """What a gateway's list of sub-devices led to: its sub-devices by nodeId, and the refused ones."""

    accepted: dict[str, Device]
    refused: dict[str, str]
    added: int = 0
    adopted: int = 0
    unlisted: int = 0


def unknown_node_ids(gateway_pk: int, node_ids: Sequence[str]) -> set[str]:
    """The nodeIds no device has yet: the LwM2M gateway reads their manufacturer and model (/3/0)."""
    known = set(Device.objects.filter(node_id__in=list(node_ids)).values_list("node_id", flat=True))
    return {node_id for node_id in node_ids if node_id not in known}


@transaction.atomic
def do_list_sub_devices(gateway: Device, listed: Sequence[ListedSubDevice]) -> Listing:
    """An LwM2M gateway's sub-devices are those it lists now (its object 25 at a registration).

    Each listed nodeId is: kept when it is already this gateway's; adopted when it is a device of the
    gateway's application with no gateway (it is reached through this gateway from now on); added
    (do_add_sub_devices, one transaction, one deviceAdded each) when no device has it, with the
    application's product of the manufacturer and model it reported; refused otherwise (another
    application's, another gateway's, a gateway itself, no such product, unreadable), each refusal logged
    on the gateway with its nodeId and rule. The listed ones are ONLINE; this gateway's sub-devices it no
    longer lists go OFFLINE (it says they are not connected to it; they are not deleted: an end device
    out of radio range comes back, and its history stays)."""
    _check_gateway(gateway)
    application = gateway.application
    refused: dict[str, str] = {}
    existing = {
        device.node_id: device
        for device in Device.objects.select_related("application").filter(node_id__in=[one.node_id for one in listed])
    }
    owned = list(Product.objects.filter(application=application))
    by_model = {(product.manufacturer_id, product.model): product for product in owned}
    kept: dict[str, Device] = {}
    adopt: list[Device] = []
    new: list[SubDeviceInfo] = []
    for one in listed:
        device = existing.get(one.node_id)
        if device is not None:
            if device.pk == gateway.pk:
                refused[one.node_id] = "it is the gateway itself"
            elif device.application_id != application.pk:
                refused[one.node_id] = "the nodeId is already registered to another device or gateway"
            elif device.gateway_id == gateway.pk:
                kept[one.node_id] = device
            elif device.gateway_id is not None:
                refused[one.node_id] = "it is already a sub-device of another gateway"
            elif device.node_type == NodeType.GATEWAY:
                refused[one.node_id] = "it is a gateway itself (nested gateways are not supported)"
            else:
                adopt.append(device)
            continue
        if one.unreadable:
            refused[one.node_id] = f"a new nodeId, and its manufacturer and model could not be read: {one.unreadable}"
            continue
        product = by_model.get((one.manufacturer_id, one.model))
        if product is None:
            refused[one.node_id] = (
                f"no product of this application has manufacturerId {one.manufacturer_id!r} and model "
                f"{one.model!r} (its /3/0 resources 0 and 1)"
            )
            continue
        new.append(SubDeviceInfo(node_id=one.node_id, product_id=str(product.product_id)))
    listing = Listing(accepted=dict(kept), refused=refused)
    if new:
        try:
            with transaction.atomic():
                added = do_add_sub_devices(gateway, new)
        except GatewayRefused as refusal:
            for info in new:
                refused[info.node_id] = f"adding the new sub-devices was refused: {refusal}"
        else:
            listing.accepted.update({one.device.node_id: one.device for one in added})
            listing.added = sum(one.created for one in added)
    if adopt:
        _adopt(gateway, adopt)
        listing.accepted.update({device.node_id: device for device in adopt})
        listing.adopted = len(adopt)
    logs.log_many(  # one INSERT however many were refused
        (gateway, LogKind.INFO, f"LwM2M gateway: sub-device {node_id} refused: {reason}", None, None)
        for node_id, reason in refused.items()
    )
    statuses = {device.device_id: Status.ONLINE for device in listing.accepted.values()}
    unlisted = Device.objects.filter(gateway_id=gateway.pk).exclude(pk__in=[d.pk for d in listing.accepted.values()])
    gone = {
        device_id: Status.OFFLINE
        for device_id in unlisted.exclude(status=Status.OFFLINE).values_list("device_id", flat=True)
    }
    listing.unlisted = len(gone)
    if statuses or gone:
        do_report_sub_device_status(gateway, {**statuses, **gone})
    return listing


def _adopt(gateway: Device, devices: list[Device]) -> None:
    """Devices of the gateway's application that it now lists become its sub-devices (deviceInfoChanged)."""
    if gateway.node_type != NodeType.GATEWAY:
        Device.objects.filter(pk=gateway.pk).update(node_type=NodeType.GATEWAY, updated_at=timezone.now())
        gateway.node_type = NodeType.GATEWAY
        logs.log(gateway, LogKind.INFO, "became a gateway: it lists its first sub-devices")
    Device.objects.filter(pk__in=[device.pk for device in devices]).update(
        gateway=gateway, node_type=NodeType.ENDPOINT, updated_at=timezone.now()
    )
    for device in devices:
        device.gateway, device.node_type = gateway, NodeType.ENDPOINT
    push.notify_many(
        gateway.application,
        nt.DEVICE_INFO_CHANGED,
        [payloads.device_info_changed(device.device_id, gateway.device_id, device_info(device)) for device in devices],
    )
    logs.log_many(
        (device, LogKind.INFO, f"now reached through gateway {gateway.node_id}, which lists it", None, None)
        for device in devices
    )
