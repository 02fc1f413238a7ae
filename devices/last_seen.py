"""A device's last-seen time: coalesced in Redis, flushed to the column by the sweep, read through.

Writing `last_seen_at` with every report would cost the report's shadow UPDATE its HOT update (the
column is in the `device_status_sweep` index): measured 1.9-2.7 times slower per batch statement
(bench/last_seen_bench.py, docs/performance.md). So an ONLINE device's report only sets its field in
one Redis hash (`note`), and the device sweep writes the hash to the column in one statement every
DEVICE_SWEEP_SECONDS (`flush`): the stored value is at most one sweep interval behind.

Whatever shows a last-seen time reads it through (`seen_at_many`, `attach`): the later of the column
and the pending time, one HMGET for any number of devices. The page is thus exact to the second and
never older than the data it shows; before this, the page rendered the column when a report's data
arrived, which still held the previous report's time (flushed 30 s after that report), so last seen
lagged the newest data by one reporting interval (5 minutes for a device reporting every 5 minutes).

A flush removes only the fields it wrote and that no newer report replaced meanwhile (compare and
delete, after its transaction commits), so a reader always finds a time in the hash or the column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import connection, transaction

from applications.redis import get_redis, key

FLUSH_CHUNK = 5000  # devices per flush statement (and transaction)
DELETE_CHUNK = 5000  # fields per compare-and-delete script call

# Delete each field whose value is still the one flushed (a newer report's value stays pending).
_DELETE_IF_UNCHANGED = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""


def pending_key() -> str:
    return key("devices", "last_seen")


def note(times: dict[int, dt.datetime]) -> None:
    """Devices (pk -> time) were heard from: their times wait for the next flush (one round trip)."""
    if times:
        get_redis().hset(pending_key(), mapping={pk: when.timestamp() for pk, when in times.items()})


def forget(device_pk: int) -> None:
    """The device went OFFLINE: a pending time is old news."""
    get_redis().hdel(pending_key(), device_pk)


def flush(chunk: int = FLUSH_CHUNK) -> int:
    """Write the pending times to `last_seen_at` (never moving a time back), `chunk` devices a statement
    (two array parameters), each chunk its own transaction when called outside one: a chunk's row locks,
    which hold back reports of those devices, last one statement, not the whole flush. The fields written
    leave the hash once their transaction commits. Returns the rows changed."""
    redis = get_redis()
    pending = sorted((int(pk), stamp) for pk, stamp in redis.hgetall(pending_key()).items())
    changed = 0
    for start in range(0, len(pending), chunk):
        part = pending[start : start + chunk]
        with transaction.atomic(), connection.cursor() as cursor:
            # Two array parameters, not a VALUES list of 2n: parsing and planning stay small at any n.
            cursor.execute(
                "UPDATE devices_device AS d SET last_seen_at = v.seen "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, seen) "
                "WHERE d.id = v.id AND (d.last_seen_at IS NULL OR d.last_seen_at < v.seen)",
                [[pk for pk, _ in part], [dt.datetime.fromtimestamp(float(stamp), dt.UTC) for _, stamp in part]],
            )
            changed += cursor.rowcount
            transaction.on_commit(partial(_remove_unchanged, [value for pk, stamp in part for value in (pk, stamp)]))
    return changed


def _remove_unchanged(pairs: list[Any]) -> None:
    """Remove the flushed fields (pk, value, pk, value...) whose value no newer report replaced."""
    script = get_redis().register_script(_DELETE_IF_UNCHANGED)
    for start in range(0, len(pairs), 2 * DELETE_CHUNK):
        script(keys=[pending_key()], args=pairs[start : start + 2 * DELETE_CHUNK])


def _column(device: Any) -> dt.datetime | None:
    return device["last_seen_at"] if isinstance(device, dict) else device.last_seen_at


def _pk(device: Any) -> int:
    return device["pk"] if isinstance(device, dict) else device.pk


def seen_at_many(devices: Iterable[Any]) -> dict[int, dt.datetime | None]:
    """pk -> last-seen time of each device (a Device or a dict with pk and last_seen_at): the later of
    its column and its pending time. One HMGET for all of them."""
    devices = list(devices)
    if not devices:
        return {}
    pending = get_redis().hmget(pending_key(), [_pk(device) for device in devices])
    seen: dict[int, dt.datetime | None] = {}
    for device, stamp in zip(devices, pending, strict=True):
        column = _column(device)
        if stamp is not None:
            waiting = dt.datetime.fromtimestamp(float(stamp), dt.UTC)
            column = waiting if column is None or waiting > column else column
        seen[_pk(device)] = column
    return seen


def seen_at(device: Any) -> dt.datetime | None:
    """One device's last-seen time, read through (`seen_at_many`)."""
    return seen_at_many([device])[_pk(device)]


def attach(devices: Iterable[Any]) -> None:
    """Set `seen_at` (the read-through time that templates show) on each Device, in one HMGET."""
    devices = list(devices)
    seen = seen_at_many(devices)
    for device in devices:
        device.seen_at = seen[device.pk]
