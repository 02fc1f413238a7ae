"""Everything that changes devices: registration, binding, status, reports, groups, deletion.

Northbound views, the portal, bulk registration, the ingress and the sweeps all call these.
Notifications go through subscriptions.actions inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets as random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Func, JSONField, Value, When
from django.utils import timezone

from applications import audit, metrics
from applications.errors import NorthboundError
from applications.formats import format_time
from applications.models import Application
from devices import counts, history, hooks, last_seen, live, logs
from devices.models import (
    BulkRegistration,
    BulkRegistrationRow,
    BulkRowStatus,
    Device,
    DeviceGroup,
    DeviceTag,
    LogKind,
    ProductSecret,
    Status,
    StatusDetail,
)
from devices.presenters import device_info
from devices.requests import PROTOCOL_TYPES as PROTOCOL_TYPES
from devices.requests import PSK_PATTERN as PSK_PATTERN
from devices.requests import ModifyDeviceRequest
from products.models import Product
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

MAX_TIMEOUT = 2_147_483_647


def invalid(field: str, rule: str) -> NorthboundError:
    return NorthboundError("100022", f"The input is invalid: {field} {rule}.")


@dataclass(frozen=True)
class Registered:
    """What a registration returns once: the clear psk and secret are not shown again."""

    device: Device
    psk: str
    secret: str


def find_product(application: Application, manufacturer_id: str, device_type: str, model: str) -> Product | None:
    """The application's product a device's (manufacturerId, deviceType, model) names, if any."""
    if not (manufacturer_id and model):
        return None
    product = Product.objects.filter(application=application, manufacturer_id=manufacturer_id, model=model).first()
    if product is None or (device_type and product.device_type != device_type):
        return None
    return product


def _lock_product(product: Product | None) -> None:
    # The profile lock counts devices under the product's row lock; hold it while registering.
    if product is not None:
        Product.objects.select_for_update(no_key=True).filter(pk=product.pk).first()


def check_registration(
    application: Application, *, node_id: Any, verify_code: Any, psk: Any, timeout: Any
) -> tuple[str, str, str, int]:
    if not isinstance(node_id, str) or not node_id.strip():
        raise invalid("nodeId", "is required")
    if len(node_id) > 256:
        raise invalid("nodeId", "is longer than 256 characters")
    if verify_code is None:
        verify_code = node_id
    if not isinstance(verify_code, str) or not verify_code or len(verify_code) > 256:
        raise NorthboundError("100003", "Invalid verify code: verifyCode must be 1 to 256 characters.")
    if psk in (None, ""):
        psk = random.token_hex(16)
    elif not isinstance(psk, str) or not PSK_PATTERN.match(psk):
        raise invalid("psk", "must be 8 to 32 hexadecimal characters")
    if timeout is None:
        timeout = settings.DEVICE_DEFAULT_BIND_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT:
        raise invalid("timeout", f"must be a whole number of seconds from 0 to {MAX_TIMEOUT}")
    return node_id.strip(), verify_code, psk, timeout


@transaction.atomic
def do_register_device(
    application: Application,
    *,
    node_id: Any,
    verify_code: Any = None,
    psk: Any = None,
    timeout: Any = None,
    imsi: str = "",
    is_secure: bool = False,
    password_mode: bool = False,
    info: Mapping[str, Any] | None = None,
    gateway: Device | None = None,
) -> Registered:
    """Register a device (F-4.1 to F-4.5): one nodeId one device, within the quota; notify deviceAdded."""
    node_id, verify_code, psk, timeout = check_registration(
        application, node_id=node_id, verify_code=verify_code, psk=psk, timeout=timeout
    )
    info = dict(info or {})
    # Count under the application's row lock, so two registrations cannot both take the last place.
    Application.objects.select_for_update().filter(pk=application.pk).first()
    if Device.objects.filter(application=application).count() >= application.device_quota:
        raise NorthboundError("100412")
    if Device.objects.filter(node_id=node_id).exists():
        raise NorthboundError("100416")
    product = find_product(
        application, info.get("manufacturerId", ""), info.get("deviceType", ""), info.get("model", "")
    )
    _lock_product(product)
    secret = random.token_hex(16) if password_mode else ""
    now = timezone.now()
    device = Device(
        application=application,
        node_id=node_id,
        verify_code=verify_code,
        imsi=imsi or "",
        is_secure=bool(is_secure),
        timeout=timeout,
        bind_deadline=now + dt.timedelta(seconds=timeout) if timeout else None,
        product=product,
        gateway=gateway,
        name=str(info.get("name") or ""),
        description=str(info.get("description") or ""),
        manufacturer_id=str(info.get("manufacturerId") or ""),
        manufacturer_name=str(info.get("manufacturerName") or ""),
        device_type=str(info.get("deviceType") or ""),
        model=str(info.get("model") or ""),
        protocol_type=str(info.get("protocolType") or ""),
        supported_security=str(info.get("supportedSecurity", "")).upper() == "TRUE",
    )
    device.psk = psk
    if secret:
        device.secret = secret
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError:  # another registration of this nodeId won the race
        raise NorthboundError("100416") from None
    counts.devices_added([device])
    push.notify(
        application,
        nt.DEVICE_ADDED,
        payloads.device_added(device.device_id, device.gateway_device_id, device.node_type, device_info(device)),
    )
    logs.log(device, LogKind.INFO, f"registered with nodeId {node_id}")
    _audit_device("device.registered", device, nodeId=node_id)
    return Registered(device, psk, secret)


def _audit_device(action: str, device: Device, **detail: Any) -> None:
    audit.record(action, application_id=device.application_id, target=f"device {device.device_id}", detail=detail)


def _audit_group(action: str, group: DeviceGroup, **detail: Any) -> None:
    audit.record(action, application_id=group.application_id, target=f"group {group.dev_group_id}", detail=detail)


def get_device(application: Application, device_id: str, *, http_status: int | None = None) -> Device:
    """The application's device, or 100418 (another application's device does not exist for it)."""
    device = Device.objects.for_app(application).select_related("gateway").filter(device_id=device_id).first()
    if device is None:
        raise NorthboundError("100418", http_status=http_status)
    return device


def check_modify(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a modify call changes, validated; 100022 naming the first bad one."""
    return ModifyDeviceRequest(data=body).changes()


@transaction.atomic
def do_modify_device(device: Device, changes: Mapping[str, Any]) -> Device:
    """Apply validated changes; a changed (manufacturerId, deviceType, model) re-ties the product."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    for field, value in changes.items():
        setattr(device, field, value)
    if {"manufacturer_id", "device_type", "model"} & set(changes):
        device.product = find_product(device.application, device.manufacturer_id, device.device_type, device.model)
        _lock_product(device.product)
    device.save()
    _audit_device("device.modified", device, fields=sorted(changes))
    push.notify(
        device.application,
        nt.DEVICE_INFO_CHANGED,
        payloads.device_info_changed(device.device_id, device.gateway_device_id, device_info(device)),
    )
    return device


@transaction.atomic
def do_refresh_key(device: Device, *, verify_code: Any, node_id: Any, timeout: Any) -> Device:
    """New verify code (and nodeId, timeout) for a device that must bind again; only while offline."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.status == Status.ONLINE:
        raise NorthboundError("100611")
    if node_id is not None:
        if not isinstance(node_id, str) or not node_id or len(node_id) > 256:
            raise invalid("nodeId", "must be 1 to 256 characters")
        if Device.objects.filter(node_id=node_id).exclude(pk=device.pk).exists():
            raise NorthboundError("100426")
        device.node_id = node_id
    if verify_code is not None:
        if not isinstance(verify_code, str) or not verify_code or len(verify_code) > 256:
            raise NorthboundError("100003", "Invalid verify code: verifyCode must be 1 to 256 characters.")
        device.verify_code = verify_code
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT:
            raise invalid("timeout", f"must be a whole number of seconds from 0 to {MAX_TIMEOUT}")
        device.timeout = timeout
    if device.activated:
        counts.activation_changed(device.application_id, activated=False)
    device.activated = False
    device.status_detail = StatusDetail.NOT_ACTIVE
    device.bind_deadline = timezone.now() + dt.timedelta(seconds=device.timeout) if device.timeout else None
    device.save()
    logs.log(device, LogKind.INFO, "verify code refreshed: the device must bind again")
    _audit_device("device.key_refreshed", device, nodeId=device.node_id)
    return device


@transaction.atomic
def do_delete_device(device: Device, *, cascade: bool = False) -> None:
    """Delete a device, its data and logs; notify deviceDeleted. A gateway with sub-devices needs cascade."""
    children = list(Device.objects.filter(gateway=device))
    if children and not cascade:
        raise invalid("cascade", f"must be true to delete a gateway with {len(children)} sub-devices")
    for doomed in children:
        push.notify(doomed.application, nt.DEVICE_DELETED, payloads.device_deleted(doomed.device_id, device.device_id))
    # A sub-device deleted on its own names its gateway (get_device loads it), a direct device itself.
    push.notify(
        device.application, nt.DEVICE_DELETED, payloads.device_deleted(device.device_id, device.gateway_device_id)
    )
    ids = [doomed.pk for doomed in [*children, device]]
    _audit_device("device.deleted", device, nodeId=device.node_id, subDevices=len(children))
    history.delete_in_batches("device_id = ANY(%s)", [ids])
    Device.objects.filter(pk__in=ids).delete()
    counts.devices_removed([*children, device])


@transaction.atomic
def do_bind_device(device: Device) -> Device:
    """The real device connected for the first time (the ingress calls this): activate it (F-4.1)."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.activated:
        return device
    now = timezone.now()
    device.activated, device.bound_at, device.bind_deadline = True, now, None
    device.status, device.status_detail, device.last_seen_at = Status.ONLINE, StatusDetail.NONE, now
    device.save(
        update_fields=[
            "activated",
            "bound_at",
            "bind_deadline",
            "status",
            "status_detail",
            "last_seen_at",
            "updated_at",
        ]
    )
    info = device_info(device)
    push.notify(device.application, nt.BIND_DEVICE, payloads.bind_device(device.device_id, "succeeded", info))
    push.notify(
        device.application,
        nt.DEVICE_INFO_CHANGED,
        payloads.device_info_changed(device.device_id, device.gateway_device_id, info),
    )
    logs.log(device, LogKind.BIND, "bound: first connection of the real device")
    counts.activation_changed(device.application_id, activated=True)
    transaction.on_commit(lambda: hooks.status_changed([(device, Status.OFFLINE, Status.ONLINE)]))
    return device


def expire_unbound(now: dt.datetime | None = None, batch: int = 1000) -> int:
    """Delete devices not bound within their timeout and notify bindDevice `expired` (F-4.2)."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            doomed = list(
                Device.objects.select_for_update(skip_locked=True)
                .select_related("application")
                .filter(activated=False, bind_deadline__lte=now)[:batch]
            )
            if not doomed:
                return expired
            by_app: dict[int, list[Device]] = {}
            for device in doomed:
                by_app.setdefault(device.application_id, []).append(device)
            for devices in by_app.values():
                push.notify_many(
                    devices[0].application,
                    nt.BIND_DEVICE,
                    [payloads.bind_device(device.device_id, "expired", device_info(device)) for device in devices],
                )
            Device.objects.filter(pk__in=[device.pk for device in doomed]).delete()
            counts.devices_removed(doomed)
            _count_expired_in_bulk_jobs([device.device_id for device in doomed])
            expired += len(doomed)


def _count_expired_in_bulk_jobs(device_ids: list[str]) -> None:
    """Mark the bulk-file rows of expired devices and add them to their jobs' `expired_rows`, so a job
    tells how many of its devices were deleted later instead of still reading "N registered"."""
    rows = BulkRegistrationRow.objects.filter(device_id__in=device_ids, status=BulkRowStatus.REGISTERED)
    per_job = dict(rows.values_list("job_id").annotate(count=Count("id")).order_by())
    if not per_job:
        return
    rows.update(status=BulkRowStatus.EXPIRED)
    for job_id, count in sorted(per_job.items()):
        BulkRegistration.objects.filter(pk=job_id).update(expired_rows=F("expired_rows") + count)


@dataclass(frozen=True)
class ServiceReport:
    service_id: str
    service_type: str
    data: dict[str, Any]
    event_time: dt.datetime


def do_store_report(device: Device, reports: list[ServiceReport], *, request_id: str | None = None) -> None:
    """Store one decoded report: shadow always, history in storage mode (F-4.8), last-seen, status,
    and notify deviceDataChanged per service and deviceDatasChanged with all of them (F-6.4)."""
    if not reports:
        return
    now = timezone.now()
    application = device.application
    with transaction.atomic():
        shadow = {
            report.service_id: {
                "serviceType": report.service_type,
                "data": report.data,
                "eventTime": format_time(report.event_time),
            }
            for report in reports
        }
        # Last seen is not written here (the UPDATE stays HOT): record_seen coalesces it (devices.last_seen).
        Device.objects.filter(pk=device.pk).update(shadow=_merged_shadow(shadow))
        device.shadow = {**device.shadow, **shadow}
        if application.storage_mode:
            history.insert(
                (device.pk, application.pk, report.service_id, report.data, report.event_time, now)
                for report in reports
            )
        gateway_id = device.gateway_device_id
        services = [
            payloads.service(report.service_id, report.service_type, report.data, report.event_time)
            for report in reports
        ]
        for one in services:
            push.notify(
                application,
                nt.DEVICE_DATA_CHANGED,
                payloads.device_data_changed(device.device_id, gateway_id, one, request_id),
            )
        push.notify(
            application,
            nt.DEVICE_DATAS_CHANGED,
            payloads.device_datas_changed(device.device_id, gateway_id, services, request_id),
        )
        record_seen(device, now)
        _count_uplinks({application.pk: 1})
        live.device_changed([device.pk])


def _count_uplinks(counts: dict[int, int]) -> None:
    """Count stored uplinks (one per device report) on the dashboard's per-minute counters, once committed."""
    transaction.on_commit(lambda: metrics.add(metrics.UPLINKS, counts))


def _merged_shadow(shadow: dict[str, Any]) -> Func:
    """`shadow || new`: the services just reported replace theirs, the others stay (one UPDATE)."""
    return Func(
        F("shadow"),
        Value(shadow, output_field=JSONField()),
        arg_joiner=" || ",
        template="%(expressions)s",
        output_field=JSONField(),
    )


def record_seen(device: Device, now: dt.datetime) -> None:
    """A report arrived. An ONLINE device's last-seen time waits in Redis for the next flush (one
    write per flush, not per message; pages read it through: devices.last_seen); any other device
    comes ONLINE now and is notified (F-4.6)."""
    if device.status == Status.ONLINE and device.activated:
        last_seen.note({device.pk: now})
        return
    # An upgrade in progress outlives the device's silence (a module reboots to install): its commands
    # keep waiting (F-7.6) until the firmware layer ends the upgrade.
    updating = Value(StatusDetail.FIRMWARE_UPDATING)
    detail = Case(When(status_detail=StatusDetail.FIRMWARE_UPDATING, then=updating), default=Value(StatusDetail.NONE))
    Device.objects.filter(pk=device.pk).update(status=Status.ONLINE, status_detail=detail, last_seen_at=now)
    kept = device.status_detail == StatusDetail.FIRMWARE_UPDATING
    previous, device.status, device.status_detail, device.last_seen_at = (
        device.status,
        Status.ONLINE,
        StatusDetail.FIRMWARE_UPDATING if kept else StatusDetail.NONE,
        now,
    )
    push.notify(
        device.application,
        nt.DEVICE_INFO_CHANGED,
        payloads.device_info_changed(device.device_id, device.gateway_device_id, device_info(device)),
    )
    logs.log(device, LogKind.STATUS, f"{previous} -> ONLINE: a report arrived")
    transaction.on_commit(lambda: hooks.status_changed([(device, previous, Status.ONLINE)]))


def sweep_status(now: dt.datetime | None = None) -> dict[str, int]:
    """ONLINE -> ABNORMAL after the application's abnormal time, -> OFFLINE after its offline time
    (F-4.6): two set-based updates, then deviceInfoChanged for each device that changed."""
    from django.db import connection

    now = now or timezone.now()
    changed: dict[str, int] = {}
    with transaction.atomic():
        for new_status, column, from_statuses in (
            (Status.OFFLINE, "offline_after", [Status.ONLINE, Status.ABNORMAL]),
            (Status.ABNORMAL, "abnormal_after", [Status.ONLINE]),
        ):
            with connection.cursor() as cursor:
                # The rows are locked first (FOR UPDATE re-reads a row another transaction changed),
                # so each device's previous status comes back with it: rules on leaving a status need it.
                cursor.execute(
                    "WITH due AS (SELECT d.id, d.status FROM devices_device AS d "
                    "JOIN applications_application AS a ON d.application_id = a.id "
                    "WHERE d.status = ANY(%s) AND d.last_seen_at IS NOT NULL "
                    "AND d.last_seen_at < %s - (CASE WHEN %s = 'offline_after' THEN a.offline_after "
                    "ELSE a.abnormal_after END * interval '1 second') FOR UPDATE OF d) "
                    "UPDATE devices_device AS d SET status = %s, updated_at = %s FROM due WHERE d.id = due.id "
                    "RETURNING d.id, due.status",
                    [list(from_statuses), now, column, new_status, now],
                )
                previous = dict(cursor.fetchall())
            ids = list(previous)
            changed[new_status] = len(ids)
            _notify_status(previous, new_status)
            if new_status == Status.OFFLINE and ids:
                from devices import gateways  # gateways builds on these actions

                # Sub-devices of gateways that went OFFLINE follow them (devices.gateways).
                changed["sub_devices"] = gateways.follow_gateways(ids)
    return changed


@transaction.atomic
def do_set_offline(device_pk: int, *, because: str) -> bool:
    """The device said it is leaving (an LwM2M de-registration): OFFLINE now, not after the status sweep's
    wait (F-4.6), with deviceInfoChanged and a log line. False if it was OFFLINE already."""
    device = Device.objects.select_related("application", "gateway").filter(pk=device_pk).first()
    if device is None or device.status == Status.OFFLINE:
        return False
    moved = (
        Device.objects.filter(pk=device_pk, status=device.status)
        .exclude(status=Status.OFFLINE)
        .update(status=Status.OFFLINE, status_detail=StatusDetail.NONE, updated_at=timezone.now())
    )
    if not moved:
        return False
    last_seen.forget(device_pk)  # a pending ONLINE last-seen time is old news
    previous, device.status, device.status_detail = device.status, Status.OFFLINE, StatusDetail.NONE
    push.notify(
        device.application,
        nt.DEVICE_INFO_CHANGED,
        payloads.device_info_changed(device.device_id, device.gateway_device_id, device_info(device)),
    )
    logs.log(device, LogKind.STATUS, f"{previous} -> OFFLINE: {because}")
    transaction.on_commit(lambda: hooks.status_changed([(device, previous, Status.OFFLINE)]))
    return True


def _notify_status(previous: dict[int, str], new_status: str) -> None:
    """deviceInfoChanged for devices the sweep moved to `new_status` (`previous`: their status before, by
    pk), and the rules layer's hook after commit."""
    if not previous:
        return
    devices = list(Device.objects.filter(pk__in=list(previous)).select_related("application", "gateway"))
    transaction.on_commit(
        lambda: hooks.status_changed([(device, previous[device.pk], new_status) for device in devices])
    )
    by_app: dict[int, list[Device]] = {}
    for device in devices:
        by_app.setdefault(device.application_id, []).append(device)
    for group in by_app.values():
        push.notify_many(
            group[0].application,
            nt.DEVICE_INFO_CHANGED,
            [payloads.device_info_changed(d.device_id, d.gateway_device_id, device_info(d)) for d in group],
        )


# --- groups -----------------------------------------------------------------------------------


def get_group(application: Application, dev_group_id: str) -> DeviceGroup:
    group = DeviceGroup.objects.filter(application=application, dev_group_id=dev_group_id).first()
    if group is None:
        raise NorthboundError("100603", http_status=200)
    return group


@transaction.atomic
def do_create_group(
    application: Application,
    name: str,
    description: str,
    max_devices: int,
    device_ids: Iterable[str],
    creator: str = "",
) -> DeviceGroup:
    """Make a group of the application's devices; `creator` is the appId or the portal account's name."""
    if DeviceGroup.objects.filter(application=application).count() >= settings.DEVICE_GROUP_LIMIT:
        raise NorthboundError("100607", http_status=200)
    if DeviceGroup.objects.filter(application=application, name=name).exists():
        raise NorthboundError("100602", http_status=200)
    group = DeviceGroup.objects.create(
        application=application, name=name, description=description, max_devices=max_devices, creator=creator
    )
    _audit_group("group.created", group, name=name, maxDevices=max_devices)
    do_add_to_group(group, device_ids)
    return group


@transaction.atomic
def do_add_to_group(group: DeviceGroup, device_ids: Iterable[str]) -> list[str]:
    device_ids = list(dict.fromkeys(device_ids))
    if len(device_ids) > settings.DEVICE_GROUP_ADD_LIMIT:
        raise NorthboundError("100609")
    devices = list(Device.objects.filter(application=group.application_id, device_id__in=device_ids))
    if len(devices) != len(device_ids):
        missing = sorted(set(device_ids) - {device.device_id for device in devices})
        raise NorthboundError("100418", f"The deviceData is not existed: {', '.join(missing[:5])}.")
    DeviceGroup.objects.select_for_update().filter(pk=group.pk).first()
    if group.max_devices and group.devices.count() + len(devices) > group.max_devices:
        raise NorthboundError("100601", http_status=200)
    group.devices.add(*devices)
    added = [device.device_id for device in devices]
    if added:
        _audit_group("group.devices_added", group, deviceIds=added[:100], count=len(added))
    return added


@transaction.atomic
def do_modify_group(group: DeviceGroup, changes: dict[str, Any]) -> DeviceGroup:
    """Rename a group or change its description or limit (`changes`: name, description, max_devices);
    a name another group of the application has is 100602, as in the original."""
    if (
        "name" in changes
        and DeviceGroup.objects.filter(application=group.application_id, name=changes["name"])
        .exclude(pk=group.pk)
        .exists()
    ):
        raise NorthboundError("100602", http_status=200)
    for field, value in changes.items():
        setattr(group, field, value)
    group.save(update_fields=list(changes))
    _audit_group("group.modified", group, **{field: str(value) for field, value in changes.items()})
    return group


@transaction.atomic
def do_delete_group(group: DeviceGroup) -> None:
    """Delete the group; its devices stay."""
    _audit_group("group.deleted", group, name=group.name)
    group.delete()


def do_remove_from_group(group: DeviceGroup, device_ids: Iterable[str]) -> list[str]:
    """Take these devices of the group's application out of it (ids of other devices are ignored, as the
    original's deleteDevGroupTagFromDevices does)."""
    devices = list(Device.objects.filter(application=group.application_id, device_id__in=list(device_ids)))
    group.devices.remove(*devices)
    removed = [device.device_id for device in devices]
    if removed:
        _audit_group("group.devices_removed", group, deviceIds=removed[:100], count=len(removed))
    return removed


@transaction.atomic
def do_set_device_tags(device: Device, names: Iterable[str]) -> list[str]:
    """The device's tags become exactly `names` (made for its application when new); returns them sorted."""
    names = sorted({name.strip() for name in names if name.strip()})
    DeviceTag.objects.bulk_create(
        [DeviceTag(application_id=device.application_id, name=name) for name in names], ignore_conflicts=True
    )
    device.tags.set(DeviceTag.objects.filter(application=device.application_id, name__in=names))
    _audit_device("device.tags_set", device, tags=names)
    return names


def do_rename_tag(tag: DeviceTag, name: str) -> bool:
    """Rename the tag; False (and nothing changed) when another tag of its application has that name."""
    if DeviceTag.objects.filter(application=tag.application_id, name=name).exclude(pk=tag.pk).exists():
        return False
    previous, tag.name = tag.name, name
    tag.save(update_fields=["name"])
    audit.record("tag.renamed", application_id=tag.application_id, target=f"tag {name}", detail={"from": previous})
    return True


@transaction.atomic
def do_delete_tag(tag: DeviceTag) -> None:
    """Delete the tag; its devices stay."""
    audit.record("tag.deleted", application_id=tag.application_id, target=f"tag {tag.name}")
    tag.delete()


def do_store_reports(items: list[tuple[Device, list[ServiceReport]]], *, request_id: str | None = None) -> None:
    """`do_store_report` for many reports at once (the ingress's batches, in the caller's transaction):
    one UPDATE merges every shadow (HOT: it leaves the indexed last_seen_at alone), one INSERT writes
    the history of storage-mode applications, two `notify_many` per application write the pushes, and
    last-seen times of ONLINE devices go to Redis in one round trip (devices.last_seen). A device may
    appear several times: its reports are applied in order."""
    items = [(device, reports) for device, reports in items if reports]
    if not items:
        return
    from django.db import connection
    from psycopg.types.json import Jsonb

    now = timezone.now()
    shadows: dict[int, dict[str, Any]] = {}
    for device, reports in items:
        shadows.setdefault(device.pk, {}).update(
            {
                report.service_id: {
                    "serviceType": report.service_type,
                    "data": report.data,
                    "eventTime": format_time(report.event_time),
                }
                for report in reports
            }
        )
    placeholders = ", ".join(["(%s, %s::jsonb)"] * len(shadows))
    params = [value for pk, shadow in shadows.items() for value in (pk, Jsonb(shadow))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE devices_device AS d SET shadow = d.shadow || v.shadow FROM (VALUES {placeholders}) "  # noqa: S608
            "AS v(id, shadow) WHERE d.id = v.id",
            params,
        )
    history.insert(
        (device.pk, device.application_id, report.service_id, report.data, report.event_time, now)
        for device, reports in items
        if device.application.storage_mode
        for report in reports
    )
    by_app: dict[int, tuple[Application, list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for device, reports in items:
        application, changed, datas = by_app.setdefault(device.application_id, (device.application, [], []))
        gateway_id = device.gateway_device_id
        services = [
            payloads.service(report.service_id, report.service_type, report.data, report.event_time)
            for report in reports
        ]
        changed += [payloads.device_data_changed(device.device_id, gateway_id, one, request_id) for one in services]
        datas.append(payloads.device_datas_changed(device.device_id, gateway_id, services, request_id))
    for application, changed, datas in by_app.values():
        push.notify_many(application, nt.DEVICE_DATA_CHANGED, changed)
        push.notify_many(application, nt.DEVICE_DATAS_CHANGED, datas)
    uplinks: dict[int, int] = {}
    for device, _ in items:
        uplinks[device.application_id] = uplinks.get(device.application_id, 0) + 1
    _count_uplinks(uplinks)
    online = {device.pk: device for device, _ in items if device.status == Status.ONLINE and device.activated}
    last_seen.note(dict.fromkeys(online, now))
    for device in {device.pk: device for device, _ in items if device.pk not in online}.values():
        record_seen(device, now)
    live.device_changed(device.pk for device, _ in items)


def do_set_product_secret(product: Product) -> str:
    """A new MQTT product secret (the previous one stops working); shown to the user once."""
    secret = random.token_hex(16)
    record = ProductSecret.objects.filter(product=product).first() or ProductSecret(product=product)
    record.secret = secret
    record.save()
    audit.record(
        "product.mqtt_secret_reset", application_id=product.application_id, target=f"product {product.product_id}"
    )
    return secret


def provision_device(product: Product, node_id: str) -> Device:
    """The device a dynamic MQTT connection asks for: its product's device with this nodeId, registered in
    password mode on first contact (F-4.1 rules and quota apply); a device without a secret gets one."""
    device = Device.objects.filter(application=product.application_id, node_id=node_id).first()
    if device is None:
        info = {
            "manufacturerId": product.manufacturer_id,
            "manufacturerName": product.manufacturer_name,
            "deviceType": product.device_type,
            "model": product.model,
            "protocolType": "MQTT",
        }
        return do_register_device(product.application, node_id=node_id, password_mode=True, info=info).device
    if device.product_id != product.pk:
        raise NorthboundError("100416")  # the nodeId belongs to another product's device
    if not device.secret_encrypted:
        device.secret = random.token_hex(16)
        device.save(update_fields=["secret_encrypted"])
        logs.log(device, LogKind.INFO, "MQTT secret issued through the product's dynamic connection")
    return device
