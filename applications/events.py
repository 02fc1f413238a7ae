"""Live events for the portal: whatever happens to an application reaches open pages at once.

Any process (web, worker, ingress, a management command) publishes through the channel layer;
the portal's websocket consumer forwards to the browsers of accounts that may see the application.
Events leave only after the surrounding transaction commits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

PLATFORM_GROUP = "platform"


def app_group(application_pk: int) -> str:
    return f"app.{application_pk}"


def publish(application_pk: int | None, kind: str, data: dict[str, Any]) -> None:
    """Send an event to the application's viewers and to operators, once the transaction commits."""
    message = {
        "type": "live.event",
        "kind": kind,
        "application": application_pk,
        "data": data,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    transaction.on_commit(lambda: _send(application_pk, message))


def _send(application_pk: int | None, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [PLATFORM_GROUP] + ([app_group(application_pk)] if application_pk is not None else [])

    def send_all() -> None:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send_all()
        return
    # Called from a thread that runs an event loop (async_to_sync refuses that): send from a helper thread.
    helper = threading.Thread(target=send_all)
    helper.start()
    helper.join(timeout=10)
