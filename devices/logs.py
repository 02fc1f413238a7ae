"""Device logs (F-4.11): written with the event, shown live in the portal."""

from __future__ import annotations

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
    events.publish(
        device.application_id,
        "device.log",
        {"deviceId": device.device_id, "kind": kind, "summary": entry.summary, "raw": entry.raw},
    )
    return entry
