"""Live events for the portal: whatever happens to an application reaches open pages at once.

Any process (web, worker, ingress, a management command) publishes through the channel layer;
the portal's websocket consumer forwards to the browsers of accounts that may see the application.
Events leave only after the surrounding transaction commits.

Sending is fire-and-forget on one background event loop per process: a live event is a courtesy to
open pages, so the change that caused it never waits for Redis (async_to_sync per event cost several
milliseconds of thread hand-offs, which showed in every command creation and uplink). `flush()` waits
for what is in flight; short-lived processes (management commands) call it before they exit.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import datetime as dt
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

PLATFORM_GROUP = "platform"

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_in_turn: asyncio.Lock | None = None  # on _loop: one event leaves at a time
_pending: set[concurrent.futures.Future] = set()


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


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process's sending loop, started on first use (and again in a forked child)."""
    global _loop, _loop_pid, _in_turn
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            _loop, _loop_pid, _in_turn = asyncio.new_event_loop(), os.getpid(), asyncio.Lock()
            threading.Thread(target=_loop.run_forever, name="live-events", daemon=True).start()
        return _loop


def _send(application_pk: int | None, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [PLATFORM_GROUP] + ([app_group(application_pk)] if application_pk is not None else [])

    async def send_all() -> None:
        # In turn, in the order published: sent all at once, each took a Redis connection of its own
        # (a new one whenever the burst outgrew the pool: about one per command creation under load,
        # 20% of a web process's CPU) and they could overtake each other.
        async with in_turn:
            for group in groups:
                await layer.group_send(group, message)

    loop = _background_loop()
    in_turn = _in_turn
    future = asyncio.run_coroutine_threadsafe(send_all(), loop)
    _pending.add(future)
    future.add_done_callback(_done)


def _done(future: concurrent.futures.Future) -> None:
    _pending.discard(future)
    if not future.cancelled() and future.exception() is not None:
        log.warning("a live event was not sent: %r", future.exception())


def flush(timeout: float = 5.0) -> None:
    """Wait until the events sent so far have left (or `timeout` passed)."""
    concurrent.futures.wait(list(_pending), timeout=timeout)


atexit.register(flush, 2.0)
