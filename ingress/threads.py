"""What the CoAP and MQTT loops run on their small thread pools (the ORM never runs in an event loop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

from devices import hooks, logs
from devices.models import LogKind


def closing(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run `function`, then give the thread's database connection back if it is stale or broken."""
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


def after_downlink(device_pk: int, summary: str, payload: bytes, report: hooks.DownlinkOutcome | None) -> None:
    """A downlink's outcome: logged on the device, and reported to whoever queued it."""
    logs.log_device(device_pk, LogKind.COMMAND, summary, raw=payload)
    if report is not None:
        hooks.downlink_outcome(report)
