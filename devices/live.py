"""What a device's own portal page hears over its websocket (issue 20, item 3).

The page (devices/static/devices/device_live.js) joins its device's group only
(`portal.consumers.DeviceEventsConsumer`). Two kinds of event reach it:

- `device.log`: a device-log line, shown as it comes (devices.logs publishes it);
- `device.changed`: its data, status, last seen, desired properties or location changed: the page
  fetches its live parts again (`devices.views.device_live`), rendered by the same templates as the
  page, so there is one rendering of each part.

Both are sent only while some page watches the device (applications.events.publish_device).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from applications import events

CHANGED = "device.changed"


def device_changed(device_pks: Iterable[int]) -> None:
    """Tell the devices' open pages to fetch their live parts again (after commit)."""
    for pk in set(device_pks):
        events.publish_device(pk, CHANGED, {})


def on_status_changed(items: list[tuple[Any, str | None, str]]) -> None:
    """devices.hooks handler: a status change shows on the device's page at once."""
    device_changed(device.pk for device, _, _ in items)
