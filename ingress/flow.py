"""Uplink flow control (F-8.2) and deduplication, both in Redis so every worker shares them.

Flow control: fixed windows counted with INCR, per device (`Application.device_uplink_limit` messages
per INGRESS_DEVICE_WINDOW, 1200 per 20 minutes by default) and per application (all its devices
together, `Application.uplink_rate_limit` per second, 120 by default). Window indexes come from the
wall clock; Redis expiry only cleans up.

Deduplication: a CoAP device retransmits a confirmable uplink until it sees our ACK, for up to 160 s on
NB-IoT modules (F-1.5), longer than aiocoap's own duplicate memory. A key per (device, message id) is
taken with SET NX while the uplink is processed (INGRESS_DEDUP_PENDING_SECONDS, so a worker that dies
mid-way does not block the retransmission for long) and marked done once stored, for
INGRESS_DEDUP_SECONDS (at least 250 s).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from applications.models import Application
from applications.redis import get_redis, key

PENDING, DONE = b"p", b"d"


@dataclass(frozen=True)
class Limited:
    """Over a limit: which one (for the device log) and when the window ends (CoAP Max-Age)."""

    limit: str
    retry_after: int


def dedup_key(device_pk: int, message_id: int) -> str:
    return key("ingress", "dedup", device_pk, message_id)


def claim(entries: Sequence[tuple[int, int | None]]) -> list[bytes | None]:
    """For each (device pk, message id): None when it is new (now claimed), else PENDING or DONE."""
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    indexes = []
    for index, (device_pk, message_id) in enumerate(entries):
        if message_id is not None:
            pipe.set(dedup_key(device_pk, message_id), PENDING, nx=True, ex=settings.INGRESS_DEDUP_PENDING_SECONDS)
            indexes.append(index)
    results: list[bytes | None] = [None] * len(entries)
    taken = pipe.execute() if indexes else []
    seen = [index for index, ok in zip(indexes, taken, strict=True) if not ok]
    if seen:
        pipe = redis.pipeline(transaction=False)
        for index in seen:
            pipe.get(dedup_key(*entries[index]))
        for index, value in zip(seen, pipe.execute(), strict=True):
            # Expired between SET and GET: treat as in progress; the device retransmits again.
            results[index] = value or PENDING
    return results


def settle(done: Sequence[tuple[int, int]], released: Sequence[tuple[int, int]] = ()) -> None:
    """Mark stored uplinks done (retransmissions are acknowledged, not stored again); release the
    ones that failed, so a retransmission is processed."""
    if not done and not released:
        return
    pipe = get_redis().pipeline(transaction=False)
    for device_pk, message_id in done:
        pipe.set(dedup_key(device_pk, message_id), DONE, ex=settings.INGRESS_DEDUP_SECONDS)
    for device_pk, message_id in released:
        pipe.delete(dedup_key(device_pk, message_id))
    pipe.execute()


def count(messages: Sequence[tuple[int, Application]], now: float | None = None) -> list[Limited | None]:
    """Count one message per (device pk, application); None when it is within both limits."""
    now = time.time() if now is None else now
    window = settings.INGRESS_DEVICE_WINDOW
    device_index, second = int(now // window), int(now)
    pipe = get_redis().pipeline(transaction=False)
    for device_pk, application in messages:
        device_key = key("ingress", "flow", "device", device_pk, device_index)
        app_key = key("ingress", "flow", "app", application.pk, second)
        pipe.incr(device_key)
        pipe.expire(device_key, window + 5)
        pipe.incr(app_key)
        pipe.expire(app_key, 5)
    replies = pipe.execute() if messages else []
    results: list[Limited | None] = []
    for index, (_, application) in enumerate(messages):
        device_count, app_count = replies[4 * index], replies[4 * index + 2]
        if device_count > application.device_uplink_limit:
            retry = max(1, math.ceil((device_index + 1) * window - now))
            results.append(Limited(f"{application.device_uplink_limit} messages per device per {window} s", retry))
        elif app_count > application.uplink_rate_limit:
            results.append(Limited(f"{application.uplink_rate_limit} messages per second per application", 1))
        else:
            results.append(None)
    return results
