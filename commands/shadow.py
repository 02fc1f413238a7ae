"""The device shadow's desired side (OceanConnect's shadow API, v1.5.0): changes kept with a version,
delivered at the device's next contact as a command through the product's codec, their outcome pushed.

Shapes are the public SDKs' DTOs: QueryDeviceShadowOutDTO (deviceId, gatewayId, nodeType, createTime,
lastModifiedTime, deviceInfo, services of DeviceServiceB: serviceId, serviceType, reportedProps,
desiredProps, eventTime), ModifyDeviceShadowInDTO (serviceDesireds of ServiceDesiredDTO: serviceId,
desired), QueryDeviceDesiredHistoryOutDTO (totalCount, pageNo, pageSize, deviceDesiredHistory of
DeviceDesiredHistoryDTO: deviceId, gatewayId, appId, serviceId, desired, timestamp).

Only properties the profile marks writable (`W` in their method) may be desired. The original's
documents do not say how a desired value reaches an NB-IoT device; here it is a command of the same
service whose paras are named like the properties (the codec already encodes those), so a profile
gives its writable properties such a command. LwM2M devices whose product maps resources will get a
Write of the mapped resources instead (not yet: resource mapping is another issue).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from applications.errors import NorthboundError
from applications.models import Application
from commands.models import CommandStatus, DesiredChange
from commands.validation import check_command, profile_service
from devices import live
from devices.models import Device
from subscriptions import actions as push
from subscriptions import notify_types as nt
from subscriptions import payloads

WAITING = "PENDING"  # kept until the device's next contact
SENT = "SENT"  # its command is on its way
OUTCOMES = {
    CommandStatus.SUCCESSFUL,
    CommandStatus.FAILED,
    CommandStatus.TIMEOUT,
    CommandStatus.EXPIRED,
    CommandStatus.CANCELED,
}
MAX_SERVICES = 100


def _invalid(rule: str) -> NorthboundError:
    return NorthboundError("100022", f"The input is invalid: {rule}.")


def check_desired(device: Device, service_desireds: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(serviceId, command, desired) for each service of a ModifyDeviceShadowInDTO, or the original's error:
    100022 for the shape and the values, 100431 for a service the profile lacks, 100425 for a property
    that is not writable or that no command of the service carries."""
    if not isinstance(service_desireds, list) or not 1 <= len(service_desireds) <= MAX_SERVICES:
        raise _invalid(f"serviceDesireds must be a list of 1 to {MAX_SERVICES} objects with serviceId and desired")
    checked = []
    seen: set[str] = set()
    for position, item in enumerate(service_desireds):
        where = f"serviceDesireds[{position}]"
        if not isinstance(item, dict):
            raise _invalid(f"{where} must be an object with serviceId and desired")
        service_id, desired = item.get("serviceId"), item.get("desired")
        if not isinstance(service_id, str) or not 1 <= len(service_id) <= 64:
            raise _invalid(f"{where}.serviceId must be 1 to 64 characters")
        if service_id in seen:
            raise _invalid(f"{where}.serviceId {service_id} is given twice")
        seen.add(service_id)
        if not isinstance(desired, dict) or not desired:
            raise _invalid(f"{where}.desired must be an object of at least one property")
        _, service = profile_service(device, service_id)
        properties = {p["propertyName"]: p for p in service.get("properties") or []}
        for name in desired:
            found = properties.get(name)
            if found is None or "W" not in str(found.get("method") or "").upper():
                reason = "is not a property of the service" if found is None else "is not writable (method has no W)"
                raise NorthboundError(
                    "100425", f"The special deviceCapability is not exist: {service_id}.{name} {reason}."
                )
        method = next(
            (
                command["commandName"]
                for command in service.get("commands") or []
                if set(desired) <= {para["paraName"] for para in command.get("paras") or []}
            ),
            None,
        )
        if method is None:
            raise NorthboundError(
                "100425",
                f"The special deviceCapability is not exist: no command of service {service_id} carries "
                f"{', '.join(sorted(desired))}, so the device cannot be sent them.",
            )
        check_command(device, service_id, method, desired)  # the values against the command's paras
        checked.append((service_id, method, desired))
    return checked


@transaction.atomic
def do_modify_shadow(application: Application, device: Device, service_desireds: Any) -> list[DesiredChange]:
    """Keep the desired changes (a version each, per service); they go at the device's next contact."""
    checked = check_desired(device, service_desireds)
    Device.objects.select_for_update().filter(pk=device.pk).first()  # versions are counted under the lock
    current = desired_state(device)
    latest = dict(
        DesiredChange.objects.filter(device=device)
        .values("service_id")
        .annotate(version=Max("version"))
        .values_list("service_id", "version")
    )
    now = timezone.now()
    changes = [
        DesiredChange(
            application=application,
            device=device,
            service_id=service_id,
            method=method,
            desired=desired,
            properties={**current.get(service_id, {}), **desired},
            version=latest.get(service_id, 0) + 1,
            status=WAITING,
            created_at=now,
        )
        for service_id, method, desired in checked
    ]
    live.device_changed([device.pk])  # its page's "desired against reported" shows the change
    return DesiredChange.objects.bulk_create(changes)


def desired_state(device: Device) -> dict[str, dict[str, Any]]:
    """{serviceId: its whole desired state}, from each service's latest change (one query)."""
    rows = (
        DesiredChange.objects.filter(device=device)
        .order_by("service_id", "-version")
        .distinct("service_id")
        .values_list("service_id", "properties")
    )
    return dict(rows)


def deliver_waiting(devices: Iterable[Device]) -> None:
    """The devices just made contact: each waiting change becomes a command of its service (one query
    finds the few devices that have any). A change that cannot become one fails, pushed as such."""
    from commands.actions import do_create_command

    by_pk = {device.pk: device for device in devices}
    waiting = list(
        DesiredChange.objects.filter(device__in=list(by_pk), status=WAITING)
        .select_related("application")
        .order_by("device_id", "service_id", "version")
    )
    for change in waiting:
        device = Device.objects.select_related("product", "application").get(pk=change.device_id)
        try:
            with transaction.atomic():
                command = do_create_command(
                    change.application,
                    device,
                    {"serviceId": change.service_id, "method": change.method, "paras": change.desired},
                )
                DesiredChange.objects.filter(pk=change.pk, status=WAITING).update(status=SENT, command_id=command.pk)
        except NorthboundError as error:
            with transaction.atomic():
                if DesiredChange.objects.filter(pk=change.pk, status=WAITING).update(
                    status=CommandStatus.FAILED, detail=error.error_desc[:1024]
                ):
                    _push(change, CommandStatus.FAILED)


def on_command_outcome(command_pk: int, status: str) -> None:
    """A command reached an outcome: the desired change it carried (if any) takes it, and it is pushed.
    Called inside the transition's transaction."""
    if status not in OUTCOMES:
        return
    change = DesiredChange.objects.select_related("application", "device").filter(command_id=command_pk).first()
    if change is None:
        return
    if DesiredChange.objects.filter(pk=change.pk, status=SENT).update(status=status):
        _push(change, status)


def _push(change: DesiredChange, status: str) -> None:
    live.device_changed([change.device_id])
    push.notify(
        change.application,
        nt.DEVICE_DESIRED_PROPERTIES_MODIFY_STATUS_CHANGED,
        payloads.desired_properties_status(change.device.device_id, change.service_id, change.desired, status),
        ordering_key=change.device.device_id,
    )


def shadow_services(device: Device) -> list[dict[str, Any]]:
    """The DeviceServiceB list: each service with reported data or desired properties."""
    desired = desired_state(device)
    names = list(device.shadow) + [name for name in desired if name not in device.shadow]
    services = []
    for service_id in names:
        entry = device.shadow.get(service_id) or {}
        services.append(
            {
                "serviceId": service_id,
                "serviceType": entry.get("serviceType") or service_id,
                "reportedProps": entry.get("data") or {},
                "desiredProps": desired.get(service_id) or {},
                "eventTime": entry.get("eventTime"),
            }
        )
    return services


def desired_against_reported(device: Device) -> list[dict[str, Any]]:
    """Rows for the device page: service, property, desired, reported, whether they differ, status."""
    desired = desired_state(device)
    statuses = dict(
        DesiredChange.objects.filter(device=device)
        .order_by("service_id", "-version")
        .distinct("service_id")
        .values_list("service_id", "status")
    )
    rows = []
    for service_id, properties in desired.items():
        reported = (device.shadow.get(service_id) or {}).get("data") or {}
        for name, value in properties.items():
            rows.append(
                {
                    "service_id": service_id,
                    "property": name,
                    "desired": value,
                    "reported": reported.get(name),
                    "has_reported": name in reported,
                    "differs": name not in reported or str(reported.get(name)) != str(value),
                    "status": statuses.get(service_id, ""),
                }
            )
    return rows
