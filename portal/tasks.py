"""Platform-wide periodic work."""

from __future__ import annotations

import datetime as dt
import socket

from celery import shared_task

from applications import events
from applications.redis import get_redis, key


@shared_task(name="portal.tasks.heartbeat")
def heartbeat() -> str:
    """Beat schedules this and a worker runs it: proof on the dashboard that both are alive.

    Idempotent: it only records the time of the latest run and tells open pages.
    """
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    get_redis().set(key("heartbeat"), now, ex=3600)
    events.publish(None, "platform.heartbeat", {"worker": socket.gethostname(), "at": now})
    return now
