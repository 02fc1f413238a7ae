"""Live events for the portal: whatever happens to an application reaches open pages at once.

Any process (web, worker, ingress, a management command) publishes through the channel layer;
the portal's websocket consumer forwards to the browsers of accounts that may see the application.
Events leave only after the surrounding transaction commits.

Sending is fire-and-forget on one background event loop per process: a live event is a courtesy to
open pages, so the change that caused it never waits for Redis (async_to_sync per event cost several
milliseconds of thread hand-offs, which showed in every command creation and uplink). Events leave in
the order published, those of a group published within BATCH_SECONDS together as one `live.batch`
message (portal.consumers unpacks it). `flush()` waits for what is in flight; short-lived processes
(management commands) call it before they exit.

A device's own page listens to its device's group only (`device_group`, `publish_device`). Device
events are many (every uplink), and nearly all devices are watched by nobody, so they are sent only
for watched devices: a page's socket records itself in one Redis sorted set while it is open
(`watch`/`unwatch`), and publishers read that set at most once per WATCHED_SECONDS.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import logging
import os
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

PLATFORM_GROUP = "platform"

_lock = threading.Lock()  # guards everything below
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_outbox: list[tuple[list[str], dict[str, Any]]] = []  # published, not yet handed to the channel layer
_draining = False  # a drain is scheduled or running on _loop
_sent = threading.Condition(_lock)  # notified when the outbox is empty and no drain runs

BATCH_SECONDS = 0.01  # events published within this long leave together
MAX_BATCH = 200  # events in one message


WATCHED_SECONDS = 1.0  # how long a process trusts its copy of the watched devices
WATCH_SECONDS = 24 * 3600  # a watch left behind by a killed web process lapses after this (channels' group expiry)
_watched: tuple[float, frozenset[int]] = (0.0, frozenset())


def app_group(application_pk: int) -> str:
    return f"app.{application_pk}"


def device_group(device_pk: int) -> str:
    return f"device.{device_pk}"


def _watched_key() -> str:
    from applications.redis import key

    return key("live", "watched")


def watch(device_pk: int, channel_name: str) -> None:
    """A page of this device opened its socket: its events are sent from now on (within WATCHED_SECONDS)."""
    global _watched
    from applications.redis import get_redis

    get_redis().zadd(_watched_key(), {f"{device_pk} {channel_name}": time.time() + WATCH_SECONDS})
    _watched = (0.0, frozenset())  # this process publishes to it at once (the others within WATCHED_SECONDS)


def unwatch(device_pk: int, channel_name: str) -> None:
    from applications.redis import get_redis

    get_redis().zrem(_watched_key(), f"{device_pk} {channel_name}")


def watched_devices() -> frozenset[int]:
    """The pks of devices some page watches, as this process saw them at most WATCHED_SECONDS ago."""
    global _watched
    now = time.monotonic()
    taken_at, pks = _watched
    if now - taken_at < WATCHED_SECONDS and taken_at:
        return pks
    from applications.redis import get_redis

    try:
        members = get_redis().zrangebyscore(_watched_key(), time.time(), "+inf")
    except Exception as error:  # a courtesy to open pages: never fail the change that publishes
        log.warning("the watched devices could not be read: %r", error)
        members = []
    pks = frozenset(int(member.split(b" ", 1)[0]) for member in members)
    _watched = (now, pks)
    return pks


def publish_device(device_pk: int, kind: str, data: dict[str, Any]) -> None:
    """Send an event to the open pages of this device only (nothing when none is open), after commit."""
    if device_pk not in watched_devices():
        return
    message = {
        "type": "live.event",
        "kind": kind,
        "application": None,
        "data": data,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    transaction.on_commit(lambda: _send_to([device_group(device_pk)], message))


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
    """This process's sending loop, started on first use (and again in a forked child). Call with
    _lock held."""
    global _loop, _loop_pid, _draining
    if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
        _loop, _loop_pid, _draining = asyncio.new_event_loop(), os.getpid(), False
        _outbox.clear()  # a forked child's copy of its parent's unsent events is not its own
        threading.Thread(target=_loop.run_forever, name="live-events", daemon=True).start()
    return _loop


def _send(application_pk: int | None, message: dict[str, Any]) -> None:
    _send_to([PLATFORM_GROUP] + ([app_group(application_pk)] if application_pk is not None else []), message)


def _send_to(groups: list[str], message: dict[str, Any]) -> None:
    global _draining
    if get_channel_layer() is None:
        return
    with _lock:
        loop = _background_loop()
        _outbox.append((groups, message))
        if not _draining:
            _draining = True
            loop.call_soon_threadsafe(lambda: loop.create_task(_drain()))


async def _drain() -> None:
    """Send what the outbox holds, then what came meanwhile, until it is empty.

    One drain at a time, so events leave in the order published; those of a group that piled up
    during BATCH_SECONDS (or while the previous ones were sent) go as one `live.batch` message. Sent one
    task per event, a burst took a Redis connection per event (a new one whenever it outgrew the pool:
    about one per command creation under load) and events overtook each other; sent one by one in
    turn, each still cost two channel-layer sends, a fifth of a command creation's CPU."""
    global _draining
    try:
        await _drain_all(get_channel_layer())
    except BaseException:
        with _lock:  # whatever went wrong, the next event starts a drain again
            _draining = False
            _sent.notify_all()
        raise


async def _drain_all(layer: Any) -> None:
    global _draining
    while True:
        await asyncio.sleep(BATCH_SECONDS)
        with _lock:
            taken, _outbox[:] = _outbox[:], []
            if not taken:
                _draining = False
                _sent.notify_all()
                return
        by_group: dict[str, list[dict[str, Any]]] = {}
        for groups, message in taken:
            for group in groups:
                by_group.setdefault(group, []).append(message)
        for group, messages in by_group.items():
            for start in range(0, len(messages), MAX_BATCH):
                chunk = messages[start : start + MAX_BATCH]
                batch = chunk[0] if len(chunk) == 1 else {"type": "live.batch", "events": chunk}
                try:
                    await layer.group_send(group, batch)
                except Exception as error:  # a courtesy to open pages: never stop the drain
                    log.warning("%d live events were not sent to %s: %r", len(chunk), group, error)


def flush(timeout: float = 5.0) -> None:
    """Wait until the events published so far have left (or `timeout` passed)."""
    with _lock:
        _sent.wait_for(lambda: not _outbox and not _draining, timeout=timeout)


atexit.register(flush, 2.0)
