"""Device logs (F-4.11): written with the event, shown live in the portal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from applications import events
from devices.models import Device, DeviceLog


def log(device: Device, kind: str, summary: str, *, raw: bytes | None = None, detail: Any = None) -> DeviceLog:
    """Record an event on the device and show it on the device's open portal pages."""
    entry = DeviceLog.objects.create(
        device=device,
        application_id=device.application_id,
        created_at=timezone.now(),
        kind=kind,
        summary=summary[:512],
        raw=raw.hex().upper() if raw else "",
        detail=detail,
    )
    publish_log(device, kind, entry.summary, entry.raw)
    return entry


def publish_log(device: Device, kind: str, summary: str, raw: str = "") -> None:
    """Show a device-log row already written (by `log`, or in SQL) on the device's open portal pages."""
    data = {"deviceId": device.device_id, "nodeId": device.node_id, "kind": kind, "summary": summary, "raw": raw}
    events.publish(device.application_id, "device.log", data)
    events.publish_device(device.pk, "device.log", data)  # the device's own page


def log_many(entries: Iterable[tuple[Device, str, str, bytes | None, Any]]) -> list[DeviceLog]:
    """Many events at once (device, kind, summary, raw, detail): one INSERT, and one live event per
    application (`device.logs`, its `entries` each shaped like a `device.log` event's data)."""
    now = timezone.now()
    rows = [
        DeviceLog(
            device=device,
            application_id=device.application_id,
            created_at=now,
            kind=kind,
            summary=summary[:512],
            raw=raw.hex().upper() if raw else "",
            detail=detail,
        )
        for device, kind, summary, raw, detail in entries
    ]
    if not rows:
        return rows
    DeviceLog.objects.bulk_create(rows)
    by_app: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        data = {
            "deviceId": row.device.device_id,
            "nodeId": row.device.node_id,
            "kind": row.kind,
            "summary": row.summary,
            "raw": row.raw,
        }
        by_app.setdefault(row.application_id, []).append(data)
        events.publish_device(row.device_id, "device.log", data)  # the device's own page, if one is open
    for application_pk, items in by_app.items():
        events.publish(application_pk, "device.logs", {"entries": items})
    return rows


def log_device(device_pk: int, kind: str, summary: str, *, raw: bytes | None = None) -> None:
    """`log` for a device known by its pk (the network loops keep pks, not rows); nothing if it is gone."""
    device = Device.objects.filter(pk=device_pk).first()
    if device is not None:
        log(device, kind, summary, raw=raw)
